#!/usr/bin/env node
// Entry point of the `repro` binary; everything else lives in program.ts so it can be tested.
import { main } from './program.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`Error: ${String(e)}\n`);
    process.exitCode = 1;
  },
);

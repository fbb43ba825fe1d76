// Bundles the CLI into dist/src/cli/repro.js (plus lazily loaded chunks beside it) so that start-up
// does not resolve and load ~100 small ES modules one by one: that was most of a no-op `repro
// plan`'s time. The bundle sits at the same depth as the modules it replaces, so every path they
// compute from import.meta.url (the schema, the precompiled validator) still holds.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { stdout } from 'node:process';
import { build } from 'esbuild';

// Chunks of earlier builds have other hashes: remove them so dist/ holds one bundle.
const OUT = 'dist/src/cli';
for (const f of await readdir(OUT)) {
  if (/^repro-.*\.js$/.test(f)) await rm(join(OUT, f));
}

await build({
  entryPoints: { repro: 'dist/src/cli/main.js' },
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Merged: repro's own ~80 modules and the libraries every command loads (yaml, commander,
  // chalk, graphlib), which is where the resolution time went. Left to Node: the CommonJS
  // packages that rely on __filename or resolve their own files (write-file-atomic,
  // proper-lockfile, dockerode and its transports), ajv (only the fallback path loads it), and
  // the AWS SDK (thousands of modules, loaded only by aws-ec2 targets).
  external: [
    'write-file-atomic',
    'proper-lockfile',
    'dockerode',
    'ssh2',
    'ajv',
    'ajv/*',
    '@aws-sdk/client-ec2',
  ],
  chunkNames: 'repro-[name]-[hash]',
  // yaml's Node build is CommonJS and require()s Node's built-ins.
  banner: {
    js: "import { createRequire as __reproRequire } from 'node:module'; const require = __reproRequire(import.meta.url);",
  },
  logLevel: 'warning',
  legalComments: 'none',
});
stdout.write('bundled dist/src/cli/repro.js\n');

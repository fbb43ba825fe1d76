// Maps failures to what the user reads: one line naming what and where, a hint, exit code 1.
// Stack traces only under --debug. Unknown errors are labelled as bugs.
import { formatDiagnostic, formatSourceRef, ReproError, SpecError } from '../core/errors.js';
import type { CliHost } from './host.js';

export function reportError(host: CliHost, e: unknown, debug: boolean): number {
  const c = host.err;
  if (e instanceof SpecError) {
    const errors = e.diagnostics.filter((d) => d.severity === 'error');
    for (const d of e.diagnostics) process.stderr.write(c.red(formatDiagnostic(d)) + '\n');
    process.stderr.write(
      c.red(`Error: the spec has ${errors.length} problem${errors.length === 1 ? '' : 's'}.`) +
        '\n',
    );
  } else if (e instanceof ReproError) {
    const where = e.at ? `${formatSourceRef(e.at)}: ` : '';
    const addr = e.address ? ` [${e.address}]` : '';
    process.stderr.write(c.red(`Error: ${where}${e.message}${addr}`) + '\n');
    if (e.hint) process.stderr.write(`  hint: ${e.hint}\n`);
  } else {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(c.red(`Error: ${msg}`) + '\n');
    if (!debug)
      process.stderr.write(
        '  hint: this looks like a bug in repro; run again with --debug for details\n',
      );
  }
  if (debug && e instanceof Error && e.stack) process.stderr.write(c.dim(e.stack) + '\n');
  return 1;
}

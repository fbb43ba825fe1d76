// The repro command line: commander wiring only. Each command calls one engine function, picks a
// view and sets the exit code (0 success, 1 error, 2 changes with --detailed-exitcode).
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { CliHost, type GlobalOptions } from './host.js';
import { CliContext } from './context.js';
import { reportError } from './errors.js';
import { stats } from '../engine/target.js';
import * as apply from './commands/apply.js';
import * as destroy from './commands/destroy.js';
import * as drift from './commands/drift.js';
import * as exec from './commands/exec.js';
import * as graph from './commands/graph.js';
import * as init from './commands/init.js';
import * as plan from './commands/plan.js';
import * as reset from './commands/reset.js';
import * as shell from './commands/shell.js';
import * as show from './commands/show.js';
import * as snapshot from './commands/snapshot.js';
import * as start from './commands/start.js';
import * as stop from './commands/stop.js';
import * as validate from './commands/validate.js';

/**
 * Accepts Terraform's single-dash long options (`-out=FILE`, `-auto-approve`) too. Nothing after
 * `--` is touched: that is a command for the target (`repro exec -- sh -lc …`).
 */
export function normalizeArgv(argv: readonly string[]): string[] {
  const end = argv.indexOf('--');
  return argv.map((a, i) =>
    (end < 0 || i < end) && /^-[a-z][a-z-]+(=.*)?$/.test(a) ? `-${a}` : a,
  );
}

/** repro's version, from the package.json three levels above dist/src/cli (bundle or not). */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(
      readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
    ) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const rawColor = !argv.includes('--no-color');
  const host = new CliHost(rawColor);
  const program = new Command();
  const cli = new CliContext(host, () => program.opts<GlobalOptions>());
  program
    .name('repro')
    .description(
      'Declare a computational environment in one YAML spec and make a real machine match it.',
    )
    .version(packageVersion(), '-V, --version', "print repro's version")
    .option('-f, --spec <file>', 'the spec file', 'repro.yaml')
    .option('-t, --target <name>', 'which target of the spec to work on')
    .option('--state <file>', 'state file (default: state/<target>.json beside the spec)')
    .option('--verbose', "show the target's command output as it runs")
    .option(
      '--accept-host-key',
      "accept a target's changed ssh host key and pin the new one (after checking it out of band)",
    )
    .option('--debug', 'show stack traces and internal detail')
    .option('--no-color', 'no colour in output (also: NO_COLOR=1)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError('(run `repro --help` for usage)');
  for (const m of [
    init,
    validate,
    plan,
    apply,
    drift,
    destroy,
    show,
    graph,
    snapshot,
    reset,
    stop,
    start,
    exec,
    shell,
  ])
    m.register(program, cli);
  try {
    await program.parseAsync(normalizeArgv(argv), { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 1;
    return reportError(host, e, argv.includes('--debug'));
  } finally {
    if (process.env['REPRO_STATS'] === '1')
      process.stderr.write(`repro: ${stats.execs} exec round trips\n`);
  }
  return cli.exitCode;
}

// `repro exec -- CMD…`: run CMD in the converged target with the spec's environment; its exit code
// becomes repro's. Output is streamed, stdin passed through. No state change, no lock.
import type { Command } from 'commander';
import { openWorkspace } from '../../engine/workspace.js';
import type { CliContext } from '../context.js';

export function register(program: Command, cli: CliContext): void {
  program
    .command('exec')
    .description("run a command in the target with the spec's environment (put it after --)")
    .argument('<command...>', 'the command and its arguments, e.g. -- python3 -c "…"')
    .option('--tty', 'allocate a pseudo-terminal (default: only when stdin and stdout are one)')
    .action(async (argv: string[], opts: { tty?: boolean }) => {
      const { runSession } = await import('../../engine/session.js');
      const ws = await openWorkspace(cli.workspaceOptions());
      const tty =
        opts.tty === true || (process.stdin.isTTY === true && process.stdout.isTTY === true);
      cli.exitCode = await runSession(ws, { argv, tty });
    });
}

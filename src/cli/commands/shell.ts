// `repro shell`: an interactive login shell (bash, else sh) in the target, with a terminal and the
// spec's environment. Exits with the shell's exit code. No state change, no lock.
import type { Command } from 'commander';
import { openWorkspace } from '../../engine/workspace.js';
import type { CliContext } from '../context.js';

export function register(program: Command, cli: CliContext): void {
  program
    .command('shell')
    .description("an interactive login shell in the target with the spec's environment")
    .action(async () => {
      const { runSession } = await import('../../engine/session.js');
      const ws = await openWorkspace(cli.workspaceOptions());
      cli.exitCode = await runSession(ws, { tty: true });
    });
}

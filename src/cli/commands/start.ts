// `repro start`: start the bound target (a docker container; EC2 instances in their own provider).
// Changes no state: the binding stays the same.
import type { Command } from 'commander';
import { openWorkspace } from '../../engine/workspace.js';
import type { CliContext } from '../context.js';

export function register(program: Command, cli: CliContext): void {
  program
    .command('start')
    .description('start a stopped target (docker container)')
    .action(async () => {
      const { powerTarget } = await import('../../engine/snapshots.js');
      const ws = await openWorkspace(cli.workspaceOptions());
      await powerTarget(ws, 'start');
      cli.host.print(`Target ${ws.target.name} started.`);
    });
}

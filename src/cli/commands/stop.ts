// `repro stop`: stop the bound target (a docker container; EC2 instances in their own provider).
// Changes no state: the binding stays the same.
import type { Command } from 'commander';
import { openWorkspace } from '../../engine/workspace.js';
import type { CliContext } from '../context.js';

export function register(program: Command, cli: CliContext): void {
  program
    .command('stop')
    .description('stop the target (docker container); resources are kept')
    .action(async () => {
      const { powerTarget } = await import('../../engine/snapshots.js');
      const ws = await openWorkspace(cli.workspaceOptions());
      await powerTarget(ws, 'stop');
      cli.host.print(`Target ${ws.target.name} stopped.`);
    });
}

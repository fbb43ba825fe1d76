// `repro destroy`: remove what repro created (the container or root it made; on targets it did
// not create, the resources it installed, leaving alone what was there before).
import type { Command } from 'commander';
import { openWorkspace } from '../../engine/workspace.js';
import { renderPlan } from '../../plan/render.js';
import type { CliContext } from '../context.js';
import { reportApply } from '../report.js';

export function register(program: Command, cli: CliContext): void {
  program
    .command('destroy')
    .description('remove what repro created on the target')
    .option('--auto-approve', 'destroy without asking for confirmation')
    .action(async (opts: { autoApprove?: boolean }) => {
      // Loaded here, not at start-up: only the commands that touch a target need the engine.
      const { destroyTarget } = await import('../../engine/operations.js');
      const ws = await openWorkspace(cli.workspaceOptions());
      const outcome = await destroyTarget(ws, {
        onPlan: (plan) => cli.host.print(renderPlan(plan, { color: cli.host.colorOut })),
        confirm: async () =>
          cli.confirm(
            opts.autoApprove === true,
            'Do you really want to destroy everything repro manages on this target?',
          ),
      });
      if (outcome.aborted) {
        cli.host.print('Destroy cancelled.');
        cli.exitCode = 1;
        return;
      }
      cli.exitCode = reportApply(cli, outcome, 'Destroy');
    });
}

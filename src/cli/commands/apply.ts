// `repro apply [PLANFILE]`: converge the target, from a fresh plan (confirmed) or a saved one.
import type { Command } from 'commander';
import { ReproError } from '../../core/errors.js';
import { openWorkspace } from '../../engine/workspace.js';
import { renderPlan } from '../../plan/render.js';
import type { CliContext } from '../context.js';
import { reportApply } from '../report.js';

export function register(program: Command, cli: CliContext): void {
  program
    .command('apply')
    .description('converge the target to the spec')
    .argument('[planfile]', 'a plan saved with `repro plan --out FILE`, applied exactly as saved')
    .option('--auto-approve', 'apply without asking for confirmation')
    .option(
      '--update [address...]',
      're-resolve unpinned versions (all, or the addresses named) instead of using repro.lock',
    )
    .action(
      async (
        planFile: string | undefined,
        opts: { autoApprove?: boolean; update?: string[] | boolean },
      ) => {
        if (planFile && opts.update !== undefined) {
          throw new ReproError('cli.usage', '--update cannot be combined with a saved plan', {
            hint: 'use `repro plan --update --out FILE`, then `repro apply FILE`',
          });
        }
        // Loaded here, not at start-up: only the commands that touch a target need the engine.
        const { applyTarget, parseUpdate } = await import('../../engine/operations.js');
        const ws = await openWorkspace(cli.workspaceOptions());
        const outcome = await applyTarget(ws, {
          planFile,
          update: parseUpdate(opts.update),
          onPlan: (plan) => cli.host.print(renderPlan(plan, { color: cli.host.colorOut })),
          confirm: async () =>
            cli.confirm(opts.autoApprove === true, 'Do you want to perform these actions?'),
        });
        if (outcome.aborted) {
          cli.host.print('Apply cancelled.');
          cli.exitCode = 1;
          return;
        }
        cli.exitCode = reportApply(cli, outcome, 'Apply');
      },
    );
}

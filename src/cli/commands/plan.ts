// `repro plan`: refresh once, print the plan (human or --json), optionally save it.
import type { Command } from 'commander';
import { openWorkspace } from '../../engine/workspace.js';
import { hasChanges } from '../../plan/model.js';
import { renderPlan } from '../../plan/render.js';
import { canonicalJson } from '../../core/canonical.js';
import type { CliContext } from '../context.js';

export function register(program: Command, cli: CliContext): void {
  program
    .command('plan')
    .description('show what apply would change on the target')
    .option('--out <file>', 'save the plan; `repro apply FILE` applies exactly it')
    .option('--json', 'print the plan as JSON (format: schemas/plan.schema.json)')
    .option('--detailed-exitcode', 'exit 0 when converged, 2 when there are changes, 1 on error')
    .option(
      '--update [address...]',
      're-resolve unpinned versions (all, or the addresses named) instead of using repro.lock',
    )
    .action(
      async (opts: {
        out?: string;
        json?: boolean;
        detailedExitcode?: boolean;
        update?: string[] | boolean;
      }) => {
        // Loaded here, not at start-up: only the commands that touch a target need the engine.
        const { parseUpdate, planTarget, savePlan } = await import('../../engine/operations.js');
        const ws = await openWorkspace(cli.workspaceOptions());
        const { plan } = await planTarget(ws, parseUpdate(opts.update));
        if (opts.json) cli.host.print(canonicalJson(plan).trimEnd());
        else cli.host.print(renderPlan(plan, { color: cli.host.colorOut }));
        if (opts.out) {
          await savePlan(plan, opts.out);
          if (!opts.json)
            cli.host.print(
              `Saved the plan to ${opts.out}. Apply it exactly with: repro apply ${opts.out}`,
            );
        }
        cli.exitCode = opts.detailedExitcode && hasChanges(plan) ? 2 : 0;
      },
    );
}

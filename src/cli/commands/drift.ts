// `repro drift`: what changed on the target behind repro's back since the last apply.
import type { Command } from 'commander';
import { openWorkspace } from '../../engine/workspace.js';
import { plural, renderDrift } from '../../plan/render.js';
import { canonicalJson } from '../../core/canonical.js';
import type { CliContext } from '../context.js';

export function register(program: Command, cli: CliContext): void {
  program
    .command('drift')
    .description('compare the live target with the state and report what changed outside repro')
    .option('--json', 'print the drift report as JSON')
    .option('--detailed-exitcode', 'exit 0 when there is no drift, 2 when there is, 1 on error')
    .option('--accept', 'record the live values into the state')
    .action(async (opts: { json?: boolean; detailedExitcode?: boolean; accept?: boolean }) => {
      // Loaded here, not at start-up: only the commands that touch a target need the engine.
      const { driftTarget } = await import('../../engine/operations.js');
      const ws = await openWorkspace(cli.workspaceOptions());
      const r = await driftTarget(ws, opts.accept === true);
      const { host } = cli;
      if (opts.json) {
        host.print(
          canonicalJson({
            format_version: 1,
            target: { name: ws.target.name, provider: ws.target.provider },
            target_gone: r.targetGone,
            accepted: r.accepted,
            drift: r.drift,
          }).trimEnd(),
        );
      } else if (!r.state) {
        host.print(
          `No state for target ${ws.target.name} yet (${ws.statePath}); nothing to compare. Run \`repro apply\` first.`,
        );
      } else if (r.drift.length === 0 && !r.targetGone) {
        host.print(host.out.green('No drift.') + ' The target matches the state.');
      } else {
        // A gone target is drift even when the state recorded no resources on it.
        if (r.targetGone)
          host.print(host.out.red(`The target recorded in ${ws.statePath} no longer exists.`));
        if (r.drift.length > 0) {
          host.print(
            host.out.bold(
              `Drift on target ${ws.target.name}: ${plural(r.drift.length, 'resource')} changed outside repro.`,
            ),
          );
          host.print(renderDrift(r.drift, { color: host.colorOut }));
        }
        host.print(
          r.accepted
            ? `\nRecorded the live values into ${ws.statePath}.`
            : '\nRun `repro apply` to restore the spec, or `repro drift --accept` to record the live values.',
        );
      }
      const drifted = (r.drift.length > 0 && !r.accepted) || r.targetGone;
      cli.exitCode = opts.detailedExitcode && drifted ? 2 : 0;
    });
}

// `repro reset [NAME]`: put the target back to a snapshot (default: the latest) and the state's
// resources back to what they were then. Destroys what changed since, so it asks first.
import type { Command } from 'commander';
import { openWorkspace } from '../../engine/workspace.js';
import type { CliContext } from '../context.js';

export function register(program: Command, cli: CliContext): void {
  program
    .command('reset')
    .description('return the target to a snapshot (default: the latest) and state to its resources')
    .argument('[name]', 'the snapshot to return to (see `repro show`; default: the latest)')
    .option('--auto-approve', 'reset without asking for confirmation')
    .action(async (name: string | undefined, opts: { autoApprove?: boolean }) => {
      const { resetTarget } = await import('../../engine/snapshots.js');
      const ws = await openWorkspace(cli.workspaceOptions());
      const outcome = await resetTarget(ws, {
        name,
        confirm: async (snapshot) => {
          const how =
            snapshot.kind === 'docker-image'
              ? `the container is removed and recreated from image ${snapshot.tag ?? snapshot.ref}`
              : snapshot.kind === 'tarball'
                ? `the root is replaced by the content of ${snapshot.ref}`
                : `the target is restored from ${snapshot.ref}`;
          cli.host.print(
            `Target ${ws.target.name} will be reset to snapshot ${snapshot.name}: ${how}. Everything changed on it since is lost.`,
          );
          return cli.confirm(opts.autoApprove === true, 'Do you want to reset the target?');
        },
      });
      if (outcome.aborted) {
        cli.host.print('Reset cancelled.');
        cli.exitCode = 1;
        return;
      }
      const count = Object.keys(outcome.snapshot.resources).length;
      cli.host.print(
        `Reset complete! Target ${ws.target.name} is at snapshot ${outcome.snapshot.name} (${count} resource${count === 1 ? '' : 's'} in state).`,
      );
    });
}

// `repro snapshot [NAME]`: save the target as it is now (docker commit, chroot tarball) and record
// it in state with the resources state holds, for `repro reset`.
import type { Command } from 'commander';
import { openWorkspace } from '../../engine/workspace.js';
import type { CliContext } from '../context.js';

export function register(program: Command, cli: CliContext): void {
  program
    .command('snapshot')
    .description('save the target as it is now (docker image, chroot tarball); see `repro reset`')
    .argument('[name]', 'the snapshot name (default: s<state serial>, e.g. s7)')
    .option('--force', 'replace a snapshot of the same name')
    .action(async (name: string | undefined, opts: { force?: boolean }) => {
      const { snapshotTarget } = await import('../../engine/snapshots.js');
      const ws = await openWorkspace(cli.workspaceOptions());
      const { snapshot, replaced } = await snapshotTarget(ws, { name, force: opts.force === true });
      const what =
        snapshot.kind === 'docker-image'
          ? `docker image ${snapshot.tag ?? ''} (${snapshot.ref.slice(0, 19)})`
          : snapshot.kind === 'tarball'
            ? `${snapshot.ref} (sha256 ${snapshot.sha256 ?? '?'})`
            : `${snapshot.kind} ${snapshot.ref}`;
      const count = Object.keys(snapshot.resources).length;
      cli.host.print(
        `Snapshot ${snapshot.name} of target ${ws.target.name}${replaced ? ' (replaced)' : ''}: ${what}, ${count} resource${count === 1 ? '' : 's'} recorded.`,
      );
    });
}

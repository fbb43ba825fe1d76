// `repro show [STATE]` and `repro state list|show|rm`: read (and for rm, edit) a state file.
import type { Command } from 'commander';
import { ReproError } from '../../core/errors.js';
import { canonicalJson } from '../../core/canonical.js';
import { openWorkspace, readTargetState } from '../../engine/workspace.js';
import { lockState, readState, writeState } from '../../state/store.js';
import type { StateFile } from '../../state/format.js';
import { compareByLayer } from '../../graph/build.js';
import { renderAttrs } from '../../plan/render.js';
import type { CliContext } from '../context.js';

async function stateFor(
  cli: CliContext,
  file?: string,
): Promise<{ state: StateFile; path: string }> {
  if (file) {
    const state = await readState(file);
    if (!state) throw new ReproError('state.missing', `no state file at ${file}`);
    return { state, path: file };
  }
  const ws = await openWorkspace(cli.workspaceOptions());
  const state = await readTargetState(ws);
  if (!state) {
    throw new ReproError(
      'state.missing',
      `target ${ws.target.name} has no state yet (${ws.statePath})`,
      {
        hint: 'run `repro apply` first',
      },
    );
  }
  return { state, path: ws.statePath };
}

function sortedAddresses(state: StateFile): string[] {
  return Object.entries(state.resources)
    .map(([address, r]) => ({ address, kind: r.kind }))
    .sort(compareByLayer)
    .map((x) => x.address);
}

function renderState(state: StateFile, path: string): string {
  const lines = [
    `# ${path}: target ${state.target.name} (${state.target.provider}), serial ${state.serial}, lineage ${state.lineage}`,
  ];
  if (state.target.binding) lines.push(`# binding:\n${renderAttrs(state.target.binding, '#   ')}`);
  if (state.pending && state.pending.length > 0)
    lines.push(`# interrupted while changing: ${state.pending.join(', ')}`);
  if (state.snapshots && state.snapshots.length > 0) {
    // Oldest first, by the serial they were taken at; `repro reset` alone picks the last.
    const snaps = [...state.snapshots].sort((a, b) => a.serial - b.serial);
    lines.push('# snapshots (oldest first; `repro reset` without a name takes the last):');
    for (const s of snaps) {
      const n = Object.keys(s.resources).length;
      const ref = s.kind === 'docker-image' ? `${s.tag ?? ''} (${s.ref.slice(0, 19)})` : s.ref;
      lines.push(
        `#   ${s.name}  ${s.kind} ${ref}, ${n} resource${n === 1 ? '' : 's'}, serial ${s.serial}`,
      );
    }
  }
  for (const address of sortedAddresses(state)) {
    const r = state.resources[address]!;
    lines.push(
      '',
      `${address}${r.adopted ? '  (adopted: was there before repro)' : ''}`,
      renderAttrs(r.attributes),
    );
  }
  return lines.join('\n');
}

export function register(program: Command, cli: CliContext): void {
  program
    .command('show')
    .description("show the target's state (or a given state file)")
    .argument('[state]', 'a state file; default: the target’s')
    .option('--json', 'print the state file as JSON')
    .action(async (file: string | undefined, opts: { json?: boolean }) => {
      const { state, path } = await stateFor(cli, file);
      cli.host.print(opts.json ? canonicalJson(state).trimEnd() : renderState(state, path));
    });

  const st = program.command('state').description('inspect or edit the state');
  st.command('list')
    .description('list the addresses recorded in the state')
    .action(async () => {
      const { state } = await stateFor(cli);
      const addrs = sortedAddresses(state);
      if (addrs.length > 0) cli.host.print(addrs.join('\n'));
    });
  st.command('show')
    .description('show one recorded resource')
    .argument('<address>')
    .action(async (address: string) => {
      const { state, path } = await stateFor(cli);
      const r = state.resources[address];
      if (!r)
        throw new ReproError('state.no-resource', `${path} records no resource ${address}`, {
          hint: 'see `repro state list`',
        });
      cli.host.print(`${address}${r.adopted ? '  (adopted)' : ''}\n${renderAttrs(r.attributes)}`);
    });
  st.command('rm')
    .description('forget resources (the target is not touched)')
    .argument('<address...>')
    .action(async (addresses: string[]) => {
      const ws = await openWorkspace(cli.workspaceOptions());
      const lock = await lockState(ws.statePath, 'repro state rm');
      try {
        const state = await readTargetState(ws);
        if (!state)
          throw new ReproError(
            'state.missing',
            `target ${ws.target.name} has no state yet (${ws.statePath})`,
          );
        const missing = addresses.filter((a) => !(a in state.resources));
        if (missing.length > 0) {
          throw new ReproError(
            'state.no-resource',
            `${ws.statePath} records no resource ${missing.join(', ')}`,
            {
              hint: 'see `repro state list`',
            },
          );
        }
        const resources = { ...state.resources };
        for (const a of addresses) delete resources[a];
        await writeState(ws.statePath, state, { ...state, resources });
        cli.host.print(
          `Removed ${addresses.join(', ')} from ${ws.statePath}; the target was not changed.`,
        );
      } finally {
        await lock.release();
      }
    });
}

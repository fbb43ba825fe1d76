// The engine's snapshot verbs: snapshot, reset, stop, start. Each holds the state lock, as apply
// does, because each either writes state or changes the bound target under it.
// Invariants:
// - a snapshot is recorded with the resources and spec digest the state held at that moment, and
//   reset writes exactly those back, so that right after a reset `repro plan` shows what it showed
//   right after the snapshot, provided repro.lock has not moved since (reset does not rewind it);
// - snapshots are ordered by name in the file and by `serial` in time (no timestamps: a state
//   file stays deterministic); the latest is the one with the highest serial;
// - the provider acts first and the state is written after, atomically (writeState); when the
//   provider fails, state is untouched.
import { ReproError } from '../core/errors.js';
import type { Provider, SnapshotRecord, TargetBinding } from '../../providers/types.js';
import type { StateFile, StateSnapshot } from '../state/format.js';
import { lockState, writeState } from '../state/store.js';
import { providerFor } from './target.js';
import { readTargetState, type Workspace } from './workspace.js';

/** Snapshot names are docker tags and file names at once. */
export const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Label keys put on what a snapshot creates (docker image labels; EC2 tags use the same). */
export const SNAPSHOT_LABELS = {
  spec: 'org.repro.spec',
  target: 'org.repro.target-name',
  lineage: 'org.repro.lineage',
  snapshot: 'org.repro.snapshot',
} as const;

type Hook = 'snapshot' | 'reset' | 'stop' | 'start';

const VERB: Record<Hook, string> = {
  snapshot: 'repro snapshot',
  reset: 'repro reset',
  stop: 'repro stop',
  start: 'repro start',
};

function unsupported(ws: Workspace, hook: Hook): ReproError {
  const power = hook === 'stop' || hook === 'start';
  const what = power ? 'not applicable to' : 'not supported for';
  return new ReproError(
    'provider.unsupported',
    `${VERB[hook]} is ${what} ${ws.target.provider} targets (target '${ws.target.name}')`,
    {
      hint: power
        ? `a ${ws.target.provider} target has no running state of its own; nothing to stop or start`
        : ws.target.provider === 'local'
          ? 'a local target is this machine itself; use a chroot or docker target to snapshot and reset'
          : undefined,
    },
  );
}

export function notCreatedError(ws: Workspace): ReproError {
  return new ReproError(
    'target.missing',
    `target ${ws.target.name} has not been created; run repro apply`,
    { at: ws.target.at },
  );
}

/** The state with a binding, or the "not created" error. */
async function boundState(
  ws: Workspace,
): Promise<StateFile & { target: { binding: TargetBinding } }> {
  const state = await readTargetState(ws);
  if (!state || state.target.binding === null) throw notCreatedError(ws);
  return state as StateFile & { target: { binding: TargetBinding } };
}

async function hookProvider(ws: Workspace, hook: Hook): Promise<Provider<unknown>> {
  const provider = await providerFor(ws);
  if (!provider[hook]) throw unsupported(ws, hook);
  return provider;
}

/** The snapshot named `name`, or the latest (highest serial) when `name` is undefined. */
export function findSnapshot(
  state: StateFile,
  name: string | undefined,
  statePath: string,
): StateSnapshot {
  const all = state.snapshots ?? [];
  if (all.length === 0) {
    throw new ReproError('snapshot.none', `state ${statePath} records no snapshot of this target`, {
      hint: 'take one with `repro snapshot [NAME]`',
    });
  }
  if (name === undefined) {
    return all.reduce((a, b) => (b.serial > a.serial ? b : a));
  }
  const found = all.find((s) => s.name === name);
  if (!found) {
    throw new ReproError('snapshot.unknown', `no snapshot named '${name}' in ${statePath}`, {
      hint: `snapshots of this target: ${all.map((s) => s.name).join(', ')}`,
    });
  }
  return found;
}

/** `s<serial>`: unique, since every snapshot write bumps the serial. */
export function defaultSnapshotName(state: StateFile): string {
  return `s${state.serial}`;
}

function byName(a: StateSnapshot, b: StateSnapshot): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export interface SnapshotOutcome {
  readonly snapshot: StateSnapshot;
  /** A snapshot of the same name that --force replaced. */
  readonly replaced?: StateSnapshot;
}

export async function snapshotTarget(
  ws: Workspace,
  opts: { name?: string; force?: boolean },
): Promise<SnapshotOutcome> {
  if (opts.name !== undefined && !SNAPSHOT_NAME.test(opts.name)) {
    throw new ReproError('snapshot.name', `invalid snapshot name ${JSON.stringify(opts.name)}`, {
      hint: 'use letters, digits, _ . - (starting with a letter or digit, at most 128)',
    });
  }
  const provider = await hookProvider(ws, 'snapshot');
  const lock = await lockState(ws.statePath, 'repro snapshot');
  try {
    const state = await boundState(ws);
    if (state.pending && state.pending.length > 0) {
      // Their state on the target is unknown; a reset to this snapshot could not say what it is.
      throw new ReproError(
        'snapshot.pending',
        `the last apply on target ${ws.target.name} was interrupted while changing ${state.pending.join(', ')}; refusing to snapshot a half-applied target`,
        { hint: 'run `repro apply` to finish it, then snapshot' },
      );
    }
    const name = opts.name ?? defaultSnapshotName(state);
    const replaced = state.snapshots?.find((s) => s.name === name);
    if (replaced && !opts.force) {
      throw new ReproError(
        'snapshot.exists',
        `target ${ws.target.name} already has a snapshot named '${name}'`,
        { hint: 'choose another name, or pass --force to replace it' },
      );
    }
    const record: SnapshotRecord = await provider.snapshot!(ws.target.config, {
      binding: state.target.binding,
      name,
      specName: ws.spec.name,
      target: ws.target.name,
      io: ws.opts.io,
      specDir: ws.spec.dir,
      labels: {
        [SNAPSHOT_LABELS.spec]: ws.spec.name,
        [SNAPSHOT_LABELS.target]: ws.target.name,
        [SNAPSHOT_LABELS.lineage]: state.lineage,
        [SNAPSHOT_LABELS.snapshot]: name,
      },
    });
    const snapshot: StateSnapshot = {
      ...record,
      serial: state.serial,
      spec_digest: state.spec_digest,
      resources: state.resources,
    };
    const snapshots = [...(state.snapshots ?? []).filter((s) => s.name !== name), snapshot].sort(
      byName,
    );
    await writeState(ws.statePath, state, { ...state, snapshots });
    return replaced ? { snapshot, replaced } : { snapshot };
  } finally {
    await lock.release();
  }
}

export interface ResetOptions {
  readonly name?: string;
  /** Asked once the snapshot is known, before anything is destroyed; false aborts. */
  readonly confirm: (snapshot: StateSnapshot, state: StateFile) => Promise<boolean>;
}

export interface ResetOutcome {
  readonly snapshot: StateSnapshot;
  readonly aborted: boolean;
}

export async function resetTarget(ws: Workspace, opts: ResetOptions): Promise<ResetOutcome> {
  const provider = await hookProvider(ws, 'reset');
  const lock = await lockState(ws.statePath, 'repro reset');
  try {
    // A destroyed target (binding null) keeps its snapshots: reset makes it again from one.
    const state = await readTargetState(ws);
    if (!state) throw notCreatedError(ws);
    const snapshot = findSnapshot(state, opts.name, ws.statePath);
    if (!(await opts.confirm(snapshot, state))) return { snapshot, aborted: true };
    const binding = await provider.reset!(ws.target.config, {
      binding: state.target.binding ?? {},
      snapshot,
      io: ws.opts.io,
      specDir: ws.spec.dir,
    });
    // `pending` is dropped with the rest: the target is back where no batch was running.
    const { pending: _pending, ...rest } = state;
    await writeState(ws.statePath, state, {
      ...rest,
      spec_digest: snapshot.spec_digest,
      resources: snapshot.resources,
      target: { ...state.target, binding },
    });
    return { snapshot, aborted: false };
  } finally {
    await lock.release();
  }
}

/** `repro stop` / `repro start`. The binding does not change, so state is not written. */
export async function powerTarget(ws: Workspace, hook: 'stop' | 'start'): Promise<void> {
  const provider = await hookProvider(ws, hook);
  const lock = await lockState(ws.statePath, VERB[hook]);
  try {
    const state = await boundState(ws);
    await provider[hook]!(ws.target.config, {
      binding: state.target.binding,
      io: ws.opts.io,
      specDir: ws.spec.dir,
    });
  } finally {
    await lock.release();
  }
}

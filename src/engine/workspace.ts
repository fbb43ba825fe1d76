// Opens what every command works on: the spec (validated, with manager grammar checks), its
// graph, the chosen target, and the paths and contents of its state and lock. No target I/O.
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ReproError } from '../core/errors.js';
import type { ManagerKind } from '../core/types.js';
import type { IoHost } from '../core/io.js';
import type { Manager } from '../managers/types.js';
import { MANAGERS } from '../managers/index.js';
import { loadSpec } from '../spec/index.js';
import type { Spec, TargetSpec } from '../spec/types.js';
import { buildGraph, type ResourceGraph } from '../graph/build.js';
import type { StateFile } from '../state/format.js';
import { readState } from '../state/store.js';
import { readLock, type LockFile } from '../state/lock-file.js';

export interface WorkspaceOptions {
  /** Path of the spec file (default `repro.yaml` in the working directory). */
  readonly specPath: string;
  /** `--target NAME`; may be omitted when the spec has one target. */
  readonly target?: string;
  /** `--state FILE`; default `state/<target>.json` beside the spec. */
  readonly statePath?: string;
  readonly io: IoHost;
  /** Forward target command output as progress. */
  readonly verbose?: boolean;
  /** `--accept-host-key`: accept a changed ssh host key and pin the new one. */
  readonly acceptHostKey?: boolean;
}

export interface Workspace {
  readonly opts: WorkspaceOptions;
  readonly spec: Spec;
  readonly graph: ResourceGraph;
  readonly target: TargetSpec;
  readonly statePath: string;
  readonly lockPath: string;
  readonly managers: ReadonlyMap<ManagerKind, Manager>;
}

/** Loads and checks the spec and builds its graph; throws SpecError listing every problem. */
export async function loadCheckedSpec(
  specPath: string,
): Promise<{ spec: Spec; graph: ResourceGraph }> {
  // Positions name the file as the user gave it (`repro.yaml:7:5`); Spec.file is absolute.
  const spec = await loadSpec(specPath, {
    check: (r) => MANAGERS.get(r.kind)?.check(r) ?? [],
  });
  return { spec, graph: buildGraph(spec.resources) };
}

export function selectTarget(spec: Spec, name: string | undefined): TargetSpec {
  const names = spec.targets.map((t) => t.name);
  if (name !== undefined) {
    const t = spec.targets.find((x) => x.name === name);
    if (!t) {
      throw new ReproError('target.unknown', `${spec.file} has no target named '${name}'`, {
        hint: `targets in this spec: ${names.join(', ')}`,
      });
    }
    return t;
  }
  if (spec.targets.length === 1) return spec.targets[0]!;
  throw new ReproError(
    'target.ambiguous',
    `${spec.file} names ${names.length} targets; choose one with --target`,
    {
      hint: `targets in this spec: ${names.join(', ')}`,
    },
  );
}

export async function openWorkspace(opts: WorkspaceOptions): Promise<Workspace> {
  const { spec, graph } = await loadCheckedSpec(opts.specPath);
  const target = selectTarget(spec, opts.target);
  const statePath = opts.statePath
    ? isAbsolute(opts.statePath)
      ? opts.statePath
      : resolve(opts.statePath)
    : join(spec.dir, 'state', `${target.name}.json`);
  return {
    opts,
    spec,
    graph,
    target,
    statePath,
    lockPath: join(dirname(spec.file), 'repro.lock'),
    managers: MANAGERS,
  };
}

/** Reads the target's state and checks that it belongs to this target. */
export async function readTargetState(ws: Workspace): Promise<StateFile | undefined> {
  const state = await readState(ws.statePath);
  if (
    state &&
    (state.target.name !== ws.target.name || state.target.provider !== ws.target.provider)
  ) {
    throw new ReproError(
      'state.mismatch',
      `state file ${ws.statePath} belongs to target '${state.target.name}' (${state.target.provider}), not '${ws.target.name}' (${ws.target.provider})`,
      { hint: 'pass the right --target, or --state FILE for this target' },
    );
  }
  return state;
}

export async function readWorkspaceLock(ws: Workspace): Promise<LockFile> {
  return readLock(ws.lockPath);
}

// The engine's verbs: plan, apply, drift, destroy. Each opens what it needs, makes exactly one
// refresh round trip, and leaves printing to the caller (results are returned; progress goes
// through the IoHost). Apply and destroy hold the state lock for their whole run.
import { readFile, writeFile } from 'node:fs/promises';
import { ReproError, StalePlanError } from '../core/errors.js';
import { canonicalJson } from '../core/canonical.js';
import type { Address } from '../core/types.js';
import type { StateFile } from '../state/format.js';
import { lockState, newState, writeState } from '../state/store.js';
import { readLock, type LockFile } from '../state/lock-file.js';
import {
  computeDrift,
  computePlan,
  acceptDrift,
  probeItems,
  type UpdateSelection,
} from '../plan/compute.js';
import { hasChanges, PLAN_FORMAT_VERSION, type DriftItem, type Plan } from '../plan/model.js';
import { EMPTY_LIVE, refresh, type Live } from '../plan/refresh.js';
import { applyPlan, type ApplyResult } from '../apply/apply.js';
import type { Connection, TargetBinding } from '../../providers/types.js';
import { connectTarget, providerFor } from './target.js';
import { readTargetState, type Workspace } from './workspace.js';

export interface PlanResult {
  readonly plan: Plan;
  readonly state: StateFile | undefined;
}

async function refreshTarget(
  ws: Workspace,
  state: StateFile | undefined,
  destroy = false,
  update?: UpdateSelection,
): Promise<{ live: Live; connected: Awaited<ReturnType<typeof connectTarget>> }> {
  const connected = await connectTarget(ws, state?.target.binding, false);
  if (!connected) return { live: EMPTY_LIVE, connected };
  try {
    const items = probeItems(destroy ? [] : ws.spec.resources, state, update);
    const live = await refresh(connected.connection, items, ws.managers, ws.spec.ctx);
    return { live, connected };
  } catch (e) {
    await connected.connection.close();
    throw e;
  }
}

export async function planTarget(ws: Workspace, update: UpdateSelection): Promise<PlanResult> {
  const state = await readTargetState(ws);
  const lock = await readLock(ws.lockPath);
  const { live, connected } = await refreshTarget(ws, state, false, update);
  try {
    const provider = await providerFor(ws);
    const plan = computePlan({
      spec: ws.spec,
      targetName: ws.target.name,
      provider: ws.target.provider,
      state,
      lock,
      live,
      managers: ws.managers,
      update,
      createTarget: connected ? undefined : provider.describeCreate(ws.target.config),
    });
    return { plan, state };
  } finally {
    await connected?.connection.close();
  }
}

export async function savePlan(plan: Plan, file: string): Promise<void> {
  await writeFile(file, canonicalJson(plan));
}

export async function loadPlan(file: string): Promise<Plan> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new ReproError('plan.read', `cannot read saved plan ${file}: ${(e as Error).message}`, {
      hint: 'give the file written by `repro plan -out FILE`',
    });
  }
  const plan = raw as Plan;
  if (
    !plan ||
    typeof plan !== 'object' ||
    !Array.isArray(plan.changes) ||
    typeof plan.format_version !== 'number'
  ) {
    throw new ReproError('plan.read', `${file} is not a repro plan`, {
      hint: 'give the file written by `repro plan -out FILE`',
    });
  }
  if (plan.format_version > PLAN_FORMAT_VERSION) {
    throw new ReproError(
      'plan.future',
      `${file} was written by a newer repro (plan format ${plan.format_version})`,
    );
  }
  return plan;
}

/** Refuses a saved plan whose target, spec or state moved since it was made. */
export function checkPlanFresh(plan: Plan, ws: Workspace, state: StateFile | undefined): void {
  if (plan.target.name !== ws.target.name) {
    throw new StalePlanError(
      `it was made for target '${plan.target.name}', not '${ws.target.name}'`,
    );
  }
  if (plan.spec_digest !== ws.spec.digest) {
    throw new StalePlanError(`${ws.spec.file} changed since the plan was made`);
  }
  const lineage = state?.lineage ?? null;
  if (plan.state.lineage !== lineage) {
    throw new StalePlanError(
      lineage === null
        ? `the state it was made against (${ws.statePath}) no longer exists`
        : plan.state.lineage === null
          ? `the target had no state when the plan was made; an apply has run since`
          : `the state file ${ws.statePath} was replaced since the plan was made (different lineage)`,
    );
  }
  const serial = state?.serial ?? 0;
  if (plan.state.serial !== serial) {
    throw new StalePlanError(
      `the target's state changed since the plan was made (serial ${plan.state.serial} → ${serial}): another apply ran`,
    );
  }
}

export interface ApplyOptions {
  readonly planFile?: string;
  readonly update: UpdateSelection;
  /** Called with the plan before confirmation (not for a saved plan). */
  readonly onPlan: (plan: Plan) => void;
  /** Asked when there are changes and the plan was not saved; false aborts. */
  readonly confirm: (plan: Plan) => Promise<boolean>;
}

export interface ApplyOutcome {
  readonly plan: Plan;
  readonly result?: ApplyResult;
  readonly aborted: boolean;
}

export async function applyTarget(ws: Workspace, opts: ApplyOptions): Promise<ApplyOutcome> {
  const lock = await lockState(ws.statePath, 'repro apply');
  try {
    let state = await readTargetState(ws);
    // A new state's lineage exists before the target does, so a provider can tag what it creates.
    const base = state ?? newState(ws.target.name, ws.target.provider, ws.spec.digest);
    const lockFile = await readLock(ws.lockPath);
    let plan: Plan;
    let connected: Awaited<ReturnType<typeof connectTarget>>;
    if (opts.planFile) {
      plan = await loadPlan(opts.planFile);
      checkPlanFresh(plan, ws, state);
      connected = await connectTarget(
        ws,
        base.target.binding,
        plan.create_target !== null,
        base.lineage,
      );
      if (!connected) {
        throw new StalePlanError(
          `target '${ws.target.name}' existed when the plan was made and is gone now`,
        );
      }
    } else {
      const refreshed = await refreshTarget(ws, state, false, opts.update);
      connected = refreshed.connected;
      const provider = await providerFor(ws);
      plan = computePlan({
        spec: ws.spec,
        targetName: ws.target.name,
        provider: ws.target.provider,
        state,
        lock: lockFile,
        live: refreshed.live,
        managers: ws.managers,
        update: opts.update,
        createTarget: connected ? undefined : provider.describeCreate(ws.target.config),
      });
      opts.onPlan(plan);
      if (hasChanges(plan) && !(await opts.confirm(plan))) {
        await connected?.connection.close();
        return { plan, aborted: true };
      }
    }
    if (!connected) connected = await connectTarget(ws, base.target.binding, true, base.lineage);
    if (!connected)
      throw new ReproError('target.missing', `target '${ws.target.name}' could not be created`);
    try {
      state = await bindState(ws, state, base, connected.binding);
      const result = await applyIn(ws, plan, state, lockFile, connected.connection, false);
      return { plan, result, aborted: false };
    } finally {
      await connected.connection.close();
    }
  } finally {
    await lock.release();
  }
}

/** Walks `plan` on a connected target of the workspace (destroy: towards an empty spec). */
function applyIn(
  ws: Workspace,
  plan: Plan,
  state: StateFile,
  lock: LockFile,
  conn: Connection,
  destroy: boolean,
): Promise<ApplyResult> {
  return applyPlan({
    plan,
    spec: ws.spec,
    graph: ws.graph,
    conn,
    managers: ws.managers,
    statePath: ws.statePath,
    state,
    lockPath: ws.lockPath,
    lock,
    io: ws.opts.io,
    verbose: ws.opts.verbose,
    destroy,
  });
}

/** Creates the state on first apply and records the provider's binding. */
async function bindState(
  ws: Workspace,
  state: StateFile | undefined,
  base: StateFile,
  binding: TargetBinding,
): Promise<StateFile> {
  return writeState(ws.statePath, state, { ...base, target: { ...base.target, binding } });
}

export interface DriftResult {
  readonly drift: readonly DriftItem[];
  readonly state: StateFile | undefined;
  /** True when state records a target that no longer exists. */
  readonly targetGone: boolean;
  readonly accepted: boolean;
}

export async function driftTarget(ws: Workspace, accept: boolean): Promise<DriftResult> {
  const release = accept
    ? (await lockState(ws.statePath, 'repro drift --accept')).release
    : async () => {};
  try {
    const state = await readTargetState(ws);
    if (!state) return { drift: [], state, targetGone: false, accepted: false };
    const { live, connected } = await refreshTarget(ws, state);
    await connected?.connection.close();
    const targetGone = !connected && state.target.binding !== null;
    const drift = computeDrift(state, live, ws.managers);
    if (accept && drift.length > 0) {
      await writeState(ws.statePath, state, acceptDrift(state, drift, live));
      return { drift, state, targetGone, accepted: true };
    }
    return { drift, state, targetGone, accepted: false };
  } finally {
    await release();
  }
}

export interface DestroyOptions {
  readonly onPlan: (plan: Plan) => void;
  readonly confirm: (plan: Plan) => Promise<boolean>;
}

export async function destroyTarget(ws: Workspace, opts: DestroyOptions): Promise<ApplyOutcome> {
  const lock = await lockState(ws.statePath, 'repro destroy');
  try {
    const state = await readTargetState(ws);
    const lockFile = await readLock(ws.lockPath);
    const binding = state?.target.binding ?? null;
    const created = binding !== null && binding['created'] === true;
    let refreshed: Awaited<ReturnType<typeof refreshTarget>>;
    // A target repro created but cannot reach now (a stopped EC2 instance, a dead sshd) is still
    // destroyed: the provider removes it whole, and nothing on it needs a refresh for that.
    let unreachable: unknown;
    try {
      refreshed = await refreshTarget(ws, state, true);
    } catch (e) {
      if (!created) throw e;
      unreachable = e;
      ws.opts.io.notify(
        'warn',
        `target '${ws.target.name}' cannot be refreshed (${e instanceof Error ? e.message : String(e)}); it was created by repro, so destroy removes it through the provider without refreshing`,
      );
      refreshed = { live: EMPTY_LIVE, connected: undefined };
    }
    const { live, connected } = refreshed;
    try {
      const ownsTarget = created && (connected !== undefined || unreachable !== undefined);
      const plan = computePlan({
        spec: ws.spec,
        targetName: ws.target.name,
        provider: ws.target.provider,
        state,
        lock: lockFile,
        live,
        managers: ws.managers,
        update: undefined,
        destroy: true,
        destroyTarget: ownsTarget ? describeBinding(ws.target.provider, binding) : undefined,
      });
      opts.onPlan(plan);
      if (!state || !hasChanges(plan)) return { plan, aborted: false };
      if (!(await opts.confirm(plan))) return { plan, aborted: true };
      if (!connected && unreachable === undefined) {
        // The target is already gone: forget what state recorded about it.
        await writeState(ws.statePath, state, {
          ...state,
          resources: {},
          target: { ...state.target, binding: null },
        });
        return { plan, aborted: false };
      }
      if (ownsTarget) {
        await connected?.connection.close();
        const provider = await providerFor(ws);
        const removed = await provider.destroy(ws.target.config, {
          binding: binding!,
          io: ws.opts.io,
          specDir: ws.spec.dir,
        });
        if (removed) {
          const written = await writeState(ws.statePath, state, {
            ...state,
            resources: {},
            target: { ...state.target, binding: null },
          });
          return {
            plan,
            aborted: false,
            result: {
              state: written,
              lock: lockFile,
              applied: plan.changes.map((c) => c.address),
              failures: [],
              notAttempted: [],
            },
          };
        }
        // The provider found nothing of its own to remove, and the target cannot be reached to
        // remove resources one by one.
        if (unreachable !== undefined) throw unreachable;
      }
      const active = ownsTarget ? await connectTarget(ws, binding, false) : connected;
      if (!active)
        throw new ReproError(
          'target.missing',
          `target '${ws.target.name}' disappeared during destroy`,
        );
      const result = await applyIn(ws, plan, state, lockFile, active.connection, true);
      await active.connection.close();
      return { plan, result, aborted: false };
    } finally {
      await connected?.connection.close();
    }
  } finally {
    await lock.release();
  }
}

function describeBinding(provider: string, binding: TargetBinding | null): string {
  if (!binding) return `${provider} target`;
  if (provider === 'docker')
    return `docker container ${String(binding['container_name'] ?? binding['container_id'])} (created by repro) and everything in it`;
  if (provider === 'chroot')
    return `chroot root ${String(binding['path'])} (created by repro) and everything in it`;
  if (provider === 'aws-ec2')
    return `EC2 instance ${String(binding['instance_id'])} in ${String(binding['region'])} (launched by repro, terminated with everything on it)`;
  return `${provider} target`;
}

export function parseUpdate(values: readonly string[] | boolean | undefined): UpdateSelection {
  if (values === undefined || values === false) return undefined;
  if (values === true || values.length === 0) return 'all';
  return new Set<Address>(values);
}

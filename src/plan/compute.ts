// The pure middle: from spec, state, lock and the refreshed target to a plan and a drift report.
// No I/O here; everything is deterministic and ordered by layer then address.
import type { Address, Attrs, Change, JsonValue, ManagerKind, Resource } from '../core/types.js';
import { KINDS } from '../core/types.js';
import { formatSourceRef } from '../core/errors.js';
import { canonicalJson } from '../core/canonical.js';
import type { Manager, ProbeItem } from '../managers/types.js';
import type { StateFile } from '../state/format.js';
import type { LockFile } from '../state/lock-file.js';
import type { Spec } from '../spec/types.js';
import { compareByLayer } from '../graph/build.js';
import type { Live } from './refresh.js';
import { PLAN_FORMAT_VERSION, summarize, type DriftItem, type Plan } from './model.js';

/** Union of spec resources and state resources, grouped by kind: what refresh must probe. */
export function probeItems(
  resources: readonly Resource[],
  state: StateFile | undefined,
  update?: UpdateSelection,
): Map<ManagerKind, ProbeItem[]> {
  const byAddress = new Map<Address, { kind: ManagerKind; item: ProbeItem }>();
  for (const r of resources) {
    byAddress.set(r.address, {
      kind: r.kind,
      item: {
        address: r.address,
        name: r.name,
        resource: r,
        recorded: state?.resources[r.address]?.attributes,
        ...(wantsUpdate(update, r.address) ? { update: true } : {}),
      },
    });
  }
  for (const [address, entry] of Object.entries(state?.resources ?? {})) {
    if (byAddress.has(address)) continue;
    const name = address.slice(entry.kind.length + 1);
    byAddress.set(address, {
      kind: entry.kind,
      item: { address, name, recorded: entry.attributes },
    });
  }
  const groups = new Map<ManagerKind, ProbeItem[]>();
  for (const kind of KINDS) groups.set(kind, []);
  for (const address of [...byAddress.keys()].sort()) {
    const { kind, item } = byAddress.get(address)!;
    groups.get(kind)!.push(item);
  }
  return groups;
}

/** `--update`: undefined = none, empty set = all, else these addresses. */
export type UpdateSelection = ReadonlySet<Address> | 'all' | undefined;

export function wantsUpdate(sel: UpdateSelection, address: Address): boolean {
  return sel === 'all' || (sel !== undefined && sel.has(address));
}

export interface PlanInput {
  readonly spec: Spec;
  readonly targetName: string;
  readonly provider: Plan['target']['provider'];
  readonly state: StateFile | undefined;
  readonly lock: LockFile;
  readonly live: Live;
  readonly managers: ReadonlyMap<ManagerKind, Manager>;
  readonly update: UpdateSelection;
  /** Description of the target to create, when it does not exist yet. */
  readonly createTarget?: string;
  /** Destroy: plan the removal of everything recorded. */
  readonly destroy?: boolean;
  /** Destroy: description of the target itself when the provider will remove it whole. */
  readonly destroyTarget?: string;
}

export function computePlan(input: PlanInput): Plan {
  const { spec, state, lock, live, managers } = input;
  const desired = input.destroy ? [] : spec.resources;
  const groups = probeItems(desired, state);
  const changes: Change[] = [];
  for (const items of groups.values()) {
    for (const item of items) {
      const m = managers.get(kindOf(item, state))!;
      const update = wantsUpdate(input.update, item.address);
      const change = m.diff({
        resource: item.resource,
        locked: update ? undefined : lock.resources[item.address],
        live: live.live.get(item.address),
        recorded: item.recorded,
        facts: live.facts.get(m.kind) ?? {},
        update,
      });
      changes.push(change);
    }
  }
  changes.sort(compareByLayer);
  const warnings: string[] = [];
  if (state?.pending && state.pending.length > 0) {
    warnings.push(
      `the last apply was interrupted while changing ${state.pending.join(', ')}; the plan below reflects what is on the target now`,
    );
  }
  for (const item of [...groups.values()].flat()) {
    const live1 = live.live.get(item.address);
    if (!item.resource || !live1) continue;
    const problem = managers.get(item.resource.kind)!.problem?.(item.resource, live1);
    if (problem !== undefined) {
      warnings.push(`${formatSourceRef(item.resource.at)}: ${item.address}: ${problem}`);
    }
  }
  for (const c of changes) {
    if ((c.action === 'delete' || c.action === 'replace') && state?.resources[c.address]?.adopted) {
      warnings.push(
        `${c.address} was on the target before repro managed it; removing it from the spec only forgets it`,
      );
    }
  }
  return {
    format_version: PLAN_FORMAT_VERSION,
    target: { name: input.targetName, provider: input.provider },
    spec_digest: spec.digest,
    state: { lineage: state?.lineage ?? null, serial: state?.serial ?? 0 },
    create_target: input.createTarget ?? null,
    destroy_target: input.destroyTarget ?? null,
    update: input.update === 'all' ? ['*'] : input.update ? [...input.update].sort() : [],
    drift: computeDrift(state, live, managers),
    changes,
    summary: summarize(changes),
    warnings,
    facts: Object.fromEntries([...live.facts.entries()].sort(([a], [b]) => (a < b ? -1 : 1))),
  };
}

function kindOf(item: ProbeItem, state: StateFile | undefined): ManagerKind {
  return item.resource?.kind ?? state!.resources[item.address]!.kind;
}

/** Compares state with the live target on each manager's tracked attributes. */
export function computeDrift(
  state: StateFile | undefined,
  live: Live,
  managers: ReadonlyMap<ManagerKind, Manager>,
): DriftItem[] {
  if (!state) return [];
  const items: DriftItem[] = [];
  for (const address of Object.keys(state.resources).sort()) {
    const entry = state.resources[address]!;
    const m = managers.get(entry.kind);
    if (!m) continue;
    const now = live.live.get(address);
    const tracked = m.tracked.filter((t) => t in entry.attributes);
    if (tracked.length === 0) continue; // nothing observable (e.g. an unguarded run step)
    if (!now) {
      items.push({ address, kind: entry.kind, status: 'removed', attributes: [] });
      continue;
    }
    const attrs = tracked
      .filter((t) => !sameValue(entry.attributes[t], now[t]))
      .map((t) => ({ name: t, recorded: entry.attributes[t] ?? null, live: now[t] ?? null }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (attrs.length > 0)
      items.push({ address, kind: entry.kind, status: 'changed', attributes: attrs });
  }
  return items.sort(compareByLayer);
}

function sameValue(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  return canonicalJson(a ?? null) === canonicalJson(b ?? null);
}

/** Applies accepted drift to a state: live values of tracked attributes, removed entries dropped. */
export function acceptDrift(state: StateFile, drift: readonly DriftItem[], live: Live): StateFile {
  const resources: Record<Address, StateFile['resources'][string]> = { ...state.resources };
  for (const d of drift) {
    if (d.status === 'removed') {
      delete resources[d.address];
      continue;
    }
    const entry = resources[d.address]!;
    resources[d.address] = { ...entry, attributes: { ...(live.live.get(d.address) as Attrs) } };
  }
  return { ...state, resources };
}

// The plan model: what `repro plan --json` prints and `-out` saves. The human rendering is made
// from this model only, so the two never disagree. Its format's single source is
// schemas/plan.schema.json.
import type { Address, Attrs, Change, ManagerKind } from '../core/types.js';
import type { ProviderKind } from '../../providers/types.js';

export const PLAN_FORMAT_VERSION = 1;

/** A difference between state and the live target made outside repro. */
export interface DriftItem {
  readonly address: Address;
  readonly kind: ManagerKind;
  /** `removed`: recorded but absent now; `changed`: tracked attributes differ. */
  readonly status: 'removed' | 'changed';
  /** Tracked attributes that differ, recorded → live. */
  readonly attributes: readonly {
    name: string;
    recorded: Attrs[string] | null;
    live: Attrs[string] | null;
  }[];
}

export interface Plan {
  readonly format_version: number;
  readonly target: { readonly name: string; readonly provider: ProviderKind };
  /** Digest of the normalized spec the plan was made from. */
  readonly spec_digest: string;
  /** The state the plan was computed against; a saved plan is refused when these moved. */
  readonly state: { readonly lineage: string | null; readonly serial: number };
  /** The target itself must be created first (no container/root yet). */
  readonly create_target: string | null;
  /** Destroy: the target itself (a container or root repro created) will be removed. */
  readonly destroy_target: string | null;
  /** Addresses whose lock entries were ignored to re-resolve (`--update`); `["*"]` for all. */
  readonly update: readonly string[];
  readonly drift: readonly DriftItem[];
  /** Every resource of spec and state, ordered by layer then address; noops included. */
  readonly changes: readonly Change[];
  readonly summary: { readonly add: number; readonly change: number; readonly destroy: number };
  /** Warnings to show with the plan (interrupted apply, adopted resources…). */
  readonly warnings: readonly string[];
  /** Manager facts from the refresh (apt list age, candidates…); apply uses them as saved. */
  readonly facts: Readonly<Record<string, Attrs>>;
}

export function summarize(changes: readonly Change[]): Plan['summary'] {
  let add = 0;
  let change = 0;
  let destroy = 0;
  for (const c of changes) {
    if (c.action === 'create') add++;
    else if (c.action === 'update') change++;
    else if (c.action === 'delete') destroy++;
    else if (c.action === 'replace') {
      add++;
      destroy++;
    }
  }
  return { add, change, destroy };
}

export function hasChanges(plan: Plan): boolean {
  return (
    plan.create_target !== null ||
    plan.destroy_target !== null ||
    plan.changes.some((c) => c.action !== 'noop')
  );
}

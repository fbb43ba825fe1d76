// Turns a plan's changes into batches: one batch per manager per graph layer. Deletions go
// first, dependents before what they depend on (reverse layer order); then creates and updates
// in graph order, each batch holding every ready change of the lowest-layer manager. Pure.
import type { Address, Change, ManagerKind } from '../core/types.js';
import { KINDS, layerOf } from '../core/types.js';
import type { Dag } from '../graph/dag.js';

export interface Batch {
  readonly kind: ManagerKind;
  readonly changes: readonly Change[];
}

export function scheduleBatches(changes: readonly Change[], dag: Dag): Batch[] {
  const batches: Batch[] = [];
  const deletes = changes.filter((c) => c.action === 'delete');
  for (const kind of [...KINDS].reverse()) {
    const group = deletes.filter((c) => c.kind === kind).sort(byAddress);
    if (group.length > 0) batches.push({ kind, changes: group });
  }
  const pending = new Map<Address, Change>(
    changes
      .filter((c) => c.action === 'create' || c.action === 'update' || c.action === 'replace')
      .map((c) => [c.address, c]),
  );
  while (pending.size > 0) {
    const ready = [...pending.values()].filter((c) =>
      (dag.hasNode(c.address) ? dag.predecessors(c.address) : []).every((p) => !pending.has(p)),
    );
    if (ready.length === 0) throw new Error('internal: no ready change; the graph has a cycle');
    const kind = ready.map((c) => c.kind).sort((a, b) => layerOf(a) - layerOf(b))[0]!;
    const group = ready.filter((c) => c.kind === kind).sort(byAddress);
    for (const c of group) pending.delete(c.address);
    batches.push({ kind, changes: group });
  }
  return batches;
}

function byAddress(a: Change, b: Change): number {
  return a.address < b.address ? -1 : a.address > b.address ? 1 : 0;
}

// A thin, generic wrapper over @dagrejs/graphlib. It knows nothing about resources: nodes are
// strings, edges point from a node to the node that must come after it, each edge has a kind.
import { Graph, alg } from '@dagrejs/graphlib';

export class Dag<EdgeKind extends string = string> {
  private readonly g = new Graph({ directed: true, multigraph: false, compound: false });

  addNode(id: string): void {
    this.g.setNode(id);
  }

  hasNode(id: string): boolean {
    return this.g.hasNode(id);
  }

  /** `from` must complete before `to`. The first kind given for a pair wins. */
  addEdge(from: string, to: string, kind: EdgeKind): void {
    if (!this.g.hasEdge(from, to)) this.g.setEdge(from, to, kind);
  }

  nodes(): string[] {
    return [...this.g.nodes()].sort();
  }

  edges(): { from: string; to: string; kind: EdgeKind }[] {
    return this.g
      .edges()
      .map((e) => ({ from: e.v, to: e.w, kind: this.g.edge(e) as EdgeKind }))
      .sort((a, b) => cmp(a.from, b.from) || cmp(a.to, b.to));
  }

  predecessors(id: string): string[] {
    return [...(this.g.predecessors(id) ?? [])].sort();
  }

  successors(id: string): string[] {
    return [...(this.g.successors(id) ?? [])].sort();
  }

  /** Every node reachable from `ids` (excluding them unless reachable through a cycle). */
  descendants(ids: Iterable<string>): Set<string> {
    const seen = new Set<string>();
    const stack = [...ids];
    while (stack.length > 0) {
      const id = stack.pop()!;
      for (const s of this.g.successors(id) ?? []) {
        if (!seen.has(s)) {
          seen.add(s);
          stack.push(s);
        }
      }
    }
    return seen;
  }

  /**
   * One cycle as a closed path `[a, b, a]`, or undefined when the graph is acyclic. Deterministic:
   * starts from the smallest node of the first strongly connected component found.
   */
  findCycle(): string[] | undefined {
    const sccs = alg
      .findCycles(this.g)
      .map((c) => [...c].sort())
      .sort((a, b) => cmp(a[0]!, b[0]!));
    // Self loops are not reported by findCycles.
    for (const n of this.nodes()) if (this.g.hasEdge(n, n)) return [n, n];
    const scc = sccs[0];
    if (!scc) return undefined;
    const inScc = new Set(scc);
    const start = scc[0]!;
    // Breadth-first search for the shortest path start -> ... -> start inside the component.
    const prev = new Map<string, string>();
    const queue = [start];
    while (queue.length > 0) {
      const id = queue.shift()!;
      for (const s of this.successors(id)) {
        if (!inScc.has(s)) continue;
        if (s === start) {
          const back: string[] = [];
          for (let cur = id; cur !== start; cur = prev.get(cur)!) back.push(cur);
          return [start, ...back.reverse(), start];
        }
        if (!prev.has(s)) {
          prev.set(s, id);
          queue.push(s);
        }
      }
    }
    return undefined;
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

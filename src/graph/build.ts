// Builds the resource graph by small named steps, each testable alone: add resources, layer
// edges, tool-provider edges, run-step order, explicit `after`, then a cycle check that prints
// the path. Edges point from what must happen first to what comes after it.
import { ReproError, SpecError, type Diagnostic } from '../core/errors.js';
import { KINDS, layerOf, type Address, type Resource } from '../core/types.js';
import { Dag } from './dag.js';

/**
 * Why an edge exists: `layer` (OS sources (apt-source, yum-repo) → OS packages (apt, yum) →
 * overlay environments (venvs, conda envs) → their packages (pip, conda, npm) → env → VCS (git,
 * then datalad) → files → run), `provides` (a manager after the OS package that installs its tool;
 * a package after its venv or conda env), `order` (run steps in spec order), `after` (explicit in
 * the spec).
 */
export type EdgeKind = 'layer' | 'provides' | 'order' | 'after';

export interface ResourceGraph {
  readonly dag: Dag<EdgeKind>;
  readonly resources: ReadonlyMap<Address, Resource>;
}

/**
 * OS packages that provide the tool a manager runs on the target. conda-env has none: Debian does
 * not package conda, mamba or micromamba, so the tool is installed outside the spec (Miniforge,
 * a micromamba binary); a `files:`/`run:` step that installs it comes after conda in layer order
 * and cannot be its provider. The env's packages come after their env (`environmentOf`).
 */
const TOOL_PACKAGES: Partial<Record<Resource['kind'], readonly string[]>> = {
  'pip-venv': ['apt:python3', 'apt:python3-venv', 'yum:python3'],
  pip: ['apt:python3-pip', 'yum:python3-pip'],
  npm: ['apt:nodejs', 'apt:npm', 'yum:nodejs', 'yum:npm'],
  git: ['apt:git', 'yum:git'],
  datalad: ['apt:datalad', 'apt:git-annex', 'apt:git', 'yum:datalad', 'yum:git-annex', 'yum:git'],
};

/** The resource that provides an overlay environment to this one (a package's venv). */
function environmentOf(r: Resource): string | undefined {
  if (r.kind === 'pip' && typeof r.desired['venv'] === 'string')
    return `pip-venv:${r.desired['venv']}`;
  if (r.kind === 'conda' && typeof r.desired['prefix'] === 'string')
    return `conda-env:${r.desired['prefix']}`;
  return undefined;
}

export function addResources(dag: Dag<EdgeKind>, resources: readonly Resource[]): void {
  for (const r of resources) dag.addNode(r.address);
}

/** Every resource comes after every resource of the nearest lower non-empty layer. */
export function addLayerEdges(dag: Dag<EdgeKind>, resources: readonly Resource[]): void {
  const byLayer = KINDS.map((k) => resources.filter((r) => r.kind === k));
  let previous: Resource[] = [];
  for (const layer of byLayer) {
    if (layer.length === 0) continue;
    for (const p of previous) for (const r of layer) dag.addEdge(p.address, r.address, 'layer');
    previous = layer;
  }
}

export function addProviderEdges(dag: Dag<EdgeKind>, resources: readonly Resource[]): void {
  for (const r of resources) {
    for (const tool of TOOL_PACKAGES[r.kind] ?? []) {
      if (dag.hasNode(tool)) dag.addEdge(tool, r.address, 'provides');
    }
    const env = environmentOf(r);
    if (env !== undefined && dag.hasNode(env)) dag.addEdge(env, r.address, 'provides');
  }
}

/** Run steps execute in the order the spec lists them. */
export function addRunOrderEdges(dag: Dag<EdgeKind>, resources: readonly Resource[]): void {
  const steps = resources
    .filter((r) => r.kind === 'run')
    .sort((a, b) => Number(a.desired['index'] ?? 0) - Number(b.desired['index'] ?? 0));
  for (let i = 1; i < steps.length; i++) {
    dag.addEdge(steps[i - 1]!.address, steps[i]!.address, 'order');
  }
}

export function addAfterEdges(dag: Dag<EdgeKind>, resources: readonly Resource[]): Diagnostic[] {
  const problems: Diagnostic[] = [];
  for (const r of resources) {
    for (const dep of r.after) {
      if (!dag.hasNode(dep)) {
        problems.push({
          severity: 'error',
          code: 'graph.unknown-after',
          message: `'after' names ${dep}, which the spec does not declare`,
          address: r.address,
          at: r.at,
          hint: 'use the address of a resource in this spec, e.g. apt:git or run:build',
        });
        continue;
      }
      dag.addEdge(dep, r.address, 'after');
    }
  }
  return problems;
}

export function checkAcyclic(dag: Dag<EdgeKind>, resources: ReadonlyMap<Address, Resource>): void {
  const cycle = dag.findCycle();
  if (!cycle) return;
  const first = resources.get(cycle[0]!);
  throw new ReproError('graph.cycle', `dependency cycle: ${cycle.join(' -> ')}`, {
    at: first?.at,
    hint: "remove one of the 'after' entries on this path (layer order already puts OS packages before env, git, files and run)",
  });
}

export function buildGraph(resources: readonly Resource[]): ResourceGraph {
  const dag = new Dag<EdgeKind>();
  const byAddress = new Map(resources.map((r) => [r.address, r]));
  addResources(dag, resources);
  // Specific edges first: for a pair that is also layer-ordered, the more telling kind is kept.
  addProviderEdges(dag, resources);
  addLayerEdges(dag, resources);
  addRunOrderEdges(dag, resources);
  const problems = addAfterEdges(dag, resources);
  if (problems.length > 0) throw new SpecError(problems);
  checkAcyclic(dag, byAddress);
  return { dag, resources: byAddress };
}

/** Sort key: graph layer, then address. Used for plans, state and output everywhere. */
export function compareByLayer(
  a: { kind: Resource['kind']; address: Address },
  b: { kind: Resource['kind']; address: Address },
): number {
  const la = layerOf(a.kind);
  const lb = layerOf(b.kind);
  if (la !== lb) return la - lb;
  return a.address < b.address ? -1 : a.address > b.address ? 1 : 0;
}

/** Graphviz DOT of the graph; layer edges dashed, explicit edges solid. */
export function renderDot(graph: ResourceGraph, name: string): string {
  const lines = [`digraph ${JSON.stringify(name)} {`, '  rankdir=LR;', '  node [shape=box];'];
  for (const kind of KINDS) {
    const nodes = [...graph.resources.values()].filter((r) => r.kind === kind);
    if (nodes.length === 0) continue;
    lines.push(
      `  subgraph ${JSON.stringify(`cluster_${kind}`)} {`,
      `    label=${JSON.stringify(kind)};`,
    );
    for (const r of nodes.sort((a, b) => compareByLayer(a, b)))
      lines.push(`    ${JSON.stringify(r.address)};`);
    lines.push('  }');
  }
  const style: Record<EdgeKind, string> = {
    layer: ' [style=dashed, color=gray]',
    provides: ' [label="provides"]',
    order: ' [label="order"]',
    after: ' [label="after"]',
  };
  for (const e of graph.dag.edges()) {
    lines.push(`  ${JSON.stringify(e.from)} -> ${JSON.stringify(e.to)}${style[e.kind]};`);
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}

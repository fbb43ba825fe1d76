import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Attrs, Change, ManagerKind } from '../../src/core/types.js';
import type { Manager } from '../../src/managers/types.js';
import { computePlan, computeDrift, acceptDrift, probeItems } from '../../src/plan/compute.js';
import { renderPlan } from '../../src/plan/render.js';
import { composeProbe, splitSections, parseSections } from '../../src/plan/refresh.js';
import { scheduleBatches } from '../../src/apply/schedule.js';
import { buildGraph } from '../../src/graph/build.js';
import { newState } from '../../src/state/store.js';
import { emptyLock } from '../../src/state/lock-file.js';
import type { Spec } from '../../src/spec/types.js';
import type { StateFile } from '../../src/state/format.js';
import { res } from './fixtures.js';

/**
 * A stand-in manager with the simplest semantics (version-like `v` attribute) so the engine's own
 * logic is tested apart from any real package manager.
 */
function fakeManager(kind: ManagerKind): Manager {
  return {
    kind,
    tracked: ['v'],
    check: () => [],
    probeScript: (items) => items.map((i) => `echo ${i.name}`).join('\n'),
    parseProbe: (output) => ({
      live: new Map(
        output
          .split('\n')
          .filter(Boolean)
          .map((l) => [`${kind}:${l.split(' ')[0]}`, { v: l.split(' ')[1] ?? '1' }]),
      ),
      facts: { lines: output.split('\n').length },
    }),
    diff: ({ resource, locked, live }): Change => {
      const address = resource?.address ?? 'x';
      if (!resource)
        return live
          ? { address: '', kind, action: 'delete', before: live }
          : { address: '', kind, action: 'noop' };
      const want =
        (resource.desired['v'] as string | undefined) ?? (locked?.['v'] as string | undefined);
      if (!live)
        return want
          ? { address, kind, action: 'create', after: { v: want } }
          : { address, kind, action: 'create', after: {}, afterUnknown: ['v'] };
      if (want && live['v'] !== want)
        return { address, kind, action: 'update', before: live, after: { v: want } };
      return { address, kind, action: 'noop', before: live, after: live };
    },
    commands: () => [],
    lockEntry: (r, live) => (r.desired['v'] ? undefined : { v: live['v']! }),
    record: (_r, live) => live,
  };
}

// The fake's delete/noop for removed resources needs the address: wrap diff to fill it in.
function managersFor(kinds: ManagerKind[]): Map<ManagerKind, Manager> {
  return new Map(
    kinds.map((k) => {
      const m = fakeManager(k);
      return [
        k,
        {
          ...m,
          diff: (input) => {
            const c = m.diff(input);
            return {
              ...c,
              address: input.resource?.address ?? `${k}:${String(input.recorded?.['name'])}`,
            } as Change;
          },
        },
      ];
    }),
  );
}

function spec(
  resources = [res('apt', 'jq', { v: '2' }), res('apt', 'curl'), res('env', 'A', { v: '1' })],
): Spec {
  return {
    file: '/s/repro.yaml',
    dir: '/s',
    version: 1,
    name: 'demo',
    targets: [
      {
        name: 'box',
        provider: 'docker',
        config: {},
        at: { file: '/s/repro.yaml', line: 3, col: 3 },
      },
    ],
    ctx: {
      specName: 'demo',
      envFile: '/etc/profile.d/repro-demo.sh',
      aptUpdateMaxAge: 86400,
      aptInstallRecommends: false,
    },
    resources,
    digest: 'sha256:' + 'b'.repeat(64),
  };
}

function stateWith(resources: StateFile['resources']): StateFile {
  return {
    ...newState('box', 'docker', 'sha256:' + 'b'.repeat(64)),
    lineage: '00000000-0000-0000-0000-000000000000',
    serial: 3,
    resources,
  };
}

const live = (entries: [string, Attrs][]) => ({ live: new Map(entries), facts: new Map() });

test('plan: create, update, noop and delete, ordered by layer then address, with summary', () => {
  const state = stateWith({ 'apt:old': { kind: 'apt', attributes: { name: 'old', v: '1' } } });
  const plan = computePlan({
    spec: spec(),
    targetName: 'box',
    provider: 'docker',
    state,
    lock: { lock_version: 1, resources: { 'apt:curl': { v: '7' } } },
    live: live([
      ['apt:jq', { v: '1' }],
      ['apt:old', { v: '1' }],
      ['env:A', { v: '1' }],
    ]),
    managers: managersFor(['apt', 'env']),
    update: undefined,
  });
  assert.deepEqual(
    plan.changes.map((c) => `${c.action} ${c.address}`),
    ['create apt:curl', 'update apt:jq', 'delete apt:old', 'noop env:A'],
  );
  assert.deepEqual(plan.changes[0]!.after, { v: '7' }, 'the locked version is what gets installed');
  assert.deepEqual(plan.summary, { add: 1, change: 1, destroy: 1 });
  assert.deepEqual(plan.state, { lineage: '00000000-0000-0000-0000-000000000000', serial: 3 });
  assert.equal(
    renderPlan(plan, { color: false }),
    [
      'repro will perform the following actions on target box (docker):',
      '',
      '    + apt:curl',
      '        v: "7"',
      '    ~ apt:jq',
      '        v: "1" → "2"',
      '    - apt:old',
      '',
      'Plan: 1 to add, 1 to change, 1 to destroy.',
      '',
    ].join('\n'),
  );
});

test('plan: --update ignores the lock for the named address only', () => {
  const input = {
    spec: spec([res('apt', 'a'), res('apt', 'b')]),
    targetName: 'box',
    provider: 'docker' as const,
    state: undefined,
    lock: { lock_version: 1, resources: { 'apt:a': { v: '1' }, 'apt:b': { v: '1' } } },
    live: live([]),
    managers: managersFor(['apt']),
  };
  const plan = computePlan({ ...input, update: new Set(['apt:a']) });
  assert.deepEqual(
    plan.changes.map((c) => c.after),
    [{}, { v: '1' }],
  );
  assert.deepEqual(plan.changes[0]!.afterUnknown, ['v']);
  assert.deepEqual(plan.update, ['apt:a']);
  assert.match(renderPlan(plan, { color: false }), /\+ apt:a\n {8}v: \(known after apply\)/);
});

test('plan: converged shows No changes. and a missing target shows its creation first', () => {
  const converged = computePlan({
    spec: spec([res('env', 'A', { v: '1' })]),
    targetName: 'box',
    provider: 'docker',
    state: undefined,
    lock: emptyLock(),
    live: live([['env:A', { v: '1' }]]),
    managers: managersFor(['env']),
    update: undefined,
  });
  assert.equal(
    renderPlan(converged, { color: false }),
    'No changes. The target matches the spec.\n',
  );
  const fresh = computePlan({
    spec: spec([res('env', 'A', { v: '1' })]),
    targetName: 'box',
    provider: 'docker',
    state: undefined,
    lock: emptyLock(),
    live: live([]),
    managers: managersFor(['env']),
    update: undefined,
    createTarget: 'docker container box from image debian:bookworm',
  });
  assert.match(
    renderPlan(fresh, { color: false }),
    /^repro will perform.*\n\n {4}\+ docker container box from image debian:bookworm\n\n {4}\+ env:A\n/,
  );
});

test('drift: removed and changed tracked attributes, in layer order; accept records live', () => {
  const state = stateWith({
    'env:A': { kind: 'env', attributes: { v: '1' } },
    'apt:jq': { kind: 'apt', attributes: { v: '1' } },
    'apt:gone': { kind: 'apt', attributes: { v: '1' } },
    'apt:same': { kind: 'apt', attributes: { v: '1' } },
  });
  const l = live([
    ['env:A', { v: '2' }],
    ['apt:jq', { v: '3' }],
    ['apt:same', { v: '1' }],
  ]);
  const drift = computeDrift(state, l, managersFor(['apt', 'env']));
  assert.deepEqual(drift, [
    { address: 'apt:gone', kind: 'apt', status: 'removed', attributes: [] },
    {
      address: 'apt:jq',
      kind: 'apt',
      status: 'changed',
      attributes: [{ name: 'v', recorded: '1', live: '3' }],
    },
    {
      address: 'env:A',
      kind: 'env',
      status: 'changed',
      attributes: [{ name: 'v', recorded: '1', live: '2' }],
    },
  ]);
  const accepted = acceptDrift(state, drift, l);
  assert.equal(accepted.resources['apt:gone'], undefined);
  assert.deepEqual(accepted.resources['apt:jq']!.attributes, { v: '3' });
  assert.deepEqual(computeDrift(accepted, l, managersFor(['apt', 'env'])), []);
});

test('refresh: one composed script, split back per manager', () => {
  const managers = managersFor(['apt', 'env']);
  const groups = probeItems([res('apt', 'jq'), res('env', 'A')], undefined);
  const script = composeProbe(groups, managers, spec().ctx);
  assert.match(script, /printf '\\n@@repro-section %s\\n' apt\n\{\necho jq\n\} <\/dev\/null/);
  const stdout = '\n@@repro-section apt\njq 5\n\n@@repro-section env\nA 1\n\n@@repro-section end\n';
  assert.deepEqual(
    [...splitSections(stdout).entries()],
    [
      ['apt', 'jq 5\n'],
      ['env', 'A 1\n'],
    ],
  );
  const parsed = parseSections(stdout, groups, managers, spec().ctx);
  assert.deepEqual(
    [...parsed.live.entries()],
    [
      ['apt:jq', { v: '5' }],
      ['env:A', { v: '1' }],
    ],
  );
});

test('schedule: deletes first in reverse layer order, then one batch per manager per layer', () => {
  const resources = [
    res('apt', 'a'),
    res('apt', 'b'),
    res('env', 'E'),
    res('run', 'r1', { index: 0 }),
    res('run', 'r2', { index: 1 }),
  ];
  const graph = buildGraph(resources);
  const ch = (kind: ManagerKind, name: string, action: Change['action']): Change => ({
    address: `${kind}:${name}`,
    kind,
    action,
  });
  const batches = scheduleBatches(
    [
      ch('apt', 'a', 'create'),
      ch('apt', 'b', 'update'),
      ch('env', 'E', 'noop'),
      ch('run', 'r1', 'create'),
      ch('run', 'r2', 'create'),
      ch('apt', 'z', 'delete'),
      ch('env', 'Y', 'delete'),
    ],
    graph.dag,
  );
  assert.deepEqual(
    batches.map((b) => `${b.kind}: ${b.changes.map((c) => c.address).join(' ')}`),
    ['env: env:Y', 'apt: apt:z', 'apt: apt:a apt:b', 'run: run:r1', 'run: run:r2'],
  );
});

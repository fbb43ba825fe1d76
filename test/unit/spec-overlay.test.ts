// Normalization and graph edges of the overlay managers' resources (pip with venvs, npm).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSpec } from '../../src/spec/index.js';
import { SpecError } from '../../src/core/errors.js';
import { buildGraph } from '../../src/graph/build.js';

async function load(yaml: string) {
  const dir = await mkdtemp(join(tmpdir(), 'repro-test-overlay-'));
  try {
    await writeFile(join(dir, 'repro.yaml'), yaml);
    return await loadSpec(join(dir, 'repro.yaml'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const HEAD = 'version: 1\nname: o\ntargets:\n  t: {local: {}}\n';

test('pip entries become a venv resource and one resource per requirement', async () => {
  const spec = await load(
    HEAD +
      `os:
  apt:
    packages: [python3, python3-venv]
pip:
  - venv: /opt/venv/
    find_links: [/wheels]
    no_index: true
    packages: ["NiBabel==5.2.0", "requests[socks, SECURITY] >=2,<3", "tiny_pkg @ https://example.org/t.whl", numpy]
  - packages: [rich]
`,
  );
  const pip = spec.resources.filter((r) => r.kind === 'pip' || r.kind === 'pip-venv');
  assert.deepEqual(
    pip.map((r) => [r.address, r.desired]),
    [
      ['pip-venv:/opt/venv', { path: '/opt/venv', python: 'python3' }],
      [
        'pip:/opt/venv:nibabel',
        {
          scope: '/opt/venv',
          python: 'python3',
          name: 'nibabel',
          requirement: 'NiBabel==5.2.0',
          find_links: ['/wheels'],
          no_index: true,
          venv: '/opt/venv',
          spec: '==5.2.0',
        },
      ],
      [
        'pip:/opt/venv:numpy',
        {
          scope: '/opt/venv',
          python: 'python3',
          name: 'numpy',
          requirement: 'numpy',
          find_links: ['/wheels'],
          no_index: true,
          venv: '/opt/venv',
        },
      ],
      [
        'pip:/opt/venv:requests',
        {
          scope: '/opt/venv',
          python: 'python3',
          name: 'requests',
          requirement: 'requests[socks, SECURITY] >=2,<3',
          find_links: ['/wheels'],
          no_index: true,
          venv: '/opt/venv',
          extras: ['security', 'socks'],
          spec: '>=2,<3',
        },
      ],
      [
        'pip:/opt/venv:tiny-pkg',
        {
          scope: '/opt/venv',
          python: 'python3',
          name: 'tiny-pkg',
          requirement: 'tiny_pkg @ https://example.org/t.whl',
          find_links: ['/wheels'],
          no_index: true,
          venv: '/opt/venv',
          url: 'https://example.org/t.whl',
        },
      ],
      [
        'pip:python3:rich',
        { scope: 'python3', python: 'python3', name: 'rich', requirement: 'rich' },
      ],
    ],
  );
  const graph = buildGraph(spec.resources);
  const into = (a: string) =>
    graph.dag
      .edges()
      .filter((e) => e.to === a)
      .map((e) => `${e.from} ${e.kind}`);
  assert.deepEqual(into('pip-venv:/opt/venv'), [
    'apt:python3 provides',
    'apt:python3-venv provides',
  ]);
  assert.deepEqual(into('pip:/opt/venv:numpy'), ['pip-venv:/opt/venv provides']);
  // A system-interpreter package waits for the apt layer below it (no python3-pip declared).
  assert.deepEqual(into('pip:python3:rich'), ['pip-venv:/opt/venv layer']);
});

test('npm entries: global prefix (default /usr/local) or project, scoped names and ranges', async () => {
  const spec = await load(
    HEAD +
      `os:
  apt:
    packages: [nodejs, npm]
npm:
  - packages: ["bids-validator@1.14.0", left-pad]
  - project: /opt/app
    registry: https://registry.npmjs.org/
    packages: ["@scope/tool@^2"]
`,
  );
  const npm = spec.resources.filter((r) => r.kind === 'npm');
  assert.deepEqual(
    npm.map((r) => [r.address, r.desired]),
    [
      [
        'npm:/opt/app:@scope/tool',
        {
          scope: '/opt/app',
          mode: 'project',
          name: '@scope/tool',
          spec: '^2',
          registry: 'https://registry.npmjs.org/',
        },
      ],
      [
        'npm:/usr/local:bids-validator',
        { scope: '/usr/local', mode: 'global', name: 'bids-validator', spec: '1.14.0' },
      ],
      ['npm:/usr/local:left-pad', { scope: '/usr/local', mode: 'global', name: 'left-pad' }],
    ],
  );
  const graph = buildGraph(spec.resources);
  const into = graph.dag
    .edges()
    .filter((e) => e.to === 'npm:/usr/local:left-pad')
    .map((e) => `${e.from} ${e.kind}`);
  assert.deepEqual(into, ['apt:nodejs provides', 'apt:npm provides']);
});

test('bad overlay entries: each reported where it is', async () => {
  await assert.rejects(
    load(
      HEAD +
        'pip:\n  - packages: ["==1.0"]\nnpm:\n  - {prefix: /a, project: /b, packages: [x]}\n  - packages: ["a b"]\n',
    ),
    (e: unknown) => {
      assert.ok(e instanceof SpecError);
      assert.deepEqual(
        e.diagnostics.map((d) => `${d.at?.line}:${d.at?.col} ${d.message}`),
        [
          "6:16 pip[0].packages[0]: '==1.0' is not a requirement",
          "8:5 npm[0]: an npm entry installs either globally into 'prefix' or into the 'project' directory, not both",
          "9:16 npm[1].packages[0]: 'a b' is not an npm package",
        ],
      );
      return true;
    },
  );
});

test('datalad entries: one resource per dataset, after git, git-annex and datalad', async () => {
  const spec = await load(
    HEAD +
      `os:
  apt:
    packages: [git, git-annex, datalad]
datalad:
  - {path: /data/ds/, source: "https://example.org/ds", revision: v1, get: [b.dat, a.dat, b.dat]}
`,
  );
  const ds = spec.resources.filter((r) => r.kind === 'datalad');
  assert.deepEqual(
    ds.map((r) => [r.address, r.desired]),
    [
      [
        'datalad:/data/ds',
        {
          path: '/data/ds',
          source: 'https://example.org/ds',
          revision: 'v1',
          get: ['a.dat', 'b.dat'],
        },
      ],
    ],
  );
  const graph = buildGraph(spec.resources);
  const into = graph.dag
    .edges()
    .filter((e) => e.to === 'datalad:/data/ds')
    .map((e) => `${e.from} ${e.kind}`);
  assert.deepEqual(into, ['apt:datalad provides', 'apt:git provides', 'apt:git-annex provides']);
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { KINDS, type Resource } from '../../src/core/types.js';
import { MANAGERS, getManager } from '../../src/managers/index.js';
import { APT, CTX, ENV, FILES, RUN, items, res } from '../fixtures/outputs/scenarios.js';

const sha = (b: string): string => createHash('sha256').update(b).digest('hex');

const HOSTILE = "x'; touch /tmp/repro-pwned; echo '$(id)`id`\\";
const SAMPLES: Resource[] = [
  res('apt-source', 'extra', {
    name: 'extra',
    uri: 'http://deb.example.org/debian',
    suites: ['stable'],
    components: ['main'],
    trusted: true,
  }),
  ...APT,
  ...ENV,
  res('git', '/opt/src/x', {
    path: '/opt/src/x',
    url: 'file:///srv/x.git',
    revision: 'a'.repeat(40),
  }),
  ...FILES,
  ...RUN,
  res('conda', '/opt/conda/envs/a:numpy', {
    prefix: '/opt/conda/envs/a',
    name: 'numpy',
    spec: 'numpy=1.26.4=py311h64a7726_0',
  }),
];

test('the registry has one manager per kind, under its own kind', () => {
  assert.deepEqual([...MANAGERS.keys()].sort(), [...KINDS].sort());
  for (const kind of KINDS) assert.equal(getManager(kind).kind, kind);
});

test('diff with live equal to what create promises is noop, for every manager', () => {
  for (const r of SAMPLES) {
    const m = getManager(r.kind);
    if (r.kind === 'run') continue; // run has no live state to promise; covered in its own tests
    const create = m.diff({ resource: r, facts: { git: true }, update: false });
    assert.equal(create.action, 'create', r.address);
    if (create.afterUnknown && create.afterUnknown.length > 0) continue;
    const again = m.diff({ resource: r, live: create.after, facts: { git: true }, update: false });
    assert.equal(again.action, 'noop', r.address);
    // And once recorded, a resource removed from the spec is deleted.
    const gone = m.diff({ live: create.after, recorded: create.after, facts: {}, update: false });
    assert.deepEqual([gone.action, gone.address], ['delete', r.address]);
  }
});

test('all probe fragments composed run under dash, never fail, never read stdin', () => {
  const hostile = [
    res('apt', HOSTILE, {}),
    res('env', 'TOKEN', { secret: true, value_sha256: sha('v') }, Buffer.from('v')),
    res('file', `/tmp/${HOSTILE}`, {
      path: `/tmp/${HOSTILE}`,
      sha256: sha(''),
      size: 0,
      owner: '0:0',
    }),
    res('git', `/tmp/${HOSTILE}`, {
      path: `/tmp/${HOSTILE}`,
      url: 'file:///nowhere',
      revision: 'v1',
    }),
    res('conda-env', `/tmp/${HOSTILE}/envs/x`, {
      prefix: `/tmp/${HOSTILE}/envs/x`,
      specs: ['numpy'],
    }),
    res('conda', `/tmp/${HOSTILE}/envs/x:numpy`, {
      prefix: `/tmp/${HOSTILE}/envs/x`,
      name: 'numpy',
      spec: 'numpy',
    }),
    res('run', 'r', {
      name: 'r',
      command: 'true',
      creates: `/tmp/${HOSTILE}`,
      unless: 'cat; false',
      index: 0,
    }),
  ];
  const ctx = { ...CTX, envFile: `/tmp/${HOSTILE}/env.sh` };
  // The padding keeps the tail of the script unread by dash when the probes run: a fragment that
  // read stdin (here the `cat` in `unless`) would swallow it and the end marker would be missing.
  const padding = `# ${'.'.repeat(1000)}\n`.repeat(200);
  const script =
    hostile
      .map(
        (r) =>
          `printf '\\n@@s %s\\n' ${r.kind}\n{\n${getManager(r.kind).probeScript(items([r]), ctx)}\n} </dev/null`,
      )
      .join('\n') + `\n${padding}printf '\\n@@end\\n'\n`;
  const r = spawnSync('/bin/sh', ['-s'], { input: script, encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\n@@end\n$/);
  assert.equal(spawnSync('/bin/sh', ['-c', 'test -e /tmp/repro-pwned']).status, 1);
  // Each section parses without throwing.
  const sections = r.stdout.split(/\n@@s (\S+)\n/);
  for (let i = 1; i < sections.length; i += 2) {
    const kind = sections[i] as (typeof KINDS)[number];
    const h = hostile.find((x) => x.kind === kind)!;
    const parsed = getManager(kind).parseProbe(
      sections[i + 1]!.split('\n@@end')[0]!,
      items([h]),
      ctx,
    );
    assert.ok(parsed.live instanceof Map);
  }
});

test('no command display contains a secret or file content', () => {
  const secret = 'hunter2-secret';
  const token = res(
    'env',
    'TOKEN',
    { secret: true, value_sha256: sha(secret) },
    Buffer.from(secret),
  );
  const f = res(
    'file',
    '/etc/x',
    { path: '/etc/x', sha256: sha(secret), size: secret.length },
    Buffer.from(secret),
  );
  for (const r of [token, f]) {
    const cmds = getManager(r.kind).commands({
      changes: [{ address: r.address, kind: r.kind, action: 'create' }],
      resources: new Map([[r.address, r]]),
      facts: {},
      changedKinds: new Set(),
      ctx: CTX,
    });
    assert.ok(cmds.length > 0);
    for (const c of cmds) {
      assert.ok(!c.display.includes(secret), c.display);
      assert.ok(!c.script.includes(secret), 'content travels as base64 only');
    }
  }
});

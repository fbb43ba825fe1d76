import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Attrs, Change, Resource } from '../../src/core/types.js';
import {
  exactVersion,
  npmManager as npm,
  npmNameProblem,
  npmSpecProblem,
  parseLockfile,
  parseManifest,
  satisfies,
} from '../../src/managers/npm.js';
import type { DiffInput, ProbeItem } from '../../src/managers/types.js';
import { CTX, items, readOutput, res } from '../fixtures/outputs/scenarios.js';

/** The resources behind test/fixtures/outputs/npm/*.txt (recorded in a bookworm container). */
function pkg(scope: string, name: string, spec?: string, extra: Attrs = {}): Resource {
  const mode = scope === '/srv/proj' ? 'project' : 'global';
  return res('npm', `${scope}:${name}`, {
    scope,
    mode,
    name,
    ...(spec !== undefined ? { spec } : {}),
    ...extra,
  });
}
const IS_NUMBER = pkg('/usr/local', 'is-number', '7.0.0');
const LEFT_PAD = pkg('/usr/local', 'left-pad');
const TYPES_NODE = pkg('/srv/proj', '@types/node');
const IS_ODD = pkg('/usr/local', 'is-odd', '^2');
const RECORDED: ProbeItem[] = items([IS_NUMBER, LEFT_PAD, TYPES_NODE]);

test('npm check accepts npm names, versions, ranges and dist-tags', () => {
  for (const [name, spec] of [
    ['left-pad', undefined],
    ['@types/node', '^20'],
    ['is-number', '7.0.0'],
    ['lodash.merge', '~4.6'],
    ['a', '>=1.2.3 <2'],
    ['x', '1.x'],
    ['x', '*'],
    ['x', '1.0.0-rc.1'],
    ['x', '^1.2.3 || ^2'],
    ['x', 'latest'],
    ['x', 'next'],
    ['x', '=1.2.3'],
  ] as const) {
    const r = pkg('/usr/local', name, spec);
    assert.deepEqual(npm.check(r), [], `${name}@${spec}`);
  }
  assert.equal(npmNameProblem('x'.repeat(214)), undefined);
});

test('npm check names the resource for hostile or malformed values, never a shell string', () => {
  const bad: Resource[] = [
    pkg('/usr/local', 'left-pad; rm -rf /'),
    pkg('/usr/local', 'Left-Pad'),
    pkg('/usr/local', '-g'),
    pkg('/usr/local', '.hidden'),
    pkg('/usr/local', '_under'),
    pkg('/usr/local', '@scope'),
    pkg('/usr/local', '@a/b/c'),
    pkg('/usr/local', 'node_modules'),
    pkg('/usr/local', 'a$(id)'),
    pkg('/usr/local', 'x'.repeat(215)),
    pkg('/usr/local', 'left-pad', '1.0; rm -rf /'),
    pkg('/usr/local', 'left-pad', '$(id)'),
    pkg('/usr/local', 'left-pad', '1.2.3\n'),
    pkg('/usr/local', 'left-pad', '1.2.3.4'),
    pkg('/usr/local', 'left-pad', 'v1x'),
    pkg('/usr/local', 'left-pad', undefined, { registry: 'file:///etc' }),
    pkg('/usr/local', 'left-pad', undefined, { registry: "https://r.example/'; reboot" }),
    res('npm', 'rel:left-pad', { scope: 'relative', mode: 'global', name: 'left-pad' }),
  ];
  for (const r of bad) {
    const ds = npm.check(r);
    assert.equal(ds.length, 1, JSON.stringify(r.desired));
    assert.equal(ds[0]!.address, r.address);
    assert.equal(ds[0]!.severity, 'error');
    assert.deepEqual(ds[0]!.at, r.at);
  }
});

test('semver ranges: exact versions and satisfaction', () => {
  assert.equal(exactVersion('7.0.0'), '7.0.0');
  assert.equal(exactVersion('=1.2.3-rc.1'), '1.2.3-rc.1');
  assert.equal(exactVersion('^7.0.0'), undefined);
  assert.equal(exactVersion('latest'), undefined);
  const table: [string, string, boolean | undefined][] = [
    ['1.3.0', '^1.2.3', true],
    ['2.0.0', '^1.2.3', false],
    ['0.2.9', '^0.2.3', true],
    ['0.3.0', '^0.2.3', false],
    ['0.0.4', '^0.0.3', false],
    ['1.2.9', '~1.2.3', true],
    ['1.3.0', '~1.2.3', false],
    ['1.9.0', '1.x', true],
    ['2.0.0', '1', false],
    ['6.0.0', '>=7', false],
    ['7.1.0', '>=7 <8', true],
    ['3.0.0', '^1 || ^3', true],
    ['1.5.0', '1.2 - 1.6', true],
    ['2.0.0-rc.1', '^1.2.3', false],
    ['2.0.0-rc.1', '^2.0.0-rc.0', true],
    ['2.1.0-rc.1', '^2.0.0-rc.0', false],
    ['9.9.9', '*', true],
    ['1.0.0', 'latest', undefined],
  ];
  for (const [v, r, want] of table) assert.equal(satisfies(v, r), want, `${v} in ${r}`);
  assert.equal(npmSpecProblem('1.2'), undefined);
  assert.match(npmSpecProblem('1.2;x') ?? '', /not a version/);
});

test('npm probe: reads each package.json with the shell, quoted, names never in the output', () => {
  const script = npm.probeScript(
    items([IS_NUMBER, LEFT_PAD, pkg("/opt/it's", 'x'), TYPES_NODE], {
      "npm:/usr/local:evil'; reboot": { scope: '/usr/local', name: "evil'; reboot" },
    }),
    CTX,
  );
  assert.doesNotMatch(script, /npm ls/, 'no npm process in a refresh');
  assert.match(script, /\[ -f \/usr\/local\/lib\/node_modules\/is-number\/package\.json \]/);
  assert.match(script, /base64 < '\/opt\/it'\\''s\/lib\/node_modules\/x\/package\.json'/);
  assert.match(script, /\/srv\/proj\/node_modules\/@types\/node\/package\.json/);
  assert.match(script, /_r_l=\/srv\/proj\/node_modules\/\.package-lock\.json; elif/);
  assert.match(script, /_r_l=\/srv\/proj\/package-lock\.json/);
  assert.doesNotMatch(script, /reboot/);
  assert.doesNotMatch(script, /npm view/, 'the registry is asked only under --update');
  const upd = npm.probeScript([{ ...items([IS_ODD])[0]!, update: true }], CTX);
  assert.match(upd, /npm view --json 'is-odd@\^2' version/);
});

test('npm parses the recorded probe outputs', () => {
  const installed = npm.parseProbe(
    readOutput('npm/installed.txt'),
    [...RECORDED, { ...items([IS_ODD])[0]!, update: true }],
    CTX,
  );
  assert.equal(installed.facts['npm'], true);
  assert.deepEqual(installed.live.get(IS_NUMBER.address), {
    scope: '/usr/local',
    mode: 'global',
    name: 'is-number',
    version: '7.0.0',
  });
  assert.equal(installed.live.get(LEFT_PAD.address)?.['version'], '1.3.0');
  const types = installed.live.get(TYPES_NODE.address)!;
  assert.equal(types['mode'], 'project');
  assert.match(String(types['version']), /^20\./);
  assert.match(String(types['integrity']), /^sha512-/);
  assert.match(
    String(types['resolved']),
    /^https:\/\/registry\.npmjs\.org\/@types\/node\/-\/node-20/,
  );
  assert.deepEqual(installed.facts['resolved'], { [IS_ODD.address]: '2.0.0' });

  const drifted = npm.parseProbe(readOutput('npm/drifted.txt'), RECORDED, CTX);
  assert.equal(drifted.live.get(IS_NUMBER.address)?.['version'], '6.0.0');
  assert.equal(drifted.live.has(LEFT_PAD.address), false);
  assert.equal(drifted.live.has(TYPES_NODE.address), true);

  const none = npm.parseProbe(readOutput('npm/no-npm.txt'), RECORDED, CTX);
  assert.equal(none.facts['npm'], false);
  assert.equal(none.live.size, 0);
});

test('package.json and lockfile parsing: versions checked, nested copies ignored, no forging', () => {
  assert.deepEqual(parseManifest('{"name":"a","version":"1.0.0"}'), { version: '1.0.0' });
  assert.deepEqual(
    parseManifest('{"version":"1.0.0","_integrity":"sha512-x","_resolved":"https://r/a.tgz"}'),
    { version: '1.0.0', integrity: 'sha512-x', resolved: 'https://r/a.tgz' },
  );
  assert.equal(parseManifest('{"version":"not\\tJ\\t0\\tx"}'), undefined);
  assert.equal(parseManifest('npm ERR! oops'), undefined);
  const lock = parseLockfile(
    JSON.stringify({
      lockfileVersion: 3,
      packages: {
        '': { name: 'proj' },
        'node_modules/a': { version: '1.0.0', integrity: 'sha512-a', resolved: 'https://r/a' },
        'node_modules/@s/b': { version: '2.0.0', integrity: 'sha512-b' },
        'node_modules/a/node_modules/c': { version: '3.0.0' },
      },
    }),
  );
  assert.deepEqual([...lock.keys()], ['a', '@s/b']);
  assert.equal(lock.get('@s/b')?.['integrity'], 'sha512-b');
  const forged = Buffer.from('{"version":"1.0.0","description":"\\nN\\t0\\n"}');
  const r = npm.parseProbe(
    `N\t1\nP\t0\t${forged.toString('base64')}\nP\t0\tnot base64!\n`,
    items([pkg('/usr/local', 'x')]),
    CTX,
  );
  assert.equal(r.facts['npm'], true);
  assert.equal(r.live.get('npm:/usr/local:x')?.['version'], '1.0.0');
  // A lockfile entry for another version is not this package's integrity.
  const lf = Buffer.from(
    JSON.stringify({
      packages: { 'node_modules/x': { version: '0.9.0', integrity: 'sha512-old' } },
    }),
  );
  const stale = npm.parseProbe(
    `N\t1\nP\t0\t${forged.toString('base64')}\nL\t0\t${lf.toString('base64')}\n`,
    items([pkg('/usr/local', 'x')]),
    CTX,
  );
  assert.equal(stale.live.get('npm:/usr/local:x')?.['integrity'], undefined);
});

const live = (name: string, version: string, scope = '/usr/local'): Attrs => ({
  scope,
  mode: 'global',
  name,
  version,
});
function diff(i: Partial<DiffInput>): Change {
  return npm.diff({ facts: { npm: true }, update: false, ...i });
}

test('npm diff table', () => {
  const lp = LEFT_PAD;
  const rows: [string, Partial<DiffInput>, string, string | undefined][] = [
    ['absent, exact', { resource: IS_NUMBER }, 'create', '7.0.0'],
    ['absent, locked', { resource: lp, locked: { version: '1.2.0' } }, 'create', '1.2.0'],
    ['absent, unresolved', { resource: lp }, 'create', undefined],
    [
      'exact, converged',
      { resource: IS_NUMBER, live: live('is-number', '7.0.0') },
      'noop',
      '7.0.0',
    ],
    [
      'exact, drifted',
      { resource: IS_NUMBER, live: live('is-number', '6.0.0') },
      'update',
      '7.0.0',
    ],
    [
      'exact wins over lock',
      { resource: IS_NUMBER, locked: { version: '6.0.0' }, live: live('is-number', '7.0.0') },
      'noop',
      '7.0.0',
    ],
    [
      'locked, converged',
      { resource: lp, locked: { version: '1.3.0' }, live: live('left-pad', '1.3.0') },
      'noop',
      '1.3.0',
    ],
    [
      'locked differs',
      { resource: lp, locked: { version: '1.2.0' }, live: live('left-pad', '1.3.0') },
      'update',
      '1.2.0',
    ],
    [
      'unlocked, installed kept',
      { resource: lp, live: live('left-pad', '1.3.0') },
      'noop',
      '1.3.0',
    ],
    [
      'range not satisfied',
      { resource: IS_ODD, live: live('is-odd', '1.0.0') },
      'update',
      undefined,
    ],
    ['range satisfied', { resource: IS_ODD, live: live('is-odd', '2.0.0') }, 'noop', '2.0.0'],
    [
      'stale lock outside range',
      { resource: IS_ODD, locked: { version: '1.0.0' } },
      'create',
      undefined,
    ],
    [
      'update re-resolves',
      {
        resource: IS_ODD,
        update: true,
        live: live('is-odd', '2.0.0'),
        facts: { npm: true, resolved: { [IS_ODD.address]: '2.1.0' } },
      },
      'update',
      '2.1.0',
    ],
    [
      'update, same',
      {
        resource: IS_ODD,
        update: true,
        live: live('is-odd', '2.0.0'),
        facts: { npm: true, resolved: { [IS_ODD.address]: '2.0.0' } },
      },
      'noop',
      '2.0.0',
    ],
    ['removed from spec', { live: live('left-pad', '1.3.0') }, 'delete', undefined],
    ['removed, gone', { recorded: live('left-pad', '1.3.0') }, 'noop', undefined],
  ];
  for (const [what, input, action, version] of rows) {
    const c = diff(input);
    assert.equal(c.action, action, what);
    if (action !== 'delete' && c.after) {
      assert.equal(
        c.afterUnknown?.includes('version') ? undefined : c.after['version'],
        version,
        what,
      );
    }
  }
  assert.equal(diff({ live: live('left-pad', '1.3.0') }).address, 'npm:/usr/local:left-pad');
});

test('npm commands: one install and one uninstall per scope, hostile values quoted', () => {
  const resources = new Map<string, Resource>();
  const reg = pkg('/opt/a b', 'left-pad', undefined, { registry: 'https://r.example/npm/' });
  resources.set(reg.address, reg);
  const changes: Change[] = [
    diff({ resource: IS_NUMBER }),
    diff({ resource: LEFT_PAD, locked: { version: '1.3.0' } }),
    diff({ resource: IS_ODD }),
    diff({ resource: TYPES_NODE }),
    diff({ live: live('old', '1.0.0') }),
    diff({ resource: reg }),
  ];
  const cmds = npm.commands({
    changes,
    resources,
    facts: { npm: false },
    changedKinds: new Set(),
    ctx: CTX,
  });
  const scripts = cmds.map((c) => c.script);
  assert.match(scripts[0]!, /^command -v npm .*npm is not available on the target/);
  assert.deepEqual(scripts.slice(1), [
    "mkdir -p '/opt/a b'\nnpm install -g --prefix '/opt/a b' --no-audit --no-fund --no-update-notifier --registry https://r.example/npm/ left-pad",
    'npm uninstall -g --prefix /usr/local --no-audit --no-fund --no-update-notifier old',
    "mkdir -p /usr/local\nnpm install -g --prefix /usr/local --no-audit --no-fund --no-update-notifier is-number@7.0.0 left-pad@1.3.0 'is-odd@^2'",
    'mkdir -p /srv/proj\nnpm install --prefix /srv/proj --no-audit --no-fund --no-update-notifier --save-exact @types/node',
  ]);
  const hostile: Change = {
    address: 'npm:/usr/local:x',
    kind: 'npm',
    action: 'create',
    after: { scope: '/usr/local', mode: 'global', name: 'x; rm -rf /' },
  };
  assert.throws(() =>
    npm.commands({ changes: [hostile], resources, facts: {}, changedKinds: new Set(), ctx: CTX }),
  );
  const badSpec: Change = {
    ...hostile,
    after: { scope: '/usr/local', mode: 'global', name: 'x', spec: '$(id)' },
  };
  assert.throws(() =>
    npm.commands({ changes: [badSpec], resources, facts: {}, changedKinds: new Set(), ctx: CTX }),
  );
});

test('npm lock entries and records', () => {
  assert.equal(npm.lockEntry(IS_NUMBER, live('is-number', '7.0.0')), undefined);
  assert.deepEqual(npm.lockEntry(LEFT_PAD, live('left-pad', '1.3.0')), { version: '1.3.0' });
  assert.deepEqual(
    npm.lockEntry(TYPES_NODE, { ...live('@types/node', '20.1.0'), integrity: 'sha512-x' }),
    { version: '20.1.0', integrity: 'sha512-x' },
  );
  const l = live('left-pad', '1.3.0');
  assert.equal(npm.record(LEFT_PAD, l, undefined), l);
});

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { test } from 'node:test';
import type { Attrs, Change } from '../../src/core/types.js';
import { aptSource, renderKey, renderList } from '../../src/managers/apt-source.js';
import { CTX, items, readOutput, res } from '../fixtures/outputs/scenarios.js';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const ARMORED = Buffer.from(
  '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGPL0BUBEADmW5NdOOHwPIJlgPu6JDcKw/NZJPR8lsD9K7UgrF6nP+yX0jbG\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n',
);

function source(name: string, extra: Attrs = {}, key?: Buffer): ReturnType<typeof res> {
  return res(
    'apt-source',
    name,
    {
      name,
      uri: 'http://deb.debian.org/debian',
      suites: ['bookworm-backports'],
      components: ['main'],
      trusted: false,
      ...(key ? { key_sha256: sha(key) } : {}),
      ...extra,
    },
    key,
  );
}

test('apt-source check: good sources pass; hostile names, URIs and suites are diagnostics', () => {
  assert.deepEqual(aptSource.check(source('extra', {}, ARMORED)), []);
  assert.deepEqual(aptSource.check(source('flat', { suites: ['./'], components: [] })), []);
  const bad: [Attrs, string][] = [
    [{ uri: 'http://x/ debian' }, 'apt-source.uri'],
    [{ uri: "http://x/'$(id)'" }, 'apt-source.uri'],
    [{ uri: 'ftp://x/debian' }, 'apt-source.uri'],
    [{ uri: 'http://x/[trusted=yes]' }, 'apt-source.uri'],
    [{ suites: ['bookworm main'] }, 'apt-source.suite'],
    [{ suites: [] }, 'apt-source.suite'],
    [{ components: [] }, 'apt-source.components'],
    [{ components: ['main;x'] }, 'apt-source.component'],
  ];
  for (const [extra, code] of bad) {
    const ds = aptSource.check(source('extra', extra));
    assert.deepEqual(
      ds.map((d) => d.code),
      [code],
      JSON.stringify(extra),
    );
    assert.equal(ds[0]!.address, 'apt-source:extra');
  }
  assert.equal(aptSource.check(source('../../etc/passwd'))[0]!.code, 'apt-source.name');
  const wrongKey = res(
    'apt-source',
    'k',
    { ...source('k').desired, key_sha256: sha('other') },
    ARMORED,
  );
  assert.equal(aptSource.check(wrongKey)[0]!.code, 'apt-source.key');
});

test('apt-source renders one deb line per suite with signed-by and trusted options', () => {
  const d = source(
    'extra',
    { suites: ['a', 'b'], components: ['main', 'contrib'], trusted: true },
    ARMORED,
  );
  assert.equal(
    renderList('extra', d.desired),
    '# Written by repro for apt source extra; edits are overwritten.\n' +
      'deb [signed-by=/etc/apt/keyrings/repro-extra.asc trusted=yes] http://deb.debian.org/debian a main contrib\n' +
      'deb [signed-by=/etc/apt/keyrings/repro-extra.asc trusted=yes] http://deb.debian.org/debian b main contrib\n',
  );
  assert.equal(
    renderList('plain', source('plain').desired).split('\n')[1],
    'deb http://deb.debian.org/debian bookworm-backports main',
  );
  // The container-verified rendering (apt-get update accepted it).
  const real = source('backports', {}, Buffer.from('x'));
  assert.equal(renderList('backports', real.desired), readOutput('apt-source-list.txt'));
});

test('apt-source armors a binary key exactly like gpg does (CRC-24 line)', () => {
  assert.equal(renderKey(ARMORED), ARMORED);
  const keyring = '/usr/share/keyrings/debian-archive-bookworm-automatic.gpg';
  if (!existsSync(keyring)) return;
  const bin = readFileSync(keyring);
  const armored = renderKey(bin).toString('latin1');
  assert.match(armored, /^-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n/);
  assert.match(armored, /\n=[A-Za-z0-9+/]{4}\n-----END PGP PUBLIC KEY BLOCK-----\n$/);
  // The body decodes back to the key.
  const body = armored.split('\n\n')[1]!.split('\n=')[0]!.replace(/\n/g, '');
  assert.deepEqual(Buffer.from(body, 'base64'), bin);
});

test('apt-source parses recorded probe output; diff is noop against what was written', () => {
  const keyring = '/usr/share/keyrings/debian-archive-bookworm-automatic.gpg';
  const its = items([source('backports')]);
  assert.equal(aptSource.parseProbe(readOutput('apt-source-absent.txt'), its, CTX).live.size, 0);
  const p = aptSource.parseProbe(readOutput('apt-source-present.txt'), its, CTX);
  const live = p.live.get('apt-source:backports')!;
  assert.equal(Object.keys(live).sort().join(), 'key_sha256,list_sha256,name');
  if (existsSync(keyring)) {
    const r = source('backports', {}, readFileSync(keyring));
    assert.equal(aptSource.diff({ resource: r, live, facts: {}, update: false }).action, 'noop');
    // Any change of the spec is an update of the list.
    const moved = source('backports', { components: ['main', 'contrib'] }, readFileSync(keyring));
    const c = aptSource.diff({ resource: moved, live, facts: {}, update: false });
    assert.equal(c.action, 'update');
    assert.equal(c.reason, 'sources list differs from the spec');
  }
});

test('apt-source diff table', () => {
  const r = source('extra', {}, ARMORED);
  const after = {
    name: 'extra',
    list_sha256: sha(renderList('extra', r.desired)),
    key_sha256: sha(ARMORED),
  };
  assert.deepEqual(aptSource.diff({ resource: r, facts: {}, update: false }), {
    address: 'apt-source:extra',
    kind: 'apt-source',
    action: 'create',
    after,
    reason: 'not configured',
  });
  assert.equal(
    aptSource.diff({ resource: r, live: after, facts: {}, update: false }).action,
    'noop',
  );
  const noKey = aptSource.diff({
    resource: source('extra'),
    live: after,
    facts: {},
    update: false,
  });
  assert.equal(noKey.action, 'update');
  assert.equal(
    aptSource.diff({ live: after, recorded: after, facts: {}, update: false }).action,
    'delete',
  );
  assert.equal(aptSource.diff({ recorded: after, facts: {}, update: false }).action, 'noop');
});

test('apt-source commands write the key before the list, base64 only; delete removes both', () => {
  const r = source('extra', {}, ARMORED);
  const create: Change = { address: r.address, kind: 'apt-source', action: 'create' };
  const [cmd] = aptSource.commands({
    changes: [create],
    resources: new Map([[r.address, r]]),
    facts: {},
    changedKinds: new Set(),
    ctx: CTX,
  });
  assert.equal(cmd!.display, 'write /etc/apt/sources.list.d/repro-extra.list');
  const script = cmd!.script;
  assert.ok(script.indexOf('repro-extra.asc') < script.indexOf('repro-extra.list'));
  assert.ok(script.includes(ARMORED.toString('base64')));
  assert.doesNotMatch(script, /BEGIN PGP/);
  assert.match(script, /chmod 0644 "\$_r_tmp"/);
  const del = aptSource.commands({
    changes: [{ address: 'apt-source:extra', kind: 'apt-source', action: 'delete' }],
    resources: new Map(),
    facts: {},
    changedKinds: new Set(),
    ctx: CTX,
  });
  assert.deepEqual(
    del.map((c) => c.script),
    ['rm -f /etc/apt/sources.list.d/repro-extra.list /etc/apt/keyrings/repro-extra.asc'],
  );
});

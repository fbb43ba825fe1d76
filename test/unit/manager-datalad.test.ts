import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { Attrs, Change } from '../../src/core/types.js';
import { dataladManager as m } from '../../src/managers/datalad.js';
import { CTX, OUTPUTS, items, readOutput, res } from '../fixtures/outputs/scenarios.js';

const { c1 } = JSON.parse(readFileSync(`${OUTPUTS}/datalad/repo.json`, 'utf8')) as { c1: string };
const A = res('datalad', '/data/ds', { path: '/data/ds', source: '/srv/ds', get: ['big.dat'] });
const B = res('datalad', "/data/it's ds", { path: "/data/it's ds", source: '/srv/ds' });
const ALL = items([A, B]);
const parse = (f: string): ReturnType<typeof m.parseProbe> =>
  m.parseProbe(readOutput(`datalad/${f}`), ALL, CTX);
const diff = (r: typeof A | undefined, live: Attrs | undefined, more: object = {}): Change =>
  m.diff({ ...(r ? { resource: r } : {}), live, facts: { datalad: true }, update: false, ...more });

test('datalad check: paths, sources, revisions and get paths', () => {
  assert.deepEqual(m.check(A), []);
  const bad = res('datalad', 'rel', {
    path: 'rel',
    source: 'ext::sh -c x',
    revision: 'a;b',
    get: ['../x', '-rf', '/abs'],
  });
  assert.deepEqual(
    m.check(bad).map((d) => d.code),
    [
      'datalad.path',
      'datalad.source',
      'datalad.revision',
      'datalad.get',
      'datalad.get',
      'datalad.get',
    ],
  );
});

test('datalad parses recorded probes: absent, present, dropped content, dirty', () => {
  const absent = parse('absent.txt');
  assert.equal(absent.live.size, 0);
  assert.equal(absent.facts['datalad'], true);
  const p = parse('present.txt');
  assert.deepEqual(p.live.get(A.address), {
    path: '/data/ds',
    source: '/srv/ds',
    commit: c1,
    dirty: false,
    content_present: true,
  });
  assert.equal(diff(A, p.live.get(A.address), { locked: { commit: c1 } }).action, 'noop');
  assert.equal(diff(A, p.live.get(A.address), { facts: p.facts }).action, 'noop');
  const d = parse('dropped.txt').live.get(A.address)!;
  assert.equal(d['content_present'], false);
  const dc = diff(A, d, { locked: { commit: c1 } });
  assert.equal(dc.action, 'update');
  assert.match(dc.reason ?? '', /get missing annexed content/);
  const dirty = parse('dirty.txt').live.get(B.address)!;
  assert.equal(dirty['dirty'], true);
  assert.match(diff(B, dirty, { locked: { commit: c1 } }).reason ?? '', /apply will refuse/);
  assert.equal(
    readOutput('datalad/dirty-refusal.txt').trim(),
    "repro: dataset /data/it's ds has local changes; save (datalad save) or discard them first",
  );
});

test('datalad diff table', () => {
  const live: Attrs = {
    path: '/data/ds',
    source: '/srv/ds',
    commit: c1,
    dirty: false,
    content_present: true,
  };
  const other = 'a'.repeat(40);
  assert.equal(diff(A, undefined).action, 'create');
  assert.deepEqual(diff(A, undefined).afterUnknown, ['commit']);
  assert.equal(diff(A, undefined, { locked: { commit: c1 } }).after?.['commit'], c1);
  assert.equal(diff(A, live, { locked: { commit: other } }).action, 'update');
  assert.equal(diff(A, live, { locked: { commit: c1, revision: 'main' } }).action, 'update');
  assert.equal(diff(A, { ...live, source: '/srv/x' }, { locked: { commit: c1 } }).action, 'update');
  assert.equal(diff(undefined, live).action, 'delete');
  assert.equal(diff(undefined, undefined, { recorded: live }).action, 'noop');
  assert.deepEqual(m.lockEntry(A, live), { commit: c1 });
  const pinned = res('datalad', '/d', { path: '/d', source: '/s', revision: c1 });
  assert.equal(m.lockEntry(pinned, live), undefined);
});

test('datalad commands quote hostile paths and refuse dirty datasets', () => {
  const evil = "/data/x'$(touch /pwned)";
  const E = res('datalad', evil, { path: evil, source: '/srv/ds', get: ["it's $(id).dat"] });
  const create = diff(E, undefined, { locked: { commit: c1 } });
  const [c] = m.commands({
    changes: [create],
    resources: new Map([[E.address, E]]),
    facts: { datalad: true },
    changedKinds: new Set(),
    ctx: CTX,
  });
  assert.ok(
    c!.script.includes(
      `datalad -c datalad.ui.progressbar=none clone /srv/ds '/data/x'\\''$(touch /pwned)'`,
    ),
  );
  assert.ok(c!.script.includes(`get -d . -- 'it'\\''s $(id).dat'`));
  assert.ok(c!.script.includes(`checkout -q --detach ${c1}`));
  const [u] = m.commands({
    changes: [
      diff(
        E,
        { path: evil, source: '/srv/ds', commit: c1, dirty: false, content_present: false },
        { locked: { commit: c1 } },
      ),
    ],
    resources: new Map([[E.address, E]]),
    facts: {},
    changedKinds: new Set(),
    ctx: CTX,
  });
  assert.match(u!.script, /has local changes; save \(datalad save\) or discard them first/);
  const [del] = m.commands({
    changes: [diff(undefined, { path: evil, commit: c1 })],
    resources: new Map(),
    facts: {},
    changedKinds: new Set(),
    ctx: CTX,
  });
  assert.ok(del!.script.includes(`remove -d '/data/x'\\''$(touch /pwned)' --reckless kill`));
  assert.match(del!.script, /has local changes/);
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Attrs, Change } from '../../src/core/types.js';
import { env, parseEnvFile, renderEnvFile, type EnvEntry } from '../../src/managers/env.js';
import {
  CTX,
  ENV,
  ENV_VALUES,
  SECRET,
  items,
  readOutput,
  res,
} from '../fixtures/outputs/scenarios.js';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

/** A small deterministic PRNG (mulberry32), so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const AWKWARD = [
  "'",
  '"',
  '$',
  '\\',
  '`',
  '\n',
  '\t',
  '\r',
  ' ',
  '#',
  ':',
  '{',
  '}',
  'é',
  '数',
  '✓',
  '😀',
  "'\\''",
  '"${V:+:$V}"',
  ' # repro:secret',
  'export X=1',
  '$(id)',
  'a',
  'Z',
  '0',
];

function randomString(next: () => number, max = 12): string {
  let s = '';
  const n = Math.floor(next() * max);
  for (let i = 0; i < n; i++) s += AWKWARD[Math.floor(next() * AWKWARD.length)];
  return s;
}

function randomEntry(next: () => number): EnvEntry {
  const kind = Math.floor(next() * 5);
  const dirs = (): string[] =>
    Array.from({ length: 1 + Math.floor(next() * 3) }, () =>
      `/${randomString(next, 5)}x`.replace(/:/g, '_'),
    );
  if (kind === 0) return { value: randomString(next), secret: true };
  if (kind === 1) return { prepend: dirs() };
  if (kind === 2) return { append: dirs() };
  if (kind === 3) return { prepend: dirs(), append: dirs() };
  return { value: randomString(next) };
}

function randomEntries(next: () => number): Map<string, EnvEntry> {
  const m = new Map<string, EnvEntry>();
  const n = Math.floor(next() * 6);
  for (let i = 0; i < n; i++) m.set(`V${i}_${Math.floor(next() * 100)}`, randomEntry(next));
  return m;
}

test('env file round trip: parse(render(x)) deep-equals x for awkward values (property)', () => {
  const next = rng(42);
  for (let i = 0; i < 500; i++) {
    const entries = randomEntries(next);
    const text = renderEnvFile(entries, `spec\n${i}`);
    const parsed = parseEnvFile(text);
    assert.equal(parsed.foreign, 0, text);
    assert.deepEqual(
      new Map([...parsed.entries].sort()),
      new Map([...entries].sort()),
      JSON.stringify(text),
    );
  }
});

test('env file sourced by dash gives back every value exactly (property)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'repro-env-'));
  try {
    const next = rng(7);
    for (let i = 0; i < 25; i++) {
      const entries = randomEntries(next);
      const file = join(dir, 'env.sh');
      writeFileSync(file, renderEnvFile(entries, 'spec'));
      const names = [...entries.keys()];
      // Every variable starts as "old" so prepend/append must keep it.
      const script =
        names.map((n) => `${n}=old; export ${n}`).join('\n') +
        `\n. '${file}'\n` +
        names.map((n) => `printf '%s' "$${n}" | base64 -w0; echo`).join('\n') +
        '\n';
      const r = spawnSync('/bin/sh', ['-s'], { input: script, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const got = r.stdout.split('\n');
      names.forEach((n, k) => {
        const e = entries.get(n)!;
        const expected =
          'value' in e ? e.value : [...(e.prepend ?? []), 'old', ...(e.append ?? [])].join(':');
        assert.equal(Buffer.from(got[k] ?? '', 'base64').toString('utf8'), expected, n);
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('env check: names, NUL, path entries', () => {
  for (const r of ENV) assert.deepEqual(env.check(r), [], r.address);
  const bad: [string, Attrs][] = [
    ['1ABC', { value: 'x' }],
    ['A-B', { value: 'x' }],
    ['A;rm', { value: 'x' }],
    ['A', { value: 'x\0y' }],
    ['P', { prepend: ['/a:/b'] }],
    ['P', { append: [''] }],
    ['P', {}],
  ];
  for (const [name, desired] of bad) {
    const ds = env.check(res('env', name, desired));
    assert.equal(ds.length, 1, `${name} ${JSON.stringify(desired)}`);
    assert.equal(ds[0]!.address, `env:${name}`);
  }
  const wrong = res('env', 'T', { secret: true, value_sha256: sha('a') }, Buffer.from('b'));
  assert.equal(env.check(wrong)[0]!.code, 'env.secret');
});

test('env parses the recorded file: every resource converged, secrets only as hashes', () => {
  const its = items(ENV);
  assert.equal(env.parseProbe(readOutput('env-absent.txt'), its, CTX).live.size, 0);
  const p = env.parseProbe(readOutput('env-present.txt'), its, CTX);
  assert.deepEqual(p.facts, { env_file: 'file', foreign_lines: 0 });
  assert.equal(p.live.size, ENV.length);
  for (const r of ENV) {
    const c = env.diff({ resource: r, live: p.live.get(r.address), facts: p.facts, update: false });
    assert.equal(c.action, 'noop', r.address);
  }
  assert.deepEqual(p.live.get('env:TOKEN'), {
    name: 'TOKEN',
    secret: true,
    value_sha256: sha(SECRET),
  });
  assert.deepEqual(p.live.get('env:MULTI'), { name: 'MULTI', value: ENV_VALUES['MULTI']! });
  assert.ok(!JSON.stringify([...p.live.values()]).includes('s3cr3t'));
});

test('env: a hand edit of the file is drift on that variable; foreign lines are counted', () => {
  const p = env.parseProbe(readOutput('env-edited.txt'), items(ENV), CTX);
  assert.equal(p.facts['foreign_lines'], 1);
  assert.deepEqual(p.live.get('env:UNI'), { name: 'UNI', value: 'edited' });
  const uni = ENV.find((r) => r.name === 'UNI')!;
  const c = env.diff({
    resource: uni,
    live: p.live.get(uni.address),
    facts: p.facts,
    update: false,
  });
  assert.equal(c.action, 'update');
  assert.deepEqual(c.after, { name: 'UNI', value: ENV_VALUES['UNI']! });
});

test('env hashes a value whose spec or state says secret even without the file marker', () => {
  const token = res('env', 'TOKEN', { secret: true, value_sha256: sha('v') }, Buffer.from('v'));
  const file = "export TOKEN='v'\n";
  const out = `F\t${Buffer.from(file).toString('base64')}\n`;
  const viaSpec = env.parseProbe(out, items([token]), CTX).live.get('env:TOKEN');
  assert.deepEqual(viaSpec, { name: 'TOKEN', secret: true, value_sha256: sha('v') });
  const viaState = env.parseProbe(out, items([], { 'env:TOKEN': { secret: true } }), CTX);
  assert.deepEqual(viaState.live.get('env:TOKEN'), viaSpec);
});

test('env diff table', () => {
  const a = res('env', 'A', { value: 'x' });
  assert.equal(env.diff({ resource: a, facts: {}, update: false }).action, 'create');
  assert.equal(
    env.diff({ resource: a, live: { name: 'A', value: 'x' }, facts: {}, update: false }).action,
    'noop',
  );
  assert.equal(
    env.diff({ resource: a, live: { name: 'A', value: 'y' }, facts: {}, update: false }).action,
    'update',
  );
  const p = res('env', 'PATH', { prepend: ['/a'], append: [] });
  assert.equal(
    env.diff({ resource: p, live: { name: 'PATH', prepend: ['/a'] }, facts: {}, update: false })
      .action,
    'noop',
  );
  assert.equal(
    env.diff({
      live: { name: 'A', value: 'x' },
      recorded: { name: 'A', value: 'x' },
      facts: {},
      update: false,
    }).action,
    'delete',
  );
  const t = res('env', 'T', { secret: true, value_sha256: sha('new') }, Buffer.from('new'));
  const c = env.diff({
    resource: t,
    live: { name: 'T', secret: true, value_sha256: sha('old') },
    facts: {},
    update: false,
  });
  assert.equal(c.action, 'update');
  assert.ok(!JSON.stringify(c).includes('new"'));
});

test('env commands rewrite the whole file from all env resources; none left removes it', () => {
  const change: Change = { address: 'env:A', kind: 'env', action: 'update' };
  const a = res('env', 'A', { value: "it's" });
  const t = res('env', 'T', { secret: true, value_sha256: sha(SECRET) }, Buffer.from(SECRET));
  const [cmd] = env.commands({
    changes: [change],
    resources: new Map([
      [t.address, t],
      [a.address, a],
      ['apt:jq', res('apt', 'jq', {})],
    ]),
    facts: {},
    changedKinds: new Set(),
    ctx: CTX,
  });
  assert.equal(cmd!.display, 'write /etc/profile.d/repro.sh (2 variables)');
  assert.ok(!cmd!.script.includes(SECRET));
  const b64 = /printf '%s' ([A-Za-z0-9+/=]+) \| base64 -d/.exec(cmd!.script)![1]!;
  const text = Buffer.from(b64, 'base64').toString('utf8');
  assert.deepEqual([...parseEnvFile(text).entries.keys()], ['A', 'T']);
  assert.match(cmd!.script, /chmod 0600/);
  const rm = env.commands({
    changes: [{ address: 'env:A', kind: 'env', action: 'delete' }],
    resources: new Map(),
    facts: {},
    changedKinds: new Set(),
    ctx: CTX,
  });
  assert.deepEqual(rm, [
    { display: 'remove /etc/profile.d/repro.sh', script: 'rm -f /etc/profile.d/repro.sh' },
  ]);
});

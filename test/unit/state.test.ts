import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fork } from 'node:child_process';
import {
  lockState,
  newState,
  parseState,
  readState,
  serializeState,
  writeState,
} from '../../src/state/store.js';
import { emptyLock, readLock, writeLock } from '../../src/state/lock-file.js';
import { ReproError, StateLockedError } from '../../src/core/errors.js';
import type { StateFile } from '../../src/state/format.js';

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'repro-test-state-'));
}

const sample = (): StateFile => ({
  ...newState('laptop', 'docker', 'sha256:' + 'a'.repeat(64)),
  resources: {
    'apt:jq': { kind: 'apt', attributes: { name: 'jq', version: '1.6-2.1', arch: 'amd64' } },
    'env:A': { kind: 'env', attributes: { value: 'x' }, adopted: true },
  },
});

test('write(read(s)) is byte-identical and an unchanged write is skipped', async () => {
  const dir = await tmp();
  const path = join(dir, 'state', 'laptop.json');
  const first = await writeState(path, undefined, sample());
  assert.equal(first.serial, 1);
  const bytes = await readFile(path, 'utf8');
  const read = (await readState(path))!;
  assert.equal(serializeState(read), bytes);
  const again = await writeState(path, read, { ...read });
  assert.equal(again.serial, 1, 'no change: serial stays');
  assert.equal(await readFile(path, 'utf8'), bytes, 'no change: bytes identical');
  await rm(dir, { recursive: true });
});

test('a changed write bumps the serial and keeps the previous file as .backup', async () => {
  const dir = await tmp();
  const path = join(dir, 'laptop.json');
  const first = await writeState(path, undefined, sample());
  const before = await readFile(path, 'utf8');
  const second = await writeState(path, first, { ...first, resources: {} });
  assert.equal(second.serial, 2);
  assert.equal(await readFile(`${path}.backup`, 'utf8'), before);
  assert.deepEqual((await readState(path))!.resources, {});
  await rm(dir, { recursive: true });
});

test('keys are sorted so equal content is equal bytes', () => {
  const s = sample();
  const reordered = {
    resources: s.resources,
    target: s.target,
    serial: s.serial,
    spec_digest: s.spec_digest,
    lineage: s.lineage,
    format_version: 1,
  };
  assert.equal(serializeState(reordered as StateFile), serializeState(s));
  assert.ok(serializeState(s).indexOf('"format_version"') < serializeState(s).indexOf('"lineage"'));
});

test('corrupt, malformed and future-version state files are refused with the path', () => {
  const cases: [string, string, RegExp][] = [
    ['{"format_version": 1,', 'state.corrupt', /^state file s\.json is not valid JSON/],
    ['[]', 'state.corrupt', /is not a JSON object/],
    ['{"format_version": "1"}', 'state.corrupt', /has no valid format_version/],
    [
      '{"format_version": 1, "lineage": "x"}',
      'state.corrupt',
      /is malformed: bad serial, spec_digest, target, resources/,
    ],
    [
      '{"format_version": 9}',
      'state.future',
      /has format version 9, newer than this repro understands \(1\)/,
    ],
  ];
  for (const [text, code, msg] of cases) {
    assert.throws(
      () => parseState(text, 's.json'),
      (e: unknown) => e instanceof ReproError && e.code === code && msg.test(e.message),
      text,
    );
  }
});

test('a second lock on the same state fails fast naming the holder', async () => {
  const dir = await tmp();
  const path = join(dir, 'laptop.json');
  const held = await lockState(path, 'repro apply');
  await assert.rejects(
    lockState(path, 'repro apply'),
    (e: unknown) =>
      e instanceof StateLockedError &&
      new RegExp(`locked by pid ${process.pid} \\(.*\`repro apply\`, since`).test(e.message),
  );
  await held.release();
  const again = await lockState(path, 'repro apply');
  await again.release();
  await rm(dir, { recursive: true });
});

test('a lock left by a killed process is taken over once stale', async () => {
  const dir = await tmp();
  const path = join(dir, 'laptop.json');
  // A child takes the lock, then is killed with SIGKILL before releasing it.
  const child = fork(new URL('./lock-holder.js', import.meta.url).pathname, [path], {
    stdio: 'ignore',
  });
  await new Promise<void>((resolve) => child.on('message', () => resolve()));
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));
  await assert.rejects(lockState(path, 'repro apply'), StateLockedError);
  // Age the lock directory past the stale limit instead of waiting 30 s.
  const { utimes } = await import('node:fs/promises');
  const old = new Date(Date.now() - 60_000);
  await utimes(`${path}.lock`, old, old);
  const taken = await lockState(path, 'repro apply');
  await taken.release();
  await assert.rejects(stat(`${path}.lock`));
  await rm(dir, { recursive: true });
});

test('the lock file is canonical and only written on change', async () => {
  const dir = await tmp();
  const path = join(dir, 'repro.lock');
  assert.deepEqual(await readLock(path), emptyLock());
  assert.equal(await writeLock(path, emptyLock(), emptyLock()), false);
  const next = { lock_version: 1, resources: { 'apt:jq': { version: '1.6', arch: 'amd64' } } };
  assert.equal(await writeLock(path, emptyLock(), next), true);
  assert.deepEqual(await readLock(path), next);
  assert.equal(await writeLock(path, next, { ...next }), false);
  await writeFile(path, 'nope');
  await assert.rejects(
    readLock(path),
    (e: unknown) => e instanceof ReproError && e.code === 'lock.corrupt',
  );
  await rm(dir, { recursive: true });
});

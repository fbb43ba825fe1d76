// The pure parts of snapshots and sessions: how snapshots sit in the state file (sorted, omitted
// when none, round-tripping byte-identically, malformed ones refused), which snapshot `reset`
// picks, default names, docker repository names, the argv that exec and shell run, and that
// `--` protects a target command from the CLI's option rewriting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StateFile, StateSnapshot } from '../../src/state/format.js';
import {
  newState,
  parseState,
  readState,
  serializeState,
  writeState,
} from '../../src/state/store.js';
import { ReproError } from '../../src/core/errors.js';
import { defaultSnapshotName, findSnapshot, SNAPSHOT_NAME } from '../../src/engine/snapshots.js';
import { execArgv, shellArgv } from '../../src/engine/session.js';
import { snapshotRepo } from '../../providers/docker.js';
import { normalizeArgv } from '../../src/cli/program.js';

const RES = {
  'env:FOO': { kind: 'env' as const, attributes: { name: 'FOO', value: 'x' } },
};

function snap(name: string, serial: number): StateSnapshot {
  return {
    name,
    kind: 'tarball',
    ref: `.repro/snapshots/box/${name}.tar.gz`,
    sha256: 'a'.repeat(64),
    serial,
    spec_digest: `sha256:${'b'.repeat(64)}`,
    resources: RES,
  };
}

// One lineage for every state of a test, so that serialized states compare.
const BASE: StateFile = {
  ...newState('box', 'chroot', `sha256:${'c'.repeat(64)}`),
  serial: 12,
  resources: RES,
};

function stateWith(snapshots: StateSnapshot[] | undefined): StateFile {
  return snapshots ? { ...BASE, snapshots } : BASE;
}

test('snapshots are written sorted by name, and not at all when there are none', () => {
  const text = serializeState(stateWith([snap('s9', 9), snap('s10', 10), snap('base', 2)]));
  const names = (JSON.parse(text) as { snapshots: { name: string }[] }).snapshots.map(
    (s) => s.name,
  );
  assert.deepEqual(names, ['base', 's10', 's9']);
  assert.ok(!serializeState(stateWith([])).includes('snapshots'));
  assert.equal(serializeState(stateWith([])), serializeState(stateWith(undefined)));
});

test('a state with snapshots round-trips byte-identically through write and read', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'repro-test-snapunit-'));
  try {
    const path = join(dir, 'box.json');
    const written = await writeState(path, undefined, stateWith([snap('b', 3), snap('a', 5)]));
    const text = await readFile(path, 'utf8');
    const read = await readState(path);
    assert.equal(serializeState(read!), text);
    // Writing what was read changes nothing (not even the serial).
    assert.equal(await writeState(path, read, read!), read);
    assert.equal(written.serial, 13);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a malformed snapshot entry is refused with the file named', () => {
  const bad = JSON.parse(serializeState(stateWith([snap('a', 1)]))) as Record<string, unknown>;
  (bad['snapshots'] as Record<string, unknown>[])[0]!['serial'] = 'one';
  assert.throws(
    () => parseState(JSON.stringify(bad), 'state/box.json'),
    (e: unknown) =>
      e instanceof ReproError &&
      e.code === 'state.corrupt' &&
      /state\/box\.json.*snapshots\[0\]/.test(e.message),
  );
});

test('reset picks the named snapshot, or the latest by serial, not by name', () => {
  const state = stateWith([snap('s9', 9), snap('s10', 10), snap('zz-old', 1)]);
  assert.equal(findSnapshot(state, undefined, 'p').name, 's10');
  assert.equal(findSnapshot(state, 'zz-old', 'p').name, 'zz-old');
  assert.throws(
    () => findSnapshot(state, 'nope', 'state/box.json'),
    (e: unknown) =>
      e instanceof ReproError &&
      /no snapshot named 'nope'/.test(e.message) &&
      !!e.hint?.includes('s9'),
  );
  assert.throws(
    () => findSnapshot(stateWith(undefined), undefined, 'state/box.json'),
    (e: unknown) => e instanceof ReproError && e.code === 'snapshot.none',
  );
});

test('default names come from the serial and are valid snapshot names', () => {
  const name = defaultSnapshotName(stateWith(undefined));
  assert.equal(name, 's12');
  for (const [n, ok] of [
    [name, true],
    ['before-analysis.v2', true],
    ['-x', false],
    ['a/b', false],
    ['a b', false],
    ['x'.repeat(129), false],
  ] as const) {
    assert.equal(SNAPSHOT_NAME.test(n), ok, n);
  }
});

test('snapshot image repositories are valid docker names', () => {
  for (const [spec, target, repo] of [
    ['bids-pipeline', 'laptop', 'repro/bids-pipeline-laptop'],
    ['My Analysis!', 'Box_1', 'repro/my-analysis-box-1'],
    ['a..b', 'c__d', 'repro/a-b-c-d'],
    ['--', '..', 'repro/target'],
  ] as const) {
    assert.equal(snapshotRepo(spec, target), repo);
  }
});

test('exec and shell source the env file by $0, never by splicing its path into the script', () => {
  const argv = execArgv("/etc/profile.d/it's.sh", ['sh', '-c', 'echo $FOO']);
  assert.deepEqual(argv, [
    '/bin/sh',
    '-c',
    'if [ -r "$0" ]; then . "$0"; fi; exec "$@"',
    "/etc/profile.d/it's.sh",
    'sh',
    '-c',
    'echo $FOO',
  ]);
  const shell = shellArgv('/etc/profile.d/repro-x.sh');
  assert.equal(shell.length, 4);
  assert.match(shell[2]!, /exec bash -l; else exec sh -l/);
  assert.equal(shell[3], '/etc/profile.d/repro-x.sh');
});

test('nothing after -- is rewritten as a Terraform-style option', () => {
  assert.deepEqual(normalizeArgv(['-auto-approve', 'exec', '--', 'sh', '-lc', 'x']), [
    '--auto-approve',
    'exec',
    '--',
    'sh',
    '-lc',
    'x',
  ]);
  assert.deepEqual(normalizeArgv(['apply', '-auto-approve']), ['apply', '--auto-approve']);
});

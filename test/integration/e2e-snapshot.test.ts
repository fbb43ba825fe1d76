// Snapshots, reset, stop/start, exec and shell, through the built CLI and asserted on the live
// target: a real `docker commit` and container recreated from it, a real chroot tarball (its
// sha256 checked with sha256sum, mounts below the root kept out of it), exec's exit code and
// environment, a login shell driven through a real pseudo-terminal (util-linux `script`).
// Everything created is named repro-test-snap-* and removed in `after`, including the snapshot
// images (only the tags this file made).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, expectCode, repro, run, steps, type Run } from './cli.js';
import {
  BASE_IMAGE,
  makeChrootRoot,
  removeChrootRoot,
  requireOrSkip,
  uniqueName,
} from './helpers.js';
import { snapshotRepo } from '../../providers/docker.js';

const JQ = '1.6-2.1+deb12u2'; // bookworm main, pinned so the test does not depend on security
const FILE_CONTENT = 'threads=4\n';
const dirs: string[] = [];
const containers: string[] = [];
const images: string[] = [];
const roots: string[] = [];

after(async () => {
  if (containers.length > 0) await run(['docker', 'rm', '-f', ...containers]);
  if (images.length > 0) await run(['docker', 'rmi', ...images]);
  for (const r of roots) await removeChrootRoot(r);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function workdir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'repro-test-snap-'));
  dirs.push(d);
  return d;
}

function resources(targets: string): string {
  return `${targets}
env:
  FOO: hello-snap
files:
  - {path: /etc/snap.conf, content: ${JSON.stringify(FILE_CONTENT)}}
`;
}

interface StateJson {
  serial: number;
  resources: Record<string, unknown>;
  target: { binding: Record<string, unknown> | null };
  snapshots?: {
    name: string;
    kind: string;
    ref: string;
    tag?: string;
    sha256?: string;
    serial: number;
    resources: Record<string, unknown>;
  }[];
}

async function readStateJson(dir: string, target: string): Promise<StateJson> {
  return JSON.parse(await readFile(join(dir, 'state', `${target}.json`), 'utf8')) as StateJson;
}

/** `repro ARGS` under a real pseudo-terminal, `input` typed into it. */
function reproInPty(dir: string, args: string[], input: string): Promise<Run> {
  const cmd = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`);
  return run(['script', '-qec', cmd.join(' '), '/dev/null'], {
    cwd: dir,
    input,
    env: { NO_COLOR: '1', TERM: 'dumb' },
  });
}

async function dockerSh(name: string, cmd: string): Promise<Run> {
  return run(['docker', 'exec', name, 'sh', '-c', cmd]);
}

test('docker: snapshot (docker commit), reset, a target from the snapshot image, exec, shell, stop/start', async (t) => {
  if (!requireOrSkip(t, 'docker')) return;
  const step = steps(t);
  const dir = await workdir();
  const spec = uniqueName('repro-test-snap');
  const box = `${spec}-box`;
  const clone = `${spec}-clone`;
  const ghost = `${spec}-ghost`;
  containers.push(box, clone, ghost);
  const image = `${snapshotRepo(spec, 'box')}:first`;
  images.push(image);
  await writeFile(
    join(dir, 'repro.yaml'),
    `version: 1
name: ${spec}
${resources(`targets:
  box: {docker: {container: ${box}, image: "${BASE_IMAGE}"}}
  clone: {docker: {container: ${clone}, image: "${image}"}}
  ghost: {docker: {container: ${ghost}, image: "${BASE_IMAGE}"}}
os:
  apt:
    packages: ["jq=${JQ}"]`)}`,
  );
  const r = (args: string[]) => repro(dir, args);
  let atSnapshot: StateJson | undefined;

  await step('apply, then snapshot: a tagged image with labels, recorded in state', async () => {
    expectCode(await r(['-t', 'box', 'apply', '--auto-approve']), 0, 'apply');
    const before = await readStateJson(dir, 'box');
    const out = expectCode(await r(['-t', 'box', 'snapshot', 'first']), 0, 'snapshot');
    assert.match(out.stdout, /^Snapshot first of target box: docker image /);
    const state = await readStateJson(dir, 'box');
    const id = (await run(['docker', 'image', 'inspect', '-f', '{{.Id}}', image])).stdout.trim();
    assert.match(id, /^sha256:/);
    assert.equal(state.snapshots?.length, 1);
    const snap = state.snapshots![0]!;
    assert.deepEqual(
      { name: snap.name, kind: snap.kind, ref: snap.ref, tag: snap.tag, serial: snap.serial },
      { name: 'first', kind: 'docker-image', ref: id, tag: image, serial: before.serial },
    );
    assert.deepEqual(snap.resources, before.resources);
    assert.deepEqual(state.resources, before.resources);
    const labels = JSON.parse(
      (await run(['docker', 'image', 'inspect', '-f', '{{json .Config.Labels}}', image])).stdout,
    ) as Record<string, string>;
    assert.equal(labels['org.repro.target-name'], 'box');
    assert.equal(labels['org.repro.snapshot'], 'first');
    assert.equal(labels['org.repro.lineage'], (state as unknown as { lineage: string }).lineage);
    atSnapshot = state;
  });

  await step('a snapshot name already used is refused, state unchanged', async () => {
    const text = await readFile(join(dir, 'state', 'box.json'), 'utf8');
    const out = expectCode(await r(['-t', 'box', 'snapshot', 'first']), 1, 'snapshot again');
    assert.match(out.stderr, /already has a snapshot named 'first'/);
    assert.match(out.stderr, /--force/);
    assert.equal(await readFile(join(dir, 'state', 'box.json'), 'utf8'), text);
  });

  await step('dirty the container behind repro; reset needs confirmation', async () => {
    const dirty = await dockerSh(
      box,
      'dpkg --purge jq >/dev/null && echo changed > /etc/snap.conf && touch /stray',
    );
    assert.equal(dirty.code, 0, dirty.stderr);
    const plan = expectCode(await r(['-t', 'box', 'plan']), 0, 'plan');
    assert.match(plan.stdout, /Plan: 1 to add, 1 to change, 0 to destroy\./);
    const refused = expectCode(await r(['-t', 'box', 'reset']), 1, 'reset without approval');
    assert.match(refused.stderr, /without confirmation/);
    assert.equal((await dockerSh(box, 'test -e /stray')).code, 0, 'nothing was reset');
  });

  await step('reset: the container is recreated from the snapshot image', async () => {
    const oldId = (await run(['docker', 'inspect', '-f', '{{.Id}}', box])).stdout.trim();
    const out = expectCode(await r(['-t', 'box', 'reset', '--auto-approve']), 0, 'reset');
    assert.match(out.stdout, /Reset complete! Target box is at snapshot first/);
    const info = (
      await run(['docker', 'inspect', '-f', '{{.Id}} {{.Image}} {{.State.Running}}', box])
    ).stdout
      .trim()
      .split(' ');
    assert.notEqual(info[0], oldId);
    assert.equal(info[1], atSnapshot!.snapshots![0]!.ref);
    assert.equal(info[2], 'true');
    const dpkg = await dockerSh(box, "dpkg-query -W -f='${Version}' jq");
    assert.equal(dpkg.stdout, JQ);
    assert.equal((await dockerSh(box, 'cat /etc/snap.conf')).stdout, FILE_CONTENT);
    assert.notEqual((await dockerSh(box, 'test -e /stray')).code, 0, '/stray is gone');
    const state = await readStateJson(dir, 'box');
    assert.deepEqual(state.resources, atSnapshot!.resources);
    assert.equal(state.target.binding?.['container_id'], info[0]);
    assert.match(expectCode(await r(['-t', 'box', 'plan']), 0, 'plan').stdout, /^No changes\./);
    const drift = expectCode(
      await r(['-t', 'box', 'drift', '--detailed-exitcode']),
      0,
      'drift after reset',
    );
    assert.match(drift.stdout, /No drift/);
  });

  await step('exec: exit code passed through, env applied, state untouched', async () => {
    const before = await readFile(join(dir, 'state', 'box.json'), 'utf8');
    const seven = await r([
      '-t',
      'box',
      'exec',
      '--',
      'sh',
      '-c',
      'echo out; echo err >&2; exit 7',
    ]);
    assert.equal(seven.code, 7, seven.stderr);
    assert.equal(seven.stdout, 'out\n');
    assert.equal(seven.stderr, 'err\n');
    const foo = expectCode(await r(['-t', 'box', 'exec', '--', 'sh', '-c', 'echo $FOO']), 0, 'foo');
    assert.equal(foo.stdout, 'hello-snap\n');
    // stdin reaches the command, and its end is an EOF
    const cat = await repro(dir, ['-t', 'box', 'exec', '--', 'wc', '-c']);
    assert.equal(cat.stdout.trim(), '0');
    // A reader that stops early: repro ends like the left side of a pipeline, of SIGPIPE.
    const piped = await run(
      [
        'bash',
        '-c',
        `'${process.execPath}' '${CLI}' -t box exec -- seq 1 1000000 | head -2; echo "\${PIPESTATUS[0]}"`,
      ],
      { cwd: dir },
    );
    assert.equal(piped.stdout, '1\n2\n141\n', piped.stderr);
    assert.equal(await readFile(join(dir, 'state', 'box.json'), 'utf8'), before);
  });

  await step(
    'shell: a login shell on a pseudo-terminal, its exit code passed through',
    async () => {
      const before = await readFile(join(dir, 'state', 'box.json'), 'utf8');
      const out = await reproInPty(dir, ['-t', 'box', 'shell'], 'echo "FOO=$FOO via $0"; exit 3\n');
      assert.equal(out.code, 3, out.stdout + out.stderr);
      assert.match(out.stdout, /FOO=hello-snap via bash/);
      assert.match(out.stdout, /logout/, 'a login shell says logout on exit');
      assert.equal(await readFile(join(dir, 'state', 'box.json'), 'utf8'), before);
    },
  );

  await step('stop and start the container', async () => {
    const running = async () =>
      (await run(['docker', 'inspect', '-f', '{{.State.Running}}', box])).stdout.trim();
    expectCode(await r(['-t', 'box', 'stop']), 0, 'stop');
    assert.equal(await running(), 'false');
    expectCode(await r(['-t', 'box', 'start']), 0, 'start');
    assert.equal(await running(), 'true');
  });

  await step('a second target from the snapshot image: no pull, nothing to install', async () => {
    const plan = expectCode(await r(['-t', 'clone', 'plan']), 0, 'plan clone');
    assert.match(plan.stdout, new RegExp(`from image ${image.replace(/[.]/g, '\\.')}`));
    const apply = expectCode(await r(['-t', 'clone', 'apply', '--auto-approve']), 0, 'apply clone');
    assert.doesNotMatch(apply.stderr, /pulling/);
    const img = (await run(['docker', 'inspect', '-f', '{{.Image}}', clone])).stdout.trim();
    assert.equal(img, atSnapshot!.snapshots![0]!.ref);
    assert.equal((await dockerSh(clone, "dpkg-query -W -f='${Version}' jq")).stdout, JQ);
    assert.match(expectCode(await r(['-t', 'clone', 'plan']), 0, 'plan').stdout, /^No changes\./);
  });

  await step('exec and snapshot on a target never created say to apply first', async () => {
    for (const args of [['exec', '--', 'true'], ['snapshot'], ['shell'], ['stop']]) {
      const out = expectCode(await r(['-t', 'ghost', ...args]), 1, args.join(' '));
      assert.match(out.stderr, /target ghost has not been created; run repro apply/);
    }
    assert.notEqual((await run(['docker', 'inspect', ghost])).code, 0, 'ghost was not created');
  });

  await step('--force replaces a snapshot: the tag moves, state keeps one record', async () => {
    const oldId = atSnapshot!.snapshots![0]!.ref;
    images.push(oldId); // still used by the containers made from it, so kept until `after`
    expectCode(await dockerSh(box, 'touch /after-first'), 0, 'touch');
    expectCode(await r(['-t', 'box', 'snapshot', 'first', '--force']), 0, 'snapshot --force');
    const state = await readStateJson(dir, 'box');
    const id = (await run(['docker', 'image', 'inspect', '-f', '{{.Id}}', image])).stdout.trim();
    images.push(id);
    assert.notEqual(id, oldId);
    assert.deepEqual(
      state.snapshots?.map((x) => [x.name, x.ref]),
      [['first', id]],
    );
    const inNew = await run(['docker', 'run', '--rm', id, 'test', '-e', '/after-first']);
    assert.equal(inNew.code, 0, 'the new image has the change made after the first snapshot');
  });

  await step('destroy keeps the snapshots; reset makes the target again from one', async () => {
    expectCode(await r(['-t', 'box', 'destroy', '--auto-approve']), 0, 'destroy');
    assert.notEqual((await run(['docker', 'inspect', box])).code, 0, 'container removed');
    const destroyed = await readStateJson(dir, 'box');
    assert.equal(destroyed.target.binding, null);
    assert.equal(destroyed.snapshots?.length, 1);
    expectCode(await r(['-t', 'box', 'reset', '--auto-approve']), 0, 'reset after destroy');
    const img = (await run(['docker', 'inspect', '-f', '{{.Image}}', box])).stdout.trim();
    assert.equal(img, destroyed.snapshots![0]!.ref);
    assert.equal((await dockerSh(box, "dpkg-query -W -f='${Version}' jq")).stdout, JQ);
    const state = await readStateJson(dir, 'box');
    assert.deepEqual(state.resources, destroyed.snapshots![0]!.resources);
    assert.match(expectCode(await r(['-t', 'box', 'plan']), 0, 'plan').stdout, /^No changes\./);
  });
});

test('chroot: tarball snapshot (sha256, no mounts inside), reset, from_snapshot, exec', async (t) => {
  if (!requireOrSkip(t, 'chroot')) return;
  const step = steps(t);
  const dir = await workdir();
  const root = await makeChrootRoot();
  roots.push(root);
  const cloneRoot = join(await workdir(), 'clone-root');
  const badRoot = join(await workdir(), 'bad-root');
  const tarball = '.repro/snapshots/box/first.tar.gz';
  await writeFile(
    join(dir, 'repro.yaml'),
    `version: 1
name: snap-chroot
${resources(`targets:
  box: {chroot: {path: ${root}}}
  clone: {chroot: {path: ${cloneRoot}, from_snapshot: ${tarball}}}
  bad: {chroot: {path: ${badRoot}, from_snapshot: ${tarball}, from_snapshot_sha256: "${'0'.repeat(64)}"}}`)}`,
  );
  const r = (args: string[]) => repro(dir, args);
  let atSnapshot: StateJson | undefined;

  await step('snapshot: a tarball whose recorded sha256 is sha256sum of the file', async () => {
    expectCode(await r(['-t', 'box', 'apply', '--auto-approve']), 0, 'apply');
    // Something mounted below the root while the snapshot runs stays out of the tarball.
    const m = await run(['mount', '-t', 'proc', 'proc', join(root, 'proc')]);
    assert.equal(m.code, 0, m.stderr);
    let out: Run;
    try {
      out = await r(['-t', 'box', 'snapshot', 'first']);
    } finally {
      await run(['umount', join(root, 'proc')]);
    }
    expectCode(out, 0, 'snapshot');
    const state = await readStateJson(dir, 'box');
    const snap = state.snapshots?.[0];
    assert.equal(snap?.kind, 'tarball');
    assert.equal(snap?.ref, tarball);
    const sum = (await run(['sha256sum', join(dir, tarball)])).stdout.split(' ')[0];
    assert.equal(snap?.sha256, sum);
    assert.equal(
      (await readFile(join(dir, `${tarball}.sha256`), 'utf8')).split(' ')[0],
      sum,
      'sidecar',
    );
    const list = (await run(['tar', '-tzf', join(dir, tarball)])).stdout.split('\n');
    assert.ok(list.includes('./proc/'), 'the mount point itself is kept');
    assert.deepEqual(
      list.filter((l) => l.startsWith('./proc/') && l !== './proc/'),
      [],
      'nothing from the mounted /proc',
    );
    assert.ok(list.includes('./etc/snap.conf'));
    const numeric = await run(['tar', '-tvzf', join(dir, tarball), './etc/snap.conf']);
    assert.match(numeric.stdout, / 0\/0 /, 'numeric owners');
    atSnapshot = state;
  });

  await step('reset restores a deleted file and drops a stray one', async () => {
    await rm(join(root, 'etc/snap.conf'));
    await writeFile(join(root, 'stray'), 'x');
    expectCode(await r(['-t', 'box', 'reset', '--auto-approve']), 0, 'reset');
    assert.equal(await readFile(join(root, 'etc/snap.conf'), 'utf8'), FILE_CONTENT);
    assert.equal(existsSync(join(root, 'stray')), false);
    assert.deepEqual((await readStateJson(dir, 'box')).resources, atSnapshot!.resources);
    assert.match(expectCode(await r(['-t', 'box', 'plan']), 0, 'plan').stdout, /^No changes\./);
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    assert.ok(!mounts.includes(` ${root}/`), 'nothing left mounted below the root');
  });

  await step('exec in the chroot: exit code and env; shell on a pty', async () => {
    const before = await readFile(join(dir, 'state', 'box.json'), 'utf8');
    const seven = await r(['-t', 'box', 'exec', '--', 'sh', '-c', 'exit 7']);
    assert.equal(seven.code, 7, seven.stderr);
    const foo = expectCode(await r(['-t', 'box', 'exec', '--', 'sh', '-c', 'echo $FOO']), 0, 'foo');
    assert.equal(foo.stdout, 'hello-snap\n');
    const sh = await reproInPty(dir, ['-t', 'box', 'shell'], 'echo "FOO=$FOO"; exit 3\n');
    assert.equal(sh.code, 3, sh.stdout + sh.stderr);
    assert.match(sh.stdout, /FOO=hello-snap/);
    assert.equal(await readFile(join(dir, 'state', 'box.json'), 'utf8'), before);
  });

  await step('a half-applied target (state has pending) is not snapshotted', async () => {
    const path = join(dir, 'state', 'box.json');
    const text = await readFile(path, 'utf8');
    const pending = { ...(JSON.parse(text) as object), pending: ['env:FOO'] };
    await writeFile(path, JSON.stringify(pending));
    try {
      const out = expectCode(await r(['-t', 'box', 'snapshot', 'half']), 1, 'snapshot');
      assert.match(out.stderr, /interrupted while changing env:FOO; refusing to snapshot/);
      assert.equal(existsSync(join(dir, '.repro/snapshots/box/half.tar.gz')), false);
    } finally {
      await writeFile(path, text);
    }
  });

  await step('stop/start are not applicable to a chroot', async () => {
    for (const verb of ['stop', 'start']) {
      const out = expectCode(await r(['-t', 'box', verb]), 1, verb);
      assert.match(out.stderr, new RegExp(`repro ${verb} is not applicable to chroot targets`));
    }
  });

  await step(
    'from_snapshot makes a new root from the tarball; a wrong sha256 is refused',
    async () => {
      roots.push(cloneRoot, badRoot);
      const plan = expectCode(await r(['-t', 'clone', 'plan']), 0, 'plan clone');
      assert.match(plan.stdout, /extract \.repro\/snapshots\/box\/first\.tar\.gz/);
      expectCode(await r(['-t', 'clone', 'apply', '--auto-approve']), 0, 'apply clone');
      assert.equal(await readFile(join(cloneRoot, 'etc/snap.conf'), 'utf8'), FILE_CONTENT);
      assert.match(expectCode(await r(['-t', 'clone', 'plan']), 0, 'plan').stdout, /^No changes\./);
      const bad = expectCode(await r(['-t', 'bad', 'apply', '--auto-approve']), 1, 'apply bad');
      assert.match(bad.stderr, /has sha256 [0-9a-f]{64}, expected 0{64}/);
      assert.equal(existsSync(join(badRoot, 'bin/sh')), false);
    },
  );
});

test('local: snapshot and stop are refused with a clear error', async () => {
  const dir = await workdir();
  await writeFile(
    join(dir, 'repro.yaml'),
    'version: 1\nname: snap-local\ntargets:\n  here: {local: {}}\nenv:\n  FOO: x\n',
  );
  const snap = expectCode(await repro(dir, ['snapshot']), 1, 'snapshot');
  assert.match(snap.stderr, /repro snapshot is not supported for local targets/);
  const stop = expectCode(await repro(dir, ['stop']), 1, 'stop');
  assert.match(stop.stderr, /repro stop is not applicable to local targets/);
  // exec on the local machine: a missing env file is simply not sourced
  const seven = await repro(dir, ['exec', '--', 'sh', '-c', 'exit 7']);
  assert.equal(seven.code, 7, seven.stderr);
  assert.equal(existsSync(join(dir, 'state')), false, 'no state written');
});

// The provider contract, run for real against local, chroot and docker: exec keeps stdout, stderr
// and the exit code apart and exact, stdin of several hundred KB reaches `sh -s` whole, output
// larger than any pipe or socket buffer comes back whole; then each provider's lifecycle
// (missing → undefined, create, reuse by binding, destroy) checked on the live target with tools
// independent of the provider (docker CLI, /proc/self/mountinfo, the filesystem).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BufferIoHost } from '../../src/core/io.js';
import { ReproError } from '../../src/core/errors.js';
import { loadProvider } from '../../providers/index.js';
import type { Connection, Provider, TargetBinding } from '../../providers/types.js';
import type { ChrootConfig } from '../../providers/chroot.js';
import type { DockerConfig } from '../../providers/docker.js';
import { runProcess } from '../../providers/process.js';
import {
  BASE_IMAGE,
  infraAvailable,
  makeChrootRoot,
  removeChrootRoot,
  removeContainers,
  requireOrSkip,
  startTestContainer,
  uniqueName,
  type Infra,
} from './helpers.js';

const io = new BufferIoHost();
// Bootstrapping from Debian's mirror takes one to two minutes. The chroot one runs by default
// (REPRO_TEST_FAST=1 skips it); the docker one, which adds the image import, only with
// REPRO_TEST_SLOW=1.
const FAST = process.env['REPRO_TEST_FAST'] === '1';
// CI runs everything: a skip there would hide a path nobody ran.
const SLOW = process.env['REPRO_TEST_SLOW'] === '1' || process.env['CI'] === 'true';

function mountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => p !== undefined);
}

function mountedBelow(root: string): string[] {
  return mountPoints().filter((p) => p.startsWith(`${root}/`));
}

async function docker(...args: string[]) {
  return runProcess('docker', args);
}

async function dockerInspect(name: string): Promise<Record<string, unknown> | undefined> {
  const r = await docker('inspect', '--type', 'container', name);
  if (r.exitCode !== 0) return undefined;
  return (JSON.parse(r.stdout) as Record<string, unknown>[])[0];
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** The exec half of the contract, identical for every provider. */
function execContract(kind: string, infra: Infra | undefined, open: () => Promise<Connection>) {
  describe(`${kind}: exec`, () => {
    let conn: Connection | undefined;
    const ready = (t: Parameters<typeof requireOrSkip>[0]) => !infra || requireOrSkip(t, infra);
    const c = () => conn!;

    before(async () => {
      if (!infra || infraAvailable()[infra]) conn = await open();
    });
    after(async () => {
      await conn?.close();
    });

    test('keeps stdout and stderr apart and returns the exact exit code', async (t) => {
      if (!ready(t)) return;
      const r = await c().exec(['sh', '-c', 'echo out; echo err >&2; exit 7']);
      assert.deepEqual(r, { exitCode: 7, stdout: 'out\n', stderr: 'err\n' });
      assert.equal((await c().exec(['true'])).exitCode, 0);
      assert.equal((await c().exec(['sh', '-c', 'exit 255'])).exitCode, 255);
      assert.deepEqual(await c().exec(['echo', 'a b', "c'd"]), {
        exitCode: 0,
        stdout: "a b c'd\n",
        stderr: '',
      });
    });

    test('runs as root with LC_ALL=C and a sane PATH', async (t) => {
      if (!ready(t)) return;
      const r = await c().exec([
        'sh',
        '-c',
        'echo "$LC_ALL"; command -v dpkg-query; command -v sh',
      ]);
      assert.equal(r.exitCode, 0, r.stderr);
      const [lc, ...tools] = r.stdout.trim().split('\n');
      assert.equal(lc, 'C');
      assert.equal(tools.length, 2);
      if (kind !== 'local') assert.equal((await c().exec(['id', '-u'])).stdout, '0\n');
    });

    test('a 400 KB script through /bin/sh -s arrives whole', async (t) => {
      if (!ready(t)) return;
      const payload = randomBytes(300 * 1024);
      const b64 = payload.toString('base64').replace(/.{76}/g, '$&\n');
      const script = [
        'set -e',
        'f=$(mktemp)',
        `base64 -d > "$f" <<'REPRO_EOF'`,
        b64,
        'REPRO_EOF',
        'sha256sum < "$f"',
        'rm -f "$f"',
        'echo last-line-ran',
        '',
      ].join('\n');
      assert.ok(script.length > 400_000, `script is ${script.length} bytes`);
      const r = await c().exec(['/bin/sh', '-s'], { stdin: script });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout, `${sha256(payload)}  -\nlast-line-ran\n`);
    });

    test('binary stdin arrives byte for byte', async (t) => {
      if (!ready(t)) return;
      const data = randomBytes(512 * 1024);
      const r = await c().exec(['sha256sum'], { stdin: data });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout, `${sha256(data)}  -\n`);
    });

    test('output larger than socket buffers, on both streams, while stdin streams in', async (t) => {
      if (!ready(t)) return;
      const input = randomBytes(1024 * 1024).toString('base64');
      // cat echoes stdin while we still write it: a provider that writes all of stdin before
      // reading any output deadlocks here.
      const r = await c().exec(
        [
          'sh',
          '-c',
          'cat; head -c 3000000 /dev/zero | tr "\\0" a >&2; head -c 2000000 /dev/zero | tr "\\0" b',
        ],
        { stdin: input },
      );
      assert.equal(r.exitCode, 0);
      assert.equal(r.stdout.length, input.length + 2_000_000);
      assert.equal(sha256(r.stdout.slice(0, input.length)), sha256(input));
      assert.match(r.stdout.slice(input.length), /^b{2000000}$/);
      assert.match(r.stderr, /^a{3000000}$/);
    });

    test('a command that exits without reading its stdin', async (t) => {
      if (!ready(t)) return;
      const r = await c().exec(['sh', '-c', 'echo early; exit 3'], {
        stdin: Buffer.alloc(2_000_000, 0x41),
      });
      assert.deepEqual(r, { exitCode: 3, stdout: 'early\n', stderr: '' });
    });

    test('stdin is empty (EOF) when none is given; UTF-8 survives', async (t) => {
      if (!ready(t)) return;
      assert.deepEqual(await c().exec(['cat']), { exitCode: 0, stdout: '', stderr: '' });
      const r = await c().exec(['printf', 'h\\303\\251llo \\342\\234\\223\\n']);
      assert.equal(r.stdout, 'héllo ✓\n');
    });

    test('onStderr sees stderr as it arrives', async (t) => {
      if (!ready(t)) return;
      const chunks: string[] = [];
      const r = await c().exec(['sh', '-c', 'echo one >&2; echo two >&2'], {
        onStderr: (s) => chunks.push(s),
      });
      assert.equal(chunks.join(''), 'one\ntwo\n');
      assert.equal(r.stderr, 'one\ntwo\n');
    });

    test('a missing program is an exit code, not an exception', async (t) => {
      if (!ready(t)) return;
      const r = await c().exec(['repro-test-no-such-program']);
      assert.ok(r.exitCode === 126 || r.exitCode === 127, `exit ${r.exitCode}`);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// local

execContract('local', undefined, async () => {
  const p = await loadProvider('local');
  const c = await p.connect({}, { create: false, io, specDir: '/tmp' });
  return c!.connection;
});

describe('local: lifecycle', () => {
  let local: Provider<unknown>;
  before(async () => {
    local = await loadProvider('local');
  });

  test('binds to this machine and never creates anything', async () => {
    const c = await local.connect({}, { create: false, io, specDir: '/tmp' });
    assert.ok(c);
    assert.equal(c.created, false);
    assert.deepEqual(c.binding, {
      hostname: hostname(),
      machine_id: readFileSync('/etc/machine-id', 'utf8').trim(),
    });
    // Reconnecting with its own binding works.
    const again = await local.connect({}, { binding: c.binding, create: true, io, specDir: '/' });
    assert.ok(again);
    assert.deepEqual(again.binding, c.binding);
    await c.connection.close();
    await c.connection.close();
    await again.connection.close();
    assert.equal(await local.destroy({}, { binding: c.binding, io, specDir: '/tmp' }), false);
  });

  test('refuses a state recorded on another machine', async () => {
    const binding = { hostname: 'elsewhere', machine_id: '0123456789abcdef0123456789abcdef' };
    await assert.rejects(local.connect({}, { binding, create: true, io, specDir: '/tmp' }), (e) => {
      assert.ok(e instanceof ReproError);
      assert.equal(e.code, 'local.other-machine');
      assert.match(e.message, /elsewhere/);
      assert.match(e.message, new RegExp(hostname()));
      assert.ok(e.hint);
      return true;
    });
  });
});

// ---------------------------------------------------------------------------------------------
// chroot

const roots: string[] = [];
after(async () => {
  for (const r of roots) await removeChrootRoot(r).catch(() => {});
});

async function freshRoot(): Promise<string> {
  const r = await makeChrootRoot();
  roots.push(r);
  return r;
}

execContract('chroot', 'chroot', async () => {
  const root = await freshRoot();
  const p = await loadProvider('chroot');
  const c = await p.connect({ path: root }, { create: false, io, specDir: '/' });
  return c!.connection;
});

describe('chroot: lifecycle', () => {
  let chroot: Provider<unknown>;
  before(async () => {
    chroot = await loadProvider('chroot');
  });

  test('a missing or empty root is undefined with create:false, and nothing is made', async (t) => {
    if (!requireOrSkip(t, 'chroot')) return;
    const parent = await mkdtemp('/tmp/repro-test-');
    roots.push(parent);
    const missing = join(parent, 'root');
    const cfg: ChrootConfig = { path: 'root' };
    assert.equal(await chroot.connect(cfg, { create: false, io, specDir: parent }), undefined);
    assert.equal(existsSync(missing), false);
    await mkdir(missing);
    assert.equal(await chroot.connect(cfg, { create: false, io, specDir: parent }), undefined);
  });

  test('a directory that is not a root is refused', async (t) => {
    if (!requireOrSkip(t, 'chroot')) return;
    const dir = await mkdtemp('/tmp/repro-test-');
    roots.push(dir);
    await writeFile(join(dir, 'precious.txt'), 'data');
    await assert.rejects(chroot.connect({ path: dir }, { create: true, io, specDir: '/' }), {
      code: 'chroot.not-a-root',
    });
    assert.equal(await readFile(join(dir, 'precious.txt'), 'utf8'), 'data');
  });

  test('an existing root: path relative to specDir, mounts while connected, binding, reuse', async (t) => {
    if (!requireOrSkip(t, 'chroot')) return;
    const root = await freshRoot();
    const cfg: ChrootConfig = { path: basename(root) };
    const c = await chroot.connect(cfg, { create: true, io, specDir: dirname(root) });
    assert.ok(c);
    try {
      assert.equal(c.created, false);
      assert.deepEqual(c.binding, {
        path: root,
        created: false,
        suite: 'bookworm',
        variant: 'minbase',
      });
      assert.deepEqual(mountedBelow(root).sort(), [
        `${root}/dev`,
        `${root}/dev/pts`,
        `${root}/proc`,
      ]);
      // What package managers need works inside.
      const r = await c.connection.exec([
        'sh',
        '-c',
        'test -c /dev/null && test -d /dev/pts && test -r /proc/self/status && cat /etc/resolv.conf',
      ]);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout, readFileSync('/etc/resolv.conf', 'utf8'));
      // exec really runs inside the root.
      await writeFile(join(root, 'marker'), 'inside');
      assert.equal((await c.connection.exec(['cat', '/marker'])).stdout, 'inside');
    } finally {
      await c.connection.close();
    }
    assert.deepEqual(mountedBelow(root), []);
    await c.connection.close(); // safe twice

    const again = await chroot.connect(cfg, {
      binding: c.binding,
      create: true,
      io,
      specDir: dirname(root),
    });
    assert.ok(again);
    assert.equal(again.created, false);
    assert.deepEqual(again.binding, c.binding);
    await again.connection.close();

    // Not created by repro: destroy leaves it alone.
    assert.equal(
      await chroot.destroy(cfg, { binding: c.binding, io, specDir: dirname(root) }),
      false,
    );
    assert.ok(existsSync(join(root, 'bin/sh')));
  });

  test('mounts are gone after close() even after failing execs', async (t) => {
    if (!requireOrSkip(t, 'chroot')) return;
    const root = await freshRoot();
    const c = await chroot.connect({ path: root }, { create: false, io, specDir: '/' });
    assert.ok(c);
    assert.equal(mountedBelow(root).length, 3);
    assert.equal((await c.connection.exec(['sh', '-c', 'exit 42'])).exitCode, 42);
    assert.notEqual((await c.connection.exec(['/no/such/program'])).exitCode, 0);
    await c.connection.close();
    assert.deepEqual(mountedBelow(root), []);
    await assert.rejects(c.connection.exec(['true']), { code: 'connection.closed' });
  });

  test('two connections to one root share the mounts; the last close unmounts', async (t) => {
    if (!requireOrSkip(t, 'chroot')) return;
    const root = await freshRoot();
    const [a, b] = await Promise.all([
      chroot.connect({ path: root }, { create: false, io, specDir: '/' }),
      chroot.connect({ path: root }, { create: false, io, specDir: '/' }),
    ]);
    assert.ok(a && b);
    assert.equal(mountedBelow(root).length, 3, 'mounted once');
    await a.connection.close();
    assert.equal(mountedBelow(root).length, 3, 'still mounted for the second connection');
    assert.equal((await b.connection.exec(['test', '-r', '/proc/self/status'])).exitCode, 0);
    await b.connection.close();
    assert.deepEqual(mountedBelow(root), []);
  });

  test('only what this connection mounted is unmounted', async (t) => {
    if (!requireOrSkip(t, 'chroot')) return;
    const root = await freshRoot();
    const r = await runProcess('mount', ['-t', 'proc', 'proc', `${root}/proc`]);
    assert.equal(r.exitCode, 0, r.stderr);
    const c = await chroot.connect({ path: root }, { create: false, io, specDir: '/' });
    assert.ok(c);
    // Not mounted twice.
    assert.equal(mountPoints().filter((p) => p === `${root}/proc`).length, 1);
    await c.connection.close();
    assert.deepEqual(mountedBelow(root), [`${root}/proc`]);
    await runProcess('umount', [`${root}/proc`]);
  });

  test('SIGTERM while connected unmounts before the process dies', async (t) => {
    if (!requireOrSkip(t, 'chroot')) return;
    const root = await freshRoot();
    const chrootModule = join(dirname(fileURLToPath(import.meta.url)), '../../providers/chroot.js');
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { chrootProvider } from ${JSON.stringify(chrootModule)};
         const io = { notify() {}, async confirm() { return true; } };
         await chrootProvider.connect({ path: ${JSON.stringify(root)} }, { create: false, io, specDir: '/' });
         console.log('connected');
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => b.toString().includes('connected') && resolve());
      child.on('exit', () => reject(new Error('child exited before connecting')));
    });
    assert.equal(mountedBelow(root).length, 3);
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, s) => r(s)));
    child.kill('SIGTERM');
    assert.equal(await exited, 'SIGTERM');
    assert.deepEqual(mountedBelow(root), []);
  });

  test('destroy of a repro-made root unmounts first and never touches the host /dev', async (t) => {
    if (!requireOrSkip(t, 'chroot')) return;
    const root = await freshRoot();
    // As if a connection had been killed with SIGKILL: /dev and /proc still mounted.
    assert.equal((await runProcess('mount', ['--bind', '/dev', `${root}/dev`])).exitCode, 0);
    assert.equal((await runProcess('mount', ['-t', 'proc', 'proc', `${root}/proc`])).exitCode, 0);
    const binding: TargetBinding = {
      path: root,
      created: true,
      suite: 'bookworm',
      variant: 'minbase',
    };
    assert.equal(await chroot.destroy({ path: root }, { binding, io, specDir: '/' }), true);
    assert.equal(existsSync(root), false);
    assert.deepEqual(mountedBelow(root), []);
    assert.ok(existsSync('/dev/null') && existsSync('/dev/zero'), 'host /dev is intact');
  });

  test('destroy while a connection is open, then close() still succeeds', async (t) => {
    if (!requireOrSkip(t, 'chroot')) return;
    const root = await freshRoot();
    const c = await chroot.connect({ path: root }, { create: false, io, specDir: '/' });
    assert.ok(c);
    const binding: TargetBinding = { ...c.binding, created: true };
    assert.equal(await chroot.destroy({ path: root }, { binding, io, specDir: '/' }), true);
    assert.equal(existsSync(root), false);
    await c.connection.close();
    assert.deepEqual(mountedBelow(root), []);
  });

  test('create:true on a missing root bootstraps it with debootstrap, then destroy removes it', async (t) => {
    if (!requireOrSkip(t, 'chroot')) return;
    if (FAST) return t.skip('REPRO_TEST_FAST=1');
    const parent = await mkdtemp('/tmp/repro-test-');
    roots.push(parent);
    const cfg: ChrootConfig = { path: 'roots/new' };
    const root = join(parent, 'roots/new');
    const progress = new BufferIoHost();
    const c = await chroot.connect(cfg, { create: true, io: progress, specDir: parent });
    assert.ok(c);
    try {
      assert.equal(c.created, true);
      assert.deepEqual(c.binding, {
        path: root,
        created: true,
        suite: 'bookworm',
        variant: 'minbase',
      });
      const r = await c.connection.exec([
        'sh',
        '-c',
        '. /etc/os-release; echo $VERSION_CODENAME; /usr/sbin/policy-rc.d; echo $?',
      ]);
      assert.equal(r.stdout, 'bookworm\n101\n');
      assert.ok(
        progress.messages.some((m) => m.level === 'progress' && /debootstrap/.test(m.text)),
      );
    } finally {
      await c.connection.close();
    }
    const again = await chroot.connect(cfg, {
      binding: c.binding,
      create: true,
      io,
      specDir: parent,
    });
    assert.ok(again);
    assert.equal(again.created, false);
    assert.equal(again.binding['created'], true, 'created: true is kept from the binding');
    await again.connection.close();
    assert.equal(await chroot.destroy(cfg, { binding: again.binding, io, specDir: parent }), true);
    assert.equal(existsSync(root), false);
    assert.deepEqual(mountedBelow(parent), []);
  });
});

// ---------------------------------------------------------------------------------------------
// docker

const containers: string[] = [];
const images: string[] = [];
after(async () => {
  if (!infraAvailable().docker) return;
  await removeContainers(containers);
  if (images.length > 0) await docker('image', 'rm', '--force', ...images);
});

function newContainerName(what: string): string {
  const name = uniqueName(`repro-test-prov-${what}`);
  containers.push(name);
  return name;
}

execContract('docker', 'docker', async () => {
  const p = await loadProvider('docker');
  const cfg: DockerConfig = { container: newContainerName('exec'), image: BASE_IMAGE };
  const c = await p.connect(cfg, { create: true, io, specDir: '/tmp' });
  return c!.connection;
});

describe('docker: lifecycle', () => {
  let dockerP: Provider<unknown>;
  before(async () => {
    dockerP = await loadProvider('docker');
  });

  test('missing container: undefined with create:false, nothing created', async (t) => {
    if (!requireOrSkip(t, 'docker')) return;
    const cfg: DockerConfig = { container: newContainerName('missing'), image: BASE_IMAGE };
    assert.equal(await dockerP.connect(cfg, { create: false, io, specDir: '/tmp' }), undefined);
    assert.equal(await dockerInspect(cfg.container), undefined);
  });

  test('create, reuse by binding, restart when stopped, destroy', async (t) => {
    if (!requireOrSkip(t, 'docker')) return;
    const cfg: DockerConfig = { container: newContainerName('life'), image: BASE_IMAGE };
    const c = await dockerP.connect(cfg, { create: true, io, specDir: '/tmp' });
    assert.ok(c);
    assert.equal(c.created, true);
    const live = (await dockerInspect(cfg.container)) as {
      Id: string;
      Image: string;
      State: { Running: boolean };
      Config: { Labels: Record<string, string> };
      HostConfig: { Init: boolean };
    };
    assert.ok(live, 'the container exists');
    assert.equal(live.State.Running, true);
    assert.equal(live.Config.Labels['org.repro.managed'], 'true');
    assert.equal(live.Config.Labels['org.repro.target'], cfg.container);
    assert.deepEqual(c.binding, {
      container_id: live.Id,
      container_name: cfg.container,
      image: BASE_IMAGE,
      image_id: live.Image,
      created: true,
    });
    assert.match(c.connection.description, new RegExp(cfg.container));
    await c.connection.exec(['sh', '-c', 'echo kept > /root/marker']);
    await c.connection.close();

    // The keep-alive process stops promptly (no 10 s grace period).
    const t0 = Date.now();
    assert.equal((await docker('stop', cfg.container)).exitCode, 0);
    assert.ok(Date.now() - t0 < 5000, `docker stop took ${Date.now() - t0} ms`);

    const again = await dockerP.connect(cfg, {
      binding: c.binding,
      create: true,
      io,
      specDir: '/tmp',
    });
    assert.ok(again);
    assert.equal(again.created, false);
    assert.deepEqual(again.binding, c.binding, 'same container, same binding');
    assert.equal((await again.connection.exec(['cat', '/root/marker'])).stdout, 'kept\n');
    await again.connection.close();

    assert.equal(await dockerP.destroy(cfg, { binding: again.binding, io, specDir: '/tmp' }), true);
    assert.equal(await dockerInspect(cfg.container), undefined, 'the container is gone');
    // Destroying what is already gone is fine.
    assert.equal(await dockerP.destroy(cfg, { binding: again.binding, io, specDir: '/tmp' }), true);
  });

  test('a container repro did not create is used but never removed', async (t) => {
    if (!requireOrSkip(t, 'docker')) return;
    const name = newContainerName('foreign');
    const id = await startTestContainer(name);
    const cfg: DockerConfig = { container: name, image: BASE_IMAGE };
    const c = await dockerP.connect(cfg, { create: false, io, specDir: '/tmp' });
    assert.ok(c);
    assert.equal(c.created, false);
    assert.equal(c.binding['created'], false);
    assert.equal(c.binding['container_id'], id);
    await c.connection.close();
    assert.equal(await dockerP.destroy(cfg, { binding: c.binding, io, specDir: '/tmp' }), false);
    assert.ok(await dockerInspect(name), 'still there');
  });

  test('an image that is neither local nor pullable fails clearly, creating nothing', async (t) => {
    if (!requireOrSkip(t, 'docker')) return;
    const cfg: DockerConfig = {
      container: newContainerName('noimage'),
      image: `${uniqueName('repro-test/none')}:1`,
    };
    await assert.rejects(dockerP.connect(cfg, { create: true, io, specDir: '/tmp' }), (e) => {
      assert.ok(e instanceof ReproError);
      assert.equal(e.code, 'docker.image-missing');
      assert.ok(e.message.includes(cfg.image));
      assert.match(e.hint ?? '', /bootstrap: debootstrap/);
      return true;
    });
    assert.equal(await dockerInspect(cfg.container), undefined);
  });

  test('bootstrap: debootstrap builds the image (with the host CA bundle) when it cannot be pulled', async (t) => {
    if (!requireOrSkip(t, 'docker')) return;
    if (!SLOW) return t.skip('slow (debootstrap + import); set REPRO_TEST_SLOW=1');
    const image = `${uniqueName('repro-test/boot')}:test`;
    images.push(image);
    const cfg: DockerConfig = {
      container: newContainerName('boot'),
      image,
      bootstrap: 'debootstrap',
    };
    const c = await dockerP.connect(cfg, { create: true, io, specDir: '/tmp' });
    assert.ok(c);
    try {
      assert.equal(c.created, true);
      const labels = await docker('image', 'inspect', '--format', '{{json .Config.Labels}}', image);
      assert.equal(JSON.parse(labels.stdout)['org.repro.managed'], 'true');
      const r = await c.connection.exec([
        'sh',
        '-c',
        '. /etc/os-release; echo $VERSION_CODENAME; sha256sum < /etc/ssl/certs/ca-certificates.crt',
      ]);
      assert.equal(r.exitCode, 0, r.stderr);
      const hostCa = sha256(readFileSync('/etc/ssl/certs/ca-certificates.crt'));
      assert.equal(r.stdout, `bookworm\n${hostCa}  -\n`);
    } finally {
      await c.connection.close();
    }
    assert.equal(await dockerP.destroy(cfg, { binding: c.binding, io, specDir: '/tmp' }), true);
    const leftovers = (await readdir(tmpdir())).filter((n) => n.startsWith('repro-image-'));
    assert.deepEqual(leftovers, [], 'the temporary root is removed');
  });
});

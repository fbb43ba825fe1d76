// pip with venvs end to end on a real dockerd, offline: the test builds tiny wheels itself
// (tinyrepro 1.0 and 2.0, tinydep 1.0; tinyrepro 2.0 requires tinydep), copies them into
// containers it created, and drives the built CLI with `--no-index --find-links /wheels`.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { crc32 } from 'node:zlib';
import { expectCode, repro, run, steps } from './cli.js';
import { BASE_IMAGE, requireOrSkip, startTestContainer, uniqueName } from './helpers.js';

const prefix = uniqueName('repro-test-pip');
const cname = (n: string): string => `${prefix}-${n}`;
let dir = '';

/** A zip archive of stored (uncompressed) entries: all a wheel needs. */
function zip(files: readonly [string, string][]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let off = 0;
  for (const [name, text] of files) {
    const data = Buffer.from(text);
    const n = Buffer.from(name);
    const crc = crc32(data) >>> 0;
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt32LE(crc, 14);
    h.writeUInt32LE(data.length, 18);
    h.writeUInt32LE(data.length, 22);
    h.writeUInt16LE(n.length, 26);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(data.length, 20);
    c.writeUInt32LE(data.length, 24);
    c.writeUInt16LE(n.length, 28);
    c.writeUInt32LE(off, 42);
    locals.push(h, n, data);
    centrals.push(c, n);
    off += 30 + n.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const e = Buffer.alloc(22);
  e.writeUInt32LE(0x06054b50, 0);
  e.writeUInt16LE(files.length, 8);
  e.writeUInt16LE(files.length, 10);
  e.writeUInt32LE(cd.length, 12);
  e.writeUInt32LE(off, 16);
  return Buffer.concat([...locals, cd, e]);
}

function wheel(
  name: string,
  version: string,
  requires: string[] = [],
  extras: string[] = [],
): [string, Buffer] {
  const di = `${name}-${version}.dist-info`;
  const files: [string, string][] = [
    [`${name}/__init__.py`, `__version__ = '${version}'\n`],
    [
      `${di}/METADATA`,
      `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\n` +
        requires.map((r) => `Requires-Dist: ${r}\n`).join('') +
        extras.map((e) => `Provides-Extra: ${e}\n`).join(''),
    ],
    [
      `${di}/WHEEL`,
      'Wheel-Version: 1.0\nGenerator: repro-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
    ],
  ];
  const record = files.map(
    ([f, t]) =>
      `${f},sha256=${createHash('sha256').update(t).digest('base64url')},${Buffer.byteLength(t)}`,
  );
  files.push([`${di}/RECORD`, `${record.join('\n')}\n${di}/RECORD,,\n`]);
  return [`${name}-${version}-py3-none-any.whl`, zip(files)];
}

async function sh(c: string, cmd: string): Promise<string> {
  const r = await run(['docker', 'exec', cname(c), 'sh', '-c', cmd]);
  if (r.code !== 0) throw new Error(`docker exec ${cname(c)} ${cmd}: exit ${r.code}\n${r.stderr}`);
  return r.stdout;
}

async function pipList(c: string): Promise<Record<string, string>> {
  const out = await sh(
    c,
    '/opt/venv/bin/python -m pip list --format=json --disable-pip-version-check',
  );
  const rows = JSON.parse(out) as { name: string; version: string }[];
  return Object.fromEntries(rows.map((r) => [r.name, r.version]));
}

async function container(c: string, wheels: [string, Buffer][]): Promise<void> {
  await startTestContainer(cname(c));
  const w = await mkdtemp(join(tmpdir(), 'repro-test-wheels-'));
  for (const [f, data] of wheels) await writeFile(join(w, f), data);
  const cp = await run(['docker', 'cp', `${w}/.`, `${cname(c)}:/wheels`]);
  await rm(w, { recursive: true, force: true });
  if (cp.code !== 0) throw new Error(cp.stderr);
}

function spec(packages: string, venv = '/opt/venv'): string {
  return `version: 1
name: pipdemo
targets:
  first: {docker: {container: ${cname('first')}, image: "${BASE_IMAGE}"}}
  second: {docker: {container: ${cname('second')}, image: "${BASE_IMAGE}"}}
  third: {docker: {container: ${cname('third')}, image: "${BASE_IMAGE}"}}
os:
  distribution: debian
  release: bookworm
  apt:
    packages: [python3, python3-venv]
pip:
  - venv: ${venv}
    find_links: [/wheels]
    no_index: true
    packages: ${packages}
`;
}

after(async () => {
  await run(['docker', 'rm', '-f', cname('first'), cname('second'), cname('third')]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('pip: venv and packages end to end on docker, offline wheels', async (t) => {
  if (!requireOrSkip(t, 'docker')) return;
  const step = steps(t);
  dir = await mkdtemp(join(tmpdir(), 'repro-test-pip-'));
  const file = join(dir, 'repro.yaml');
  const first = ['-f', file, '--target', 'first'];
  const second = ['-f', file, '--target', 'second'];
  const third = ['-f', file, '--target', 'third'];
  const v1 = wheel('tinyrepro', '1.0');
  const v2 = wheel('tinyrepro', '2.0', ['tinydep'], ['cli']);
  const v3 = wheel('tinyrepro', '3.0', ['tinydep']);
  const dep = wheel('tinydep', '1.0');
  const dep11 = wheel('tinydep', '1.1');
  const other = wheel('tinyextra', '1.0');
  await writeFile(file, spec('[tinyrepro]'));

  await step('plan from empty shows the creates', async () => {
    await container('first', [v1, v2, dep, other]);
    const p = expectCode(await repro(dir, [...first, 'plan', '--detailed-exitcode']), 2, 'plan');
    assert.match(p.stdout, /\+ pip-venv:\/opt\/venv/);
    assert.match(p.stdout, /\+ pip:\/opt\/venv:tinyrepro/);
    assert.match(p.stdout, /Plan: 4 to add, 0 to change, 0 to destroy\./);
  });

  await step('apply creates the venv and installs the newest wheel, locked', async () => {
    expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 0, 'apply');
    const l = await pipList('first');
    assert.equal(l['tinyrepro'], '2.0');
    assert.equal(l['tinydep'], '1.0');
    const lock = JSON.parse(await readFile(join(dir, 'repro.lock'), 'utf8')) as {
      resources: Record<string, unknown>;
    };
    assert.deepEqual(lock.resources['pip:/opt/venv:tinyrepro'], { version: '2.0' });
    // The venv's whole closure, without the seed packages (pip, setuptools), with each wheel's
    // sha256: pip records none in the venv for find_links installs; repro keeps what
    // `pip install --report` said.
    const sha = (w: [string, Buffer]): string => createHash('sha256').update(w[1]).digest('hex');
    assert.deepEqual(lock.resources['pip-venv:/opt/venv'], {
      packages: {
        tinydep: { version: '1.0', sha256: sha(dep) },
        tinyrepro: { version: '2.0', sha256: sha(v2) },
      },
    });
  });

  await step('a converged target plans no changes in one round trip', async () => {
    const p = expectCode(await repro(dir, [...first, 'plan'], { REPRO_STATS: '1' }), 0, 'plan');
    assert.match(p.stdout, /No changes\./);
    assert.match(p.stderr, /repro: 1 exec round trips/);
  });

  await step('an out-of-band downgrade is drift; apply restores the locked version', async () => {
    await sh(
      'first',
      '/opt/venv/bin/python -m pip install -q --no-index --find-links /wheels tinyrepro==1.0',
    );
    const d = expectCode(await repro(dir, [...first, 'drift', '--detailed-exitcode']), 2, 'drift');
    assert.match(d.stdout, /pip:\/opt\/venv:tinyrepro/);
    assert.match(d.stdout, /2\.0/);
    expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 0, 'apply');
    assert.equal((await pipList('first'))['tinyrepro'], '2.0');
  });

  await step('a new target installs exactly the locked closure, dependencies too', async () => {
    // Newer tinyrepro and tinydep sit beside the locked ones: a resolution would pick them.
    await container('third', [v1, v2, v3, dep, dep11]);
    expectCode(await repro(dir, [...third, 'apply', '--auto-approve'], {}), 0, 'apply third');
    const l = await pipList('third');
    assert.equal(l['tinyrepro'], '2.0');
    assert.equal(l['tinydep'], '1.0', 'the locked dependency, not the newer 1.1');
    // Every entry had a hash, so pip checked them (--require-hashes); a wheel that differs fails.
    await sh('third', '/opt/venv/bin/python -m pip uninstall -y -q tinydep tinyrepro');
    await sh(
      'third',
      'cp /wheels/tinydep-1.1-py3-none-any.whl /wheels/tinydep-1.0-py3-none-any.whl',
    );
    const bad = expectCode(await repro(dir, [...third, 'apply', '--auto-approve']), 1, 'tampered');
    assert.match(bad.stderr, /THESE PACKAGES DO NOT MATCH THE HASHES/);
    await run(['docker', 'rm', '-f', cname('third')]);
  });

  await step(
    'a second target from the same lock gets the locked version, not the newest',
    async () => {
      const lockPath = join(dir, 'repro.lock');
      const lock = JSON.parse(await readFile(lockPath, 'utf8')) as {
        resources: Record<string, unknown>;
      };
      lock.resources['pip:/opt/venv:tinyrepro'] = { version: '1.0' };
      await writeFile(lockPath, JSON.stringify(lock));
      await container('second', [v1, v2, dep]);
      const p = expectCode(await repro(dir, [...second, 'plan']), 0, 'plan');
      assert.match(p.stdout, /version:\s+"1\.0"/);
      expectCode(await repro(dir, [...second, 'apply', '--auto-approve']), 0, 'apply second');
      const l = await pipList('second');
      assert.equal(l['tinyrepro'], '1.0', 'the locked version although 2.0 is available');
      assert.equal(l['tinydep'], undefined);
    },
  );

  await step('removing the package from the spec uninstalls it', async () => {
    await writeFile(file, spec('[]'));
    const p = expectCode(await repro(dir, [...first, 'plan']), 0, 'plan');
    assert.match(p.stdout, /- pip:\/opt\/venv:tinyrepro/);
    expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 0, 'apply');
    assert.equal((await pipList('first'))['tinyrepro'], undefined);
  });

  await step(
    'an extra the package does not provide is an error naming it, not a warning',
    async () => {
      await writeFile(file, spec('["tinyrepro[cli,nosuchextra]"]'));
      const a = expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 1, 'apply');
      assert.match(a.stderr, /repro\.yaml:\d+:\d+: pip batch failed \[pip:\/opt\/venv:tinyrepro\]/);
      assert.match(a.stderr, /tinyrepro 2\.0 does not provide the extra 'nosuchextra'/);
      assert.doesNotMatch(a.stderr, /'cli'/, 'cli is provided');
      assert.equal((await pipList('first'))['tinyrepro'], '2.0', 'what pip installed is there');
      const p = expectCode(await repro(dir, [...first, 'plan']), 0, 'plan');
      assert.match(
        p.stdout + p.stderr,
        /pip:\/opt\/venv:tinyrepro: tinyrepro 2\.0 does not provide/,
      );
    },
  );

  await step(
    'a wheel missing from find_links fails naming it; the state says what landed',
    async () => {
      await writeFile(file, spec('[tinyrepro, tinyextra, nosuchwheel]'));
      const a = expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 1, 'apply');
      assert.match(
        a.stderr,
        /repro\.yaml:\d+:\d+: pip batch failed \[pip:\/opt\/venv:nosuchwheel\]/,
      );
      assert.match(a.stderr, /No matching distribution found for nosuchwheel/);
      // pip resolves the whole batch before installing: nothing of it landed, and state agrees.
      const l = await pipList('first');
      assert.equal(l['nosuchwheel'], undefined);
      assert.equal(l['tinyextra'], undefined);
      assert.equal(l['tinyrepro'], '2.0');
      const state = JSON.parse(await readFile(join(dir, 'state', 'first.json'), 'utf8')) as {
        resources: Record<string, { attributes: { version?: string } }>;
        pending?: string[];
      };
      assert.equal(state.resources['pip:/opt/venv:tinyrepro']?.attributes.version, '2.0');
      assert.equal(state.resources['pip:/opt/venv:tinyextra'], undefined);
      assert.equal(state.resources['pip:/opt/venv:nosuchwheel'], undefined);
      assert.deepEqual(state.pending ?? [], []);
    },
  );

  await step('a malformed requirement fails validate with file:line:col', async () => {
    await writeFile(file, spec('["tinyrepro>>1"]'));
    const v = expectCode(await repro(dir, ['-f', file, 'validate']), 1, 'validate');
    assert.match(v.stderr + v.stdout, /repro\.yaml:\d+:\d+/);
    assert.match(v.stderr + v.stdout, /pip:\/opt\/venv:tinyrepro/);
    assert.match(v.stderr + v.stdout, />>1/);
  });

  await step('a venv path that exists but is not a venv is a clear error', async () => {
    await sh('first', 'mkdir -p /opt/notvenv && echo x > /opt/notvenv/data');
    await writeFile(file, spec('[tinyrepro]', '/opt/notvenv'));
    const a = expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 1, 'apply');
    assert.match(a.stderr, /\/opt\/notvenv exists but is not a venv \(no pyvenv\.cfg\)/);
    assert.equal(await sh('first', 'cat /opt/notvenv/data'), 'x\n', 'left untouched');
  });

  await step('a venv whose interpreter is missing is a clear error naming it', async () => {
    await writeFile(
      file,
      spec('[tinyrepro]', '/opt/venv311').replace(
        '  - venv: /opt/venv311\n',
        '  - venv: /opt/venv311\n    python: python3.99\n',
      ),
    );
    const a = expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 1, 'apply');
    assert.match(
      a.stderr,
      /the interpreter python3\.99 for venv \/opt\/venv311 is not on the target/,
    );
    assert.match(a.stderr, /pip-venv:\/opt\/venv311/);
    assert.notEqual(
      (await run(['docker', 'exec', cname('first'), 'test', '-e', '/opt/venv311'])).code,
      0,
      'nothing half-made',
    );
  });

  await step(
    'the system interpreter: Debian python3 (externally managed), drift, restore',
    async () => {
      // Its own spec and state: no venv, packages go to /usr/local/lib/python3.11/dist-packages.
      const sysDir = join(dir, 'system');
      await mkdir(sysDir);
      const sysFile = join(sysDir, 'repro.yaml');
      const sys = ['-f', sysFile, '--target', 'first'];
      await writeFile(
        sysFile,
        spec('[tinyextra, tinydep==1.0]')
          .replace('packages: [python3, python3-venv]', 'packages: [python3, python3-pip]')
          .replace('  - venv: /opt/venv\n', '  - python: python3\n'),
      );
      const systemList = async (): Promise<Record<string, string>> => {
        const out = await sh(
          'first',
          'python3 -m pip list --format=json --disable-pip-version-check',
        );
        const rows = JSON.parse(out) as { name: string; version: string }[];
        return Object.fromEntries(rows.map((r) => [r.name, r.version]));
      };
      expectCode(await repro(sysDir, [...sys, 'apply', '--auto-approve']), 0, 'apply');
      let l = await systemList();
      assert.equal(l['tinyextra'], '1.0');
      assert.equal(l['tinydep'], '1.0');
      const p = expectCode(await repro(sysDir, [...sys, 'plan'], { REPRO_STATS: '1' }), 0, 'plan');
      assert.match(p.stdout, /No changes\./);
      assert.match(p.stderr, /repro: 1 exec round trips/);
      await sh('first', 'python3 -m pip uninstall -y -q --break-system-packages tinyextra');
      const d = expectCode(
        await repro(sysDir, [...sys, 'drift', '--detailed-exitcode']),
        2,
        'drift',
      );
      assert.match(d.stdout, /pip:python3:tinyextra/);
      expectCode(await repro(sysDir, [...sys, 'apply', '--auto-approve']), 0, 'restore');
      l = await systemList();
      assert.equal(l['tinyextra'], '1.0');
      // Locked per package; a system interpreter's closure is the distribution's, not locked.
      const lock = JSON.parse(await readFile(join(sysDir, 'repro.lock'), 'utf8')) as {
        resources: Record<string, unknown>;
      };
      const pipLocks = Object.entries(lock.resources).filter(([k]) => k.startsWith('pip'));
      assert.deepEqual(pipLocks, [['pip:python3:tinyextra', { version: '1.0' }]]);
    },
  );
});

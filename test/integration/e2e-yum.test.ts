// yum/dnf end to end on a real dockerd, offline: Debian's own rpm and dnf (4.14) in a container,
// against a local repository of tiny RPMs the test image builds with rpmbuild (see rpm-image.ts).
// The spec says `distribution: fedora`, so repro picks its yum manager, which finds dnf on the
// target. Every assertion about packages asks the target's rpmdb (`rpm -q`), not repro.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { AJV_OPTIONS } from '../../src/spec/schema.js';
import { expectCode, repro, run, steps } from './cli.js';
import { infraAvailable, requireOrSkip, uniqueName } from './helpers.js';
import { ensureRpmImage, RPM_IMAGE } from './rpm-image.js';

const prefix = uniqueName('repro-test-rpm');
const SCHEMAS = fileURLToPath(new URL('../../../schemas/', import.meta.url));

/** Validates a JSON document repro wrote against one of its schemas. */
async function assertValid(schemaFile: string, doc: unknown): Promise<void> {
  const schema = JSON.parse(await readFile(join(SCHEMAS, schemaFile), 'utf8')) as object;
  const validate = new Ajv(AJV_OPTIONS).compile(schema);
  assert.ok(validate(doc), `${schemaFile}: ${JSON.stringify(validate.errors)}`);
}
const cname = (n: string): string => `${prefix}-${n}`;
let dir = '';

async function sh(c: string, cmd: string): Promise<{ code: number; out: string }> {
  const r = await run(['docker', 'exec', cname(c), 'sh', '-c', cmd]);
  return { code: r.code, out: r.stdout + r.stderr };
}

/** `rpm -q NAME` on the target: the installed NEVRA, or undefined when not installed. */
async function rpmQ(c: string, name: string): Promise<string | undefined> {
  const r = await sh(c, `rpm -q --qf '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n' ${name}`);
  return r.code === 0 ? r.out.trim() : undefined;
}

function spec(os: string): string {
  return `version: 1
name: rpmdemo
targets:
  first: {docker: {container: ${cname('first')}, image: "${RPM_IMAGE}"}}
  second: {docker: {container: ${cname('second')}, image: "${RPM_IMAGE}"}}
${os}`;
}

/** The test repository, its packages signed; the key is a file beside the spec. */
const SIGNED = '[{name: local, baseurl: "file:///srv/repo", gpgkey: keys/tiny.asc}]';

const fedora = (packages: string, repos = SIGNED): string =>
  spec(`os:
  distribution: fedora
  yum:
    repos: ${repos}
    packages: ${packages}
`);

before(async () => {
  if (infraAvailable().docker) await ensureRpmImage();
});

after(async () => {
  await run(['docker', 'rm', '-f', cname('first'), cname('second')]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('yum: repos and packages end to end with dnf on docker, local RPM repository', async (t) => {
  if (!requireOrSkip(t, 'docker')) return;
  const step = steps(t);
  dir = await mkdtemp(join(tmpdir(), 'repro-test-rpm-'));
  const file = join(dir, 'repro.yaml');
  const lockPath = join(dir, 'repro.lock');
  const first = ['-f', file, '--target', 'first'];
  const second = ['-f', file, '--target', 'second'];
  const readLock = async (): Promise<{ resources: Record<string, unknown> }> =>
    JSON.parse(await readFile(lockPath, 'utf8')) as { resources: Record<string, unknown> };

  await step('bad input fails validate with file:line:col and the address', async () => {
    await writeFile(file, fedora('[tinyrpm, "tiny;rpm-1.0", "tinydep-1.0-1:2"]'));
    const v = expectCode(await repro(dir, ['-f', file, 'validate']), 1, 'validate');
    const out = v.stdout + v.stderr;
    assert.match(
      out,
      /repro\.yaml:10:\d+: error: invalid RPM package name "tiny;rpm" .*\[yum:tiny;rpm\]/,
    );
    assert.match(out, /repro\.yaml:10:\d+: error: invalid release "1:2".*\[yum:tinydep\]/);
    await writeFile(file, spec('os:\n  distribution: rocky\n  apt:\n    packages: [jq]\n'));
    const a = expectCode(await repro(dir, ['-f', file, 'validate']), 1, 'validate apt on rocky');
    assert.match(
      a.stdout + a.stderr,
      /repro\.yaml:8:3: error: os\.apt: rocky is an RPM distribution/,
    );
    await writeFile(file, spec('os:\n  distribution: debian\n  yum:\n    packages: [tree]\n'));
    const y = expectCode(await repro(dir, ['-f', file, 'validate']), 1, 'validate yum on debian');
    assert.match(y.stdout + y.stderr, /repro\.yaml:8:3: error: os\.yum: debian uses apt/);
  });

  await step('plan from empty shows the repository and the packages', async () => {
    // The public key of the image's repository, copied out to sit beside the spec.
    const key = await run([
      'docker',
      'run',
      '--rm',
      RPM_IMAGE,
      'cat',
      '/srv/repo/RPM-GPG-KEY-repro-test',
    ]);
    assert.equal(key.code, 0, key.stderr);
    await mkdir(join(dir, 'keys'));
    await writeFile(join(dir, 'keys', 'tiny.asc'), key.stdout);
    await writeFile(file, fedora('[tinyrpm, tinyepoch]'));
    const p = expectCode(await repro(dir, [...first, 'plan', '--detailed-exitcode']), 2, 'plan');
    assert.match(p.stdout, /\+ yum-repo:local/);
    assert.match(p.stdout, /\+ yum:tinyrpm/);
    assert.match(p.stdout, /\+ yum:tinyepoch/);
    assert.match(p.stdout, /Plan: 3 to add, 0 to change, 0 to destroy\./);
    const j = expectCode(await repro(dir, [...first, 'plan', '--json']), 0, 'plan --json');
    await assertValid('plan.schema.json', JSON.parse(j.stdout));
  });

  await step(
    'apply writes the repo and key, installs the newest signed builds, locks NEVRAs',
    async () => {
      expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 0, 'apply');
      assert.equal(await rpmQ('first', 'tinyrpm'), 'tinyrpm-2.0-1.noarch');
      assert.equal(await rpmQ('first', 'tinydep'), 'tinydep-1.0-1.noarch', 'its dependency');
      const repo = await sh('first', 'cat /etc/yum.repos.d/repro-local.repo');
      assert.match(repo.out, /^\[local\]$/m);
      assert.match(repo.out, /^baseurl=file:\/\/\/srv\/repo$/m);
      assert.match(repo.out, /^gpgcheck=1$/m);
      assert.match(repo.out, /^gpgkey=file:\/\/\/etc\/pki\/rpm-gpg\/RPM-GPG-KEY-repro-local$/m);
      const keys = await sh('first', "rpm -q gpg-pubkey --qf '%{SUMMARY}\\n'");
      assert.match(keys.out, /repro-test <repro-test@invalid>/, 'the key is in the rpmdb');
      const lock = await readLock();
      assert.deepEqual(lock.resources['yum:tinyrpm'], { arch: 'noarch', version: '0:2.0-1' });
      assert.deepEqual(lock.resources['yum:tinyepoch'], { arch: 'noarch', version: '2:3.1-4' });
      const epoch = await sh('first', "rpm -q --qf '%{EPOCH}:%{VERSION}-%{RELEASE}' tinyepoch");
      assert.equal(epoch.out, '2:3.1-4');
    },
  );

  await step('a converged target plans no changes in one round trip', async () => {
    const p = expectCode(await repro(dir, [...first, 'plan'], { REPRO_STATS: '1' }), 0, 'plan');
    assert.match(p.stdout, /No changes\./);
    assert.match(p.stderr, /repro: 1 exec round trips/);
  });

  await step('an out-of-band downgrade is drift; apply restores the locked build', async () => {
    const d0 = await sh('first', 'dnf -y -q install tinyrpm-1.0-1.noarch');
    assert.equal(d0.code, 0, d0.out);
    assert.equal(await rpmQ('first', 'tinyrpm'), 'tinyrpm-1.0-1.noarch');
    const d = expectCode(await repro(dir, [...first, 'drift', '--detailed-exitcode']), 2, 'drift');
    assert.match(d.stdout, /yum:tinyrpm/);
    assert.match(d.stdout, /"0:2\.0-1" → "0:1\.0-1"/);
    assert.doesNotMatch(d.stdout, /yum:tinyepoch/);
    expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 0, 'apply');
    assert.equal(await rpmQ('first', 'tinyrpm'), 'tinyrpm-2.0-1.noarch');
  });

  await step('an out-of-band rpm -e is drift; apply reinstalls it', async () => {
    const e = await sh('first', 'rpm -e --nodeps tinyrpm');
    assert.equal(e.code, 0, e.out);
    const d = expectCode(await repro(dir, [...first, 'drift', '--detailed-exitcode']), 2, 'drift');
    assert.match(d.stdout, /! yum:tinyrpm\s+removed outside repro/);
    expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 0, 'apply');
    assert.equal(await rpmQ('first', 'tinyrpm'), 'tinyrpm-2.0-1.noarch');
  });

  await step('a second target installs the locked NEVRA, not the newest', async () => {
    const lock = await readLock();
    lock.resources['yum:tinyrpm'] = { arch: 'noarch', version: '0:1.0-1' };
    await writeFile(lockPath, JSON.stringify(lock));
    const p = expectCode(await repro(dir, [...second, 'plan']), 0, 'plan');
    assert.match(p.stdout, /\+ yum:tinyrpm\s+\(not installed \(locked 0:1\.0-1\.noarch\)\)/);
    expectCode(await repro(dir, [...second, 'apply', '--auto-approve']), 0, 'apply second');
    assert.equal(await rpmQ('second', 'tinyrpm'), 'tinyrpm-1.0-1.noarch', 'although 2.0 is there');
    assert.equal(await rpmQ('second', 'tinydep'), undefined, '1.0 needs no tinydep');
  });

  await step('--update re-resolves: the plan shows old → new, apply upgrades', async () => {
    const p = expectCode(
      await repro(dir, [...second, 'plan', '--update', 'yum:tinyrpm']),
      0,
      'plan --update',
    );
    assert.match(p.stdout, /~ yum:tinyrpm/);
    assert.match(p.stdout, /version: "0:1\.0-1" → "0:2\.0-1"/);
    expectCode(
      await repro(dir, [...second, 'apply', '--auto-approve', '--update', 'yum:tinyrpm']),
      0,
      'apply --update',
    );
    assert.equal(await rpmQ('second', 'tinyrpm'), 'tinyrpm-2.0-1.noarch');
    assert.deepEqual((await readLock()).resources['yum:tinyrpm'], {
      arch: 'noarch',
      version: '0:2.0-1',
    });
  });

  await step('a version pinned in the spec downgrades with one dnf install', async () => {
    await writeFile(file, fedora('["tinyrpm-1.0"]'));
    const p = expectCode(await repro(dir, [...second, 'plan']), 0, 'plan');
    // An installed package's candidates are not probed (one dnf start saved): dnf resolves the pin.
    assert.match(p.stdout, /~ yum:tinyrpm\s+\(pinned tinyrpm-1\.0, installed 0:2\.0-1\.noarch\)/);
    assert.match(p.stdout, /version: "0:2\.0-1" → \(known after apply\)/);
    expectCode(await repro(dir, [...second, 'apply', '--auto-approve']), 0, 'apply');
    assert.equal(await rpmQ('second', 'tinyrpm'), 'tinyrpm-1.0-1.noarch');
    assert.deepEqual((await readLock()).resources['yum:tinyrpm'], {
      arch: 'noarch',
      version: '0:1.0-1',
    });
    const again = expectCode(await repro(dir, [...second, 'plan']), 0, 'plan');
    assert.match(again.stdout, /No changes\./);
  });

  await step('an unknown package fails naming its address; the rest is recorded', async () => {
    await writeFile(file, fedora('[tinyrpm, tinyepoch, nosuchpkg-repro]'));
    const a = expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 1, 'apply');
    assert.match(a.stderr, /No match for argument: nosuchpkg-repro/);
    assert.match(a.stderr, /repro: no package matches nosuchpkg-repro .*\(yum:nosuchpkg-repro\)/);
    assert.match(a.stderr, /yum batch failed \[yum:nosuchpkg-repro\]/);
    assert.equal(await rpmQ('first', 'nosuchpkg-repro'), undefined);
    const list = expectCode(await repro(dir, [...first, 'state', 'list']), 0, 'state list');
    assert.match(list.stdout, /^yum:tinyrpm$/m);
    assert.doesNotMatch(list.stdout, /nosuchpkg/);
  });

  await step('a name only provided by another package is reported, not recorded', async () => {
    await writeFile(file, fedora('[tinyrpm, tinyepoch, tinyvirtual]'));
    const a = expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 1, 'apply');
    assert.match(a.stderr, /yum:tinyvirtual is not on the target afterwards/);
    assert.match(a.stderr, /hint: dnf installed the package that provides this name/);
    const list = expectCode(await repro(dir, [...first, 'state', 'list']), 0, 'state list');
    assert.doesNotMatch(list.stdout, /tinyvirtual/);
  });

  await step('removing the package and the repository from the spec removes them', async () => {
    await writeFile(file, fedora('[]', '[]'));
    const p = expectCode(await repro(dir, [...first, 'plan']), 0, 'plan');
    assert.match(p.stdout, /- yum:tinyrpm/);
    assert.match(p.stdout, /- yum:tinyepoch/);
    assert.match(p.stdout, /- yum-repo:local/);
    expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 0, 'apply');
    assert.equal(await rpmQ('first', 'tinyrpm'), undefined);
    assert.equal(await rpmQ('first', 'tinyepoch'), undefined);
    const gone = await sh('first', 'test -e /etc/yum.repos.d/repro-local.repo');
    assert.notEqual(gone.code, 0, 'the .repo file is removed');
  });
});

// The npm manager end to end on a real dockerd and the real npm registry: Debian's nodejs + npm
// installed by the same apply, global packages under /usr/local, drift made behind repro's back,
// the lock reproducing an exact version on a second container, removal, and a bad name refused.
//
// The registry is reached through a gateway whose CA the host trusts. The base image carries the
// host's bundle, but installing Debian's npm pulls in `ca-certificates`, which regenerates
// /etc/ssl/certs/ca-certificates.crt without it; so the test copies the host bundle to
// /etc/ssl/repro-test-ca.crt and points npm's `cafile` at it (in /usr/local/etc/npmrc, the global
// config of `npm -g --prefix /usr/local`, and /etc/npmrc).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { expectCode, repro, run, steps } from './cli.js';
import { BASE_IMAGE, requireOrSkip, startTestContainer, uniqueName } from './helpers.js';

const prefix = uniqueName('repro-test-npm');
const cname = (name: string): string => `${prefix}-${name}`;
let dir = '';
const SCOPE = '/usr/local';
const CA = '/etc/ssl/repro-test-ca.crt';

async function sh(name: string, cmd: string): Promise<string> {
  const r = await run(['docker', 'exec', cname(name), 'sh', '-c', cmd]);
  if (r.code !== 0) {
    throw new Error(
      `docker exec ${cname(name)} sh -c ${JSON.stringify(cmd)}: exit ${r.code}\n${r.stderr}`,
    );
  }
  return r.stdout;
}

async function precreate(name: string): Promise<void> {
  await startTestContainer(cname(name));
  const cp = await run([
    'docker',
    'cp',
    '/etc/ssl/certs/ca-certificates.crt',
    `${cname(name)}:${CA}`,
  ]);
  if (cp.code !== 0) throw new Error(cp.stderr);
  await sh(
    name,
    `mkdir -p /usr/local/etc && for f in /etc/npmrc /usr/local/etc/npmrc; do printf 'cafile=${CA}\\nfetch-retries=1\\n' > "$f"; done`,
  );
}

/** Global packages on the target, from npm itself: name → version. */
async function globalPackages(name: string): Promise<Record<string, string>> {
  const out = await sh(name, `npm ls -g --prefix ${SCOPE} --json --depth=0 2>/dev/null || true`);
  const doc = JSON.parse(out) as { dependencies?: Record<string, { version: string }> };
  const res: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc.dependencies ?? {})) res[k] = v.version;
  return res;
}

function specYaml(packages: string[]): string {
  const target = (n: string): string =>
    `{docker: {container: ${cname(n)}, image: "${BASE_IMAGE}"}}`;
  return `version: 1
name: npm-e2e
targets:
  first: ${target('first')}
  second: ${target('second')}
os:
  distribution: debian
  release: bookworm
  apt:
    packages: [nodejs, npm]
npm:
  - prefix: ${SCOPE}
    packages: [${packages.map((p) => `'${p}'`).join(', ')}]
`;
}

after(async () => {
  await run(['docker', 'rm', '-f', cname('first'), cname('second')]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('npm: global packages end to end on docker', async (t) => {
  if (!requireOrSkip(t, 'docker')) return;
  const step = steps(t);
  dir = await mkdtemp(join(tmpdir(), 'repro-test-npm-'));
  const spec = join(dir, 'repro.yaml');
  const first = ['-f', spec, '--target', 'first'];
  const second = ['-f', spec, '--target', 'second'];
  await writeFile(spec, specYaml(['is-number@7.0.0', 'left-pad']));
  await precreate('first');

  await step('plan from empty', async () => {
    const p = expectCode(await repro(dir, [...first, 'plan', '--detailed-exitcode']), 2, 'plan');
    assert.match(p.stdout, /\+ npm:\/usr\/local:is-number/);
    assert.match(p.stdout, /\+ npm:\/usr\/local:left-pad/);
    assert.match(p.stdout, /version: "7\.0\.0"/);
    assert.match(p.stdout, /Plan: 4 to add, 0 to change, 0 to destroy\./);
  });

  let leftPad = '';
  await step('apply installs nodejs, npm and the packages', async () => {
    expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 0, 'apply');
    const pkgs = await globalPackages('first');
    assert.equal(pkgs['is-number'], '7.0.0');
    assert.match(pkgs['left-pad'] ?? '', /^\d+\.\d+\.\d+$/);
    leftPad = pkgs['left-pad']!;
  });

  await step('a converged target plans no changes in one round trip', async () => {
    const p = expectCode(
      await repro(dir, [...first, 'plan', '--detailed-exitcode'], { REPRO_STATS: '1' }),
      0,
      'plan',
    );
    assert.match(p.stdout, /No changes\./);
    assert.match(p.stderr, /repro: 1 exec round trips/);
  });

  await step('the lock pins the unpinned package only', async () => {
    const lock = JSON.parse(await readFile(join(dir, 'repro.lock'), 'utf8')) as {
      resources: Record<string, { version?: string }>;
    };
    assert.equal(lock.resources['npm:/usr/local:left-pad']?.version, leftPad);
    assert.equal(lock.resources['npm:/usr/local:is-number'], undefined);
  });

  await step('an out-of-band install shows as drift, apply restores', async () => {
    await sh(
      'first',
      `npm install -g --prefix ${SCOPE} --no-audit --no-fund is-number@6 >/dev/null 2>&1`,
    );
    assert.equal((await globalPackages('first'))['is-number'], '6.0.0');
    const d = expectCode(await repro(dir, [...first, 'drift', '--detailed-exitcode']), 2, 'drift');
    assert.match(d.stdout, /npm:\/usr\/local:is-number/);
    assert.match(d.stdout, /7\.0\.0/);
    assert.match(d.stdout, /6\.0\.0/);
    expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 0, 'apply (restore)');
    assert.equal((await globalPackages('first'))['is-number'], '7.0.0');
    const p = expectCode(await repro(dir, [...first, 'plan', '--detailed-exitcode']), 0, 'plan');
    assert.match(p.stdout, /No changes\./);
  });

  await step('a second container from the lock gets exactly the locked version', async () => {
    // Lock an older left-pad than a fresh resolution gives, so only the lock can explain it.
    const lockPath = join(dir, 'repro.lock');
    const lock = JSON.parse(await readFile(lockPath, 'utf8')) as {
      resources: Record<string, Record<string, unknown>>;
    };
    assert.notEqual(leftPad, '1.2.0');
    lock.resources['npm:/usr/local:left-pad'] = { version: '1.2.0' };
    await writeFile(lockPath, JSON.stringify(lock, null, 2) + '\n');
    await precreate('second');
    const p = expectCode(await repro(dir, [...second, 'plan']), 0, 'plan second');
    assert.match(
      p.stdout,
      /\+ npm:\/usr\/local:left-pad[^\n]*\n(?:[^\n]*\n)*?\s+version: "1\.2\.0"/,
    );
    expectCode(await repro(dir, [...second, 'apply', '--auto-approve']), 0, 'apply second');
    const pkgs = await globalPackages('second');
    assert.equal(pkgs['left-pad'], '1.2.0');
    assert.equal(pkgs['is-number'], '7.0.0');
  });

  await step('--update re-resolves the locked package from the registry', async () => {
    const upd = ['--update', 'npm:/usr/local:left-pad'];
    const p = expectCode(await repro(dir, [...second, 'plan', ...upd]), 0, 'plan --update');
    assert.match(p.stdout, /~ npm:\/usr\/local:left-pad/);
    assert.match(p.stdout, new RegExp(`"1\\.2\\.0" → "${leftPad.replace(/\./g, '\\.')}"`));
    expectCode(
      await repro(dir, [...second, 'apply', '--auto-approve', ...upd]),
      0,
      'apply --update',
    );
    assert.equal((await globalPackages('second'))['left-pad'], leftPad);
    const lock = JSON.parse(await readFile(join(dir, 'repro.lock'), 'utf8')) as {
      resources: Record<string, { version?: string }>;
    };
    assert.equal(lock.resources['npm:/usr/local:left-pad']?.version, leftPad);
  });

  await step('removing a package from the spec uninstalls it', async () => {
    await writeFile(spec, specYaml(['is-number@7.0.0']));
    const p = expectCode(await repro(dir, [...second, 'plan']), 0, 'plan removal');
    assert.match(p.stdout, /- npm:\/usr\/local:left-pad/);
    expectCode(await repro(dir, [...second, 'apply', '--auto-approve']), 0, 'apply removal');
    const pkgs = await globalPackages('second');
    assert.equal(pkgs['left-pad'], undefined);
    assert.equal(pkgs['is-number'], '7.0.0');
  });

  await step('a bad package name fails validate with file:line:col', async () => {
    await writeFile(spec, specYaml(['is-number@7.0.0', 'Left_Pad;rm']));
    const v = expectCode(await repro(dir, ['-f', spec, 'validate']), 1, 'validate');
    const out = v.stdout + v.stderr;
    assert.match(out, /repro\.yaml:\d+:\d+/);
    assert.match(out, /npm:\/usr\/local:Left_Pad;rm/);
    assert.match(out, /invalid npm package name/);
  });

  await step('a project directory: install, integrity locked, drift, restore', async () => {
    // Its own spec and state on the second container (npm is there already).
    const projDir = join(dir, 'project');
    await mkdir(projDir);
    const projSpec = join(projDir, 'repro.yaml');
    const proj = ['-f', projSpec, '--target', 'second'];
    await writeFile(
      projSpec,
      specYaml(['is-number@7.0.0', 'left-pad@1.2.0']).replace(
        `  - prefix: ${SCOPE}`,
        '  - project: /srv/app',
      ),
    );
    const projectPackages = async (): Promise<Record<string, string>> => {
      const out = await sh(
        'second',
        'npm ls --prefix /srv/app --json --depth=0 2>/dev/null || true',
      );
      const doc = JSON.parse(out) as { dependencies?: Record<string, { version: string }> };
      return Object.fromEntries(
        Object.entries(doc.dependencies ?? {}).map(([k, v]) => [k, v.version]),
      );
    };
    expectCode(await repro(projDir, [...proj, 'apply', '--auto-approve']), 0, 'apply project');
    assert.deepEqual(await projectPackages(), { 'is-number': '7.0.0', 'left-pad': '1.2.0' });
    const p = expectCode(await repro(projDir, [...proj, 'plan'], { REPRO_STATS: '1' }), 0, 'plan');
    assert.match(p.stdout, /No changes\./);
    assert.match(p.stderr, /repro: 1 exec round trips/);
    // The project's npm lockfile carries integrity; state records it from there.
    const state = JSON.parse(await readFile(join(projDir, 'state', 'second.json'), 'utf8')) as {
      resources: Record<string, { attributes: { integrity?: string } }>;
    };
    assert.match(state.resources['npm:/srv/app:left-pad']?.attributes.integrity ?? '', /^sha512-/);
    await sh(
      'second',
      'npm install --prefix /srv/app --no-audit --no-fund left-pad@1.3.0 >/dev/null 2>&1',
    );
    const d = expectCode(
      await repro(projDir, [...proj, 'drift', '--detailed-exitcode']),
      2,
      'drift',
    );
    assert.match(d.stdout, /npm:\/srv\/app:left-pad/);
    assert.match(d.stdout, /1\.3\.0/);
    expectCode(await repro(projDir, [...proj, 'apply', '--auto-approve']), 0, 'restore');
    assert.equal((await projectPackages())['left-pad'], '1.2.0');
  });
});

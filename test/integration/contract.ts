// The end-to-end contract every provider must pass, driven through the built CLI and asserted on
// the live target: plan from empty, apply, the exact locked versions, no-op plan and a
// byte-identical state, drift made behind repro's back, restore, --update, a second target
// reproduced from the lock, removal from the spec, and destroy.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectCode, repro } from './cli.js';

/** How a test reaches a target without going through repro. */
export interface TargetHarness {
  readonly provider: string;
  /** YAML (flow mapping) of the target block for target `name`, e.g. `{docker: {...}}`. */
  targetYaml(name: string): string;
  /** Runs `sh -c cmd` on the live target `name`; returns stdout, throws on non-zero exit. */
  sh(name: string, cmd: string): Promise<string>;
  /** Like sh, but returns the exit code instead of throwing. */
  try(name: string, cmd: string): Promise<number>;
  /** Makes target `name` exist before repro sees it (a pre-existing container or root). */
  precreate(name: string): Promise<void>;
  /** Whether the target still exists after destroy. */
  exists(name: string): Promise<boolean>;
}

export const JQ_OLD = '1.6-2.1+deb12u2'; // bookworm main
export const JQ_NEW = '1.6-2.1+deb12u3'; // bookworm-security

const UPSTREAM_SETUP = [
  'set -e',
  'rm -rf /srv/upstream.git /tmp/work',
  'git init -q --bare /srv/upstream.git',
  'git init -q -b main /tmp/work',
  'cd /tmp/work',
  'export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.org',
  'export GIT_AUTHOR_DATE="2020-01-01T00:00:00Z" GIT_COMMITTER_DATE="2020-01-01T00:00:00Z"',
  'echo one > README',
  'git add README && git commit -q -m one',
  'git push -q /srv/upstream.git main',
].join('\n');

const SECOND_COMMIT = [
  'set -e',
  'cd /tmp/work',
  'export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.org',
  'export GIT_AUTHOR_DATE="2021-01-01T00:00:00Z" GIT_COMMITTER_DATE="2021-01-01T00:00:00Z"',
  'echo two > README',
  'git commit -q -am two',
  'git push -q /srv/upstream.git main',
].join('\n');

export function specYaml(h: TargetHarness, o: { git: boolean; trimmed?: boolean }): string {
  return `version: 1
name: contract
targets:
  first: ${h.targetYaml('first')}
  second: ${h.targetYaml('second')}
os:
  distribution: debian
  release: bookworm
  apt:
    sources:
      - {name: security, uri: "http://deb.debian.org/debian-security", suites: [bookworm-security], components: [main], key: archive.gpg}
    packages: [git, jq]
env:
${o.trimmed ? '' : '  GREETING: hello world\n'}  PATH: {prepend: [/opt/tools/bin]}
files:
${o.trimmed ? '  []' : '  - {path: /etc/demo.conf, content: "threads=4\\n", mode: "0640"}'}
${o.git ? 'git:\n  - {path: /opt/src/demo, url: "file:///srv/upstream.git", revision: main}\n' : ''}run:
  - {name: stamp, command: 'echo "$GREETING" > /root/stamp', creates: /root/stamp}
`;
}

export async function makeWorkdir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'repro-test-e2e-'));
  await copyFile('/usr/share/keyrings/debian-archive-keyring.gpg', join(dir, 'archive.gpg'));
  // The lock says jq must be the bookworm version even though bookworm-security has a newer one.
  await writeFile(
    join(dir, 'repro.lock'),
    JSON.stringify({
      lock_version: 1,
      resources: { 'apt:jq': { version: JQ_OLD, arch: 'amd64' } },
    }),
  );
  return dir;
}

async function dpkgVersion(h: TargetHarness, name: string, pkg: string): Promise<string> {
  return (await h.sh(name, `dpkg-query -W -f='\${Version}' ${pkg}`)).trim();
}

export async function runContract(
  h: TargetHarness,
  dir: string,
  step: (name: string, fn: () => Promise<void>) => Promise<void>,
): Promise<void> {
  const spec = join(dir, 'repro.yaml');
  const first = ['-f', spec, '--target', 'first'];
  const second = ['-f', spec, '--target', 'second'];
  const statePath = join(dir, 'state', 'first.json');
  await writeFile(spec, specYaml(h, { git: false }));

  await step('validate and plan from empty', async () => {
    const v = expectCode(await repro(dir, ['-f', spec, 'validate']), 0, 'validate');
    assert.match(v.stdout, /The spec is valid: 7 resources, 2 targets \(first, second\)\./);
    const p = expectCode(await repro(dir, [...first, 'plan', '--detailed-exitcode']), 2, 'plan');
    assert.match(p.stdout, /\+ apt:jq .*\n\s+arch: "amd64"\n\s+version: "1\.6-2\.1\+deb12u2"/);
    assert.match(p.stdout, /\+ apt-source:security/);
    assert.match(p.stdout, /Plan: 7 to add, 0 to change, 0 to destroy\./);
  });

  await step('apply converges the live target, honouring the lock', async () => {
    expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 0, 'apply');
    assert.equal(
      await dpkgVersion(h, 'first', 'jq'),
      JQ_OLD,
      'jq is the locked version, not the newer candidate',
    );
    assert.match(await dpkgVersion(h, 'first', 'git'), /^1:2\.39/);
    assert.equal(await h.sh('first', 'cat /etc/demo.conf'), 'threads=4\n');
    assert.equal((await h.sh('first', 'stat -c %a /etc/demo.conf')).trim(), '640');
    assert.equal(await h.sh('first', 'cat /root/stamp'), 'hello world\n');
    const env = await h.sh(
      'first',
      '. /etc/profile.d/repro-contract.sh && printf "%s|%s" "$GREETING" "$PATH"',
    );
    assert.match(env, /^hello world\|\/opt\/tools\/bin:/);
    const lock = JSON.parse(await readFile(join(dir, 'repro.lock'), 'utf8'));
    assert.equal(lock.resources['apt:jq'].version, JQ_OLD);
    assert.equal(lock.resources['apt:git'].version, await dpkgVersion(h, 'first', 'git'));
    const state = JSON.parse(await readFile(statePath, 'utf8'));
    assert.equal(state.resources['apt:jq'].attributes.version, JQ_OLD);
    assert.equal(state.pending, undefined);
  });

  await step(
    'a converged target plans No changes. and apply leaves the state byte-identical',
    async () => {
      const before = await readFile(statePath, 'utf8');
      const p = expectCode(
        await repro(dir, [...first, 'plan', '--detailed-exitcode'], { REPRO_STATS: '1' }),
        0,
        'plan',
      );
      assert.match(p.stdout, /^No changes\. The target matches the spec\./m);
      assert.match(p.stderr, /repro: 1 exec round trips/);
      expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 0, 'apply again');
      assert.equal(await readFile(statePath, 'utf8'), before);
    },
  );

  await step('a git checkout from a local repository, commit recorded in the lock', async () => {
    await h.sh('first', UPSTREAM_SETUP);
    await writeFile(spec, specYaml(h, { git: true }));
    expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 0, 'apply with git');
    const head = (await h.sh('first', 'git -C /opt/src/demo rev-parse HEAD')).trim();
    const upstream = (await h.sh('first', 'git -C /srv/upstream.git rev-parse main')).trim();
    assert.equal(head, upstream);
    const lock = JSON.parse(await readFile(join(dir, 'repro.lock'), 'utf8'));
    assert.equal(lock.resources['git:/opt/src/demo'].commit, head);
  });

  await step('drift made behind repro’s back is reported, then restored by apply', async () => {
    await h.sh('first', 'DEBIAN_FRONTEND=noninteractive apt-get remove -y -q jq >/dev/null 2>&1');
    await h.sh('first', 'echo threads=64 > /etc/demo.conf && chmod 600 /etc/demo.conf');
    await h.sh('first', 'echo scratch > /opt/src/demo/untracked');
    const d = expectCode(await repro(dir, [...first, 'drift', '--detailed-exitcode']), 2, 'drift');
    assert.match(d.stdout, /! apt:jq {2}removed outside repro/);
    assert.match(
      d.stdout,
      /! file:\/etc\/demo\.conf {2}changed outside repro\n\s+mode: "0640" → "0600"\n\s+sha256: /,
    );
    assert.match(
      d.stdout,
      /! git:\/opt\/src\/demo {2}changed outside repro\n\s+dirty: false → true/,
    );
    const p = expectCode(
      await repro(dir, [...first, 'plan']),
      0,
      'plan shows drift above the plan',
    );
    assert.ok(p.stdout.indexOf('Drift:') < p.stdout.indexOf('repro will perform'));
    await h.sh('first', 'rm /opt/src/demo/untracked');
    expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 0, 'restore');
    assert.equal(await dpkgVersion(h, 'first', 'jq'), JQ_OLD);
    assert.equal(await h.sh('first', 'cat /etc/demo.conf'), 'threads=4\n');
    expectCode(
      await repro(dir, [...first, 'drift', '--detailed-exitcode']),
      0,
      'no drift after restore',
    );
  });

  await step('apply --update re-resolves one package and the plan shows old → new', async () => {
    const p = expectCode(
      await repro(dir, [...first, 'plan', '--update', 'apt:jq']),
      0,
      'plan --update',
    );
    assert.match(p.stdout, /~ apt:jq .*\n\s+version: "1\.6-2\.1\+deb12u2" → "1\.6-2\.1\+deb12u3"/);
    assert.match(p.stdout, /Plan: 0 to add, 1 to change, 0 to destroy\./);
    expectCode(
      await repro(dir, [...first, 'apply', '--auto-approve', '--update', 'apt:jq']),
      0,
      'apply --update',
    );
    assert.equal(await dpkgVersion(h, 'first', 'jq'), JQ_NEW);
    const lock = JSON.parse(await readFile(join(dir, 'repro.lock'), 'utf8'));
    assert.equal(lock.resources['apt:jq'].version, JQ_NEW);
  });

  await step('a second target reproduces exactly the locked versions and commit', async () => {
    await h.precreate('second');
    await writeFile(spec, specYaml(h, { git: true })); // the harness may only now know where it is
    await h.sh(
      'second',
      'DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq git >/dev/null',
    );
    await h.sh('second', UPSTREAM_SETUP);
    await h.sh('second', SECOND_COMMIT); // upstream moved on; the lock must win
    expectCode(await repro(dir, [...second, 'apply', '--auto-approve']), 0, 'apply second');
    const lock = JSON.parse(await readFile(join(dir, 'repro.lock'), 'utf8'));
    assert.equal(await dpkgVersion(h, 'second', 'jq'), lock.resources['apt:jq'].version);
    assert.equal(await dpkgVersion(h, 'second', 'git'), lock.resources['apt:git'].version);
    assert.equal(
      (await h.sh('second', 'git -C /opt/src/demo rev-parse HEAD')).trim(),
      lock.resources['git:/opt/src/demo'].commit,
    );
    assert.notEqual(
      lock.resources['git:/opt/src/demo'].commit,
      (await h.sh('second', 'git -C /srv/upstream.git rev-parse main')).trim(),
    );
    const state = JSON.parse(await readFile(join(dir, 'state', 'second.json'), 'utf8'));
    assert.equal(state.resources['apt:git'].adopted, true, 'git was there before repro');
  });

  await step('removing resources from the spec removes them from the target', async () => {
    await writeFile(spec, specYaml(h, { git: true, trimmed: true }));
    const p = expectCode(await repro(dir, [...first, 'plan']), 0, 'plan removal');
    assert.match(p.stdout, /- env:GREETING/);
    assert.match(p.stdout, /- file:\/etc\/demo\.conf/);
    expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 0, 'apply removal');
    assert.notEqual(await h.try('first', 'test -e /etc/demo.conf'), 0);
    const env = await h.sh(
      'first',
      '. /etc/profile.d/repro-contract.sh && printf "%s|%s" "${GREETING-unset}" "$PATH"',
    );
    assert.match(env, /^unset\|\/opt\/tools\/bin:/);
  });

  await step('show and state list read the state', async () => {
    const list = expectCode(await repro(dir, [...first, 'state', 'list']), 0, 'state list');
    assert.deepEqual(list.stdout.trim().split('\n'), [
      'apt-source:security',
      'apt:git',
      'apt:jq',
      'env:PATH',
      'git:/opt/src/demo',
      'run:stamp',
    ]);
    const show = expectCode(
      await repro(dir, [...first, 'state', 'show', 'apt:jq']),
      0,
      'state show',
    );
    assert.match(show.stdout, new RegExp(`version = "${JQ_NEW.replace(/[+.]/g, '\\$&')}"`));
  });

  await step('destroy', async () => {
    expectCode(await repro(dir, [...first, 'destroy', '--auto-approve']), 0, 'destroy first');
    const state = JSON.parse(await readFile(statePath, 'utf8'));
    assert.deepEqual(state.resources, {});
    if (h.provider === 'docker')
      assert.equal(await h.exists('first'), false, 'the container repro created is gone');
    else
      assert.notEqual(
        await h.try('first', 'test -e /opt/src/demo'),
        0,
        'the checkout repro made is gone',
      );
    expectCode(await repro(dir, [...second, 'destroy', '--auto-approve']), 0, 'destroy second');
    // second existed before repro: its adopted git stays, what repro installed goes.
    assert.notEqual(await h.try('second', 'command -v jq'), 0);
    assert.equal(await h.try('second', 'command -v git'), 0);
  });
}

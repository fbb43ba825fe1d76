// datalad end to end on a real dockerd: the test creates a container, installs Debian's datalad,
// git-annex and git in it, makes a source dataset at /srv/ds with an annexed file, and drives the
// built CLI to install it at /data/ds with the file's content. Asserted on the target itself.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { expectCode, repro, run, steps } from './cli.js';
import { BASE_IMAGE, requireOrSkip, startTestContainer, uniqueName } from './helpers.js';

const name = uniqueName('repro-test-datalad');
const second = `${name}-second`;
const image = `${name}-img`;
let dir = '';

const IDENTITY =
  'export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.org';

async function sh(cmd: string, on = name): Promise<string> {
  const r = await run(['docker', 'exec', on, 'sh', '-c', cmd]);
  if (r.code !== 0) throw new Error(`docker exec ${on} ${cmd}: exit ${r.code}\n${r.stderr}`);
  return r.stdout;
}

const head = async (p: string, on = name): Promise<string> =>
  (await sh(`git -c safe.directory='*' -C ${p} rev-parse HEAD`, on)).trim();
const present = async (): Promise<string> =>
  (
    await sh(`${IDENTITY}; cd /data/ds && git -c safe.directory='*' annex find --in=here big.dat`)
  ).trim();

function spec(withDataset: boolean, tagged = false): string {
  const datasets = [
    ...(withDataset ? ['  - {path: /data/ds, source: /srv/ds, get: [big.dat]}'] : []),
    ...(tagged ? ['  - {path: /data/tagged, source: /srv/ds, revision: v1}'] : []),
  ];
  return `version: 1
name: dataladdemo
targets:
  first: {docker: {container: ${name}, image: "${BASE_IMAGE}"}}
  second: {docker: {container: ${second}, image: "${image}"}}
os:
  distribution: debian
  release: bookworm
  apt:
    packages: [git, git-annex, datalad]
${datasets.length > 0 ? `datalad:\n${datasets.join('\n')}\n` : ''}`;
}

after(async () => {
  await run(['docker', 'rm', '-f', name, second]);
  await run(['docker', 'rmi', '-f', image]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('datalad: a dataset installed, locked, restored and removed on docker', async (t) => {
  if (!requireOrSkip(t, 'docker')) return;
  const step = steps(t);
  dir = await mkdtemp(join(tmpdir(), 'repro-test-datalad-'));
  const file = join(dir, 'repro.yaml');
  const first = ['-f', file, '--target', 'first'];
  await writeFile(file, spec(true));

  await step('a container with datalad and a source dataset', async () => {
    await startTestContainer(name);
    await sh(
      'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git git-annex datalad >/dev/null',
    );
    await sh(
      [
        'set -e',
        IDENTITY,
        'datalad create /srv/ds >/dev/null',
        'cd /srv/ds',
        'head -c 100000 /dev/urandom > big.dat',
        'datalad save -m big >/dev/null',
      ].join('\n'),
    );
  });

  await step('plan from empty shows the create', async () => {
    const p = expectCode(await repro(dir, [...first, 'plan', '--detailed-exitcode']), 2, 'plan');
    assert.match(p.stdout, /\+ datalad:\/data\/ds/);
  });

  let c1 = '';
  await step('apply installs the dataset at the source HEAD with content, locked', async () => {
    expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 0, 'apply');
    c1 = await head('/srv/ds');
    assert.equal(await head('/data/ds'), c1);
    assert.equal(await present(), 'big.dat');
    await sh('test -f /data/ds/.datalad/config');
    const lock = JSON.parse(await readFile(join(dir, 'repro.lock'), 'utf8')) as {
      resources: Record<string, unknown>;
    };
    assert.deepEqual(lock.resources['datalad:/data/ds'], { commit: c1 });
  });

  await step('a converged target plans no changes in one round trip', async () => {
    const p = expectCode(await repro(dir, [...first, 'plan'], { REPRO_STATS: '1' }), 0, 'plan');
    assert.match(p.stdout, /No changes\./);
    assert.match(p.stderr, /repro: 1 exec round trips/);
  });

  let c2 = '';
  await step('a new commit in the source: apply keeps the lock, --update moves it', async () => {
    await sh(
      [
        'set -e',
        IDENTITY,
        'cd /srv/ds',
        'echo more > more.txt',
        'head -c 50000 /dev/urandom > big2.dat',
        'datalad save -m more >/dev/null',
      ].join('\n'),
    );
    c2 = await head('/srv/ds');
    assert.notEqual(c2, c1);
    const p = expectCode(await repro(dir, [...first, 'plan']), 0, 'plan');
    assert.match(p.stdout, /No changes\./);
    expectCode(await repro(dir, [...first, 'apply', '--update', '--auto-approve']), 0, 'update');
    assert.equal(await head('/data/ds'), c2);
    assert.equal(await present(), 'big.dat');
  });

  await step('moving the checkout out of band is drift; apply restores the commit', async () => {
    await sh(`git -c safe.directory='*' -C /data/ds checkout -q --detach ${c1}`);
    const d = expectCode(await repro(dir, [...first, 'drift', '--detailed-exitcode']), 2, 'drift');
    assert.match(d.stdout, /datalad:\/data\/ds/);
    expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 0, 'apply');
    assert.equal(await head('/data/ds'), c2);
  });

  await step('dropped content is drift; apply gets it back', async () => {
    await sh(
      `${IDENTITY}; cd /data/ds && git -c safe.directory='*' annex drop --force big.dat >/dev/null`,
    );
    assert.equal(await present(), '');
    const d = expectCode(await repro(dir, [...first, 'drift', '--detailed-exitcode']), 2, 'drift');
    assert.match(d.stdout, /content_present/);
    expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 0, 'apply');
    assert.equal(await present(), 'big.dat');
  });

  await step('a dataset with local changes is refused and kept', async () => {
    await sh('echo local > /data/ds/local.txt');
    await sh(`git -c safe.directory='*' -C /data/ds checkout -q --detach ${c1}`);
    const a = expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 1, 'apply');
    assert.match(a.stderr, /repro: dataset \/data\/ds has local changes;/);
    assert.equal(await sh('cat /data/ds/local.txt'), 'local\n');
    assert.equal(await head('/data/ds'), c1);
    await sh('rm /data/ds/local.txt');
    expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 0, 'apply clean');
    assert.equal(await head('/data/ds'), c2);
  });

  await step('a tag revision installs the tagged commit and locks the tag with it', async () => {
    await sh(`${IDENTITY}; git -C /srv/ds tag v1 ${c1}`);
    await writeFile(file, spec(true, true));
    expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 0, 'apply tagged');
    assert.equal(await head('/data/tagged'), c1);
    assert.equal(await head('/data/ds'), c2);
    const lock = JSON.parse(await readFile(join(dir, 'repro.lock'), 'utf8')) as {
      resources: Record<string, unknown>;
    };
    assert.deepEqual(lock.resources['datalad:/data/tagged'], { commit: c1, revision: 'v1' });
  });

  await step('a second target installs the locked commits, not its source HEAD', async () => {
    // The second machine has the same tools and source dataset (an image of the first container
    // without the installed datasets); then its source moves on and its tag moves: the lock wins.
    const c = await run(['docker', 'commit', name, image]);
    assert.equal(c.code, 0, c.stderr);
    const r = await run(
      ['docker', 'run', '-d', '--name', second, '--label', 'repro-test=true'].concat([
        image,
        'sleep',
        'infinity',
      ]),
    );
    assert.equal(r.code, 0, r.stderr);
    // Rewrite the source into the container's own layer: git refuses a local clone whose
    // hardlinked objects straddle overlayfs layers ("hardlink different from source").
    await sh(
      'rm -rf /data && cp -a /srv/ds /srv/ds.new && rm -rf /srv/ds && mv /srv/ds.new /srv/ds',
      second,
    );
    await sh(
      [
        'set -e',
        IDENTITY,
        'cd /srv/ds',
        'echo three > three.txt',
        'datalad save -m three >/dev/null',
        'git tag -f v1 HEAD >/dev/null',
      ].join('\n'),
      second,
    );
    const moved = await head('/srv/ds', second);
    assert.notEqual(moved, c2);
    const secondArgs = ['-f', file, '--target', 'second'];
    expectCode(await repro(dir, [...secondArgs, 'apply', '--auto-approve']), 0, 'apply second');
    assert.equal(await head('/data/ds', second), c2);
    assert.equal(await head('/data/tagged', second), c1);
    const content = await sh(
      `${IDENTITY}; cd /data/ds && git -c safe.directory='*' annex find --in=here big.dat`,
      second,
    );
    assert.equal(content.trim(), 'big.dat');
  });

  await step(
    "a source that cannot be cloned fails with datalad's reason, others recorded",
    async () => {
      await writeFile(
        file,
        spec(true, true).replace(
          'datalad:\n',
          'datalad:\n  - {path: /data/bad, source: /srv/missing}\n',
        ),
      );
      const a = expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 1, 'apply');
      assert.match(a.stderr, /datalad batch failed \[datalad:\/data\/bad\]/);
      assert.match(a.stderr, /install\(error\): \/data\/bad/);
      await sh('test ! -e /data/bad');
      await writeFile(file, spec(true, true));
      const p = expectCode(await repro(dir, [...first, 'plan']), 0, 'plan');
      assert.match(p.stdout, /No changes\./);
    },
  );

  await step('removal from the spec removes the clean dataset', async () => {
    await writeFile(file, spec(false));
    const p = expectCode(await repro(dir, [...first, 'plan']), 0, 'plan');
    assert.match(p.stdout, /- datalad:\/data\/ds/);
    expectCode(await repro(dir, [...first, 'apply', '--auto-approve']), 0, 'apply');
    await sh('test ! -e /data/ds');
    await sh('test -f /srv/ds/.datalad/config');
  });
});

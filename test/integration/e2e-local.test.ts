// The contract on the machine the tests run on. Everything repro touches lives in a temporary
// directory (env file, files, git checkout, run-step output) except one small package, `tree`,
// which is installed and then removed again by destroy (skipped if the host already has it).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, access, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectCode, repro, run, steps } from './cli.js';

let dir = '';
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function sh(cmd: string): Promise<string> {
  const r = await run(['sh', '-c', cmd]);
  if (r.code !== 0) throw new Error(`${cmd}: exit ${r.code}\n${r.stderr}`);
  return r.stdout;
}

test('local: plan, apply, no-op, drift, restore and destroy on this machine', async (t) => {
  const hostHasTree = (
    await run(['dpkg-query', '-W', '-f=${db:Status-Abbrev}', 'tree'])
  ).stdout.startsWith('ii');
  dir = await mkdtemp(join(tmpdir(), 'repro-test-local-'));
  const upstream = join(dir, 'upstream.git');
  await sh(
    `git init -q --bare ${upstream} && git init -q -b main ${dir}/w && cd ${dir}/w && echo one > README && git add README && ` +
      `git -c user.name=t -c user.email=t@e commit -q -m one && git push -q ${upstream} main`,
  );
  const spec = `version: 1
name: local-e2e
targets:
  here: {local: {}}
options:
  env_file: ${dir}/env.sh
os:
  apt:
    packages: [${hostHasTree ? '' : 'tree'}]
env:
  PROJECT: demo
git:
  - {path: ${dir}/src, url: "file://${upstream}", revision: main}
files:
  - {path: ${dir}/etc/app.conf, content: "level=3\\n", mode: "0600"}
run:
  - {name: build, command: 'printf "%s\\n" "$PROJECT" > ${dir}/built', creates: ${dir}/built}
`;
  await writeFile(join(dir, 'repro.yaml'), spec);
  const step = steps(t);
  const state = join(dir, 'state', 'here.json');

  await step('apply converges the machine', async () => {
    expectCode(await repro(dir, ['plan', '--detailed-exitcode']), 2, 'plan');
    expectCode(await repro(dir, ['apply', '--auto-approve']), 0, 'apply');
    if (!hostHasTree) assert.match(await sh('dpkg-query -W tree'), /^tree\t/);
    assert.equal(await readFile(join(dir, 'etc', 'app.conf'), 'utf8'), 'level=3\n');
    assert.equal((await sh(`stat -c %a ${dir}/etc/app.conf`)).trim(), '600');
    assert.equal(await readFile(join(dir, 'built'), 'utf8'), 'demo\n');
    assert.equal(await sh(`. ${dir}/env.sh; printf %s "$PROJECT"`), 'demo');
    assert.equal(
      (await sh(`git -C ${dir}/src rev-parse HEAD`)).trim(),
      (await sh(`git -C ${upstream} rev-parse main`)).trim(),
    );
  });

  await step('a second apply changes nothing, byte for byte', async () => {
    const before = await readFile(state, 'utf8');
    const p = expectCode(
      await repro(dir, ['plan', '--detailed-exitcode'], { REPRO_STATS: '1' }),
      0,
      'plan',
    );
    assert.match(p.stdout, /No changes\./);
    assert.match(p.stderr, /repro: 1 exec round trips/);
    expectCode(await repro(dir, ['apply', '--auto-approve']), 0, 'apply');
    assert.equal(await readFile(state, 'utf8'), before);
  });

  await step('drift: a moved checkout and an edited file, then --accept', async () => {
    await sh(
      `cd ${dir}/w && echo two > README && git -c user.name=t -c user.email=t@e commit -q -am two && git push -q ${upstream} main`,
    );
    await sh(`git -C ${dir}/src pull -q origin main`);
    await chmod(join(dir, 'etc', 'app.conf'), 0o644);
    const d = expectCode(await repro(dir, ['drift', '--detailed-exitcode', '--json']), 2, 'drift');
    const report = JSON.parse(d.stdout);
    assert.deepEqual(
      report.drift.map(
        (x: { address: string; attributes: { name: string }[] }) =>
          `${x.address}:${x.attributes.map((a) => a.name).join(',')}`,
      ),
      [`git:${dir}/src:commit`, `file:${dir}/etc/app.conf:mode`],
    );
    expectCode(await repro(dir, ['drift', '--accept']), 0, 'accept');
    expectCode(await repro(dir, ['drift', '--detailed-exitcode']), 0, 'no drift after accept');
    // The spec still says 0600 and the lock still pins the first commit: apply restores both.
    expectCode(await repro(dir, ['apply', '--auto-approve']), 0, 'apply');
    assert.equal((await sh(`stat -c %a ${dir}/etc/app.conf`)).trim(), '600');
    const lock = JSON.parse(await readFile(join(dir, 'repro.lock'), 'utf8'));
    assert.equal(
      (await sh(`git -C ${dir}/src rev-parse HEAD`)).trim(),
      lock.resources[`git:${dir}/src`].commit,
    );
  });

  await step('destroy removes what repro made and only that', async () => {
    expectCode(await repro(dir, ['destroy', '--auto-approve']), 0, 'destroy');
    await assert.rejects(access(join(dir, 'etc', 'app.conf')));
    await assert.rejects(access(join(dir, 'src')));
    await assert.rejects(access(join(dir, 'env.sh')));
    if (!hostHasTree)
      assert.doesNotMatch(
        (await run(['dpkg-query', '-W', '-f=${db:Status-Abbrev}', 'tree'])).stdout,
        /^ii/,
      );
    assert.deepEqual(JSON.parse(await readFile(state, 'utf8')).resources, {});
  });
});

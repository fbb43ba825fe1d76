// State commands and init on the local target, inside a temporary directory: `state rm` forgets
// without touching the target (and the next apply adopts what is there), `show --json` prints the
// state file as written, `init` writes a spec that validates and refuses to overwrite one.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectCode, repro } from './cli.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test('state rm forgets without touching the target; the next apply adopts it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'repro-test-state-'));
  dirs.push(dir);
  await writeFile(
    join(dir, 'repro.yaml'),
    `version: 1
name: st
targets:
  here: {local: {}}
options:
  env_file: ${dir}/env.sh
env:
  A: one
files:
  - {path: ${dir}/a.conf, content: "a\\n"}
`,
  );
  expectCode(await repro(dir, ['apply', '--auto-approve']), 0, 'apply');
  const file = `file:${dir}/a.conf`;
  const rmOut = expectCode(await repro(dir, ['state', 'rm', file]), 0, 'state rm');
  assert.match(rmOut.stdout, /the target was not changed/);
  assert.deepEqual(
    expectCode(await repro(dir, ['state', 'list']), 0, 'list')
      .stdout.trim()
      .split('\n'),
    ['env:A'],
  );
  await access(join(dir, 'a.conf'));
  const missing = expectCode(await repro(dir, ['state', 'rm', 'file:/nope']), 1, 'rm unknown');
  assert.match(missing.stderr, /records no resource file:\/nope\n {2}hint: see `repro state list`/);
  const plan = expectCode(await repro(dir, ['plan', '--detailed-exitcode']), 0, 'plan');
  assert.match(plan.stdout, /No changes\./);
  expectCode(await repro(dir, ['apply', '--auto-approve']), 0, 'apply records it again');
  const shown = expectCode(await repro(dir, ['show', '--json']), 0, 'show --json');
  const state = JSON.parse(shown.stdout);
  assert.equal(state.resources[file].adopted, true, 'found in place, so it is adopted');
  assert.equal(shown.stdout, await readFile(join(dir, 'state', 'here.json'), 'utf8'));
  // An adopted resource removed from the spec is forgotten, not deleted.
  await writeFile(
    join(dir, 'repro.yaml'),
    (await readFile(join(dir, 'repro.yaml'), 'utf8')).replace(/files:\n.*\n/, ''),
  );
  const apply = expectCode(
    await repro(dir, ['apply', '--auto-approve']),
    0,
    'apply without the file',
  );
  assert.match(apply.stderr, /forgotten \(it was on the target before repro; left in place\)/);
  await access(join(dir, 'a.conf'));
});

test('init writes a spec that validates, and never overwrites one', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'repro-test-init-'));
  dirs.push(dir);
  expectCode(await repro(dir, ['init', '--name', 'My Analysis']), 0, 'init');
  assert.match(await readFile(join(dir, 'repro.yaml'), 'utf8'), /^name: my-analysis$/m);
  expectCode(await repro(dir, ['validate']), 0, 'validate the starter');
  const again = expectCode(await repro(dir, ['init']), 1, 'init again');
  assert.match(again.stderr, /already exists; not overwriting it/);
});

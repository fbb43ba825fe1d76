// Bad input gets a clear one-line error naming what and where, exit 1, no stack trace, and
// nothing is lost: corrupt or future state, stale saved plans, a second concurrent apply, an
// apply killed with SIGKILL mid-batch, a package that does not exist. Local-target cases only
// touch a temporary directory (env file, files and run steps live there).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, expectCode, repro, run } from './cli.js';
import { BASE_IMAGE, requireOrSkip, uniqueName } from './helpers.js';

const dirs: string[] = [];
async function workdir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'repro-test-err-'));
  dirs.push(d);
  return d;
}
const containers: string[] = [];
after(async () => {
  if (containers.length > 0) await run(['docker', 'rm', '-f', ...containers]);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function noStack(stderr: string): void {
  assert.doesNotMatch(stderr, /\n\s+at .+:\d+:\d+\)?\n/, 'no stack trace without --debug');
}

function localSpec(dir: string, runCommand = 'true'): string {
  return `version: 1
name: errs
targets:
  here: {local: {}}
options:
  env_file: ${dir}/env.sh
env:
  A: one
files:
  - {path: ${dir}/out/a.conf, content: "a=1\\n"}
run:
  - {name: step, command: '${runCommand}', creates: ${dir}/out/done}
`;
}

test('--version prints the version in package.json; an unknown option is an error', async () => {
  const dir = await workdir();
  const pkg = JSON.parse(
    await readFile(new URL('../../../package.json', import.meta.url), 'utf8'),
  ) as { version: string };
  const v = expectCode(await repro(dir, ['--version']), 0, '--version');
  assert.equal(v.stdout, `${pkg.version}\n`);
  const bad = expectCode(await repro(dir, ['--versoin']), 1, 'typo');
  assert.match(bad.stderr, /unknown option '--versoin'/);
});

test('bad specs: each problem with file:line:col, all at once, exit 1, no stack', async () => {
  const dir = await workdir();
  await writeFile(
    join(dir, 'repro.yaml'),
    `version: 1
name: bad
targets:
  box: {docker: {container: x, image: "debian:bookworm"}}
os:
  apt:
    packages: ["jq; rm -rf /"]
    pakages: [curl]
env:
  "9BAD": x
`,
  );
  const r = expectCode(await repro(dir, ['validate']), 1, 'validate');
  assert.match(r.stderr, /repro\.yaml:7:16: error: .*jq; rm -rf \//);
  assert.match(
    r.stderr,
    /repro\.yaml:8:5: error: unknown key 'pakages' in os\.apt; did you mean 'packages'\?/,
  );
  assert.match(r.stderr, /repro\.yaml:10:3: error: env: invalid name '9BAD'/);
  assert.match(r.stderr, /Error: the spec has 3 problems\./);
  noStack(r.stderr);
});

test('a dependency cycle names the path; an unknown target lists the targets', async () => {
  const dir = await workdir();
  await writeFile(
    join(dir, 'repro.yaml'),
    `version: 1
name: cyc
targets:
  a: {local: {}}
  b: {local: {}}
files:
  - {path: /tmp/x1, content: "", after: ["file:/tmp/x2"]}
  - {path: /tmp/x2, content: "", after: ["file:/tmp/x1"]}
`,
  );
  const r = expectCode(await repro(dir, ['validate']), 1, 'validate');
  assert.match(
    r.stderr,
    /Error: repro\.yaml:7:5: dependency cycle: file:\/tmp\/x1 -> file:\/tmp\/x2 -> file:\/tmp\/x1/,
  );
  await writeFile(
    join(dir, 'repro.yaml'),
    `version: 1\nname: two\ntargets:\n  a: {local: {}}\n  b: {local: {}}\n`,
  );
  const t = expectCode(await repro(dir, ['--target', 'nope', 'plan']), 1, 'plan');
  assert.match(
    t.stderr,
    /Error: .*repro\.yaml has no target named 'nope'\n {2}hint: targets in this spec: a, b/,
  );
  const amb = expectCode(await repro(dir, ['plan']), 1, 'plan without --target');
  assert.match(amb.stderr, /names 2 targets; choose one with --target/);
  noStack(t.stderr);
});

test('a corrupt or future-version state file is refused and left untouched', async () => {
  const dir = await workdir();
  await writeFile(join(dir, 'repro.yaml'), localSpec(dir));
  await run(['mkdir', '-p', join(dir, 'state')]);
  const statePath = join(dir, 'state', 'here.json');
  await writeFile(statePath, '{"format_version": 1, "lineage": ');
  const r = expectCode(await repro(dir, ['apply', '--auto-approve']), 1, 'apply on corrupt state');
  assert.match(
    r.stderr,
    /Error: state file .*here\.json is not valid JSON .*\n {2}hint: restore it from .*here\.json\.backup/,
  );
  assert.equal(await readFile(statePath, 'utf8'), '{"format_version": 1, "lineage": ');
  noStack(r.stderr);
  await writeFile(statePath, JSON.stringify({ format_version: 7 }));
  const f = expectCode(await repro(dir, ['plan']), 1, 'plan on future state');
  assert.match(f.stderr, /has format version 7, newer than this repro understands/);
});

test('a saved plan applies exactly, once; a stale one is refused in plain words', async () => {
  const dir = await workdir();
  await writeFile(join(dir, 'repro.yaml'), localSpec(dir, `echo ran > ${dir}/out/done`));
  expectCode(await repro(dir, ['plan', '--out', 'p1.json']), 0, 'plan -out');
  expectCode(await repro(dir, ['plan', '-out=p2.json']), 0, 'terraform-style -out=');
  expectCode(await repro(dir, ['apply', 'p1.json']), 0, 'apply saved plan (no prompt needed)');
  assert.equal(await readFile(join(dir, 'out', 'a.conf'), 'utf8'), 'a=1\n');
  const again = expectCode(
    await repro(dir, ['apply', 'p2.json']),
    1,
    'apply a plan made before another apply',
  );
  assert.match(
    again.stderr,
    /Error: saved plan is stale: the target had no state when the plan was made; an apply has run since/,
  );
  expectCode(await repro(dir, ['plan', '--out', 'p4.json']), 0, 'plan against existing state');
  await writeFile(join(dir, 'out', 'a.conf'), 'drifted\n');
  expectCode(await repro(dir, ['apply', '--auto-approve']), 0, 'another apply restores the file');
  const serial = expectCode(
    await repro(dir, ['apply', 'p4.json']),
    1,
    'apply a plan older than the last apply',
  );
  assert.match(
    serial.stderr,
    /Error: saved plan is stale: the target's state changed since the plan was made \(serial \d+ → \d+\): another apply ran/,
  );
  expectCode(await repro(dir, ['plan', '--out', 'p3.json']), 0, 'plan');
  await writeFile(
    join(dir, 'repro.yaml'),
    localSpec(dir, `echo ran > ${dir}/out/done`).replace('A: one', 'A: two'),
  );
  const changed = expectCode(await repro(dir, ['apply', 'p3.json']), 1, 'apply after spec change');
  assert.match(
    changed.stderr,
    /Error: saved plan is stale: .*repro\.yaml changed since the plan was made/,
  );
  noStack(changed.stderr);
});

test('without a TTY, apply refuses to proceed unless --auto-approve', async () => {
  const dir = await workdir();
  await writeFile(join(dir, 'repro.yaml'), localSpec(dir));
  const r = expectCode(await repro(dir, ['apply']), 1, 'apply without tty');
  assert.match(
    r.stderr,
    /refusing to change the target without confirmation: stdin is not a terminal/,
  );
  await assert.rejects(access(join(dir, 'out', 'a.conf')), 'nothing was applied');
});

test('a second concurrent apply fails fast naming the holder; a SIGKILLed apply resumes', async () => {
  const dir = await workdir();
  await writeFile(
    join(dir, 'repro.yaml'),
    localSpec(dir, `echo $$ > ${dir}/sleeper.pid; exec sleep 60`),
  );
  const first = spawn(process.execPath, [CLI, 'apply', '--auto-approve'], {
    cwd: dir,
    stdio: 'ignore',
  });
  const statePath = join(dir, 'state', 'here.json');
  // Wait until the run batch is in flight: state records it as pending.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const text = await readFile(statePath, 'utf8').catch(() => '');
    if (text.includes('"pending"')) break;
    if (Date.now() > deadline) throw new Error(`apply never reached the run batch; state: ${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const second = expectCode(await repro(dir, ['apply', '--auto-approve']), 1, 'second apply');
  assert.match(
    second.stderr,
    new RegExp(`Error: state .*here\\.json is locked by pid ${first.pid} \\(.*\`repro apply\``),
  );
  first.kill('SIGKILL');
  await new Promise((r) => first.on('exit', r));
  const sleeper = Number((await readFile(join(dir, 'sleeper.pid'), 'utf8')).trim());
  process.kill(sleeper, 'SIGKILL'); // the orphaned step we started
  const state = JSON.parse(await readFile(statePath, 'utf8'));
  assert.deepEqual(state.pending, ['run:step'], 'the state is whole and says what was in flight');
  assert.equal(
    state.resources['file:' + join(dir, 'out', 'a.conf')].kind,
    'file',
    'earlier batches were recorded',
  );
  await writeFile(join(dir, 'repro.yaml'), localSpec(dir, `echo ok > ${dir}/out/done`));
  // The dead holder's lock is stale after 30 s; age it rather than wait.
  await run(['touch', '-d', '1 minute ago', `${statePath}.lock`]);
  const p = expectCode(await repro(dir, ['plan']), 0, 'plan after kill');
  assert.match(p.stdout, /Warning: the last apply was interrupted while changing run:step/);
  assert.match(p.stdout, /Plan: 1 to add, 0 to change, 0 to destroy\./);
  expectCode(await repro(dir, ['apply', '--auto-approve']), 0, 'resume');
  const after = JSON.parse(await readFile(statePath, 'utf8'));
  assert.equal(after.pending, undefined);
  assert.equal(await readFile(join(dir, 'out', 'done'), 'utf8'), 'ok\n');
});

test('a package that does not exist: the batch error names it, dependents are not attempted, state stays whole', async (t) => {
  if (!requireOrSkip(t, 'docker')) return;
  const dir = await workdir();
  const name = uniqueName('repro-test-err');
  containers.push(name);
  await writeFile(
    join(dir, 'repro.yaml'),
    `version: 1
name: nopkg
targets:
  box: {docker: {container: ${name}, image: "${BASE_IMAGE}"}}
os:
  apt:
    packages: [tree, nosuchpkg-repro]
files:
  - {path: /etc/after-apt.conf, content: "x\\n"}
`,
  );
  const r = expectCode(await repro(dir, ['apply', '--auto-approve']), 1, 'apply');
  // The failure names the spec position of the package as written (line 7, column 22).
  assert.match(r.stderr, /Error: repro\.yaml:7:22: apt batch failed \[apt:nosuchpkg-repro\]/);
  assert.match(r.stderr, /command failed with exit code 100: .*apt-get .*install/);
  assert.match(r.stderr, /Unable to locate package nosuchpkg-repro/);
  assert.match(
    r.stderr,
    /not attempted: file:\/etc\/after-apt\.conf \(because apt:nosuchpkg-repro failed\)/,
  );
  noStack(r.stderr);
  const state = JSON.parse(await readFile(join(dir, 'state', 'box.json'), 'utf8'));
  assert.equal(state.pending, undefined);
  assert.equal(
    state.resources['apt:tree'],
    undefined,
    'apt installs all or nothing: tree is not there',
  );
  assert.notEqual(
    (await run(['docker', 'exec', name, 'test', '-e', '/etc/after-apt.conf'])).code,
    0,
  );
  await writeFile(
    join(dir, 'repro.yaml'),
    (await readFile(join(dir, 'repro.yaml'), 'utf8')).replace(', nosuchpkg-repro', ''),
  );
  expectCode(await repro(dir, ['apply', '--auto-approve']), 0, 'apply after fixing the spec');
  assert.match(
    (await run(['docker', 'exec', name, 'dpkg-query', '-W', 'tree'])).stdout,
    /^tree\t2\./,
  );
  // A virtual package: apt-get installs a provider under another name and exits 0.
  await writeFile(
    join(dir, 'repro.yaml'),
    (await readFile(join(dir, 'repro.yaml'), 'utf8')).replace(
      'packages: [tree]',
      'packages: [tree, ssh-client]',
    ),
  );
  const v = expectCode(await repro(dir, ['apply', '--auto-approve']), 1, 'apply a virtual package');
  assert.match(
    v.stderr,
    /apt commands succeeded, but apt:ssh-client is not on the target afterwards/,
  );
  assert.match(v.stderr, /hint: a virtual package installs a provider under another name/);
  const after = JSON.parse(await readFile(join(dir, 'state', 'box.json'), 'utf8'));
  assert.equal(after.resources['apt:ssh-client'], undefined, 'nothing false is recorded');
});

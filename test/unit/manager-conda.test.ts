// conda: MatchSpec grammar, conda version order, the probe run for real (sh + grep) on conda-meta
// records recorded by conda itself, diffs, command generation, explicit files, and the contract
// steps (plan from empty, no-op, drift, removal, a second target from the lock) through the pure
// plan engine with the real managers. No conda runs here: no channel is reachable.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Attrs, Change, ManagerKind, Resource } from '../../src/core/types.js';
import {
  compareCondaVersions,
  condaEnvManager,
  condaManager,
  exactPin,
  explicitFile,
  explicitLine,
  parseExplicit,
  parseMatchSpec,
  specMatches,
  type MatchSpec,
} from '../../src/managers/conda.js';
import { getManager, MANAGERS } from '../../src/managers/index.js';
import type { CommandInput } from '../../src/managers/types.js';
import { computeDrift, computePlan, probeItems } from '../../src/plan/compute.js';
import { composeProbe, parseSections, type Live } from '../../src/plan/refresh.js';
import { loadSpec } from '../../src/spec/index.js';
import type { Spec } from '../../src/spec/types.js';
import { SpecError } from '../../src/core/errors.js';
import { emptyLock, type LockFile } from '../../src/state/lock-file.js';
import { newState } from '../../src/state/store.js';
import type { StateFile } from '../../src/state/format.js';
import { buildGraph } from '../../src/graph/build.js';
import { CTX, OUTPUTS, items, readOutput, res } from '../fixtures/outputs/scenarios.js';

const META = join(OUTPUTS, 'conda', 'meta');

function spec(text: string): MatchSpec {
  const p = parseMatchSpec(text);
  assert.ok('spec' in p, `${text}: ${'problem' in p ? p.problem : ''}`);
  return p.spec;
}

test('MatchSpec grammar: accepted forms and what each pins', () => {
  const table: [string, MatchSpec, ReturnType<typeof exactPin>][] = [
    ['numpy', { name: 'numpy', spaced: false }, undefined],
    ['python=3.11', { name: 'python', version: '=3.11', spaced: false }, undefined],
    [
      'numpy=1.26.4=py311h64a7726_0',
      { name: 'numpy', version: '=1.26.4', build: 'py311h64a7726_0', spaced: false },
      { version: '1.26.4', build: 'py311h64a7726_0' },
    ],
    ['numpy==1.26.4', { name: 'numpy', version: '==1.26.4', spaced: false }, { version: '1.26.4' }],
    ['scipy>=1.11', { name: 'scipy', version: '>=1.11', spaced: false }, undefined],
    [
      'scipy>=1.11,<2|==0.9',
      { name: 'scipy', version: '>=1.11,<2|==0.9', spaced: false },
      undefined,
    ],
    [
      'python 3.13.* *_cp313t',
      { name: 'python', version: '3.13.*', build: '*_cp313t', spaced: true },
      undefined,
    ],
    [
      'six 1.11.0 py36_1',
      { name: 'six', version: '1.11.0', build: 'py36_1', spaced: true },
      { version: '1.11.0', build: 'py36_1' },
    ],
    ['_libgcc_mutex', { name: '_libgcc_mutex', spaced: false }, undefined],
    [
      'python_abi=3.13=*_cp313t',
      { name: 'python_abi', version: '=3.13', build: '*_cp313t', spaced: false },
      { version: '3.13' },
    ],
  ];
  for (const [text, want, pin] of table) {
    assert.deepEqual(spec(text), want, text);
    assert.deepEqual(exactPin(spec(text)), pin, text);
  }
});

test('MatchSpec grammar: bad names, versions and build strings say which part and why', () => {
  const table: [string, 'name' | 'version' | 'build', RegExp][] = [
    ['numpy=1.26.4=py311-h64a7726_0', 'build', /build string "py311-h64a7726_0"/],
    ['numpy=1.26.4=py311;rm', 'build', /build string/],
    ["numpy=1.26.4=py311'x", 'build', /build string/],
    ['numpy=1.26-4', 'version', /not a conda version .*no "-"/],
    ['numpy==', 'version', /operator but no version/],
    ['numpy>=1.0,', 'version', /empty term/],
    ['NumPy', 'name', /not a conda package name/],
    ['conda-forge::numpy', 'name', /channels:/],
    ["numpy[version='>=1']", 'name', /bracket/],
    ['numpy 1.2 b extra', 'version', /more than a version and a build/],
    ['numpy>=1 ;reboot', 'version', /spaces/],
  ];
  for (const [text, part, re] of table) {
    const p = parseMatchSpec(text);
    assert.ok('problem' in p, text);
    assert.equal(p.part, part, text);
    assert.match(p.problem, re, text);
  }
});

test("conda versions order as conda's VersionOrder documents", () => {
  // Each line is less than the next, except '=' pairs (from conda's models/version.py docstring).
  const chain: [string, '<' | '='][] = [
    ['0.4', '='],
    ['0.4.0', '<'],
    ['0.4.1.rc', '='],
    ['0.4.1.RC', '<'],
    ['0.4.1', '<'],
    ['0.5a1', '<'],
    ['0.5b3', '<'],
    ['0.5C1', '<'],
    ['0.5', '<'],
    ['0.9.6', '<'],
    ['0.960923', '<'],
    ['1.0', '<'],
    ['1.1dev1', '<'],
    ['1.1a1', '<'],
    ['1.1.0dev1', '='],
    ['1.1.dev1', '<'],
    ['1.1.a1', '<'],
    ['1.1.0rc1', '<'],
    ['1.1.0', '='],
    ['1.1', '<'],
    ['1.1.0post1', '='],
    ['1.1.post1', '<'],
    ['1.1post1', '<'],
    ['1996.07.12', '<'],
    ['1!0.4.1', '<'],
    ['1!3.1.1.6', '<'],
    ['2!0.4.1', '<'],
  ];
  for (let i = 0; i + 1 < chain.length; i++) {
    const [a, rel] = chain[i]!;
    const b = chain[i + 1]![0];
    assert.equal(compareCondaVersions(a, b), rel === '=' ? 0 : -1, `${a} ${rel} ${b}`);
    assert.equal(compareCondaVersions(b, a), rel === '=' ? 0 : 1, `${b} vs ${a}`);
  }
});

test('installed versions against specs', () => {
  const table: [string, string, string, boolean][] = [
    ['python=3.11', '3.11.7', 'h1_0', true],
    ['python=3.11', '3.1', 'h1_0', false],
    ['python=3.1', '3.11.7', 'h1_0', false],
    ['scipy>=1.11', '1.11.4', 'py311_0', true],
    ['scipy>=1.11', '1.10.1', 'py311_0', false],
    ['scipy>=1.11,<2|==0.9', '0.9', 'x', true],
    ['numpy=1.26.4=py311h64a7726_0', '1.26.4', 'py311h64a7726_0', true],
    ['numpy=1.26.4=py311h64a7726_0', '1.26.4', 'py311h64a7726_1', false],
    ['numpy=1.26=py311h64a7726_0', '1.26.4', 'py311h64a7726_0', false],
    ['python 3.13.* *_cp313t', '3.13.2', 'hfd29fff_1_cp313t', true],
    ['python 3.13.* *_cp313t', '3.13.2', 'hfd29fff_1_cp313', false],
    ['pkg~=1.4', '1.4.7', '0', true],
    ['pkg~=1.4', '2.0', '0', false],
    ['pkg!=1.3.*', '1.3.2', '0', false],
  ];
  for (const [text, version, build, want] of table) {
    assert.equal(specMatches(spec(text), version, build), want, `${version}=${build} vs ${text}`);
  }
});

// ---------------------------------------------------------------------------------------------
// A prefix made of conda's own recorded conda-meta records (see test/fixtures/outputs/conda/).

let root = '';
let prefix = '';
let notEnv = '';
let bin = '';

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'repro-test-conda-'));
  prefix = join(root, 'envs', 'analysis');
  await mkdir(join(prefix, 'conda-meta'), { recursive: true });
  for (const f of await readdir(META)) await copyFile(join(META, f), join(prefix, 'conda-meta', f));
  // Constructed: conda writes a history file when it creates an env; only its existence counts.
  await writeFile(join(prefix, 'conda-meta', 'history'), '');
  notEnv = join(root, 'not-an-env');
  await mkdir(notEnv);
  await writeFile(join(notEnv, 'x'), 'x');
  // Constructed: a stand-in `conda` where an install under ROOT/envs/NAME keeps it (ROOT/bin).
  bin = join(root, 'bin');
  await mkdir(bin);
  await writeFile(join(bin, 'conda'), '#!/bin/sh\nexit 0\n');
  await chmod(join(bin, 'conda'), 0o755);
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Runs the composed probe of these resources with sh, as refresh does, and parses it. */
function probe(resources: readonly Resource[], state?: StateFile): Live {
  const groups = probeItems(resources, state);
  const script = composeProbe(groups, MANAGERS, CTX);
  const r = spawnSync('/bin/sh', ['-s'], {
    input: script,
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin', HOME: root },
    timeout: 20000,
  });
  assert.equal(r.status, 0, r.stderr);
  return parseSections(r.stdout, groups, MANAGERS, CTX);
}

function envRes(p: string, specs: string[], extra: Attrs = {}): Resource {
  return res('conda-env', p, { prefix: p, specs, ...extra });
}

function pkgRes(p: string, text: string, extra: Attrs = {}): Resource {
  const name = /^[^\s=<>!~]+/.exec(text)![0];
  return res('conda', `${p}:${name}`, { prefix: p, name, spec: text, ...extra });
}

test('probe: conda-meta records read with grep, nested sha256 ignored, tool found beside the env', () => {
  const env = envRes(prefix, ['six']);
  const live = probe([
    env,
    envRes(join(root, 'absent'), ['six']),
    envRes(notEnv, ['six']),
    pkgRes(prefix, 'six'),
    pkgRes(prefix, 'libzlib'),
    pkgRes(prefix, 'python_abi'),
    pkgRes(prefix, 'numpy'),
  ]);
  const e = live.live.get(env.address)!;
  assert.deepEqual(e['packages'], {
    libzlib: '1.3.1=h8359307_2',
    python_abi: '3.13=5_cp313t',
    six: '1.11.0=py36_1',
  });
  assert.deepEqual(e['records'], [
    {
      name: 'libzlib',
      version: '1.3.1',
      build: 'h8359307_2',
      channel: 'https://conda.anaconda.org/conda-forge/osx-arm64',
      subdir: 'osx-arm64',
      url: 'https://conda.anaconda.org/conda-forge/osx-arm64/libzlib-1.3.1-h8359307_2.conda',
      md5: '369964e85dc26bfe78f41399b366c435',
      sha256: 'ce34669eadaba351cd54910743e6a2261b67009624dbc7daeeafdef93616711b',
    },
    {
      name: 'python_abi',
      version: '3.13',
      build: '5_cp313t',
      channel: 'https://conda.anaconda.org/conda-forge/osx-arm64',
      subdir: 'osx-arm64',
      url: 'https://conda.anaconda.org/conda-forge/osx-arm64/python_abi-3.13-5_cp313t.conda',
      md5: '24a9a05eba65586da53ad7b56a06dc02',
      sha256: '2165466ff175e1890b66d079d64449a1b6dd9873fb0f5e977839ccc4639b813b',
    },
    {
      // This 2018 record has no top-level sha256; the sha256 keys of its paths_data are not it.
      name: 'six',
      version: '1.11.0',
      build: 'py36_1',
      channel: 'https://repo.anaconda.com/pkgs/main/osx-64',
      subdir: 'osx-64',
      url: 'https://repo.anaconda.com/pkgs/main/osx-64/six-1.11.0-py36_1.tar.bz2',
      md5: 'f2011bae36776142829b5eb6183c1e29',
    },
  ]);
  assert.equal(live.live.has(`conda-env:${join(root, 'absent')}`), false);
  assert.equal(live.live.has(`conda-env:${notEnv}`), false);
  const facts = live.facts.get('conda-env')!;
  assert.deepEqual(facts['tool'], { name: 'conda', path: join(bin, 'conda') });
  assert.equal(e['tool'], 'conda', 'the choice is recorded with the env');
  assert.deepEqual(facts['not_env'], [notEnv]);
  assert.deepEqual(live.live.get(`conda:${prefix}:six`), {
    prefix,
    name: 'six',
    version: '1.11.0',
    build: 'py36_1',
    channel: 'https://repo.anaconda.com/pkgs/main/osx-64',
  });
  assert.equal(live.live.has(`conda:${prefix}:numpy`), false);
  // Without any tool the fact says so; a forged line in the output cannot add a package.
  const forged = condaManager.parseProbe(
    'P\t0\tnot base64!\nP\t7\tAAAA\nsix.json:  "name": "six",\n',
    items([pkgRes(prefix, 'six')]),
    CTX,
  );
  assert.equal(forged.live.size, 0);
});

test('probe: a record this parser cannot read is counted and said, not silently dropped', async () => {
  const p = join(root, 'envs', 'one-line');
  await mkdir(join(p, 'conda-meta'), { recursive: true });
  await writeFile(join(p, 'conda-meta', 'history'), '');
  await copyFile(
    join(META, 'six-1.11.0-py36_1.json'),
    join(p, 'conda-meta', 'six-1.11.0-py36_1.json'),
  );
  // Constructed: a record written on one line, a layout no recorded writer was seen to use.
  await writeFile(
    join(p, 'conda-meta', 'zlib-1.3.1-0.json'),
    '{"build":"0","name":"zlib","version":"1.3.1"}',
  );
  const r = envRes(p, ['six', 'zlib']);
  const live = probe([r]);
  assert.deepEqual(live.live.get(r.address)?.['packages'], { six: '1.11.0=py36_1' });
  const facts = live.facts.get('conda-env')!;
  assert.deepEqual(facts['unread_records'], { [p]: 1 });
  const c = condaEnvManager.diff({
    resource: r,
    live: live.live.get(r.address),
    facts,
    update: false,
  });
  assert.match(c.reason ?? '', /1 conda-meta record\(s\) in .* could not be read/);
});

test('conda-env diff: create (solved, or explicit from a complete lock), noop, install, remove, --update', () => {
  const lockOf = (live: Attrs): Attrs => condaEnvManager.lockEntry(envRes(prefix, []), live)!;
  const live = probe([envRes(prefix, ['six'])]).live.get(`conda-env:${prefix}`)!;
  const locked = lockOf(live);
  const specs = ['six', 'libzlib=1.3.1', 'python_abi 3.13.* *_cp313t'];
  const r = envRes(prefix, specs, { channels: ['conda-forge'] });
  const d = (o: Partial<Parameters<typeof condaEnvManager.diff>[0]>): Change =>
    condaEnvManager.diff({ resource: r, facts: {}, update: false, ...o });

  const fresh = d({});
  assert.equal(fresh.action, 'create');
  assert.deepEqual(fresh.after, { prefix, install: specs });
  assert.deepEqual(fresh.afterUnknown, ['packages']);

  const fromLock = d({ locked });
  assert.equal(fromLock.action, 'create');
  assert.equal(fromLock.afterUnknown, undefined);
  assert.deepEqual(fromLock.after?.['explicit'], [
    'https://conda.anaconda.org/conda-forge/osx-arm64/libzlib-1.3.1-h8359307_2.conda#369964e85dc26bfe78f41399b366c435',
    'https://conda.anaconda.org/conda-forge/osx-arm64/python_abi-3.13-5_cp313t.conda#24a9a05eba65586da53ad7b56a06dc02',
    'https://repo.anaconda.com/pkgs/main/osx-64/six-1.11.0-py36_1.tar.bz2#f2011bae36776142829b5eb6183c1e29',
  ]);
  assert.match(fromLock.reason ?? '', /from the lock: 3 packages/);
  // A lock that no longer meets the spec is not used: the tool solves.
  const stricter = envRes(prefix, ['six>=1.12']);
  assert.equal(
    condaEnvManager
      .diff({ resource: stricter, locked, facts: {}, update: false })
      .after?.['install']?.toString(),
    'six>=1.12',
  );
  assert.equal(
    d({ locked, update: true }).after?.['explicit'],
    undefined,
    '--update ignores the lock',
  );

  assert.equal(d({ live, locked }).action, 'noop');
  const recorded = condaEnvManager.record(r, live, undefined)!;
  assert.deepEqual(recorded['managed'], ['libzlib', 'python_abi', 'six']);
  assert.equal(recorded['records'], undefined, 'state keeps the compact map, the lock the records');

  const more = d({ live: { ...live, packages: { six: '1.11.0=py36_1' } }, locked });
  assert.equal(more.action, 'update');
  assert.deepEqual(more.after?.['install'], [
    'libzlib=1.3.1=h8359307_2',
    'python_abi=3.13=5_cp313t',
  ]);

  const drifted = d({
    live: { ...live, packages: { ...(live['packages'] as Attrs), six: '1.10.0=py36_0' } },
    locked,
  });
  assert.deepEqual(drifted.after?.['install'], ['six=1.11.0=py36_1']);
  assert.match(drifted.reason ?? '', /six 1\.10\.0=py36_0 → 1\.11\.0=py36_1/);

  const fewer = condaEnvManager.diff({
    resource: envRes(prefix, ['libzlib', 'python_abi']),
    live,
    locked,
    recorded,
    facts: {},
    update: false,
  });
  assert.equal(fewer.action, 'update');
  assert.deepEqual(fewer.after?.['remove'], ['six']);

  const pinned = envRes(prefix, ['six', 'libzlib=1.3.1=h8359307_2', 'python_abi']);
  const upd = condaEnvManager.diff({ resource: pinned, live, locked, facts: {}, update: true });
  assert.deepEqual(
    upd.after?.['update'],
    ['python_abi', 'six'],
    'unpinned specs re-resolve; pins stay',
  );

  const gone = condaEnvManager.diff({ live, recorded, facts: {}, update: false });
  assert.deepEqual([gone.action, gone.address], ['delete', `conda-env:${prefix}`]);
  const notEnvCreate = condaEnvManager.diff({
    resource: envRes(notEnv, ['six']),
    facts: { not_env: [notEnv] },
    update: false,
  });
  assert.match(notEnvCreate.reason ?? '', /exists but is not a conda env/);
  const noTool = d({ facts: { tool: { name: null, path: null }, not_env: [] } });
  assert.match(noTool.reason ?? '', /no micromamba, mamba or conda was found on the target/);
});

test('conda diff: pin ?? lock ?? solver; unmet spec → update; removal is the env’s', () => {
  const live = (version: string, build: string): Attrs => ({
    prefix,
    name: 'numpy',
    version,
    build,
  });
  const d = (text: string, o: { live?: Attrs; locked?: Attrs; update?: boolean } = {}): Change =>
    condaManager.diff({ resource: pkgRes(prefix, text), facts: {}, update: false, ...o });
  const table: [Change, string, string | undefined][] = [
    [d('numpy'), 'create', undefined],
    [d('numpy', { locked: { version: '1.26.4', build: 'b_0' } }), 'create', '1.26.4'],
    [
      d('numpy=1.26.4=py311h64a7726_0', { locked: { version: '1.25.0', build: 'b_0' } }),
      'create',
      '1.26.4',
    ],
    [d('numpy', { live: live('1.26.4', 'b_0') }), 'noop', '1.26.4'],
    [
      d('numpy', { live: live('1.26.3', 'b_0'), locked: { version: '1.26.4', build: 'b_0' } }),
      'update',
      '1.26.4',
    ],
    [d('numpy>=2', { live: live('1.26.4', 'b_0') }), 'update', undefined],
    [d('numpy', { live: live('1.26.4', 'b_0'), update: true }), 'update', undefined],
    [d('numpy==1.26.4', { live: live('1.26.4', 'b_0'), update: true }), 'noop', '1.26.4'],
  ];
  table.forEach(([c, action, version], i) => {
    assert.equal(c.action, action, `row ${i}`);
    if (version === undefined) assert.ok(c.afterUnknown?.includes('version'), `row ${i}`);
    else assert.equal(c.after?.['version'], version, `row ${i}`);
  });
  const gone = condaManager.diff({
    live: live('1', 'b'),
    recorded: live('1', 'b'),
    facts: {},
    update: false,
  });
  assert.deepEqual([gone.action, gone.address], ['delete', `conda:${prefix}:numpy`]);
  assert.equal(condaManager.record(undefined, live('1', 'b'), undefined), undefined);
  assert.deepEqual(condaManager.lockEntry(pkgRes(prefix, 'numpy'), live('1.26.4', 'b_0')), {
    version: '1.26.4',
    build: 'b_0',
  });
  assert.equal(
    condaManager.lockEntry(pkgRes(prefix, 'numpy=1.26.4=b_0'), live('1.26.4', 'b_0')),
    undefined,
  );

  // Commands: none for what the env's transaction does; `--update` of packages alone re-resolves.
  const env = envRes(prefix, ['numpy', 'scipy>=2'], { tool: 'mamba', channels: ['conda-forge'] });
  const numpy = pkgRes(prefix, 'numpy');
  const scipy = pkgRes(prefix, 'scipy>=2');
  const input = (changes: Change[], changed: ManagerKind[] = []): CommandInput => ({
    changes,
    resources: new Map([env, numpy, scipy].map((r) => [r.address, r])),
    facts: {},
    changedKinds: new Set(changed),
    ctx: CTX,
  });
  const reresolve = condaManager.diff({
    resource: numpy,
    live: live('1.26.4', 'b_0'),
    facts: {},
    update: true,
  });
  const unmet = condaManager.diff({
    resource: scipy,
    live: { prefix, name: 'scipy', version: '1.11.4', build: 'b_0' },
    facts: {},
    update: false,
  });
  const created = condaManager.diff({ resource: numpy, facts: {}, update: false });
  assert.deepEqual(condaManager.commands(input([created, unmet])), []);
  const cmds = condaManager.commands(input([reresolve, unmet]));
  assert.equal(cmds.length, 1);
  assert.equal(
    cmds[0]!.script.split('\n').at(-1),
    `"$_r_tool" update -y -p ${prefix} -c conda-forge numpy`,
  );
  assert.match(cmds[0]!.script, /command -v mamba/);
  assert.deepEqual(condaManager.commands(input([reresolve], ['conda-env'])), []);
});

function envCommands(changes: Change[], resources: readonly Resource[]): string[] {
  return condaEnvManager
    .commands({
      changes,
      resources: new Map(resources.map((r) => [r.address, r])),
      facts: {},
      changedKinds: new Set<ManagerKind>(),
      ctx: CTX,
    })
    .map((c) => c.script);
}

test('conda-env commands: one create or one remove+install per env, every value quoted', () => {
  const p = '/opt/my envs/analysis';
  const r = envRes(p, ['numpy=1.26.4=py311h64a7726_0', 'scipy>=1.11', 'python 3.11.* *_cpython'], {
    channels: ['conda-forge', 'https://conda.anaconda.org/bioconda'],
    override_channels: true,
    tool: 'micromamba',
  });
  const create = envCommands(
    [{ address: r.address, kind: 'conda-env', action: 'create', after: { prefix: p } }],
    [r],
  )[0]!;
  assert.equal(
    create.split('\n').at(-1),
    `"$_r_tool" create -y -p '/opt/my envs/analysis' --override-channels -c conda-forge -c ` +
      `https://conda.anaconda.org/bioconda numpy=1.26.4=py311h64a7726_0 'scipy>=1.11' 'python 3.11.* *_cpython'`,
  );
  assert.match(create, /exists but is not a conda env/);
  assert.match(create, /command -v micromamba/);
  assert.doesNotMatch(create, /command -v conda/, 'tool: micromamba looks for micromamba only');
  assert.match(create, /repro: micromamba was not found on the target/);

  const upd = envCommands(
    [
      {
        address: r.address,
        kind: 'conda-env',
        action: 'update',
        before: { prefix: p },
        after: { prefix: p, install: ['scipy>=1.11'], remove: ['pandas'], update: ['numpy'] },
      },
    ],
    [r],
  )[0]!;
  assert.deepEqual(upd.split('\n').slice(-3), [
    `"$_r_tool" remove -y -p '/opt/my envs/analysis' pandas`,
    `"$_r_tool" install -y -p '/opt/my envs/analysis' --override-channels -c conda-forge -c https://conda.anaconda.org/bioconda 'scipy>=1.11'`,
    `"$_r_tool" update -y -p '/opt/my envs/analysis' --override-channels -c conda-forge -c https://conda.anaconda.org/bioconda numpy`,
  ]);

  const explicit = [
    'https://conda.anaconda.org/conda-forge/osx-arm64/libzlib-1.3.1-h8359307_2.conda#369964e85dc26bfe78f41399b366c435',
    'https://repo.anaconda.com/pkgs/main/osx-64/six-1.11.0-py36_1.tar.bz2#f2011bae36776142829b5eb6183c1e29',
  ];
  const fromLock = envCommands(
    [{ address: r.address, kind: 'conda-env', action: 'create', after: { prefix: p, explicit } }],
    [r],
  )[0]!;
  // The explicit file the script writes, as sh writes it.
  const printf = fromLock.split('\n').find((l) => l.startsWith("printf '%s\\n' @EXPLICIT"))!;
  const written = spawnSync('/bin/sh', ['-c', printf.replace(/ > "\$_r_f"$/, '')], {
    encoding: 'utf8',
  });
  assert.equal(written.stdout, ['@EXPLICIT', ...explicit, ''].join('\n'));
  assert.match(
    fromLock,
    /"\$_r_tool" create -y -p '\/opt\/my envs\/analysis' --file "\$_r_f" \|\| _r_rc=\$\?/,
  );
  // A lock edited to smuggle shell or extra lines is refused before anything runs.
  for (const bad of [
    "https://x/a.conda#0123'; id #",
    'https://x/a.conda\n@EXPLICIT',
    'ftp://x/a.conda#' + '0'.repeat(32),
  ]) {
    assert.throws(() =>
      envCommands(
        [
          {
            address: r.address,
            kind: 'conda-env',
            action: 'create',
            after: { prefix: p, explicit: [bad] },
          },
        ],
        [r],
      ),
    );
  }
  const del = envCommands(
    [{ address: r.address, kind: 'conda-env', action: 'delete', before: { prefix: p } }],
    [],
  )[0]!;
  assert.equal(
    del,
    `if [ -f '/opt/my envs/analysis'/conda-meta/history ]; then rm -rf '/opt/my envs/analysis'; fi`,
  );
  // Specs that slipped past check() are refused by commands() too.
  assert.throws(() =>
    envCommands(
      [{ address: r.address, kind: 'conda-env', action: 'create', after: { prefix: p } }],
      [envRes(p, ['numpy=1=py;id'])],
    ),
  );
});

test('explicit files: the lines conda-lock wrote round-trip through the lock format', () => {
  const text = readOutput('conda/conda-lock-explicit-head.txt');
  const entries = parseExplicit(text);
  assert.equal(entries.length, 7);
  const urlLines = text.split('\n').filter((l) => l.startsWith('https://'));
  assert.deepEqual(
    entries.map((e) => explicitLine({ name: 'x', ...e })),
    urlLines,
  );
  const file = explicitFile([
    { name: 'babel', subdir: 'noarch', ...entries[1]! },
    { name: 'python', subdir: 'linux-64', ...entries[6]! },
    { name: 'libzlib', subdir: 'linux-64', ...entries[5]! },
  ]);
  assert.deepEqual(file.split('\n'), ['@EXPLICIT', urlLines[5], urlLines[6], urlLines[1], '']);
  assert.equal(
    explicitLine({ name: 'x', url: 'https://h/x.conda', sha256: 'a'.repeat(64) }),
    `https://h/x.conda#sha256:${'a'.repeat(64)}`,
  );
});

// ---------------------------------------------------------------------------------------------
// The contract through the pure plan engine: real managers, a spec loaded from YAML, live state
// from the probe run on the recorded records.

async function loadConda(packages: string[], p = prefix): Promise<Spec> {
  const dir = await mkdtemp(join(tmpdir(), 'repro-test-conda-spec-'));
  try {
    const yaml =
      'version: 1\nname: c\ntargets:\n  t: {local: {}}\nconda:\n' +
      `  - prefix: ${p}\n    channels: [conda-forge]\n    packages: [${packages.map((x) => JSON.stringify(x)).join(', ')}]\n`;
    await writeFile(join(dir, 'repro.yaml'), yaml);
    return await loadSpec(join(dir, 'repro.yaml'), { check: (r) => getManager(r.kind).check(r) });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function plan(s: Spec, state: StateFile | undefined, lock: LockFile, live: Live) {
  return computePlan({
    spec: s,
    targetName: 't',
    provider: 'local',
    state,
    lock,
    live,
    managers: MANAGERS,
    update: undefined,
  });
}

/** State and lock as apply would leave them after converging `s` on a target showing `live`. */
function converged(s: Spec, live: Live): { state: StateFile; lock: LockFile } {
  const resources: Record<string, StateFile['resources'][string]> = {};
  const locked: Record<string, Attrs> = {};
  for (const r of s.resources) {
    const m = getManager(r.kind);
    const now = live.live.get(r.address);
    const attrs = m.record(r, now, undefined);
    if (attrs) resources[r.address] = { kind: r.kind, attributes: attrs };
    const entry = now ? m.lockEntry(r, now) : undefined;
    if (entry) locked[r.address] = entry;
  }
  return {
    state: { ...newState('t', 'local', s.digest), resources },
    lock: { ...emptyLock(), resources: locked },
  };
}

test('spec: conda entries become an env and one package each, env before its packages', async () => {
  const s = await loadConda(['six', 'libzlib=1.3.1']);
  assert.deepEqual(
    s.resources.map((r) => [r.address, r.desired]),
    [
      [
        `conda-env:${prefix}`,
        { prefix, channels: ['conda-forge'], specs: ['six', 'libzlib=1.3.1'] },
      ],
      [
        `conda:${prefix}:libzlib`,
        { prefix, channels: ['conda-forge'], name: 'libzlib', spec: 'libzlib=1.3.1' },
      ],
      [`conda:${prefix}:six`, { prefix, channels: ['conda-forge'], name: 'six', spec: 'six' }],
    ],
  );
  const g = buildGraph(s.resources);
  assert.deepEqual(
    g.dag
      .edges()
      .filter((e) => e.to === `conda:${prefix}:six`)
      .map((e) => `${e.from} ${e.kind}`),
    [`conda-env:${prefix} provides`],
  );
});

test('spec: a bad build string is an error naming the address and file:line:col', async () => {
  const err = await loadConda(['six', 'numpy=1.26.4=py311-h64a7726_0']).catch((e: unknown) => e);
  assert.ok(err instanceof SpecError);
  assert.deepEqual(
    err.diagnostics.map((d) => `${d.at?.line}:${d.at?.col} ${d.address} ${d.message}`),
    [
      `8:23 conda:${prefix}:numpy invalid conda spec "numpy=1.26.4=py311-h64a7726_0": build string "py311-h64a7726_0" may only contain letters, digits and _ . + (and * as a wildcard)`,
    ],
  );
  assert.match(err.diagnostics[0]!.hint ?? '', /py311h64a7726_0/);
  const schemaErr = await loadConda(['']).catch((e: unknown) => e);
  assert.ok(schemaErr instanceof SpecError);
});

test('contract: plan from empty, no-op, drift, removal, and a second target from the lock', async () => {
  const s = await loadConda(['six', 'libzlib=1.3.1', 'python_abi']);
  const env = `conda-env:${prefix}`;

  // 1. A target without the env: the env is created and solved, each package created.
  const absent = await loadConda(['six', 'libzlib=1.3.1', 'python_abi'], join(root, 'fresh'));
  const p0 = plan(absent, undefined, emptyLock(), probe(absent.resources));
  assert.deepEqual(
    p0.changes.map((c) => `${c.action} ${c.address}`),
    [
      `create conda-env:${join(root, 'fresh')}`,
      `create conda:${join(root, 'fresh')}:libzlib`,
      `create conda:${join(root, 'fresh')}:python_abi`,
      `create conda:${join(root, 'fresh')}:six`,
    ],
  );
  assert.deepEqual(p0.summary, { add: 4, change: 0, destroy: 0 });

  // 2. The target holds exactly the spec (the recorded records): converged, nothing to do.
  const live = probe(s.resources);
  const { state, lock } = converged(s, live);
  const p1 = plan(s, state, lock, live);
  assert.deepEqual(p1.summary, { add: 0, change: 0, destroy: 0 });
  assert.ok(p1.changes.every((c) => c.action === 'noop'));
  // Apply records a noop and re-takes its lock entry from the change's `before`: unchanged.
  for (const c of p1.changes) {
    const r = s.resources.find((x) => x.address === c.address)!;
    assert.deepEqual(getManager(c.kind).lockEntry(r, c.before!), lock.resources[c.address]);
    assert.deepEqual(
      getManager(c.kind).record(r, c.before, undefined),
      state.resources[c.address]!.attributes,
    );
  }
  assert.equal((lock.resources[env]!['packages'] as Attrs[]).length, 3);
  assert.deepEqual(lock.resources[`conda:${prefix}:six`], { version: '1.11.0', build: 'py36_1' });

  // 3. Drift: six changed behind repro's back (state says what apply left, the target differs).
  const moved = structuredClone(state);
  moved.resources[`conda:${prefix}:six`]!.attributes['version'] = '1.12.0';
  const drift = computeDrift(moved, live, MANAGERS);
  assert.deepEqual(
    drift.map(
      (d) =>
        `${d.status} ${d.address} ${d.attributes.map((a) => `${a.name}:${String(a.recorded)}→${String(a.live)}`).join(',')}`,
    ),
    [`changed conda:${prefix}:six version:1.12.0→1.11.0`],
  );
  // …and the lock restores it with one exact install in the env's transaction.
  const movedPackages = structuredClone(lock.resources[env]!['packages']) as Attrs[];
  const lockMoved: LockFile = {
    ...lock,
    resources: {
      ...lock.resources,
      [`conda:${prefix}:six`]: { version: '1.12.0', build: 'py36_0' },
      [env]: { packages: movedPackages },
    },
  };
  movedPackages[2] = {
    name: 'six',
    version: '1.12.0',
    build: 'py36_0',
    url: 'https://repo.anaconda.com/pkgs/main/osx-64/six-1.12.0-py36_0.tar.bz2',
    md5: 'f'.repeat(32),
  };
  const p2 = plan(s, moved, lockMoved, live);
  const envChange = p2.changes.find((c) => c.address === env)!;
  assert.deepEqual(envChange.after?.['install'], ['six=1.12.0=py36_0']);
  assert.equal(p2.changes.find((c) => c.address === `conda:${prefix}:six`)!.action, 'update');

  // 4. Removal: six leaves the spec; the env removes it, the package is deleted.
  const fewer = await loadConda(['libzlib=1.3.1', 'python_abi']);
  const p3 = plan(fewer, state, lock, live);
  assert.deepEqual(
    p3.changes.filter((c) => c.action !== 'noop').map((c) => `${c.action} ${c.address}`),
    [`update ${env}`, `delete conda:${prefix}:six`],
  );
  assert.deepEqual(p3.changes.find((c) => c.address === env)!.after?.['remove'], ['six']);

  // 5. A second target from the lock: no env there; created from the explicit URLs and hashes,
  //    every package at its locked version and build, nothing left to the solver.
  const second = await loadConda(['six', 'libzlib=1.3.1', 'python_abi'], join(root, 'second'));
  const secondLock: LockFile = {
    ...emptyLock(),
    resources: Object.fromEntries(
      Object.entries(lock.resources).map(([a, v]) => [a.replace(prefix, join(root, 'second')), v]),
    ),
  };
  const p4 = plan(second, undefined, secondLock, probe(second.resources));
  const create = p4.changes.find((c) => c.kind === 'conda-env')!;
  assert.equal(create.action, 'create');
  assert.equal(create.afterUnknown, undefined);
  assert.equal((create.after?.['explicit'] as string[]).length, 3);
  for (const c of p4.changes.filter((x) => x.kind === 'conda')) {
    assert.equal(c.afterUnknown, undefined, c.address);
  }
  assert.equal(
    p4.changes.find((c) => c.address.endsWith(':python_abi'))!.after?.['build'],
    '5_cp313t',
  );
  const script = envCommands([create], second.resources)[0]!;
  assert.match(script, /--file "\$_r_f"/);
  assert.match(script, /six-1\.11\.0-py36_1\.tar\.bz2#f2011bae36776142829b5eb6183c1e29/);
});

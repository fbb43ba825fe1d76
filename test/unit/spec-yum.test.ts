// The spec side of yum/dnf: os.yum and the distribution-neutral os.packages normalize to exact
// resources; the OS package manager must fit os.distribution; bad package strings are reported at
// their file:line:col with the address; the graph orders repositories before packages.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { formatSourceRef, SpecError } from '../../src/core/errors.js';
import { buildGraph } from '../../src/graph/build.js';
import { getManager } from '../../src/managers/index.js';
import { loadSpec } from '../../src/spec/index.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function specFile(text: string, files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'repro-test-spec-yum-'));
  dirs.push(dir);
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), content);
  }
  const file = path.join(dir, 'repro.yaml');
  await writeFile(file, `version: 1\nname: demo\ntargets:\n  here: {local: {}}\n${text}`);
  return file;
}

const load = (file: string) => loadSpec(file, { check: (r) => getManager(r.kind).check(r) });

async function problems(file: string): Promise<string[]> {
  try {
    await load(file);
  } catch (err) {
    assert.ok(err instanceof SpecError, `expected SpecError, got ${String(err)}`);
    return err.diagnostics.map(
      (d) =>
        `${d.at ? formatSourceRef(d.at).replace(/^.*repro\.yaml:/, '') : '-'} ${d.message}${d.address ? ` [${d.address}]` : ''}`,
    );
  }
  assert.fail('loaded without errors');
}

test('os.yum normalizes repositories and every package form', async () => {
  const key = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nabc\n-----END PGP PUBLIC KEY BLOCK-----\n';
  const file = await specFile(
    `os:
  distribution: rocky
  yum:
    install_weak_deps: true
    repos:
      - {name: extra, baseurl: "https://example.org/el9/", gpgkey: keys/extra.asc}
      - {name: epel, baseurl: "https://example.org/epel/", gpgkey: "https://example.org/KEY", enabled: false}
    packages:
      - tree
      - tree-devel-1.8.0
      - "bind-utils-32:9.16.23-14.el9.x86_64"
      - glibc.i686
      - {name: jq, version: "1.6-17.el9"}
      - {name: perl, epoch: 4, version: "5.32.1", release: "480.el9", arch: x86_64}
`,
    { 'keys/extra.asc': key },
  );
  const spec = await load(file);
  const byAddr = Object.fromEntries(spec.resources.map((r) => [r.address, r.desired]));
  assert.deepEqual(byAddr, {
    'yum-repo:epel': {
      name: 'epel',
      baseurl: 'https://example.org/epel/',
      enabled: false,
      gpgkey: 'https://example.org/KEY',
    },
    'yum-repo:extra': {
      name: 'extra',
      baseurl: 'https://example.org/el9/',
      key_sha256: createHash('sha256').update(key).digest('hex'),
    },
    'yum:bind-utils': {
      name: 'bind-utils',
      epoch: '32',
      version: '9.16.23',
      release: '14.el9',
      arch: 'x86_64',
    },
    'yum:glibc': { name: 'glibc', arch: 'i686' },
    'yum:jq': { name: 'jq', version: '1.6', release: '17.el9' },
    'yum:perl': { name: 'perl', version: '5.32.1', release: '480.el9', arch: 'x86_64', epoch: '4' },
    'yum:tree': { name: 'tree' },
    'yum:tree-devel': { name: 'tree-devel', version: '1.8.0' },
  });
  assert.equal(spec.ctx.yumInstallWeakDeps, true);
  assert.ok(
    spec.resources.find((r) => r.address === 'yum-repo:extra')?.payload?.equals(Buffer.from(key)),
  );
});

test('os.packages goes to apt on debian and to yum on an RPM family', async () => {
  const deb = await load(
    await specFile('os:\n  distribution: debian\n  packages: [jq, "tree=2.1.0-1"]\n'),
  );
  assert.deepEqual(
    deb.resources.map((r) => [r.address, r.desired]),
    [
      ['apt:jq', { name: 'jq' }],
      ['apt:tree', { name: 'tree', version: '2.1.0-1' }],
    ],
  );
  const rpm = await load(
    await specFile(
      'os:\n  distribution: fedora\n  packages: [jq, tree-2.1.0-1.fc39, {name: git, version: "2.43.0"}]\n',
    ),
  );
  assert.deepEqual(
    rpm.resources.map((r) => [r.address, r.desired]),
    [
      ['yum:git', { name: 'git', version: '2.43.0' }],
      ['yum:jq', { name: 'jq' }],
      ['yum:tree', { name: 'tree', version: '2.1.0', release: '1.fc39' }],
    ],
  );
});

test('the OS package manager must fit the distribution, reported where it is written', async () => {
  assert.deepEqual(
    await problems(await specFile('os:\n  distribution: almalinux\n  apt:\n    packages: [jq]\n')),
    ['7:3 os.apt: almalinux is an RPM distribution, which has no apt'],
  );
  assert.deepEqual(
    await problems(await specFile('os:\n  distribution: ubuntu\n  yum:\n    packages: [jq]\n')),
    ['7:3 os.yum: ubuntu uses apt, not yum/dnf'],
  );
  assert.deepEqual(await problems(await specFile('os:\n  packages: [jq]\n')), [
    '6:3 os.packages: needs os.distribution to choose apt or yum',
  ]);
});

test('bad package strings and repositories are reported with position and address', async () => {
  const file = await specFile(`os:
  distribution: fedora
  yum:
    repos:
      - {name: extra, baseurl: "https://example.org/x'y"}
    packages:
      - "tree;reboot"
      - "tree-1.0-1-2:3"
      - {name: jq, version: "1.6", epoch: "x"}
      - "bad name"
`);
  assert.deepEqual(await problems(file), [
    `9:9 invalid baseurl "https://example.org/x'y" [yum-repo:extra]`,
    '11:9 invalid RPM package name "tree;reboot" for tree;reboot [yum:tree;reboot]',
    '12:9 invalid release "2:3": letters, digits and . _ + ~ ^ only (no "-" or ":") for tree-1.0 [yum:tree-1.0]',
    "13:43 os.yum.packages[2].epoch: expected a whole number, got 'x'",
    "14:9 os.yum.packages[3]: expected a string like 'tree', 'tree-1.8.0' or 'tree-1.8.0-10.el9.x86_64' or a mapping with 'name', got 'bad name'",
  ]);
});

test('the graph puts yum repositories before yum packages, and yum:git before git checkouts', async () => {
  const spec = await load(
    await specFile(`os:
  distribution: fedora
  yum:
    repos: [{name: extra, baseurl: "file:///srv/repo"}]
    packages: [git, tree]
git:
  - {path: /opt/src, url: "file:///srv/git/x"}
`),
  );
  const g = buildGraph(spec.resources);
  const edges = g.dag
    .edges()
    .map((e) => `${e.from} -> ${e.to} (${e.kind})`)
    .sort();
  assert.deepEqual(edges, [
    'yum-repo:extra -> yum:git (layer)',
    'yum-repo:extra -> yum:tree (layer)',
    'yum:git -> git:/opt/src (provides)',
    'yum:tree -> git:/opt/src (layer)',
  ]);
});

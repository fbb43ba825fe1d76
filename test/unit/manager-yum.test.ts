// yum and yum-repo: RPM grammar, the string forms of a package, rpmvercmp, parsing of probe
// outputs recorded from real rpm/dnf (test/fixtures/outputs/yum/, see capture-yum.ts), diffs and
// the one batched dnf command.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { Attrs, Change } from '../../src/core/types.js';
import {
  compareEvr,
  parseRpmSpec,
  parseYumList,
  rpmvercmp,
  satisfies,
  yum,
} from '../../src/managers/yum.js';
import { renderRepo, yumRepo } from '../../src/managers/yum-repo.js';
import type { CommandInput, DiffInput } from '../../src/managers/types.js';
import { CTX, items, readOutput, res } from '../fixtures/outputs/scenarios.js';
import { YUM, YUM_REPO } from '../fixtures/outputs/scenarios-yum.js';

const parse = (file: string, its = items(YUM)) =>
  yum.parseProbe(readOutput(`yum/${file}`), its, CTX);

function diff(input: Partial<DiffInput> & { facts?: Attrs }): Change {
  return yum.diff({ facts: {}, update: false, ...input });
}

function cmds(changes: Change[], extra: Partial<CommandInput> = {}): string {
  return yum
    .commands({
      changes,
      resources: new Map(),
      facts: { binary: 'dnf', rpm: true, arch: 'x86_64', candidates: {} },
      changedKinds: new Set(),
      ctx: CTX,
      ...extra,
    })
    .map((c) => c.script)
    .join('\n');
}

test('parseRpmSpec splits the string forms users write', () => {
  const cases: [string, ReturnType<typeof parseRpmSpec>][] = [
    ['tree', { name: 'tree' }],
    ['python3-numpy', { name: 'python3-numpy' }],
    ['tree-1.8.0', { name: 'tree', version: '1.8.0' }],
    ['tree-1.8.0-10.el9', { name: 'tree', version: '1.8.0', release: '10.el9' }],
    [
      'tree-1.8.0-10.el9.x86_64',
      { name: 'tree', version: '1.8.0', release: '10.el9', arch: 'x86_64' },
    ],
    [
      'bind-utils-32:9.16.23-14.el9.x86_64',
      { name: 'bind-utils', epoch: '32', version: '9.16.23', release: '14.el9', arch: 'x86_64' },
    ],
    ['glibc.i686', { name: 'glibc', arch: 'i686' }],
    ['python3.11', { name: 'python3.11' }],
    ['xorg-x11-fonts-75dpi', { name: 'xorg-x11-fonts-75dpi' }],
    ['tinyrpm-2', { name: 'tinyrpm', version: '2' }],
    ['tinyrpm-2.0-1.noarch', { name: 'tinyrpm', version: '2.0', release: '1', arch: 'noarch' }],
  ];
  for (const [text, want] of cases) assert.deepEqual(parseRpmSpec(text), want, text);
});

test('yum check accepts RPM grammar and names the resource for everything else', () => {
  const good: Attrs[] = [
    { name: 'tree', version: '1.8.0', release: '10.el9', arch: 'x86_64' },
    { name: 'bind-utils', epoch: '32', version: '9.16.23', release: '14.el9_2.1' },
    { name: 'gcc-c++', version: '11.4.1~rc1^git2' },
  ];
  for (const d of good) {
    assert.deepEqual(yum.check(res('yum', String(d['name']), d)), [], JSON.stringify(d));
  }
  const bad: Attrs[] = [
    { name: 'tree; rm -rf /' },
    { name: '-y' },
    { name: '.hidden' },
    { name: 'tree', version: '1.8;reboot' },
    { name: 'tree', version: '$(id)' },
    { name: 'tree', version: '1.0', release: 'a-b' },
    { name: 'tree', version: '1.0', epoch: 'x' },
    { name: 'tree', release: '1' },
    { name: 'tree', version: '1.0', arch: 'x86-64' },
    { name: 'tree', version: '1.0\n' },
  ];
  for (const d of bad) {
    const r = res('yum', String(d['name']), d);
    const ds = yum.check(r);
    assert.equal(ds.length, 1, JSON.stringify(d));
    assert.equal(ds[0]!.address, r.address);
    assert.equal(ds[0]!.severity, 'error');
  }
});

test('rpmvercmp and compareEvr order versions as rpm does', () => {
  const lt: [string, string][] = [
    ['1.0', '2.0'],
    ['1.0', '1.0.1'],
    ['1.9', '1.10'],
    ['1.0~rc1', '1.0'],
    ['1.0', '1.0^git1'],
    ['1.0a', '1.0b'],
    ['a', '1'],
    ['1.0', '1.0a'],
  ];
  for (const [a, b] of lt) {
    assert.equal(rpmvercmp(a, b), -1, `${a} < ${b}`);
    assert.equal(rpmvercmp(b, a), 1, `${b} > ${a}`);
  }
  assert.equal(rpmvercmp('1.01', '1.1'), 0);
  assert.equal(rpmvercmp('1_0', '1.0'), 0);
  assert.equal(compareEvr('1:1.0-1', '0:9.9-9'), 1);
  assert.equal(compareEvr('0:2.0-1', '0:2.0-2'), -1);
  assert.equal(compareEvr('2.0-1', '0:2.0-1'), 0);
});

test('satisfies matches the parts a pin names and ignores the rest', () => {
  assert.ok(satisfies({ name: 'x' }, '0:2.0-1', 'noarch'));
  assert.ok(satisfies({ name: 'x', version: '2.0' }, '0:2.0-1', 'noarch'));
  assert.ok(satisfies({ name: 'x', version: '2.0', epoch: '0' }, '0:2.0-1', 'noarch'));
  assert.ok(!satisfies({ name: 'x', version: '2.0', release: '2' }, '0:2.0-1', 'noarch'));
  assert.ok(!satisfies({ name: 'x', arch: 'x86_64' }, '0:2.0-1', 'noarch'));
  assert.ok(!satisfies({ name: 'x', version: '2.0', epoch: '1' }, '0:2.0-1', 'noarch'));
});

test('yum probe: one rpm -q for every valid name, candidates only for the absent', () => {
  const its = items([res('yum', 'tree', { name: 'tree' })], {
    "yum:evil'; reboot": { name: 'x' },
  });
  const script = yum.probeScript(its, CTX);
  assert.equal(script.match(/rpm -q --qf/g)?.length, 1);
  assert.match(script, /rpm -q --qf 'P\\t%\{NAME\}\\t%\{EPOCH\}.*' tree 2>/);
  assert.doesNotMatch(script, /evil/);
  assert.match(script, /dnf -q repoquery --latest-limit 1/);
  assert.match(script, /command -v dnf .* _r_b=dnf; elif command -v yum .* _r_b=yum/);
});

test('yum parses a probe with nothing installed: binary, arch and candidates (recorded)', () => {
  const p = parse('fresh.txt');
  assert.equal(p.live.size, 0, '"package X is not installed" lines are not packages');
  assert.equal(p.facts['binary'], 'dnf');
  assert.equal(p.facts['rpm'], true);
  assert.equal(p.facts['arch'], 'x86_64');
  assert.deepEqual(p.facts['candidates'], {
    tinydep: [{ version: '0:1.0-1', arch: 'noarch' }],
    tinyepoch: [{ version: '2:3.1-4', arch: 'noarch' }],
    tinyrpm: [{ version: '0:2.0-1', arch: 'noarch' }],
  });
  const c = diff({ resource: YUM[4], facts: p.facts });
  assert.equal(c.action, 'create');
  assert.deepEqual(c.after, { name: 'tinyrpm', version: '0:2.0-1', arch: 'noarch' });
  const none = diff({ resource: YUM[1], facts: p.facts });
  assert.equal(none.action, 'create');
  assert.deepEqual(none.afterUnknown, ['version', 'arch']);
  assert.match(none.reason ?? '', /no candidate/);
});

test('yum parses installed packages with epoch (none) as 0 (recorded)', () => {
  const p = parse('installed.txt');
  assert.deepEqual(p.live.get('yum:tinyrpm'), {
    name: 'tinyrpm',
    version: '0:2.0-1',
    arch: 'noarch',
  });
  assert.deepEqual(p.live.get('yum:tinyepoch'), {
    name: 'tinyepoch',
    version: '2:3.1-4',
    arch: 'noarch',
  });
  assert.equal(p.live.has('yum:bash'), false, 'a Debian package is not in the rpmdb');
  assert.deepEqual(p.facts['candidates'], {}, 'installed packages cost no repoquery');
  for (const r of YUM.slice(2)) {
    const live = p.live.get(r.address);
    assert.equal(diff({ resource: r, live, facts: p.facts }).action, 'noop', r.name);
  }
});

test('yum with two builds of one name picks the pinned, else the recorded, else the newest (recorded)', () => {
  const text = readOutput('yum/multi.txt');
  const tiny = YUM[4]!;
  const newest = yum.parseProbe(text, items([tiny]), CTX).live.get('yum:tinyrpm')!;
  assert.equal(newest['version'], '0:2.0-1');
  assert.deepEqual(newest['installed'], ['0:1.0-1.noarch', '0:2.0-1.noarch']);
  const pinned = res('yum', 'tinyrpm', { name: 'tinyrpm', version: '1.0' });
  const p1 = yum.parseProbe(text, items([pinned]), CTX).live.get('yum:tinyrpm')!;
  assert.equal(p1['version'], '0:1.0-1');
  assert.equal(diff({ resource: pinned, live: p1 }).action, 'noop');
});

test('yum --update probes the candidate of an installed package and plans old → new (recorded)', () => {
  const its = items(YUM).map((i) => (i.name === 'tinyrpm' ? { ...i, update: true } : i));
  const p = yum.parseProbe(readOutput('yum/update.txt'), its, CTX);
  const live = p.live.get('yum:tinyrpm')!;
  assert.equal(live['version'], '0:1.0-1');
  const locked = { version: '0:1.0-1', arch: 'noarch' };
  // Without --update the lock holds; with it (the engine then passes no lock) the candidate wins.
  assert.equal(diff({ resource: YUM[4], live, locked, facts: p.facts }).action, 'noop');
  const c = diff({ resource: YUM[4], live, facts: p.facts, update: true });
  assert.equal(c.action, 'update');
  assert.equal(c.before?.['version'], '0:1.0-1');
  assert.equal(c.after?.['version'], '0:2.0-1');
});

test('yum on a target without rpm or dnf: the batch fails with a clear message (recorded)', () => {
  const p = parse('norpm.txt');
  assert.equal(p.facts['binary'], '');
  assert.equal(p.facts['rpm'], false);
  const c = diff({ resource: YUM[4], facts: p.facts });
  const script = cmds([c], { facts: p.facts });
  assert.match(script, /neither dnf nor yum is available on the target/);
  assert.match(script, /exit 1/);
  assert.doesNotMatch(script, /install/);
});

test('yum diff: the lock, pins and drift', () => {
  const tiny = YUM[4]!;
  const facts = {
    arch: 'x86_64',
    candidates: { tinyrpm: [{ version: '0:2.0-1', arch: 'noarch' }] },
  };
  const v1 = { name: 'tinyrpm', version: '0:1.0-1', arch: 'noarch' };
  const v2 = { name: 'tinyrpm', version: '0:2.0-1', arch: 'noarch' };
  // A second target gets the locked build, not the candidate.
  const create = diff({ resource: tiny, facts, locked: { version: '0:1.0-1', arch: 'noarch' } });
  assert.deepEqual(create.after, v1);
  assert.match(create.reason ?? '', /locked 0:1\.0-1/);
  // Drift from the lock is restored.
  const back = diff({ resource: tiny, live: v2, locked: { version: '0:1.0-1', arch: 'noarch' } });
  assert.equal(back.action, 'update');
  assert.equal(back.after?.['version'], '0:1.0-1');
  // Installed, nothing locked: keep it.
  assert.equal(diff({ resource: tiny, live: v1, facts }).action, 'noop');
  // A pin the installed build does not meet, and a lock that does not meet the pin either.
  const pin = res('yum', 'tinyrpm', { name: 'tinyrpm', version: '2.0' });
  const up = diff({ resource: pin, live: v1, locked: { version: '0:1.0-1', arch: 'noarch' } });
  assert.equal(up.action, 'update');
  assert.deepEqual(up.afterUnknown, ['version']);
  assert.match(up.reason ?? '', /pinned tinyrpm-2\.0/);
  // Removed from the spec.
  assert.equal(diff({ live: v1, recorded: v1 }).action, 'delete');
  assert.equal(diff({ recorded: v1 }).action, 'noop');
  // diff(x, x) is noop for every recorded live package.
  const p = parse('installed.txt');
  for (const [addr, live] of p.live) {
    const r = YUM.find((x) => x.address === addr)!;
    assert.equal(
      diff({ resource: r, live, locked: { version: live['version']!, arch: live['arch']! } })
        .action,
      'noop',
    );
  }
});

test('yum commands: one dnf install of exact NEVRAs, removals, makecache after a repo change', () => {
  const changes: Change[] = [
    {
      address: 'yum:tinyrpm',
      kind: 'yum',
      action: 'update',
      before: { name: 'tinyrpm', version: '0:2.0-1', arch: 'noarch' },
      after: { name: 'tinyrpm', version: '0:1.0-1', arch: 'noarch' },
    },
    {
      address: 'yum:tinyepoch',
      kind: 'yum',
      action: 'create',
      after: { name: 'tinyepoch', version: '2:3.1-4', arch: 'noarch' },
    },
    {
      address: 'yum:old',
      kind: 'yum',
      action: 'delete',
      before: { name: 'old', version: '0:1-1', arch: 'x86_64' },
    },
  ];
  const script = cmds(changes, { changedKinds: new Set(['yum-repo']) });
  assert.equal(script.match(/"\$_r_b" -y install/g)?.length, 1, 'one install for the batch');
  assert.match(
    script,
    /"\$_r_b" -y install \$_r_wd tinyrpm-0:1\.0-1\.noarch tinyepoch-2:3\.1-4\.noarch/,
  );
  assert.match(script, /_r_wd=--setopt=install_weak_deps=False/);
  assert.match(script, /"\$_r_b" -y remove old/);
  assert.match(script, /dnf -y -q --refresh makecache/);
  assert.ok(script.indexOf('remove old') < script.indexOf('-y install'), 'removals first');
  assert.doesNotMatch(cmds(changes), /makecache/, 'no repo changed: no makecache');
  // A pin only dnf can resolve goes as written.
  const pinned = res('yum', 'tinyrpm', { name: 'tinyrpm', version: '1.0' });
  const c = diff({ resource: pinned });
  const s = cmds([c], { resources: new Map([[pinned.address, pinned]]) });
  assert.match(s, /install \$_r_wd tinyrpm-1\.0 >/);
  // yum without dnf: downgrades need `yum downgrade`.
  const y = cmds(changes, { facts: { binary: 'yum', rpm: true, candidates: {} } });
  assert.match(y, /-y downgrade \$_r_wd tinyrpm-0:1\.0-1\.noarch/);
  assert.match(y, /-y install \$_r_wd tinyepoch-2:3\.1-4\.noarch/);
});

test('yum commands refuse names and versions that escaped the grammar', () => {
  const evil: Change = {
    address: 'yum:x;reboot',
    kind: 'yum',
    action: 'create',
    after: { name: 'x;reboot', version: '0:1-1', arch: 'noarch' },
  };
  assert.throws(() => cmds([evil]), /refusing invalid RPM package name/);
  const v: Change = {
    address: 'yum:x',
    kind: 'yum',
    action: 'create',
    after: { name: 'x', version: '0:1;id-1', arch: 'noarch' },
  };
  assert.throws(() => cmds([v]), /refusing invalid version/);
});

test('a failed batch names the address of the package dnf found no match for (recorded)', () => {
  const stderr = readOutput('yum/nomatch-stderr.txt');
  assert.match(stderr, /^No match for argument: nosuchpkg-repro$/m);
  assert.match(
    stderr,
    /^repro: no package matches nosuchpkg-repro in the enabled repositories \(yum:nosuchpkg-repro\)$/m,
  );
});

test('parseYumList reads `yum list available`, wrapped lines included', () => {
  // Written here in yum 3's documented layout (no yum-only target was available to record).
  const text = [
    'Available Packages',
    'tree.x86_64                      1.6.0-10.el7                 base',
    'a-very-long-package-name-indeed.noarch',
    '                                 2:3.1-4.el7                  extras',
  ].join('\n');
  assert.deepEqual(Object.fromEntries(parseYumList(text)), {
    tree: [{ version: '0:1.6.0-10.el7', arch: 'x86_64' }],
    'a-very-long-package-name-indeed': [{ version: '2:3.1-4.el7', arch: 'noarch' }],
  });
});

test('yum-repo renders the .repo file and diffs by its sha256 (recorded)', () => {
  const repo = YUM_REPO[0]!;
  assert.equal(
    `# recorded by x\n${renderRepo('local', repo.desired)}`.split('\n').slice(1).join('\n'),
    readOutput('yum/repo-file.txt').split('\n').slice(1).join('\n'),
  );
  const absent = yumRepo.parseProbe(readOutput('yum/repo-absent.txt'), items(YUM_REPO), CTX);
  assert.equal(
    yumRepo.diff({ resource: repo, live: absent.live.get(repo.address), facts: {}, update: false })
      .action,
    'create',
  );
  const present = yumRepo.parseProbe(readOutput('yum/repo-present.txt'), items(YUM_REPO), CTX);
  const live = present.live.get(repo.address);
  assert.equal(yumRepo.diff({ resource: repo, live, facts: {}, update: false }).action, 'noop');
  const moved = res('yum-repo', 'local', { ...repo.desired, baseurl: 'file:///srv/other' });
  assert.equal(yumRepo.diff({ resource: moved, live, facts: {}, update: false }).action, 'update');
  assert.equal(yumRepo.diff({ live, recorded: live, facts: {}, update: false }).action, 'delete');
});

test('yum-repo with a key beside the spec writes it, imports it and points gpgkey at it', () => {
  const key = Buffer.from(
    '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxx\n-----END PGP PUBLIC KEY BLOCK-----\n',
  );
  const sha = createHash('sha256').update(key).digest('hex');
  const r = res(
    'yum-repo',
    'extra',
    { name: 'extra', baseurl: 'https://example.org/el9', key_sha256: sha },
    key,
  );
  assert.deepEqual(yumRepo.check(r), []);
  const text = renderRepo('extra', r.desired);
  assert.match(text, /^gpgcheck=1$/m, 'a key turns gpgcheck on by default');
  assert.match(text, /^gpgkey=file:\/\/\/etc\/pki\/rpm-gpg\/RPM-GPG-KEY-repro-extra$/m);
  const c = yumRepo.diff({ resource: r, facts: {}, update: false });
  const script = yumRepo
    .commands({
      changes: [c],
      resources: new Map([[r.address, r]]),
      facts: {},
      changedKinds: new Set(),
      ctx: CTX,
    })
    .map((x) => x.script)
    .join('\n');
  assert.match(script, /rpm --import \/etc\/pki\/rpm-gpg\/RPM-GPG-KEY-repro-extra/);
  assert.ok(script.indexOf('rpm --import') < script.indexOf('/etc/yum.repos.d/repro-extra.repo'));
  const url = res('yum-repo', 'u', {
    name: 'u',
    baseurl: 'https://e.org/x',
    gpgkey: 'https://e.org/KEY',
  });
  assert.match(renderRepo('u', url.desired), /^gpgkey=https:\/\/e\.org\/KEY$/m);
  const bad = res('yum-repo', 'b', { name: 'b', baseurl: "https://e.org/x'; reboot" });
  assert.equal(yumRepo.check(bad).length, 1);
});

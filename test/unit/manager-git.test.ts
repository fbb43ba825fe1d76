import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Attrs, Change } from '../../src/core/types.js';
import { git } from '../../src/managers/git.js';
import type { ProbeResult } from '../../src/managers/types.js';
import { CTX, items, readOutput, res } from '../fixtures/outputs/scenarios.js';

const { c1, c2 } = JSON.parse(readOutput('git-repo.json')) as { c1: string; c2: string };
const URL = 'file:///srv/repo.git';
const A = res('git', '/opt/src/a', { path: '/opt/src/a', url: URL, revision: 'v1.0' });
const B = res('git', '/opt/src/b', { path: '/opt/src/b', url: URL });
const C = res('git', '/opt/src/c', { path: '/opt/src/c', url: URL, revision: c1 });
const ALL = [A, B, C];

const diff = (
  r: ReturnType<typeof res> | undefined,
  p: { live?: Attrs; facts?: Attrs },
  more: object = {},
): Change =>
  git.diff({
    ...(r ? { resource: r } : {}),
    live: p.live,
    facts: p.facts ?? { git: true },
    update: false,
    ...more,
  });

test('git check: URLs, revisions and paths; transport helpers and options are refused', () => {
  for (const url of [
    'https://github.com/a/b.git',
    'file:///srv/r.git',
    'git@github.com:a/b.git',
    '/srv/r.git',
    'ssh://u@h:22/r',
  ]) {
    assert.deepEqual(
      git.check(res('git', '/opt/x', { path: '/opt/x', url, revision: 'v1.2.0' })),
      [],
      url,
    );
  }
  const bad: [string, Attrs, string][] = [
    ['/opt/x', { url: 'ext::sh -c touch% /tmp/pwned' }, 'git.url'],
    ['/opt/x', { url: '--upload-pack=touch /tmp/pwned' }, 'git.url'],
    ['/opt/x', { url: 'https://x/a b' }, 'git.url'],
    ['/opt/x', { url: "https://x/'$(id)'" }, 'git.url'],
    ['/opt/x', { url: URL, revision: '--output=/etc/passwd' }, 'git.revision'],
    ['/opt/x', { url: URL, revision: 'main;reboot' }, 'git.revision'],
    ['/opt/x', { url: URL, revision: 'a..b' }, 'git.revision'],
    ['opt/x', { url: URL }, 'git.path'],
  ];
  for (const [path, desired, code] of bad) {
    const ds = git.check(res('git', path, { path, ...desired }));
    assert.deepEqual(
      ds.map((d) => d.code),
      [code],
      JSON.stringify(desired),
    );
    assert.equal(ds[0]!.address, `git:${path}`);
  }
});

test('git parses recorded probes; a converged checkout diffs to noop with and without a lock', () => {
  const absent = git.parseProbe(readOutput('git-absent.txt'), items(ALL), CTX);
  assert.equal(absent.live.size, 0);
  assert.equal(absent.facts['git'], true);
  const p = git.parseProbe(readOutput('git-present.txt'), items(ALL), CTX);
  assert.deepEqual(p.live.get(A.address), {
    path: '/opt/src/a',
    url: URL,
    commit: c1,
    dirty: false,
  });
  assert.deepEqual(p.live.get(B.address), {
    path: '/opt/src/b',
    url: URL,
    commit: c2,
    dirty: false,
  });
  for (const r of ALL) {
    const live = p.live.get(r.address)!;
    assert.equal(diff(r, { live, facts: p.facts }).action, 'noop', `${r.address} unlocked`);
    const locked = git.lockEntry(r, live);
    assert.equal(
      diff(r, { live, facts: p.facts }, { locked }).action,
      'noop',
      `${r.address} locked`,
    );
  }
  assert.deepEqual(git.lockEntry(A, p.live.get(A.address)!), { commit: c1, revision: 'v1.0' });
  assert.deepEqual(git.lockEntry(B, p.live.get(B.address)!), { commit: c2 });
  assert.equal(git.lockEntry(C, p.live.get(C.address)!), undefined);
});

test('git: a dirty checkout is planned with a warning, and the script refuses it', () => {
  const p = git.parseProbe(readOutput('git-dirty.txt'), items(ALL), CTX);
  const b = p.live.get(B.address)!;
  assert.equal(b['dirty'], true);
  const moved = res('git', '/opt/src/b', { path: '/opt/src/b', url: URL, revision: 'v1.0' });
  const c = diff(moved, { live: b, facts: p.facts });
  assert.equal(c.action, 'update');
  assert.match(c.reason ?? '', /local changes, so apply will refuse/);
  assert.equal(
    diff(B, { live: b, facts: p.facts }, { locked: { commit: c2 } }).action,
    'noop',
    'no change needed',
  );
  assert.equal(
    readOutput('git-dirty-refusal.txt'),
    'repro: git checkout /opt/src/b has local changes; commit or discard them first\n',
  );
});

test('git diff table: full sha, lock, stale lock, --update, url change, delete', () => {
  const live = { path: '/opt/src/a', url: URL, commit: c1, dirty: false };
  const row = (c: Change): [string, unknown, unknown] => [
    c.action,
    c.after?.['commit'],
    c.afterUnknown,
  ];
  assert.deepEqual(row(diff(C, {})), ['create', c1, undefined]);
  assert.deepEqual(row(diff(A, {})), ['create', undefined, ['commit']]);
  assert.deepEqual(row(diff(A, {}, { locked: { commit: c2, revision: 'v1.0' } })), [
    'create',
    c2,
    undefined,
  ]);
  // A lock made for another revision is ignored.
  assert.deepEqual(row(diff(A, {}, { locked: { commit: c2, revision: 'v0.9' } })), [
    'create',
    undefined,
    ['commit'],
  ]);
  assert.deepEqual(row(diff(A, { live }, { locked: { commit: c2, revision: 'v1.0' } })), [
    'update',
    c2,
    undefined,
  ]);
  assert.deepEqual(row(diff(A, { live }, { update: true })), ['update', undefined, ['commit']]);
  // Unlocked and nothing resolved locally: only a fetch can tell.
  assert.deepEqual(row(diff(A, { live })), ['update', undefined, ['commit']]);
  const other = res('git', '/opt/src/a', {
    path: '/opt/src/a',
    url: 'https://example.org/r.git',
    revision: c1,
  });
  const u = diff(other, { live });
  assert.deepEqual([u.action, u.reason], ['update', 'origin URL differs']);
  assert.equal(git.diff({ live, recorded: live, facts: {}, update: false }).action, 'delete');
  assert.equal(git.diff({ recorded: live, facts: {}, update: false }).action, 'noop');
});

test('git commands quote every value and check for local changes before touching a checkout', () => {
  const path = "/opt/it's $(reboot)";
  const r = res('git', path, { path, url: URL, revision: 'v1.0' });
  const cmd = (change: Change): string =>
    git.commands({
      changes: [change],
      resources: new Map([[r.address, r]]),
      facts: { git: true },
      changedKinds: new Set(),
      ctx: CTX,
    })[0]!.script;
  const q = `'/opt/it'\\''s $(reboot)'`;
  const create = cmd({
    address: r.address,
    kind: 'git',
    action: 'create',
    afterUnknown: ['commit'],
  });
  assert.ok(create.includes(`_r_git clone -q --no-checkout -- file:///srv/repo.git ${q}`));
  assert.ok(create.includes(`_r_c=$(_r_resolve ${q} v1.0)`));
  assert.ok(!create.includes('status --porcelain'), 'nothing to protect on create');
  const update = cmd({ address: r.address, kind: 'git', action: 'update', after: { commit: c2 } });
  assert.ok(update.indexOf('status --porcelain') < update.indexOf('remote set-url'));
  assert.ok(update.includes(`checkout -q --detach ${c2}`));
  const del = cmd({ address: r.address, kind: 'git', action: 'delete', before: { commit: c1 } });
  assert.ok(del.endsWith(`rm -rf -- ${q}`));
  assert.ok(del.indexOf('status --porcelain') < del.indexOf('rm -rf'));
});

function sh(script: string, cwd: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('/bin/sh', ['-s'], { input: script, encoding: 'utf8', cwd });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test(
  'git probe and commands run for real against a local repository',
  { skip: !existsSync('/usr/bin/git') },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'repro-git-'));
    try {
      const ident =
        'export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@e GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@e GIT_CONFIG_NOSYSTEM=1 HOME=' +
        dir;
      const made = sh(
        `${ident}\nset -e\ngit init -q -b main w && cd w && echo 1 > f && git add f && git commit -q -m 1 && git tag v1\n` +
          `echo 2 > f && git commit -q -am 2 && git clone -q --bare . ../r.git && git rev-parse v1^{commit} HEAD`,
        dir,
      );
      assert.equal(made.code, 0, made.stderr);
      const [k1, k2] = made.stdout.trim().split('\n');
      const url = `file://${dir}/r.git`;
      const path = join(dir, "co it's");
      const r = res('git', path, { path, url, revision: 'v1' });
      const probe = (res0: typeof r): ProbeResult => {
        const out = sh(`${ident}\n${git.probeScript(items([res0]), CTX)}`, dir);
        assert.equal(out.code, 0, out.stderr);
        return git.parseProbe(out.stdout, items([res0]), CTX);
      };
      const apply = (res0: typeof r, change: Change): ReturnType<typeof sh> =>
        sh(
          `${ident}\nset -e\n` +
            git
              .commands({
                changes: [change],
                resources: new Map([[res0.address, res0]]),
                facts: {},
                changedKinds: new Set(),
                ctx: CTX,
              })
              .map((c) => c.script)
              .join('\n'),
          dir,
        );
      let p = probe(r);
      const create = git.diff({ resource: r, facts: p.facts, update: false });
      assert.equal(apply(r, create).code, 0);
      p = probe(r);
      const live = p.live.get(r.address)!;
      assert.deepEqual(live, { path, url, commit: k1, dirty: false });
      assert.equal(git.diff({ resource: r, live, facts: p.facts, update: false }).action, 'noop');
      // Move to main: fetch path, resolved at apply.
      const main = res('git', path, { path, url, revision: 'main' });
      const up = git.diff({ resource: main, live, facts: probe(main).facts, update: false });
      const moved = apply(main, up);
      assert.equal(moved.code, 0, moved.stderr);
      assert.equal(probe(main).live.get(r.address)?.['commit'], k2);
      // Dirty: both update and delete refuse, and nothing is lost.
      writeFileSync(join(path, 'mine'), 'keep');
      const dirty = probe(r).live.get(r.address)!;
      assert.equal(dirty['dirty'], true);
      const refused = apply(r, git.diff({ resource: r, live: dirty, facts: {}, update: false }));
      assert.equal(refused.code, 1);
      assert.equal(
        refused.stderr,
        `repro: git checkout ${path} has local changes; commit or discard them first\n`,
      );
      const del = git.diff({ live: dirty, recorded: dirty, facts: {}, update: false });
      assert.equal(apply(r, del).code, 1);
      assert.equal(readFileSync(join(path, 'mine'), 'utf8'), 'keep');
      rmSync(join(path, 'mine'));
      assert.equal(apply(r, del).code, 0);
      assert.equal(existsSync(path), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

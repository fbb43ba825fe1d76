import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Attrs, Change } from '../../src/core/types.js';
import { apt, debianVersionProblem, parsePolicy } from '../../src/managers/apt.js';
import type { CommandInput } from '../../src/managers/types.js';
import { APT, CTX, items, readOutput, res } from '../fixtures/outputs/scenarios.js';

const facts = (extra: Attrs = {}): Attrs => ({
  apt_get: true,
  arch: 'amd64',
  lists_mtime: 1000,
  now: 2000,
  candidates: { jq: '1.6-2.1+deb12u2', curl: '7.88.1-10+deb12u5' },
  ...extra,
});

function cmds(changes: Change[], extra: Partial<CommandInput> = {}): string[] {
  return apt
    .commands({
      changes,
      resources: new Map(),
      facts: facts(),
      changedKinds: new Set(),
      ctx: CTX,
      ...extra,
    })
    .map((c) => c.script);
}

test('apt check accepts Debian names and versions', () => {
  for (const [name, version] of [
    ['jq', '1.6-2.1+deb12u2'],
    ['g++', '4:12.2.0-3'],
    ['libstdc++6', '12.2.0-14'],
    ['python3.11', '3.11.2-6+deb12u1'],
    ['git', '1:2.39.5-0+deb12u3'],
    ['tzdata', '2024a-0+deb12u1'],
    ['foo', '1.0~rc1'],
  ] as const) {
    assert.deepEqual(apt.check(res('apt', name, { name, version })), [], `${name}=${version}`);
  }
});

test('apt check names the resource for hostile names and versions, never a shell string', () => {
  const bad = [
    res('apt', 'jq; rm -rf /', { name: 'jq; rm -rf /' }),
    res('apt', 'JQ', { name: 'JQ' }),
    res('apt', 'j', { name: 'j' }),
    res('apt', '-o', { name: '-o' }),
    res('apt', 'jq', { name: 'jq', version: '1.6; rm -rf /' }),
    res('apt', 'jq', { name: 'jq', version: '$(id)' }),
    res('apt', 'jq', { name: 'jq', version: 'abc' }),
    res('apt', 'jq', { name: 'jq', version: '1.6-2-' }),
    res('apt', 'jq', { name: 'jq', version: '1:' }),
    res('apt', 'jq', { name: 'jq', version: '1.6\n' }),
  ];
  for (const r of bad) {
    const ds = apt.check(r);
    assert.equal(ds.length, 1, JSON.stringify(r.desired));
    assert.equal(ds[0]!.address, r.address);
    assert.equal(ds[0]!.severity, 'error');
  }
});

test('debianVersionProblem follows the epoch:upstream-revision grammar', () => {
  assert.equal(debianVersionProblem('1:2.39.5-0+deb12u3'), undefined);
  assert.equal(debianVersionProblem('2.36-9+deb12u14'), undefined);
  assert.equal(debianVersionProblem('1.0-1-2'), undefined); // hyphens in upstream with a revision
  assert.match(debianVersionProblem('1.0_1') ?? '', /upstream/);
  assert.match(debianVersionProblem('1.0-a_b') ?? '', /revision/);
  assert.match(debianVersionProblem('x1') ?? '', /digit/);
});

test('apt probe quotes names and skips ones that fail the grammar', () => {
  const its = items([res('apt', 'jq', {})], { "apt:evil'; reboot": { name: 'x' } });
  const script = apt.probeScript(its, CTX);
  assert.match(
    script,
    /dpkg-query -W -f='\$\{Package\}\\t\$\{Version\}\\t\$\{Architecture\}\\t\$\{db:Status-Abbrev\}\\n' jq 2>/,
  );
  assert.match(
    script,
    /for _r_n in jq; do\n.*\n.*\nif \[ -n "\$_r_w" \][^\n]*\n {2}apt-cache policy \$_r_w 2>/,
  );
  assert.doesNotMatch(script, /reboot/);
  assert.match(script, /^\(/);
  assert.match(script, /\) <\/dev\/null$/);
});

test('apt parses a fresh container: installed, un-installed, unknown packages and candidates', () => {
  const r = apt.parseProbe(readOutput('apt-fresh.txt'), items(APT), CTX);
  assert.deepEqual([...r.live.keys()], ['apt:bash', 'apt:libc6']);
  assert.deepEqual(r.live.get('apt:bash'), {
    name: 'bash',
    version: '5.2.15-2+b13',
    arch: 'amd64',
  });
  assert.equal(r.facts['apt_get'], true);
  assert.equal(r.facts['arch'], 'amd64');
  assert.ok((r.facts['lists_mtime'] as number) > 0);
  assert.ok((r.facts['now'] as number) >= (r.facts['lists_mtime'] as number));
  assert.deepEqual(r.facts['candidates'], {
    bash: '5.2.15-2+b13',
    git: '1:2.39.5-0+deb12u3',
    jq: '1.6-2.1+deb12u2',
    libc6: '2.36-9+deb12u14',
    nano: '7.2-1+deb12u1',
  });
});

test('apt parses a container without lists: no candidates, lists_mtime 0', () => {
  const r = apt.parseProbe(readOutput('apt-nolists.txt'), items(APT), CTX);
  assert.equal(r.facts['lists_mtime'], 0);
  assert.deepEqual(r.facts['candidates'], { bash: '5.2.15-2+b13', libc6: '2.36-9+deb12u14' });
  const jq = apt.diff({ resource: APT[2]!, facts: r.facts, update: false });
  assert.equal(jq.action, 'create');
  assert.deepEqual(jq.afterUnknown, ['version', 'arch']);
  // No lists: the install batch starts with apt-get update.
  assert.equal(cmds([jq], { facts: r.facts })[0], 'apt-get update -q');
});

test('apt parses installed and removed (rc) packages; every installed one diffs to noop', () => {
  const r = apt.parseProbe(readOutput('apt-installed.txt'), items(APT), CTX);
  assert.deepEqual(r.live.get('apt:git'), {
    name: 'git',
    version: '1:2.39.5-0+deb12u3',
    arch: 'amd64',
  });
  assert.deepEqual(r.live.get('apt:jq'), { name: 'jq', version: '1.6-2.1+deb12u2', arch: 'amd64' });
  for (const resource of APT.filter((x) => x.name !== 'no-such-package-xyz')) {
    const live = r.live.get(resource.address);
    assert.ok(live, resource.name);
    // Locked at what is installed, pinned at it, or unpinned: all converged.
    for (const desired of [{}, { version: live['version']! }] as Attrs[]) {
      const c = apt.diff({
        resource: { ...resource, desired },
        live,
        facts: r.facts,
        update: false,
      });
      assert.equal(c.action, 'noop', resource.name);
    }
    const locked = apt.lockEntry(resource, live)!;
    assert.equal(
      apt.diff({ resource, live, locked, facts: r.facts, update: false }).action,
      'noop',
    );
  }
  const removed = apt.parseProbe(readOutput('apt-removed.txt'), items(APT), CTX);
  assert.equal(removed.live.has('apt:nano'), false, 'rc is not installed');
  assert.equal(removed.live.has('apt:jq'), true);
});

test('apt diff table', () => {
  const jq = res('apt', 'jq', { name: 'jq' });
  const live = { name: 'jq', version: '1.6-2.1', arch: 'amd64' };
  const f = facts();
  const row = (input: Parameters<typeof apt.diff>[0]): [string, unknown, unknown] => {
    const c = apt.diff(input);
    return [c.action, c.after?.['version'], c.afterUnknown];
  };
  // Create: pin > lock > candidate.
  assert.deepEqual(row({ resource: jq, facts: f, update: false }), [
    'create',
    '1.6-2.1+deb12u2',
    ['arch'],
  ]);
  assert.deepEqual(
    row({ resource: jq, locked: { version: '1.6-2.1', arch: 'amd64' }, facts: f, update: false }),
    ['create', '1.6-2.1', undefined],
  );
  const pinned = res('apt', 'jq', { name: 'jq', version: '1.5-1' });
  assert.deepEqual(
    row({ resource: pinned, locked: { version: '1.6-2.1' }, facts: f, update: false }),
    ['create', '1.5-1', ['arch']],
  );
  // Installed, unpinned, unlocked: kept as is.
  assert.deepEqual(row({ resource: jq, live, facts: f, update: false }), [
    'noop',
    '1.6-2.1',
    undefined,
  ]);
  // Installed, locked elsewhere: downgrade or upgrade to the lock.
  assert.deepEqual(
    row({ resource: jq, live, locked: { version: '1.5-1' }, facts: f, update: false }),
    ['update', '1.5-1', undefined],
  );
  // Pinned differently: update.
  assert.deepEqual(row({ resource: pinned, live, facts: f, update: false }), [
    'update',
    '1.5-1',
    undefined,
  ]);
  // --update re-resolves to the candidate (the engine passes no lock).
  assert.deepEqual(row({ resource: jq, live, facts: f, update: true }), [
    'update',
    '1.6-2.1+deb12u2',
    undefined,
  ]);
  // --update with the pin still wins.
  assert.deepEqual(row({ resource: pinned, live, facts: f, update: true }), [
    'update',
    '1.5-1',
    undefined,
  ]);
  // --update, already at the candidate: noop.
  const atCandidate = { ...live, version: '1.6-2.1+deb12u2' };
  assert.equal(
    apt.diff({ resource: jq, live: atCandidate, facts: f, update: true }).action,
    'noop',
  );
  // Removed from the spec.
  assert.deepEqual(apt.diff({ live, recorded: live, facts: f, update: false }), {
    address: 'apt:jq',
    kind: 'apt',
    action: 'delete',
    before: live,
    reason: 'removed from the spec',
  });
  assert.equal(apt.diff({ recorded: live, facts: f, update: false }).action, 'noop');
});

test('apt commands: one install with pins, removals and flags; update only when needed', () => {
  const changes: Change[] = [
    {
      address: 'apt:curl',
      kind: 'apt',
      action: 'create',
      after: { name: 'curl', version: '7.88.1-10+deb12u5' },
    },
    { address: 'apt:jq', kind: 'apt', action: 'update', after: { name: 'jq', version: '1:1.5-1' } },
    {
      address: 'apt:nano',
      kind: 'apt',
      action: 'delete',
      before: { name: 'nano', version: '7.2', arch: 'amd64' },
    },
  ];
  const pinnedBatch = cmds(changes);
  assert.equal(pinnedBatch.length, 3);
  // Exact-version dependencies of pins that differ from apt's candidate are looked up with one
  // apt-cache call (curl is pinned at its candidate, which needs no lookup).
  assert.match(pinnedBatch[0]!, /^repro_exact=\$\(apt-cache show jq=1:1\.5-1 2>\/dev\/null \| sed/);
  assert.deepEqual(pinnedBatch.slice(1), [
    'DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --no-install-recommends --allow-downgrades curl=7.88.1-10+deb12u5 jq=1:1.5-1 nano- $repro_exact',
    '[ -z "$repro_new" ] || apt-mark auto $repro_new >/dev/null',
  ]);
  const withRecommends = cmds(changes, { ctx: { ...CTX, aptInstallRecommends: true } });
  assert.doesNotMatch(withRecommends[1]!, /no-install-recommends/);
  // After an apt-source change, or with stale lists, or an unknown candidate: update first.
  const afterSource = cmds(changes, { changedKinds: new Set(['apt-source']) });
  assert.equal(afterSource[0], 'apt-get update -q');
  // The refresh's candidates may move with the update: every pin's dependencies are looked up,
  // even curl's, pinned at what was its candidate (found by the chroot contract test: a new
  // security source moved libjq1's candidate past jq's exact dependency).
  assert.match(
    afterSource[1]!,
    /^repro_exact=\$\(apt-cache show curl=7\.88\.1-10\+deb12u5 jq=1:1\.5-1 2>/,
  );
  assert.equal(cmds(changes, { facts: facts({ now: 1000 + 86401 }) })[0], 'apt-get update -q');
  const unknown: Change = {
    address: 'apt:htop',
    kind: 'apt',
    action: 'create',
    after: { name: 'htop' },
    afterUnknown: ['version', 'arch'],
  };
  const u = cmds([unknown]);
  assert.equal(u[0], 'apt-get update -q');
  assert.match(u[1]!, / htop$/);
  // Removals alone never need fresh lists.
  assert.equal(cmds([changes[2]!], { facts: facts({ now: 1e9 }) }).length, 1);
  // No apt-get: a clear failure instead of a shell error.
  assert.match(
    cmds(changes, { facts: facts({ apt_get: false }) })[0]!,
    /apt-get is not available.*exit 1/,
  );
});

test('apt commands refuse a hostile value that slipped past check', () => {
  const change: Change = {
    address: 'apt:jq',
    kind: 'apt',
    action: 'create',
    after: { name: 'jq', version: '1;reboot' },
  };
  assert.throws(() => cmds([change]), /refusing invalid version/);
});

test('apt lockEntry locks version and arch only when unpinned', () => {
  const live = { name: 'jq', version: '1.6-2.1', arch: 'amd64' };
  assert.deepEqual(apt.lockEntry(res('apt', 'jq', {}), live), {
    version: '1.6-2.1',
    arch: 'amd64',
  });
  assert.equal(apt.lockEntry(res('apt', 'jq', { version: '1.6-2.1' }), live), undefined);
});

test('parsePolicy handles several packages and (none)', () => {
  const text =
    'a:\n  Installed: (none)\n  Candidate: (none)\nb:\n  Installed: 1\n  Candidate: 2:1.0-1\n';
  assert.deepEqual(parsePolicy(text), { b: '2:1.0-1' });
});

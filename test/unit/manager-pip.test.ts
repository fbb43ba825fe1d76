import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Attrs, Change, Resource } from '../../src/core/types.js';
import {
  compareVersions,
  exactPin,
  normalizeVersion,
  parseDists,
  parseSpecifier,
  pipManager,
  pipVenvManager,
  satisfies,
} from '../../src/managers/pip.js';
import type { CommandInput } from '../../src/managers/types.js';
import { CTX, items, readOutput, res } from '../fixtures/outputs/scenarios.js';

function pkg(scope: string, req: string, extra: Attrs = {}): Resource {
  const m = /^([A-Za-z0-9._-]+)\s*(?:\[([^\]]*)\])?\s*(.*)$/s.exec(req)!;
  const name = m[1]!.toLowerCase().replace(/[-_.]+/g, '-');
  const d: Attrs = { scope, python: 'python3', name, requirement: req, ...extra };
  if (scope.startsWith('/')) d['venv'] = scope;
  if (m[2]) d['extras'] = m[2].split(',').sort();
  const rest = m[3]!.trim();
  if (rest.startsWith('@')) d['url'] = rest.slice(1).trim();
  else if (rest) d['spec'] = rest;
  return res('pip', `${scope}:${name}`, d);
}

const venv = (path: string): Resource => res('pip-venv', path, { path, python: 'python3' });

function cmds(changes: Change[], resources: Resource[], facts: Attrs = {}): string[] {
  const input: CommandInput = {
    changes,
    resources: new Map(resources.map((r) => [r.address, r])),
    facts,
    changedKinds: new Set(),
    ctx: CTX,
  };
  return [...pipManager.commands(input), ...[]].map((c) => c.script);
}

test('PEP 440 versions order and specifiers match as pip does', () => {
  assert.equal(compareVersions('1.0', '1.0.0'), 0);
  assert.equal(compareVersions('1.0a1', '1.0'), -1);
  assert.equal(compareVersions('1.0.dev1', '1.0a1'), -1);
  assert.equal(compareVersions('1.0.post1', '1.0'), 1);
  assert.equal(compareVersions('2.0', '10.0'), -1);
  assert.equal(compareVersions('1!0.1', '9.0'), 1);
  assert.equal(satisfies('1.5', '>=1,<2'), true);
  assert.equal(satisfies('2.0', '>=1,<2'), false);
  assert.equal(satisfies('1.4.7', '~=1.4'), true);
  assert.equal(satisfies('2.0', '~=1.4'), false);
  assert.equal(satisfies('1.3.2', '!=1.3.*'), false);
  assert.equal(satisfies('5.2.0', '==5.2'), true);
  assert.equal(exactPin('==5.2.0'), '5.2.0');
  assert.equal(exactPin('==5.*'), undefined);
  assert.equal(exactPin('>=1'), undefined);
});

test('pip check accepts good requirements', () => {
  for (const req of [
    'numpy',
    'nibabel==5.2.0',
    'requests[socks,security]>=2,<3',
    'pkg~=1.4',
    'x!=1.3.*',
    'pkg @ https://example.org/pkg-1.0-py3-none-any.whl',
    'torch==2.1.0+cpu',
  ]) {
    assert.deepEqual(pipManager.check(pkg('/opt/venv', req)), [], req);
  }
  assert.deepEqual(pipManager.check(pkg('python3', 'numpy', { find_links: ['/wheels'] })), []);
});

test('pip check names the address for bad specifiers, extras, URLs and options', () => {
  const cases: [Resource, RegExp][] = [
    [pkg('/opt/venv', 'numpy>>1'), /pip:\/opt\/venv:numpy.*>>1/],
    [pkg('/opt/venv', 'numpy==1.0; rm -rf /'), /specifier/],
    [pkg('/opt/venv', 'numpy=1'), /specifier/],
    [pkg('/opt/venv', 'numpy~=1'), /two release segments/],
    [pkg('/opt/venv', 'numpy>=1.*'), /only allowed with == and !=/],
    [pkg('/opt/venv', "numpy[a'b]"), /extra/],
    [pkg('/opt/venv', 'numpy @ javascript:alert(1)'), /direct reference/],
    [pkg('/opt/venv', 'numpy @ https://x/a\tb'), /direct reference/],
    [pkg('/opt/venv', 'numpy', { index: 'ftp://x' }), /index/],
    [pkg('/opt/venv', 'numpy', { find_links: ['rel/dir'] }), /find_links/],
    [pkg('python3; id', 'numpy'), /scope/],
  ];
  for (const [r, re] of cases) {
    const d = pipManager.check(r);
    assert.ok(d.length > 0, r.desired['requirement'] as string);
    assert.equal(d[0]!.address, r.address);
    assert.match(d.map((x) => x.message).join('\n'), re);
  }
  assert.ok(
    pipVenvManager.check(res('pip-venv', 'opt', { path: 'opt', python: 'python3' })).length,
  );
  assert.ok(
    pipVenvManager.check(res('pip-venv', '/opt/v', { path: '/opt/v', python: 'py;id' })).length,
  );
});

test('pip probe reads dist-info metadata with the shell: venv, missing venv, system', () => {
  const rs = [
    pkg('/opt/v', 'tinyrepro'),
    pkg('/opt/v', 'tinydep'),
    pkg('/opt/v', 'absent-pkg'),
    pkg('/opt/none', 'tinyrepro'),
    pkg('python3', 'tinyrepro'),
  ];
  const its = items(rs);
  const script = pipManager.probeScript(its, CTX);
  assert.doesNotMatch(script, /-m pip|bin\/python -/, 'no interpreter in a refresh');
  assert.match(script, /_r_dists \/opt\/v\/lib\/python3\*\/site-packages/);
  assert.match(
    script,
    /"\$_r_pre\/local\/lib\/\$_r_ver\/dist-packages" "\$_r_pre\/lib\/python3\/dist-packages"/,
  );
  // RPM-family interpreters keep pip's installs in /usr/local/lib{64,}/pythonX.Y/site-packages.
  assert.match(
    script,
    /"\$_r_pre\/local\/lib64\/\$_r_ver\/site-packages" "\$_r_pre\/local\/lib\/\$_r_ver\/site-packages" "\$_r_pre\/lib64\/\$_r_ver\/site-packages" "\$_r_pre\/lib\/\$_r_ver\/site-packages"/,
  );
  const venvOnly = pipManager.parseProbe(readOutput('pip/venv-installed-pip.txt'), its, CTX);
  assert.deepEqual(venvOnly.live.get('pip:/opt/v:tinyrepro'), {
    scope: '/opt/v',
    name: 'tinyrepro',
    version: '2.0',
  });
  assert.equal(venvOnly.live.get('pip:/opt/v:tinydep')?.['version'], '1.0');
  assert.equal(venvOnly.live.has('pip:/opt/v:absent-pkg'), false);
  assert.equal(venvOnly.live.has('pip:/opt/none:tinyrepro'), false);
  assert.equal(venvOnly.live.has('pip:python3:tinyrepro'), false);
  // tinydep came from `name @ file:///…#sha256=…`: pip's direct_url.json carries its hash.
  assert.deepEqual(venvOnly.facts['scopes'], {
    '/opt/none': { python: 'none', pip: false },
    '/opt/v': {
      python: 'venv',
      pip: true,
      packages: {
        pip: { version: '23.0.1' },
        setuptools: { version: '66.1.1' },
        tinydep: {
          version: '1.0',
          sha256: 'd42c0ca956e3fef94e02d73b210d125590de5251b95993e7f94187baf578a654',
        },
        tinyrepro: { version: '2.0' },
      },
    },
    python3: { python: 'system', pip: true },
  });
  // System interpreter: /usr/local/lib/python3.11/dist-packages (pip) before Debian's dirs.
  const sys = pipManager.parseProbe(readOutput('pip/system-pip.txt'), its, CTX);
  assert.equal(sys.live.get('pip:python3:tinyrepro')?.['version'], '1.0');
  // A forged line inside the metadata cannot appear: output is base64; garbage lines are ignored.
  const forged = pipManager.parseProbe('M\t0\tnot base64!\nS\t9\tvenv\n', its, CTX);
  assert.equal(forged.live.size, 0);
});

test('dist metadata parsing: first on the path wins, versions as pip prints them, extras', () => {
  const d = parseDists(
    [
      'D\tFoo_Bar-1.0.dist-info\tFoo_Bar\t1.0-1\tCLI,Socks_Proxy',
      'D\tfoo_bar-0.9.dist-info\tfoo-bar\t0.9\t',
      'H\tFoo_Bar-1.0.dist-info\t' + 'A'.repeat(64),
      'D\tbad-1.dist-info\tbad name\t1\t',
      'H\tx.dist-info\tnot-a-hash',
      'D\tsix-1.16.0.egg-info\tsix\t1.16.0\r',
      // Archive hashes repro kept from `pip install --report`: believed for that version only.
      'D\ttiny_x-2.0.dist-info\ttiny_x\t2.0\t',
      'R\ttiny-x\t2.0\t' + 'c'.repeat(64),
      'R\tsix\t1.15.0\t' + 'd'.repeat(64),
    ].join('\n'),
  );
  assert.deepEqual([...d.keys()], ['foo-bar', 'six', 'tiny-x']);
  assert.equal(d.get('tiny-x')?.sha256, 'c'.repeat(64));
  assert.equal(d.get('six')?.sha256, undefined);
  assert.deepEqual(d.get('foo-bar'), {
    version: '1.0.post1',
    extras: ['cli', 'socks-proxy'],
    sha256: 'a'.repeat(64),
  });
  assert.equal(d.get('six')?.version, '1.16.0');
  for (const [raw, shown] of [
    ['1.0', '1.0'],
    ['v1.0', '1.0'],
    ['1.0-alpha-1', '1.0a1'],
    ['1.0c2', '1.0rc2'],
    ['1!2.0.DEV3', '1!2.0.dev3'],
    ['2.1.0+CPU_1', '2.1.0+cpu.1'],
    ['01.002', '1.2'],
    ['not a version', 'not a version'],
  ]) {
    assert.equal(normalizeVersion(raw!), shown, raw);
  }
});

test('an extra the installed dist does not provide is a problem naming it, not recorded', () => {
  const r = pkg('/opt/v', 'tinyrepro[cli,foo]');
  const out = [
    'S\t0\tvenv',
    `M\t0\t${Buffer.from('D\ttinyrepro-2.0.dist-info\ttinyrepro\t2.0\tcli\n').toString('base64')}`,
  ].join('\n');
  const live = pipManager.parseProbe(out, items([r]), CTX).live.get(r.address)!;
  assert.deepEqual(live['missing_extras'], ['foo']);
  assert.match(
    pipManager.problem(r, live) ?? '',
    /^tinyrepro 2\.0 does not provide the extra 'foo' \(pip only warns\)/,
  );
  assert.equal(
    pipManager.problem(pkg('/opt/v', 'tinyrepro[cli]'), { ...live, missing_extras: [] }),
    undefined,
  );
  assert.deepEqual(pipManager.record(r, live, undefined), {
    scope: '/opt/v',
    name: 'tinyrepro',
    version: '2.0',
  });
});

test('pip locks a venv closure without seed packages and installs it with --no-deps', () => {
  const a = pkg('/opt/v', 'tinyrepro');
  const v = venv('/opt/v');
  const resources = new Map([a, v].map((r) => [r.address, r]));
  // The fixture's items: scopes /opt/none, /opt/v, python3 (indices 0, 1, 2).
  const recorded = [a, pkg('/opt/none', 'tinyrepro'), pkg('python3', 'tinyrepro')];
  const facts = pipManager.parseProbe(
    readOutput('pip/venv-installed-pip.txt'),
    items(recorded),
    CTX,
  ).facts;
  const locks = pipManager.lockFromFacts(facts, resources);
  assert.deepEqual([...locks.keys()], ['pip-venv:/opt/v']);
  const closure = locks.get('pip-venv:/opt/v')!;
  assert.deepEqual(Object.keys(closure['packages'] as object), ['tinydep', 'tinyrepro']);
  // No declared venv, no closure (a system interpreter's packages are the distribution's).
  assert.equal(pipManager.lockFromFacts(facts, new Map([[a.address, a]])).size, 0);

  const create = (version: string): Change => ({
    address: a.address,
    kind: 'pip',
    action: 'create',
    after: { scope: '/opt/v', name: 'tinyrepro', version },
  });
  const run = (c: Change, lock: Attrs | undefined): string[] =>
    pipManager
      .commands({
        changes: [c],
        resources,
        facts: {},
        changedKinds: new Set(),
        ctx: CTX,
        locked: (addr) => (addr === 'pip-venv:/opt/v' ? lock : undefined),
      })
      .map((x) => x.script.split('\n').find((l) => l.includes(' -m pip install '))!);
  // Complete closure, one hash missing: the closure with --no-deps, no --require-hashes.
  assert.match(
    run(create('2.0'), closure)[0]!,
    / --no-deps \$\{_r_rep:\+--report "\$_r_rep"\} tinydep==1\.0 tinyrepro==2\.0$/,
  );
  // A version the closure does not hold (a pin or --update changed it): the resolver.
  assert.match(
    run(create('1.0'), closure)[0]!,
    /--no-input \$\{_r_rep:\+--report "\$_r_rep"\} tinyrepro==1\.0$/,
  );
  // No lock: the resolver.
  assert.match(
    run(create('2.0'), undefined)[0]!,
    /--no-input \$\{_r_rep:\+--report "\$_r_rep"\} tinyrepro==2\.0$/,
  );
  // Every entry hashed: a requirements file with --hash and --require-hashes.
  const hashed: Attrs = {
    packages: {
      tinydep: { version: '1.0', sha256: 'a'.repeat(64) },
      tinyrepro: { version: '2.0', sha256: 'b'.repeat(64) },
    },
  };
  const all = pipManager.commands({
    changes: [create('2.0')],
    resources,
    facts: {},
    changedKinds: new Set(),
    ctx: CTX,
    locked: () => hashed,
  })[0]!.script;
  assert.match(all, /'tinydep==1\.0 --hash=sha256:a{64}' 'tinyrepro==2\.0 --hash=sha256:b{64}'/);
  assert.match(all, /--no-deps --require-hashes \$\{_r_rep:\+--report "\$_r_rep"\} -r "\$_r_req"/);
});

test('pip-venv probe parses real output: venv, absent, not a venv', () => {
  const its = items([venv('/opt/v'), venv('/opt/none'), venv('/etc')]);
  const r = pipVenvManager.parseProbe(readOutput('pip/venv-installed-venv.txt'), its, CTX);
  assert.deepEqual(r.live.get('pip-venv:/opt/v'), { path: '/opt/v', python_version: '3.11.2' });
  assert.equal(r.live.size, 1);
  assert.deepEqual(r.facts['not_venv'], ['/etc']);
  const c = pipVenvManager.diff({ resource: its[2]!.resource!, facts: r.facts, update: false });
  assert.equal(c.action, 'create');
  assert.match(c.reason ?? '', /exists but is not a venv/);
});

test('pip diff: pin ?? lock ?? resolve; unsatisfied → update; --update re-resolves', () => {
  const live = (version: string): Attrs => ({ scope: '/opt/venv', name: 'numpy', version });
  const d = (r: Resource, o: { live?: Attrs; locked?: Attrs; update?: boolean }): Change =>
    pipManager.diff({ resource: r, facts: {}, update: o.update ?? false, ...o });
  const free = pkg('/opt/venv', 'numpy');
  const pinned = pkg('/opt/venv', 'numpy==1.26.4');
  const ranged = pkg('/opt/venv', 'numpy>=1,<2');
  const table: [Change, string, string | undefined, boolean][] = [
    [d(free, {}), 'create', undefined, true],
    [d(free, { locked: { version: '1.25.0' } }), 'create', '1.25.0', false],
    [d(pinned, { locked: { version: '1.25.0' } }), 'create', '1.26.4', false],
    [d(free, { live: live('1.25.0') }), 'noop', '1.25.0', false],
    [d(free, { live: live('1.25.0'), locked: { version: '1.25.0' } }), 'noop', '1.25.0', false],
    [d(free, { live: live('1.24.0'), locked: { version: '1.25.0' } }), 'update', '1.25.0', false],
    [d(pinned, { live: live('1.26.4') }), 'noop', '1.26.4', false],
    [d(pinned, { live: live('1.25.0') }), 'update', '1.26.4', false],
    [d(ranged, { live: live('2.0.0') }), 'update', '2.0.0', true],
    [d(ranged, { live: live('1.5') }), 'noop', '1.5', false],
    [d(free, { live: live('1.25.0'), update: true }), 'update', '1.25.0', true],
    [d(pinned, { live: live('1.26.4'), update: true }), 'noop', '1.26.4', false],
  ];
  table.forEach(([c, action, version, unknown], i) => {
    assert.equal(c.action, action, `row ${i}`);
    if (!unknown) assert.equal(c.after?.['version'], version, `row ${i}`);
    assert.equal(c.afterUnknown?.includes('version') ?? false, unknown, `row ${i}`);
  });
  const gone = pipManager.diff({
    live: live('1.0'),
    recorded: live('1.0'),
    facts: {},
    update: false,
  });
  assert.equal(gone.action, 'delete');
  assert.equal(gone.address, 'pip:/opt/venv:numpy');
  assert.equal(pipManager.lockEntry(free, live('1.0'))?.['version'], '1.0');
  assert.equal(pipManager.lockEntry(pinned, live('1.26.4')), undefined);
});

test('pip commands: one install and one uninstall per scope, every value quoted', () => {
  const hostile = pkg('/opt/my venv', 'tinyrepro[cli]', {
    find_links: ["/wheels/it's"],
    no_index: true,
    index: 'https://user:s3cret@pypi.example.org/simple',
  });
  const other = pkg('/opt/my venv', 'tinydep');
  const changes: Change[] = [
    { address: hostile.address, kind: 'pip', action: 'create', after: { version: '2.0' } },
    {
      address: other.address,
      kind: 'pip',
      action: 'create',
      after: {},
      afterUnknown: ['version'],
    },
    {
      address: 'pip:/opt/my venv:old-pkg',
      kind: 'pip',
      action: 'delete',
      before: { scope: '/opt/my venv', name: 'old-pkg', version: '1' },
    },
  ];
  const input: CommandInput = {
    changes,
    resources: new Map([hostile, other].map((r) => [r.address, r])),
    facts: {},
    changedKinds: new Set(),
    ctx: CTX,
  };
  const out = pipManager.commands(input);
  assert.equal(out.length, 2);
  assert.match(
    out[0]!.script,
    /'\/opt\/my venv'\/bin\/python -m pip uninstall -y --disable-pip-version-check --no-input old-pkg$/,
  );
  const lines = out[1]!.script.split('\n');
  assert.equal(
    lines.find((l) => l.includes(' -m pip install ')),
    "'/opt/my venv'/bin/python -m pip install --disable-pip-version-check --no-input --index-url " +
      "https://user:s3cret@pypi.example.org/simple --find-links '/wheels/it'\\''s' --no-index " +
      '${_r_rep:+--report "$_r_rep"} \'tinyrepro[cli]==2.0\' tinydep',
  );
  // pip >= 22.2 reports the archives' sha256; repro keeps them beside the venv for the lock.
  assert.match(lines.at(-1)!, /"\$_r_rep" '\/opt\/my venv'\/\.repro-wheel-sha256 \|\| true; rm -f/);
  assert.match(
    out[1]!.script,
    /case \$_r_pipv in \[0-9\]\.\*\|1\[0-9\]\.\*\|2\[01\]\.\*\|22\.\[01\]/,
  );
  assert.doesNotMatch(out[1]!.display, /s3cret/);
  // System interpreter: PEP 668's --break-system-packages when the stdlib is externally managed.
  const sys = pkg('python3', 'tinyrepro');
  const s = cmds(
    [{ address: sys.address, kind: 'pip', action: 'create', after: { version: '1.0' } }],
    [sys],
  );
  assert.match(s[0]!, /_r_bsp=--break-system-packages/);
  assert.match(
    s[0]!,
    /python3 -m pip install --disable-pip-version-check --no-input \$_r_bsp tinyrepro==1\.0$/,
  );
  // A venv: `python -m venv`, refusing a path that is not a venv; delete only with pyvenv.cfg.
  const v = venv('/opt/my venv');
  const vc = pipVenvManager.commands({
    changes: [
      { address: v.address, kind: 'pip-venv', action: 'create', after: { path: '/opt/my venv' } },
    ],
    resources: new Map([[v.address, v]]),
    facts: {},
    changedKinds: new Set(),
    ctx: CTX,
  });
  assert.match(vc[0]!.script, /exists but is not a venv \(no pyvenv\.cfg\)/);
  assert.match(vc[0]!.script, /python3 -m venv '\/opt\/my venv'$/);
  const del = pipVenvManager.commands({
    changes: [
      { address: v.address, kind: 'pip-venv', action: 'delete', before: { path: '/opt/my venv' } },
    ],
    resources: new Map(),
    facts: {},
    changedKinds: new Set(),
    ctx: CTX,
  });
  assert.equal(
    del[0]!.script,
    "if [ -f '/opt/my venv'/pyvenv.cfg ]; then rm -rf '/opt/my venv'; fi",
  );
  assert.ok('problem' in parseSpecifier('>>1'));
});

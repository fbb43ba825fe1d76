// loadSpec: a full spec normalizes to exact resources; the digest follows meaning, not formatting;
// every bad input is reported at its exact file:line:col in plain words, all at once, sorted.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatSourceRef, SpecError } from '../../src/core/errors.js';
import type { Resource } from '../../src/core/types.js';
import { loadSpec } from '../../src/spec/index.js';

// Fixtures stay in the source tree; this file runs from dist/test/unit/.
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/specs/', import.meta.url));
const fixture = (rel: string): string => path.join(FIXTURES, rel);
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** The diagnostics a load throws, as `file:line:col message` lines. */
async function problems(file: string): Promise<string[]> {
  try {
    await loadSpec(file);
  } catch (err) {
    assert.ok(err instanceof SpecError, `expected SpecError, got ${String(err)}`);
    return err.diagnostics.map((d) => `${d.at ? formatSourceRef(d.at) : '-'} ${d.message}`);
  }
  assert.fail(`${file} loaded without errors`);
}

describe('loadSpec: a full valid spec', () => {
  const file = fixture('full/repro.yaml');
  const at = (line: number, col: number) => ({ file, line, col });

  it('normalizes to the exact resources, sorted by address', async () => {
    const spec = await loadSpec(file);
    const plain = (r: Resource) => ({
      address: r.address,
      kind: r.kind,
      name: r.name,
      desired: r.desired,
      after: r.after,
      at: r.at,
      payload: r.payload?.toString('utf8'),
    });
    assert.deepEqual(spec.resources.map(plain), [
      {
        address: 'apt-source:extra',
        kind: 'apt-source',
        name: 'extra',
        desired: {
          name: 'extra',
          uri: 'http://deb.example.org/debian',
          suites: ['bookworm'],
          components: ['main', 'contrib'],
          trusted: false,
          key_sha256: sha256('fake key\n'),
        },
        after: [],
        at: at(16, 9),
        payload: 'fake key\n',
      },
      {
        address: 'apt-source:local-repo',
        kind: 'apt-source',
        name: 'local-repo',
        desired: {
          name: 'local-repo',
          uri: 'file:///srv/repo',
          suites: ['./'],
          components: [],
          trusted: true,
        },
        after: [],
        at: at(21, 9),
        payload: undefined,
      },
      {
        address: 'apt:git',
        kind: 'apt',
        name: 'git',
        desired: { name: 'git' },
        after: [],
        at: at(23, 9),
        payload: undefined,
      },
      {
        address: 'apt:jq',
        kind: 'apt',
        name: 'jq',
        desired: { name: 'jq', version: '1.6-2.1+deb12u2' },
        after: [],
        at: at(24, 9),
        payload: undefined,
      },
      {
        address: 'apt:python3-venv',
        kind: 'apt',
        name: 'python3-venv',
        desired: { name: 'python3-venv', version: '3.11.2-1+b1' },
        after: ['apt-source:extra'],
        at: at(25, 9),
        payload: undefined,
      },
      {
        address: 'env:FSLOUTPUTTYPE',
        kind: 'env',
        name: 'FSLOUTPUTTYPE',
        desired: { value: 'NIFTI_GZ' },
        after: [],
        at: at(27, 3),
        payload: undefined,
      },
      {
        address: 'env:PATH',
        kind: 'env',
        name: 'PATH',
        desired: { prepend: ['/opt/venv/bin'], append: ['/extra'] },
        after: [],
        at: at(32, 3),
        payload: undefined,
      },
      {
        // Written as a plain 1.10: kept as written, not as the float 1.1.
        address: 'env:RELEASE',
        kind: 'env',
        name: 'RELEASE',
        desired: { value: '1.10' },
        after: [],
        at: at(30, 3),
        payload: undefined,
      },
      {
        address: 'env:THREADS',
        kind: 'env',
        name: 'THREADS',
        desired: { value: '4' },
        after: [],
        at: at(28, 3),
        payload: undefined,
      },
      {
        address: 'env:TOKEN',
        kind: 'env',
        name: 'TOKEN',
        desired: { secret: true, value_sha256: sha256('abc') },
        after: [],
        at: at(31, 3),
        payload: 'abc',
      },
      {
        address: 'env:VERBOSE',
        kind: 'env',
        name: 'VERBOSE',
        desired: { value: 'true' },
        after: [],
        at: at(29, 3),
        payload: undefined,
      },
      {
        address: 'file:/etc/pipeline.conf',
        kind: 'file',
        name: '/etc/pipeline.conf',
        desired: {
          path: '/etc/pipeline.conf',
          sha256: sha256('threads=4\n'),
          size: 10,
          mode: '0644',
          owner: 'root:root',
        },
        after: ['git:/opt/src/pipeline'],
        at: at(36, 5),
        payload: 'threads=4\n',
      },
      {
        // mode written as a plain 0600 (an integer to YAML 1.2) keeps its leading zero.
        address: 'file:/etc/pipeline/extra.conf',
        kind: 'file',
        name: '/etc/pipeline/extra.conf',
        desired: {
          path: '/etc/pipeline/extra.conf',
          sha256: sha256('a=1\n'),
          size: 4,
          mode: '0600',
          source: 'conf/extra.conf',
        },
        after: [],
        at: at(41, 5),
        payload: 'a=1\n',
      },
      {
        // Written with a trailing slash.
        address: 'git:/opt/src/pipeline',
        kind: 'git',
        name: '/opt/src/pipeline',
        desired: {
          path: '/opt/src/pipeline',
          url: 'https://example.org/pipeline.git',
          revision: 'v1.2.0',
        },
        after: [],
        at: at(34, 5),
        payload: undefined,
      },
      {
        address: 'run:build',
        kind: 'run',
        name: 'build',
        desired: {
          name: 'build',
          command: 'make -C /opt/src/pipeline install',
          creates: '/usr/local/bin/pipeline',
          cwd: '/opt/src',
          index: 0,
        },
        after: [],
        at: at(43, 5),
        payload: undefined,
      },
      {
        address: 'run:check',
        kind: 'run',
        name: 'check',
        desired: {
          name: 'check',
          command: 'pipeline --version',
          unless: 'test -f /var/lib/pipeline/ok',
          index: 1,
        },
        after: ['run:build'],
        at: at(44, 5),
        payload: undefined,
      },
    ]);
  });

  it('normalizes targets, os and manager settings', async () => {
    const spec = await loadSpec(file);
    assert.equal(spec.file, file);
    assert.equal(spec.dir, path.dirname(file));
    assert.equal(spec.version, 1);
    assert.equal(spec.name, 'bids-pipeline');
    assert.deepEqual(spec.os, { distribution: 'debian', release: 'bookworm' });
    assert.deepEqual(spec.ctx, {
      specName: 'bids-pipeline',
      envFile: '/etc/profile.d/bids.sh',
      aptUpdateMaxAge: 6 * 3600,
      aptInstallRecommends: true,
    });
    assert.deepEqual(spec.targets, [
      { name: 'here', provider: 'local', config: {}, at: at(7, 3) },
      {
        name: 'laptop',
        provider: 'docker',
        config: {
          container: 'bids-pipeline',
          image: 'debian:bookworm',
          bootstrap: 'debootstrap',
          suite: 'bookworm',
          mirror: 'http://deb.debian.org/debian',
        },
        at: at(5, 3),
      },
      {
        name: 'scratch',
        provider: 'chroot',
        config: { path: '.repro/roots/bids', suite: 'bookworm', variant: 'minbase' },
        at: at(6, 3),
      },
    ]);
    assert.match(spec.digest, /^sha256:[0-9a-f]{64}$/);
  });

  it('applies defaults when settings are left out', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'repro-spec-'));
    try {
      const minimal = path.join(dir, 'repro.yaml');
      await writeFile(minimal, 'version: 1\nname: demo\ntargets: {here: {local: {}}}\n');
      const spec = await loadSpec(minimal);
      assert.deepEqual(spec.ctx, {
        specName: 'demo',
        envFile: '/etc/profile.d/repro-demo.sh',
        aptUpdateMaxAge: 86400,
        aptInstallRecommends: false,
      });
      assert.equal(spec.os, undefined);
      assert.deepEqual(spec.resources, []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('loadSpec: digest', () => {
  it('is unchanged by reformatting, key order, quoting and comments (and by the spec path)', async () => {
    const a = await loadSpec(fixture('full/repro.yaml'));
    const b = await loadSpec(fixture('reformatted/repro.yaml'));
    assert.equal(b.digest, a.digest);
  });

  const changes: [string, (text: string) => string, string?][] = [
    ['a value in the spec', (t) => t.replace('threads=4', 'threads=8')],
    ['an env value', (t) => t.replace('NIFTI_GZ', 'NIFTI')],
    ['a target setting', (t) => t.replace('variant: minbase', 'variant: buildd')],
    ['an after edge', (t) => t.replace('after: [run:build]', 'after: []')],
    ['a source file beside the spec', (t) => t, 'conf/extra.conf'],
  ];
  for (const [what, edit, touch] of changes) {
    it(`changes with ${what}`, async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'repro-spec-'));
      try {
        await cp(fixture('full'), dir, { recursive: true });
        const file = path.join(dir, 'repro.yaml');
        const before = (await loadSpec(file)).digest;
        const text = await readFile(file, 'utf8');
        if (!touch) assert.notEqual(edit(text), text, 'the edit must change the spec');
        await writeFile(file, edit(text));
        if (touch) await writeFile(path.join(dir, touch), 'a=2\n');
        assert.notEqual((await loadSpec(file)).digest, before);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('loadSpec: problems are reported where they are, in plain words', () => {
  const cases: [string, string[]][] = [
    [
      'wrong-type.yaml',
      [
        "7:25 os.apt.install_recommends: expected true or false, got 'no'",
        "8:25 os.apt.packages[2]: expected a string like 'jq' or 'jq=1.6-2' or a mapping with 'name', got 3",
      ],
    ],
    ['unknown-key.yaml', ["7:5 unknown key 'pakages' in os.apt; did you mean 'packages'?"]],
    ['missing-key.yaml', ["5:5 targets.laptop.docker: missing required key 'image'"]],
    [
      'two-providers.yaml',
      [
        '4:11 targets.laptop: a target names exactly one provider: local, chroot, docker, ssh or aws-ec2',
      ],
    ],
    [
      'no-provider.yaml',
      [
        '4:11 targets.laptop: a target names exactly one provider: local, chroot, docker, ssh or aws-ec2',
      ],
    ],
    [
      'bad-env-name.yaml',
      [
        "7:3 env: invalid name '2BAD'; expected a variable name of letters, digits and '_' not starting with a digit",
      ],
    ],
    [
      'bad-mode.yaml',
      ["6:47 files[0].mode: expected an octal mode like '0644' or '755', got '0999'"],
    ],
    [
      'content-and-source.yaml',
      [
        "6:5 files[0]: a file takes exactly one of 'content' (inline text) or 'source' (a file beside the spec)",
      ],
    ],
    [
      'missing-source.yaml',
      ["7:13 files[0].source: cannot read 'conf/missing.conf': no such file"],
    ],
    [
      'duplicate-package.yaml',
      ['10:9 os.apt.packages[2]: duplicate resource apt:jq, first declared at line 8'],
    ],
    [
      'yaml-syntax.yaml',
      [
        '5:1 YAML syntax: Flow map in block collection must be sufficiently indented and end with a }',
      ],
    ],
    [
      'several.yaml',
      [
        '1:10 version: expected 1, got 2',
        "2:7 name: expected a name of lowercase letters, digits, '.', '_' or '-' starting with a letter or digit, got 'Demo'",
        "5:9 unknown key 'vagrant' in targets.box",
        "7:17 os.distribution: expected one of debian, ubuntu, fedora, rhel, centos, rocky, almalinux, amazon, oracle, got 'debain'",
        "9:21 os.apt.update_max_age: expected a number of seconds or a duration like '6h', '30m' or '2d', got '6 hours'",
        "11:9 os.apt.sources[0]: 'key' and 'trusted: true' exclude each other: a source is either signed by a key or trusted without one",
        "13:10 env.TOKEN: a variable mapping takes either 'value' (optionally with 'secret') or 'prepend' and/or 'append'",
        "15:12 git[0].path: expected an absolute path starting with '/', got 'opt/src'",
        "17:6 unknown key 'nmae' in run[0]; did you mean 'name'?",
        "18:57 run[1].after[1]: 'rnu:build' is not a resource address; expected kind:name with kind one of apt-source, yum-repo, apt, yum, pip-venv, pip, conda-env, conda, npm, env, git, datalad, file, run",
      ],
    ],
  ];
  for (const [name, expected] of cases) {
    it(name, async () => {
      const file = fixture(`bad/${name}`);
      assert.deepEqual(
        await problems(file),
        expected.map((e) => `${file}:${e}`),
      );
    });
  }

  it('gives hints: did-you-mean for values and addresses, allowed keys, where a file was looked for', async () => {
    const hints = async (name: string) => {
      const err = await loadSpec(fixture(`bad/${name}`)).catch((e: unknown) => e);
      assert.ok(err instanceof SpecError);
      return err.diagnostics.map((d) => d.hint);
    };
    assert.deepEqual(await hints('several.yaml'), [
      undefined,
      undefined,
      'a target names exactly one provider: local, chroot, docker, ssh or aws-ec2',
      "did you mean 'debian'?",
      undefined,
      undefined,
      undefined,
      undefined,
      'allowed keys: name, command, creates, unless, cwd, after',
      "did you mean 'run:build'?",
    ]);
    assert.deepEqual(await hints('missing-source.yaml'), [
      `'source' paths are relative to the spec's directory (looked for ${fixture('bad/conf/missing.conf')})`,
    ]);
  });

  it('names the file as given, so messages read relative paths', async () => {
    const rel = path.relative(process.cwd(), fixture('bad/unknown-key.yaml'));
    assert.deepEqual(await problems(rel), [
      `${rel}:7:5 unknown key 'pakages' in os.apt; did you mean 'packages'?`,
    ]);
  });

  it('reports a missing spec file without a position', async () => {
    assert.deepEqual(await problems(fixture('bad/no-such-spec.yaml')), [
      `- cannot read spec ${fixture('bad/no-such-spec.yaml')}: no such file`,
    ]);
  });
});

describe('loadSpec: check option', () => {
  it('runs on every resource; its diagnostics get the resource position and address', async () => {
    const file = fixture('full/repro.yaml');
    const seen: string[] = [];
    const err = await loadSpec(file, {
      check: (r) => {
        seen.push(r.address);
        return r.address === 'apt:jq'
          ? [{ severity: 'error', code: 'apt.version', message: 'bad version' }]
          : [];
      },
    }).catch((e: unknown) => e);
    assert.equal(seen.length, 16);
    assert.ok(err instanceof SpecError);
    assert.deepEqual(err.diagnostics, [
      {
        severity: 'error',
        code: 'apt.version',
        message: 'bad version',
        at: { file, line: 24, col: 9 },
        address: 'apt:jq',
      },
    ]);
  });

  it('warnings alone do not fail the load', async () => {
    const spec = await loadSpec(fixture('full/repro.yaml'), {
      check: () => [{ severity: 'warning', code: 'x', message: 'just saying' }],
    });
    assert.equal(spec.resources.length, 16);
  });
});

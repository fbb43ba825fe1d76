// The conda contract through the built CLI on this machine, with a CONSTRUCTED stand-in for
// micromamba: no conda channel is reachable here and no conda tool is installable, so this checks
// repro's side only — the engine's batches (one transaction per env, then the packages recorded),
// state, repro.lock with the explicit URLs and hashes, the no-op, removal, and an env recreated
// from the lock with `--file` — never conda's behaviour. The stand-in logs its argv and "installs"
// by copying conda's own recorded conda-meta records (test/fixtures/outputs/conda/meta) into the
// prefix; `remove` deletes a record.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OUTPUTS } from '../fixtures/outputs/scenarios.js';
import { expectCode, repro, steps } from './cli.js';

let dir = '';
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const STAND_IN = `#!/bin/sh
# Constructed for repro's tests: NOT micromamba. Logs argv, copies recorded conda-meta records.
printf '%s\\n' "$*" >> "$STAND_IN_LOG"
cmd=$1; shift
prefix=''; file=''; names=''
while [ $# -gt 0 ]; do
  case $1 in
    -p) prefix=$2; shift ;;
    --file) file=$2; shift ;;
    -c) shift ;;
    -*) ;;
    *) names="$names $1" ;;
  esac
  shift
done
case $cmd in
  create)
    mkdir -p "$prefix/conda-meta" && : > "$prefix/conda-meta/history"
    if [ -n "$file" ]; then
      cp "$file" "$STAND_IN_LOG.explicit"
      grep '^http' "$file" | sed 's|.*/||; s|#.*||; s|[.]conda$||; s|[.]tar[.]bz2$||' |
        while read -r b; do cp "$STAND_IN_META/$b.json" "$prefix/conda-meta/"; done
    else
      cp "$STAND_IN_META"/*.json "$prefix/conda-meta/"
    fi ;;
  remove)
    for n in $names; do rm -f "$prefix/conda-meta/$n"-[0-9]*.json; done ;;
  install|update) : ;;
esac
`;

test('conda via the CLI: create, no-op, removal, recreate from the lock (stand-in tool)', async (t) => {
  dir = await mkdtemp(join(tmpdir(), 'repro-test-conda-e2e-'));
  const bin = join(dir, 'bin');
  await mkdir(bin);
  await writeFile(join(bin, 'micromamba'), STAND_IN);
  await chmod(join(bin, 'micromamba'), 0o755);
  const log = join(dir, 'tool.log');
  const env = {
    PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    STAND_IN_LOG: log,
    STAND_IN_META: join(OUTPUTS, 'conda', 'meta'),
  };
  const prefix = join(dir, 'envs', 'analysis');
  const spec = (packages: string) => `version: 1
name: conda-e2e
targets:
  here: {local: {}}
conda:
  - prefix: ${prefix}
    channels: [conda-forge]
    tool: micromamba
    packages: [${packages}]
`;
  await writeFile(join(dir, 'repro.yaml'), spec('six, "libzlib=1.3.1", python_abi'));
  const step = steps(t);
  const lockPath = join(dir, 'repro.lock');
  const lock = async (): Promise<Record<string, Record<string, unknown>>> =>
    (
      JSON.parse(await readFile(lockPath, 'utf8')) as {
        resources: Record<string, Record<string, unknown>>;
      }
    ).resources;

  await step('apply creates the env in one call and locks URLs and hashes', async () => {
    expectCode(await repro(dir, ['apply', '--auto-approve'], env), 0, 'apply');
    assert.equal(
      await readFile(log, 'utf8'),
      `create -y -p ${prefix} -c conda-forge six libzlib=1.3.1 python_abi\n`,
    );
    const l = await lock();
    const records = l[`conda-env:${prefix}`]!['packages'] as Record<string, string>[];
    assert.deepEqual(
      records.map((r) => `${r.name} ${r.url}#${r.md5}`),
      [
        'libzlib https://conda.anaconda.org/conda-forge/osx-arm64/libzlib-1.3.1-h8359307_2.conda#369964e85dc26bfe78f41399b366c435',
        'python_abi https://conda.anaconda.org/conda-forge/osx-arm64/python_abi-3.13-5_cp313t.conda#24a9a05eba65586da53ad7b56a06dc02',
        'six https://repo.anaconda.com/pkgs/main/osx-64/six-1.11.0-py36_1.tar.bz2#f2011bae36776142829b5eb6183c1e29',
      ],
    );
    assert.deepEqual(l[`conda:${prefix}:six`], { build: 'py36_1', version: '1.11.0' });
  });

  await step(
    'a second plan and apply change nothing; state and lock stay byte-identical',
    async () => {
      const state = await readFile(join(dir, 'state', 'here.json'), 'utf8');
      const before = await readFile(lockPath, 'utf8');
      const p = expectCode(await repro(dir, ['plan', '--detailed-exitcode'], env), 0, 'plan');
      assert.match(p.stdout, /No changes\./);
      expectCode(await repro(dir, ['apply', '--auto-approve'], env), 0, 'apply');
      assert.equal(await readFile(join(dir, 'state', 'here.json'), 'utf8'), state);
      assert.equal(await readFile(lockPath, 'utf8'), before);
    },
  );

  await step('removing a package from the spec removes it in the env’s transaction', async () => {
    await writeFile(join(dir, 'repro.yaml'), spec('"libzlib=1.3.1", python_abi'));
    expectCode(await repro(dir, ['apply', '--auto-approve'], env), 0, 'apply');
    assert.match(await readFile(log, 'utf8'), new RegExp(`\\nremove -y -p ${prefix} six\\n$`));
    const records = (await lock())[`conda-env:${prefix}`]!['packages'] as { name: string }[];
    assert.deepEqual(
      records.map((r) => r.name),
      ['libzlib', 'python_abi'],
    );
    const p = expectCode(await repro(dir, ['plan', '--detailed-exitcode'], env), 0, 'plan');
    assert.match(p.stdout, /No changes\./);
  });

  await step(
    'a fresh target (env and state gone) is created from the lock’s explicit file',
    async () => {
      await rm(prefix, { recursive: true, force: true });
      await rm(join(dir, 'state'), { recursive: true, force: true });
      const p = expectCode(await repro(dir, ['plan', '--detailed-exitcode'], env), 2, 'plan');
      assert.match(p.stdout, /created from the lock: 2 packages by explicit URL and hash/);
      expectCode(await repro(dir, ['apply', '--auto-approve'], env), 0, 'apply');
      assert.match(
        await readFile(log, 'utf8'),
        new RegExp(`\\ncreate -y -p ${prefix} --file \\S+\\n$`),
      );
      assert.equal(
        await readFile(`${log}.explicit`, 'utf8'),
        [
          '@EXPLICIT',
          'https://conda.anaconda.org/conda-forge/osx-arm64/libzlib-1.3.1-h8359307_2.conda#369964e85dc26bfe78f41399b366c435',
          'https://conda.anaconda.org/conda-forge/osx-arm64/python_abi-3.13-5_cp313t.conda#24a9a05eba65586da53ad7b56a06dc02',
          '',
        ].join('\n'),
      );
      const records = (await lock())[`conda-env:${prefix}`]!['packages'] as { name: string }[];
      assert.equal(records.length, 2);
      const again = expectCode(await repro(dir, ['plan', '--detailed-exitcode'], env), 0, 'plan');
      assert.match(again.stdout, /No changes\./);
    },
  );
});

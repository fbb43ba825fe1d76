// The end-to-end contract on real chroots: roots extracted from the cached debootstrap tarball
// (repro's own debootstrap path is covered by the provider tests). The harness mounts /proc and
// /dev only around its own commands, exactly like the provider does.
import { test, after } from 'node:test';
import { rm } from 'node:fs/promises';
import { run, steps } from './cli.js';
import { makeWorkdir, runContract, type TargetHarness } from './contract.js';
import { makeChrootRoot, removeChrootRoot, requireOrSkip } from './helpers.js';

const roots = new Map<string, string>();
let dir = '';

async function inRoot(
  name: string,
  cmd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const root = roots.get(name);
  if (!root) throw new Error(`no root for ${name}`);
  const script = [
    'set -e',
    `mount -t proc proc '${root}/proc'`,
    `mount --bind /dev '${root}/dev'`,
    `cp /etc/resolv.conf '${root}/etc/resolv.conf'`,
    'set +e',
    `chroot '${root}' /bin/sh -c "$1"`,
    'rc=$?',
    `umount '${root}/dev'; umount '${root}/proc'`,
    'exit $rc',
  ].join('\n');
  return run(['sh', '-c', script, 'sh', cmd], {
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
  });
}

const chroot: TargetHarness = {
  provider: 'chroot',
  targetYaml: (name) => `{chroot: {path: ${roots.get(name) ?? `/nonexistent/${name}`}}}`,
  async sh(name, cmd) {
    const r = await inRoot(name, cmd);
    if (r.code !== 0) throw new Error(`chroot ${name}: ${cmd}: exit ${r.code}\n${r.stderr}`);
    return r.stdout;
  },
  async try(name, cmd) {
    return (await inRoot(name, cmd)).code;
  },
  async precreate(name) {
    if (!roots.has(name)) roots.set(name, await makeChrootRoot());
  },
  async exists(name) {
    return roots.has(name);
  },
};

after(async () => {
  for (const root of roots.values()) await removeChrootRoot(root);
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('chroot: the provider contract end to end', async (t) => {
  if (!requireOrSkip(t, 'chroot')) return;
  dir = await makeWorkdir();
  roots.set('first', await makeChrootRoot());
  roots.set('second', await makeChrootRoot());
  await runContract(chroot, dir, steps(t));
  // Nothing of repro's stays mounted once the CLI has exited.
  const mounts = (await run(['cat', '/proc/self/mountinfo'])).stdout;
  for (const root of roots.values()) {
    if (mounts.includes(` ${root}/`))
      throw new Error(`something is still mounted below ${root}:\n${mounts}`);
  }
});

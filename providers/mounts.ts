// What is mounted where, read from /proc/self/mountinfo, and the one safe way to delete a root
// filesystem tree. Invariant: a tree is only removed after /proc/self/mountinfo, re-read after
// unmounting, shows nothing mounted below it, and then with `rm --one-file-system`: removing a
// chroot whose /dev is still bind-mounted would delete the host's device nodes.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { ReproError } from '../src/core/errors.js';
import { runHostTool, runProcess } from './process.js';

/** Decodes the octal escapes (`\040` for a space…) that mountinfo uses in paths. */
export function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Mount points in the order the kernel lists them (a mount stacked later comes later). */
export function parseMountPoints(mountinfo: string): string[] {
  const points: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const field = line.split(' ')[4];
    if (field !== undefined) points.push(unescapeMountPath(field));
  }
  return points;
}

export function readMountPoints(): string[] {
  return parseMountPoints(readFileSync('/proc/self/mountinfo', 'utf8'));
}

export function isMountPoint(path: string): boolean {
  return readMountPoints().includes(path);
}

/**
 * Mount points strictly below `root` (which must be a real path), innermost and latest first: the
 * order in which they can be unmounted. A point mounted twice appears twice.
 */
export function mountsBelow(root: string): string[] {
  const prefix = root.endsWith('/') ? root : `${root}/`;
  return readMountPoints()
    .filter((p) => p.startsWith(prefix))
    .reverse();
}

/**
 * Unmounts one mount point, detaching it lazily when it is busy (a process still uses it). A point
 * someone else already unmounted (e.g. destroy while a connection was open) is not an error.
 */
export async function unmount(path: string): Promise<void> {
  const r = await runProcess('umount', [path]);
  if (r.exitCode === 0 || !isMountPoint(path)) return;
  await runHostTool('umount', ['--lazy', path]);
}

/** Synchronous unmount for signal and exit handlers, where nothing asynchronous runs any more. */
export function unmountSync(path: string): boolean {
  if (spawnSync('umount', [path], { stdio: 'ignore' }).status === 0) return true;
  return spawnSync('umount', ['--lazy', path], { stdio: 'ignore' }).status === 0;
}

/** Unmounts everything below `root` and checks that nothing is left. */
export async function unmountAllBelow(root: string): Promise<void> {
  const real = await realpath(root);
  for (const p of mountsBelow(real)) {
    try {
      await unmount(p);
    } catch {
      // Checked as a whole just below, with a message naming what is still mounted.
    }
  }
  const left = mountsBelow(real);
  if (left.length > 0) {
    throw new ReproError(
      'mount.busy',
      `cannot remove ${root}: still mounted below it: ${[...new Set(left)].join(', ')}`,
      { hint: `unmount them (umount ${left[0]}) and run the command again` },
    );
  }
}

/** Removes a root filesystem tree safely (see the module comment). Missing trees are fine. */
export async function removeRootTree(root: string): Promise<void> {
  let real: string;
  try {
    real = await realpath(root);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (real === '/' || real.split('/').filter(Boolean).length < 2) {
    throw new ReproError('chroot.unsafe-path', `refusing to remove ${root} (resolves to ${real})`, {
      hint: 'a chroot root must be a directory at least two levels below /',
    });
  }
  await unmountAllBelow(real);
  await runHostTool('rm', ['-rf', '--one-file-system', '--', real]);
}

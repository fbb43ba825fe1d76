// Shared helpers for integration tests: what infrastructure this machine has (test/infra.sh makes
// it ready), skipping or failing when it is missing (a failure under CI=true, never a silent
// skip), fresh chroot roots from the cached debootstrap tarball, and names and cleanup for what
// tests create. Invariant: everything a test creates is named `repro-test-*` (containers, temp
// dirs) or carries the `repro-test` label, so a global teardown can find it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { runProcess } from '../../providers/process.js';
import { removeRootTree } from '../../providers/mounts.js';

/** The image test/infra.sh imports from the debootstrap tarball (it carries the host CA bundle). */
export const BASE_IMAGE = 'repro-test/bookworm:base';
/** The cached `debootstrap --variant=minbase bookworm` root, made by test/infra.sh. */
export const ROOTFS_TARBALL = '/var/cache/repro-test/bookworm-minbase.tar.gz';
export const TEST_LABEL = 'repro-test';

export type Infra = 'docker' | 'chroot';

let cached: Record<Infra, boolean> | undefined;
const reasons: Record<Infra, string> = { docker: '', chroot: '' };

function commandOk(argv: string[]): boolean {
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: 20_000 });
  return r.status === 0;
}

/** What this machine can run; probed once per process. */
export function infraAvailable(): Record<Infra, boolean> {
  if (cached) return cached;
  let docker = commandOk(['docker', 'info']);
  if (!docker) reasons.docker = 'the Docker daemon does not answer (docker info)';
  else if (!commandOk(['docker', 'image', 'inspect', BASE_IMAGE])) {
    docker = false;
    reasons.docker = `image ${BASE_IMAGE} is missing`;
  }
  let chroot = process.getuid?.() === 0;
  if (!chroot) reasons.chroot = 'chroot tests need root';
  else if (!existsSync(ROOTFS_TARBALL)) {
    chroot = false;
    reasons.chroot = `${ROOTFS_TARBALL} is missing`;
  } else if (!commandOk(['sh', '-c', 'command -v chroot && command -v mount'])) {
    chroot = false;
    reasons.chroot = 'chroot or mount is not installed';
  }
  cached = { docker, chroot };
  return cached;
}

/**
 * Returns true when `what` is available. Otherwise skips the test with the reason, except under
 * CI=true, where missing infrastructure fails the test.
 */
export function requireOrSkip(t: TestContext, what: Infra): boolean {
  if (infraAvailable()[what]) return true;
  const reason = `${what} unavailable: ${reasons[what]} (run bash test/infra.sh)`;
  if (process.env['CI'] === 'true') throw new Error(`CI=true and ${reason}`);
  t.skip(reason);
  return false;
}

/** A name no other test run uses: `repro-test-<prefix>-<pid>-<random>`. */
export function uniqueName(prefix: string): string {
  const base = prefix.startsWith('repro-test') ? prefix : `repro-test-${prefix}`;
  return `${base}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** A fresh Debian root in /tmp/repro-test-*, extracted from the cached tarball (a few seconds). */
export async function makeChrootRoot(): Promise<string> {
  const dir = await mkdtemp('/tmp/repro-test-root-');
  const r = await runProcess('tar', ['-xzf', ROOTFS_TARBALL, '-C', dir, '--numeric-owner']);
  if (r.exitCode !== 0) {
    await removeChrootRoot(dir);
    throw new Error(`extracting ${ROOTFS_TARBALL} into ${dir} failed: ${r.stderr}`);
  }
  return dir;
}

/** Removes a test root, unmounting anything left below it first (never rm -rf across mounts). */
export async function removeChrootRoot(dir: string): Promise<void> {
  await removeRootTree(dir);
}

/**
 * Starts a container of BASE_IMAGE, labelled for cleanup, that idles until it is removed.
 * Returns its id.
 */
export async function startTestContainer(name: string): Promise<string> {
  const r = await runProcess('docker', [
    'run',
    '-d',
    '--name',
    name,
    '--label',
    `${TEST_LABEL}=true`,
    BASE_IMAGE,
    'sleep',
    'infinity',
  ]);
  if (r.exitCode !== 0) throw new Error(`docker run --name ${name} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** Force-removes the named containers, ignoring those already gone. */
export async function removeContainers(names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  await runProcess('docker', ['rm', '--force', '--volumes', ...names]);
}

/**
 * Global teardown: removes every container named `repro-test-*` or labelled `repro-test`.
 * Containers made from BASE_IMAGE inherit its label, so this also catches containers that another
 * test file is still using: call it only when no test runs (a test file cleans up its own).
 */
export async function cleanupDockerTestObjects(): Promise<void> {
  const ids = new Set<string>();
  for (const filter of ['name=repro-test-', `label=${TEST_LABEL}`]) {
    const r = await runProcess('docker', [
      'ps',
      '--all',
      '--filter',
      filter,
      '--format',
      '{{.ID}} {{.Names}} {{.Label "repro-test"}}',
    ]);
    for (const line of r.stdout.split('\n')) {
      const [id, name, label] = line.split(' ');
      // The name filter is a substring match; keep only real `repro-test-*` names.
      if (id && (name?.startsWith('repro-test-') || label)) ids.add(id);
    }
  }
  if (ids.size > 0) await runProcess('docker', ['rm', '--force', '--volumes', ...ids]);
}

// The `chroot` provider: a Debian root filesystem in a directory of this machine, bootstrapped with
// debootstrap when missing. While a connection is open, /proc, /dev and /dev/pts are mounted in
// the root (as ReproZip's chroot unpacker does) so package managers work there.
// Invariants:
// - repro mounts only what is not already mounted, and unmounts exactly what it mounted, in
//   reverse order, when the last of this process's connections to that root closes, or
//   synchronously when the process exits or gets SIGINT/SIGTERM;
// - mounts are made private so that, on hosts whose / is a shared mount (systemd), mounting below
//   the root's /dev never propagates back into the host's /dev;
// - mount targets are checked to be real directories inside the root: a root whose `dev` is a
//   symlink to a host path would otherwise make us mount over that host path;
// - destroy removes only a root repro bootstrapped, and only once nothing is mounted below it;
// - a snapshot is a gzipped tar of the root with numeric owners and xattrs that never descends
//   into what is mounted below it (/proc, /dev, /dev/pts, anything else); it is written beside
//   the spec under .repro/snapshots/<target>/ through a temporary name and renamed when complete,
//   with its sha256 recorded in state and in a `<file>.sha256` sidecar (sha256sum format);
// - restoring a snapshot (reset, `from_snapshot`) checks the sha256 first, extracts into a new
//   directory beside the root and only then swaps it in, so a failed extraction leaves the old
//   root as it was.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import {
  copyFile,
  lstat,
  mkdir,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ReproError } from '../src/core/errors.js';
import type { IoHost } from '../src/core/io.js';
import {
  DEFAULT_MIRROR,
  DEFAULT_SUITE,
  DEFAULT_VARIANT,
  VARIANTS,
  runDebootstrap,
  writePolicyRcD,
} from './debootstrap.js';
import { spawnAttached } from './attach.js';
import {
  isMountPoint,
  mountsBelow,
  removeRootTree,
  unmount,
  unmountAllBelow,
  unmountSync,
} from './mounts.js';
import { runHostTool, runProcess, SpawnError } from './process.js';
import type {
  AttachOptions,
  Connected,
  Connection,
  ExecOptions,
  ExecResult,
  Provider,
  TargetBinding,
} from './types.js';

export interface ChrootConfig {
  /** The root directory; relative to the spec's directory unless absolute. */
  readonly path: string;
  readonly suite?: string;
  readonly variant?: string;
  readonly mirror?: string;
  /** A tarball made by `repro snapshot` to make a missing root from, instead of debootstrap. */
  readonly from_snapshot?: string;
  /** Its expected sha256 (hex); without it, the `<tarball>.sha256` sidecar is used when present. */
  readonly from_snapshot_sha256?: string;
}

/** The environment every command sees inside the root: no host variables leak in. */
export const CHROOT_ENV: NodeJS.ProcessEnv = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LC_ALL: 'C',
  HOME: '/root',
};

/** What a package manager needs inside the root, in mount order. */
const MOUNTS: readonly { rel: string; argv: (target: string) => string[] }[] = [
  { rel: 'proc', argv: (t) => ['-t', 'proc', 'proc', t] },
  { rel: 'dev', argv: (t) => ['--bind', '/dev', t] },
  { rel: 'dev/pts', argv: (t) => ['--bind', '/dev/pts', t] },
];

function settings(config: ChrootConfig) {
  return {
    suite: config.suite ?? DEFAULT_SUITE,
    variant: config.variant ?? DEFAULT_VARIANT,
    mirror: config.mirror ?? DEFAULT_MIRROR,
  };
}

export function resolveRoot(config: ChrootConfig, specDir: string): string {
  return isAbsolute(config.path) ? resolve(config.path) : resolve(specDir, config.path);
}

/** A root exists when it has a shell: that is all repro needs of a target. */
function hasShell(root: string): boolean {
  return existsSync(join(root, 'bin/sh'));
}

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
  }
}

/**
 * The mounts repro made in one root. Connections of this process to the same root share them
 * (the last to close unmounts), so one connection never pulls /proc from under another.
 */
interface RootMounts {
  refs: number;
  /** Mount points made, in mount order. */
  readonly mounted: string[];
  ready: Promise<void>;
}

const rootMounts = new Map<string, RootMounts>();
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

function releaseAllSync(): void {
  for (const entry of rootMounts.values()) {
    while (entry.mounted.length > 0) unmountSync(entry.mounted.pop()!);
  }
  rootMounts.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  releaseAllSync();
  uninstallHandlers();
  // With our handler gone and no other listener, re-raising gives the default behaviour (the
  // process dies of the signal, exit code 130/143); a CLI with its own handler keeps control.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHandlers(): void {
  process.on('exit', releaseAllSync);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstallHandlers(): void {
  process.off('exit', releaseAllSync);
  for (const s of SIGNALS) process.off(s, onSignal);
}

/** The mount point for `rel`, created if missing, and refused unless a real directory. */
async function mountTarget(root: string, rel: string): Promise<string> {
  const target = join(root, rel);
  await mkdir(target, { recursive: true });
  const st = await lstat(target);
  if (!st.isDirectory() || (await realpath(target)) !== target) {
    throw new ReproError(
      'chroot.bad-mountpoint',
      `${target} is not a plain directory inside the chroot (a symlink?); refusing to mount on it`,
      { hint: `replace ${target} with an empty directory` },
    );
  }
  return target;
}

/** Mounts what is missing below `root`, recording each mount; on failure, undoes its own. */
async function mountAll(root: string, mounted: string[]): Promise<void> {
  try {
    for (const m of MOUNTS) {
      const target = await mountTarget(root, m.rel);
      if (isMountPoint(target)) continue;
      await runHostTool('mount', m.argv(target), {
        hint: 'mounting needs root (CAP_SYS_ADMIN); run repro as root',
      });
      mounted.push(target);
      await runHostTool('mount', ['--make-private', target]);
    }
  } catch (e) {
    await unmountAll(mounted).catch(() => {});
    throw e;
  }
}

/** Unmounts in reverse order; throws after trying all when some stay mounted. */
async function unmountAll(mounted: string[]): Promise<void> {
  const failed: string[] = [];
  while (mounted.length > 0) {
    const p = mounted.pop()!;
    await unmount(p).catch(() => failed.push(p));
  }
  if (failed.length > 0) {
    throw new ReproError('mount.busy', `could not unmount ${failed.join(', ')}`, {
      hint: `find what uses them (fuser -vm ${failed[0]}) and unmount by hand`,
    });
  }
}

async function acquireMounts(root: string): Promise<void> {
  let entry = rootMounts.get(root);
  if (!entry) {
    if (rootMounts.size === 0) installHandlers();
    const fresh: RootMounts = { refs: 0, mounted: [], ready: Promise.resolve() };
    fresh.ready = mountAll(root, fresh.mounted);
    rootMounts.set(root, fresh);
    entry = fresh;
  }
  entry.refs++;
  try {
    await entry.ready;
  } catch (e) {
    await releaseMounts(root);
    throw e;
  }
}

async function releaseMounts(root: string): Promise<void> {
  const entry = rootMounts.get(root);
  if (!entry || --entry.refs > 0) return;
  rootMounts.delete(root);
  if (rootMounts.size === 0) uninstallHandlers();
  await unmountAll(entry.mounted);
}

class ChrootConnection implements Connection {
  readonly description: string;
  private closed = false;
  private holdsMounts = false;

  constructor(private readonly root: string) {
    this.description = `chroot ${root}`;
  }

  /** Makes sure the mounts are there and copies resolv.conf. */
  async open(): Promise<void> {
    await acquireMounts(this.root);
    this.holdsMounts = true;
    try {
      await this.copyResolvConf();
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  private async copyResolvConf(): Promise<void> {
    if (!existsSync('/etc/resolv.conf')) return;
    const etc = join(this.root, 'etc');
    if ((await realpath(etc)) !== etc) return; // etc is a symlink: never write through it.
    const dest = join(etc, 'resolv.conf');
    // A symlink (e.g. to ../run/systemd/resolve/stub-resolv.conf or an absolute path) would be
    // followed on the host; replace it with a plain file.
    const st = await lstat(dest).catch(() => undefined);
    if (st?.isSymbolicLink()) await unlink(dest);
    await copyFile('/etc/resolv.conf', dest);
  }

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.closed)
      throw new ReproError('connection.closed', `exec on closed ${this.description}`);
    if (argv.length === 0) throw new ReproError('exec.empty', 'exec called with an empty argv');
    try {
      return await runProcess('chroot', [this.root, ...argv], { ...opts, env: CHROOT_ENV });
    } catch (e) {
      if (e instanceof SpawnError) {
        throw new ReproError(
          'host.tool-missing',
          `cannot run chroot on this machine (${e.errno})`,
          {
            hint: 'install coreutils and run repro as root',
            cause: e,
          },
        );
      }
      throw e;
    }
  }

  /**
   * Runs argv in the root with this process's stdio inherited (the terminal stays a terminal).
   * While it runs, ^C belongs to the command: the handler that unmounts on SIGINT is set aside,
   * else a ^C typed in `repro shell` would pull /proc from under the shell.
   */
  async attach(argv: readonly string[], opts: AttachOptions): Promise<number> {
    if (this.closed)
      throw new ReproError('connection.closed', `attach on closed ${this.description}`);
    if (argv.length === 0) throw new ReproError('exec.empty', 'attach called with an empty argv');
    const env: NodeJS.ProcessEnv = { PATH: CHROOT_ENV['PATH'], HOME: '/root' };
    if (opts.tty || process.env['TERM']) env['TERM'] = process.env['TERM'] || 'xterm';
    const held = process.listeners('SIGINT').includes(onSignal);
    if (held) process.off('SIGINT', onSignal);
    try {
      return await spawnAttached('chroot', [this.root, ...argv], env);
    } finally {
      if (held && rootMounts.size > 0) process.on('SIGINT', onSignal);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (!this.holdsMounts) return;
    this.holdsMounts = false;
    await releaseMounts(this.root);
  }
}

function notCreated(root: string): ReproError {
  return new ReproError('target.missing', `chroot ${root} does not exist (no bin/sh in it)`, {
    hint: 'run `repro apply` to create it',
  });
}

function rootOf(config: ChrootConfig, binding: TargetBinding, specDir: string): string {
  return typeof binding['path'] === 'string' ? binding['path'] : resolveRoot(config, specDir);
}

/** A path as state records it: relative to the spec's directory when inside it. */
function recordedPath(file: string, specDir: string): string {
  const rel = relative(specDir, file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Checks a tarball against the sha256 expected for it; a mismatch is refused. */
async function verifyTarball(file: string, expected: string | undefined): Promise<void> {
  if (!existsSync(file)) {
    throw new ReproError('chroot.snapshot-missing', `snapshot tarball ${file} does not exist`, {
      hint: 'restore it (it lives beside the spec under .repro/snapshots/), or take a new snapshot',
    });
  }
  if (!expected) return;
  const actual = await sha256File(file);
  if (actual !== expected) {
    throw new ReproError(
      'chroot.snapshot-corrupt',
      `snapshot tarball ${file} has sha256 ${actual}, expected ${expected}`,
      { hint: 'the file was changed or truncated since the snapshot; restore it from a copy' },
    );
  }
}

/** The sha256 to expect for `from_snapshot`: the config's, else the sidecar's, else none. */
async function expectedSha256(config: ChrootConfig, file: string): Promise<string | undefined> {
  if (config.from_snapshot_sha256) return config.from_snapshot_sha256;
  try {
    return /^[0-9a-f]{64}/.exec(await readFile(`${file}.sha256`, 'utf8'))?.[0];
  } catch {
    return undefined;
  }
}

/**
 * Tars `root` into `file` (gzip, numeric owners, xattrs), hashing the bytes as they are written.
 * Nothing mounted below the root is entered: its mount points are kept, their content excluded.
 */
async function tarRoot(root: string, file: string, io: IoHost): Promise<string> {
  const real = await realpath(root);
  const excluded = new Set(['proc', 'sys', ...mountsBelow(real).map((p) => relative(real, p))]);
  const args = [
    '--create',
    '--gzip',
    '--numeric-owner',
    '--xattrs',
    '--xattrs-include=*',
    '--one-file-system',
    '--anchored',
    ...[...excluded].sort().map((rel) => `--exclude=./${rel}/*`),
    '-C',
    real,
    '.',
  ];
  const partial = `${file}.partial-${process.pid}`;
  io.notify('progress', `writing ${file}`);
  const hash = createHash('sha256');
  try {
    await new Promise<void>((resolvePromise, reject) => {
      const tar = spawn('tar', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const out = createWriteStream(partial);
      let stderr = '';
      let exit: number | undefined;
      let flushed = false;
      const settle = () => {
        if (exit === undefined || !flushed) return;
        if (exit > 1)
          reject(
            new ReproError(
              'chroot.snapshot',
              `tar of ${real} failed (exit ${exit}): ${stderr.trim().split('\n').slice(-5).join('\n')}`,
            ),
          );
        else {
          if (exit === 1)
            io.notify('warn', `tar: some files changed while the root was read: ${stderr.trim()}`);
          resolvePromise();
        }
      };
      tar.on('error', (e) =>
        reject(new ReproError('host.tool-missing', `cannot run tar: ${e.message}`, { cause: e })),
      );
      tar.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      tar.stdout.on('data', (b: Buffer) => hash.update(b));
      tar.stdout.pipe(out);
      out.on('error', reject);
      out.on('finish', () => {
        flushed = true;
        settle();
      });
      tar.on('close', (c) => {
        exit = c ?? 2;
        settle();
      });
    });
    await rename(partial, file);
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  }
  return hash.digest('hex');
}

/**
 * Replaces `root` by the content of `file`: extracts beside it, then swaps. The old root (with
 * whatever is mounted below it unmounted first) is removed only once the new one is in place.
 */
async function restoreRoot(file: string, root: string, io: IoHost): Promise<void> {
  const parent = dirname(root);
  await mkdir(parent, { recursive: true });
  const staging = join(parent, `.${basename(root)}.repro-new-${process.pid}`);
  await removeRootTree(staging);
  await mkdir(staging);
  io.notify('progress', `extracting ${file}`);
  try {
    await runHostTool('tar', [
      '--extract',
      '--gzip',
      '--numeric-owner',
      '--same-owner',
      '--preserve-permissions',
      '--xattrs',
      '--xattrs-include=*',
      '-f',
      file,
      '-C',
      staging,
    ]);
  } catch (e) {
    await removeRootTree(staging);
    throw e;
  }
  if (existsSync(root)) {
    try {
      await unmountAllBelow(root);
    } catch (e) {
      await removeRootTree(staging);
      throw e;
    }
    const old = join(parent, `.${basename(root)}.repro-old-${process.pid}`);
    try {
      await rename(root, old);
    } catch (e) {
      await removeRootTree(staging);
      throw new ReproError(
        'chroot.restore',
        `cannot move ${root} aside to restore the snapshot: ${(e as Error).message}`,
        { hint: 'is the root itself a mount point? Restore needs a plain directory', cause: e },
      );
    }
    await rename(staging, root);
    await removeRootTree(old);
  } else {
    await rename(staging, root);
  }
}

/** Bootstraps an empty or missing root; on failure, leaves nothing behind. */
async function bootstrapRoot(root: string, config: ChrootConfig, io: IoHost): Promise<void> {
  const existed = existsSync(root);
  await mkdir(root, { recursive: true });
  try {
    await runDebootstrap({ ...settings(config), target: root, io });
    await writePolicyRcD(root);
  } catch (e) {
    io.notify('warn', `debootstrap failed; removing the partial root ${root}`);
    await removeRootTree(root);
    if (existed) await mkdir(root);
    throw e;
  }
}

export const chrootProvider = {
  kind: 'chroot',

  check(config: ChrootConfig): string[] {
    const errors: string[] = [];
    if (!config.path || !config.path.trim()) errors.push('chroot: `path` must not be empty');
    if (config.suite !== undefined && !/^[a-z0-9][a-z0-9.+-]*$/.test(config.suite)) {
      errors.push(`chroot: suite ${JSON.stringify(config.suite)} is not a Debian suite name`);
    }
    if (config.variant !== undefined && !(VARIANTS as readonly string[]).includes(config.variant)) {
      errors.push(
        `chroot: variant ${JSON.stringify(config.variant)} is not one of ${VARIANTS.join(', ')}`,
      );
    }
    if (config.mirror !== undefined && !/^(https?|file):\/\/\S+$/.test(config.mirror)) {
      errors.push(
        `chroot: mirror ${JSON.stringify(config.mirror)} must be an http(s):// or file:// URL`,
      );
    }
    if (config.from_snapshot !== undefined && !config.from_snapshot.trim()) {
      errors.push('chroot: `from_snapshot` must not be empty');
    }
    if (
      config.from_snapshot_sha256 !== undefined &&
      !/^[0-9a-f]{64}$/.test(config.from_snapshot_sha256)
    ) {
      errors.push('chroot: `from_snapshot_sha256` must be 64 lower-case hex digits');
    }
    return errors;
  },

  describeCreate(config: ChrootConfig): string {
    if (config.from_snapshot) return `chroot at ${config.path}: extract ${config.from_snapshot}`;
    const s = settings(config);
    return `chroot at ${config.path}: debootstrap --variant=${s.variant} ${s.suite} from ${s.mirror}`;
  },

  async connect(config, { binding, create, io, specDir }): Promise<Connected | undefined> {
    const root = resolveRoot(config, specDir);
    let created = false;
    if (!hasShell(root)) {
      if (!(await isEmptyOrMissing(root))) {
        throw new ReproError(
          'chroot.not-a-root',
          `chroot path ${root} exists but is not a root filesystem (no bin/sh in it)`,
          {
            hint: 'point `path` at a Debian root, or at a missing or empty directory to bootstrap one',
          },
        );
      }
      if (!create) return undefined;
      if (config.from_snapshot) {
        const file = resolve(specDir, config.from_snapshot);
        await verifyTarball(file, await expectedSha256(config, file));
        await restoreRoot(file, root, io);
      } else {
        await bootstrapRoot(root, config, io);
      }
      created = true;
    }
    const connection = new ChrootConnection(await realpath(root));
    await connection.open();
    const s = settings(config);
    const bindingOut: TargetBinding = {
      path: root,
      created: created || (binding?.['created'] === true && binding['path'] === root),
      suite: s.suite,
      variant: s.variant,
    };
    return { connection, binding: bindingOut, created };
  },

  async snapshot(config, { binding, name, target, io, specDir }) {
    const root = rootOf(config, binding, specDir);
    if (!hasShell(root)) throw notCreated(root);
    const dir = join(specDir, '.repro', 'snapshots', target);
    const file = join(dir, `${name}.tar.gz`);
    const realRoot = await realpath(root);
    if (`${resolve(dir)}${sep}`.startsWith(`${realRoot}${sep}`)) {
      throw new ReproError(
        'chroot.snapshot-inside',
        `the snapshot directory ${dir} is inside the root ${root}; the tarball would contain itself`,
        { hint: 'keep the spec outside the chroot root' },
      );
    }
    await mkdir(dir, { recursive: true });
    const sha256 = await tarRoot(root, file, io);
    await writeFile(`${file}.sha256`, `${sha256}  ${basename(file)}\n`);
    return { name, kind: 'tarball' as const, ref: recordedPath(file, specDir), sha256 };
  },

  async reset(config, { binding, snapshot, io, specDir }): Promise<TargetBinding> {
    if (snapshot.kind !== 'tarball') {
      throw new ReproError(
        'snapshot.kind',
        `snapshot ${snapshot.name} is a ${snapshot.kind}, not a tarball`,
      );
    }
    const file = resolve(specDir, snapshot.ref);
    await verifyTarball(file, snapshot.sha256);
    const root = rootOf(config, binding, specDir);
    await restoreRoot(file, root, io);
    const s = settings(config);
    // No binding: the target was destroyed (or never bound) and this reset made the root.
    const created = binding['created'] === true || binding['path'] === undefined;
    return { path: root, created, suite: s.suite, variant: s.variant };
  },

  async destroy(config, { binding, io, specDir }): Promise<boolean> {
    if (binding['created'] !== true) return false;
    const root =
      typeof binding['path'] === 'string' ? binding['path'] : resolveRoot(config, specDir);
    if (!existsSync(root)) return true;
    io.notify('progress', `removing chroot ${root}`);
    await removeRootTree(root);
    return true;
  },
} satisfies Provider<ChrootConfig>;

// Reads, writes and locks state files. Invariants: a write is atomic (write-file-atomic) and the
// previous file is kept as `<file>.backup`; content is canonical JSON so an unchanged state is
// byte-identical; a write that changes nothing but the serial is skipped; a reader never accepts
// a file it does not understand.
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, copyFile, rm, writeFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { dirname } from 'node:path';
import { ReproError, StateLockedError } from '../core/errors.js';
import { canonicalJson } from '../core/canonical.js';
import type { ProviderKind } from '../../providers/types.js';
import { STATE_FORMAT_VERSION, type StateFile } from './format.js';

type Upgrader = (old: Record<string, unknown>) => Record<string, unknown>;
/** UPGRADERS[n] turns format n into n+1. Empty while there is only format 1. */
const UPGRADERS: Record<number, Upgrader> = {};

export function newState(target: string, provider: ProviderKind, specDigest: string): StateFile {
  return {
    format_version: STATE_FORMAT_VERSION,
    lineage: randomUUID(),
    serial: 0,
    spec_digest: specDigest,
    target: { name: target, provider, binding: null },
    resources: {},
  };
}

/** Parses and upgrades state text; throws a ReproError naming the file for anything unreadable. */
export function parseState(text: string, path: string): StateFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ReproError('state.corrupt', `state file ${path} is not valid JSON (${(e as Error).message})`, {
      hint: `restore it from ${path}.backup or from version control`,
    });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ReproError('state.corrupt', `state file ${path} is not a JSON object`, {
      hint: `restore it from ${path}.backup or from version control`,
    });
  }
  let obj = raw as Record<string, unknown>;
  const version = obj['format_version'];
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new ReproError('state.corrupt', `state file ${path} has no valid format_version`, {
      hint: `restore it from ${path}.backup or from version control`,
    });
  }
  if (version > STATE_FORMAT_VERSION) {
    throw new ReproError(
      'state.future',
      `state file ${path} has format version ${version}, newer than this repro understands (${STATE_FORMAT_VERSION})`,
      { hint: 'upgrade repro; it refuses to rewrite a state file from a newer version' },
    );
  }
  for (let v = version; v < STATE_FORMAT_VERSION; v++) {
    const up = UPGRADERS[v];
    if (!up) throw new ReproError('state.corrupt', `no upgrader for state format ${v} (${path})`);
    obj = { ...up(obj), format_version: v + 1 };
  }
  const problems: string[] = [];
  if (typeof obj['lineage'] !== 'string') problems.push('lineage');
  if (typeof obj['serial'] !== 'number') problems.push('serial');
  if (typeof obj['spec_digest'] !== 'string') problems.push('spec_digest');
  const target = obj['target'] as Record<string, unknown> | undefined;
  if (!target || typeof target['name'] !== 'string' || typeof target['provider'] !== 'string') {
    problems.push('target');
  }
  const resources = obj['resources'];
  if (!resources || typeof resources !== 'object' || Array.isArray(resources)) {
    problems.push('resources');
  } else {
    for (const [addr, r] of Object.entries(resources)) {
      const rr = r as Record<string, unknown> | null;
      if (!rr || typeof rr['kind'] !== 'string' || typeof rr['attributes'] !== 'object') {
        problems.push(`resources["${addr}"]`);
      }
    }
  }
  const snapshots = obj['snapshots'];
  if (snapshots !== undefined) {
    if (!Array.isArray(snapshots)) problems.push('snapshots');
    else {
      snapshots.forEach((sn: unknown, i) => {
        const r = sn as Record<string, unknown> | null;
        if (
          !r ||
          typeof r['name'] !== 'string' ||
          typeof r['kind'] !== 'string' ||
          typeof r['ref'] !== 'string' ||
          typeof r['serial'] !== 'number' ||
          !r['resources'] ||
          typeof r['resources'] !== 'object'
        ) {
          problems.push(`snapshots[${i}]`);
        }
      });
    }
  }
  if (problems.length > 0) {
    throw new ReproError('state.corrupt', `state file ${path} is malformed: bad ${problems.join(', ')}`, {
      hint: `restore it from ${path}.backup or from version control`,
    });
  }
  return obj as unknown as StateFile;
}

export async function readState(path: string): Promise<StateFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ReproError('state.read', `cannot read state file ${path}: ${(e as Error).message}`);
  }
  return parseState(text, path);
}

export function serializeState(state: StateFile): string {
  const { pending, snapshots, ...rest } = state;
  const out: Record<string, unknown> = { ...rest };
  if (pending && pending.length > 0) out['pending'] = pending;
  if (snapshots && snapshots.length > 0) {
    out['snapshots'] = [...snapshots].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
  return canonicalJson(out);
}

/**
 * Writes `next` when it differs from `previous` (ignoring the serial), bumping the serial.
 * Returns the state as written (or `previous` when nothing changed).
 */
export async function writeState(
  path: string,
  previous: StateFile | undefined,
  next: StateFile,
): Promise<StateFile> {
  if (previous && serializeState({ ...next, serial: previous.serial }) === serializeState(previous)) {
    return previous;
  }
  const written: StateFile = { ...next, serial: (previous?.serial ?? next.serial) + 1 };
  await mkdir(dirname(path), { recursive: true });
  if (previous) {
    try {
      await copyFile(path, `${path}.backup`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  // Loaded on first write: commands that only read state (validate, plan, show) skip it.
  const { default: writeFileAtomic } = await import('write-file-atomic');
  await writeFileAtomic(path, serializeState(written), { fsync: true });
  return written;
}

export interface StateLock {
  release(): Promise<void>;
}

interface Holder {
  pid: number;
  host: string;
  user: string;
  command: string;
  since: string;
}

/**
 * Takes the apply lock on a state file (proper-lockfile's directory `<file>.lock`), writing who
 * holds it inside, so that a second apply can say who has it. A lock left by a killed process
 * goes stale after 30 s without updates and is then taken over.
 */
export async function lockState(path: string, command: string): Promise<StateLock> {
  await mkdir(dirname(path), { recursive: true });
  const lockDir = `${path}.lock`;
  let release: () => Promise<void>;
  const { default: lockfile } = await import('proper-lockfile');
  try {
    release = await lockfile.lock(path, {
      realpath: false,
      lockfilePath: lockDir,
      stale: 30_000,
      update: 5_000,
      onCompromised: () => {
        // Another process took over a lock we thought was ours; keep going is unsafe.
        process.emitWarning(`the lock on ${path} was taken over by another process`);
      },
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOCKED') {
      throw new StateLockedError(path, await describeHolder(path));
    }
    throw new ReproError('state.lock', `cannot lock ${path}: ${(e as Error).message}`, { cause: e });
  }
  const holder: Holder = {
    pid: process.pid,
    host: hostname(),
    user: safeUser(),
    command,
    since: new Date().toISOString(),
  };
  // Beside the lock directory, not inside it: proper-lockfile removes the directory with rmdir.
  const holderFile = `${path}.lock-holder.json`;
  try {
    await writeFile(holderFile, JSON.stringify(holder) + '\n');
  } catch {
    // The holder note is informative only.
  }
  return {
    release: async () => {
      await rm(holderFile, { force: true });
      await release();
    },
  };
}

async function describeHolder(path: string): Promise<string> {
  try {
    const h = JSON.parse(await readFile(`${path}.lock-holder.json`, 'utf8')) as Holder;
    return `pid ${h.pid} (${h.user}@${h.host}, \`${h.command}\`, since ${h.since})`;
  } catch {
    return `another process (lock directory ${path}.lock)`;
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}

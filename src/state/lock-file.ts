// repro.lock: the exact version every unpinned resource resolved to, shared by all targets of a
// spec and committed beside it. Applying to a new target installs these, never a fresh
// resolution, until `repro apply --update`. Canonical JSON; written atomically only on change.
import { readFile } from 'node:fs/promises';
import { ReproError } from '../core/errors.js';
import { canonicalJson } from '../core/canonical.js';
import type { Address, Attrs } from '../core/types.js';

export const LOCK_FORMAT_VERSION = 1;

export interface LockFile {
  readonly lock_version: number;
  readonly resources: Readonly<Record<Address, Attrs>>;
}

export function emptyLock(): LockFile {
  return { lock_version: LOCK_FORMAT_VERSION, resources: {} };
}

export async function readLock(path: string): Promise<LockFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyLock();
    throw e;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ReproError('lock.corrupt', `lock file ${path} is not valid JSON (${(e as Error).message})`, {
      hint: 'restore it from version control, or delete it and run `repro apply --update` to resolve again',
    });
  }
  const obj = raw as Partial<LockFile> | null;
  if (!obj || typeof obj !== 'object' || typeof obj.lock_version !== 'number' || typeof obj.resources !== 'object') {
    throw new ReproError('lock.corrupt', `lock file ${path} is malformed`, {
      hint: 'restore it from version control',
    });
  }
  if (obj.lock_version > LOCK_FORMAT_VERSION) {
    throw new ReproError('lock.future', `lock file ${path} has version ${obj.lock_version}, newer than this repro understands`, {
      hint: 'upgrade repro',
    });
  }
  return obj as LockFile;
}

export function serializeLock(lock: LockFile): string {
  return canonicalJson(lock);
}

/** Writes the lock when its content changed. Returns true when it wrote. */
export async function writeLock(path: string, previous: LockFile, next: LockFile): Promise<boolean> {
  if (serializeLock(previous) === serializeLock(next)) return false;
  const { default: writeFileAtomic } = await import('write-file-atomic');
  await writeFileAtomic(path, serializeLock(next), { fsync: true });
  return true;
}

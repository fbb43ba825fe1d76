// The spec digest: a hash of what the spec means, not how it is written. Plans and state carry it
// so a saved plan can be refused once the spec has changed. Positions, the file path, payload
// bytes (represented by their hashes in `desired`) and YAML formatting never enter it.
import { createHash } from 'node:crypto';
import type { Spec } from './types.js';

export function specDigest(spec: Omit<Spec, 'digest' | 'file' | 'dir'>): string {
  const meaning = {
    version: spec.version,
    name: spec.name,
    os: spec.os,
    ctx: spec.ctx,
    targets: spec.targets.map((t) => ({ name: t.name, provider: t.provider, config: t.config })),
    resources: spec.resources.map((r) => ({
      address: r.address,
      desired: r.desired,
      after: r.after,
    })),
  };
  return `sha256:${createHash('sha256').update(canonicalJson(meaning)).digest('hex')}`;
}

/** JSON with object keys sorted at every depth and undefined members dropped. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

// The shared vocabulary of the engine: resources, their attributes, actions and changes.
// Everything here is plain data that serializes to JSON deterministically.
import type { SourceRef } from './errors.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };
/** Attributes of a resource: desired (from the spec), live (from a probe) or recorded (in state). */
export type Attrs = { [k: string]: JsonValue };

/** Stable, human-readable resource address: `apt:jq`, `env:PATH`, `git:/opt/src/x`, `file:/etc/x`, `run:build`. */
export type Address = string;

/** Resource kinds, in layer order. A kind's index is its layer. */
export const KINDS = [
  'apt-source',
  'yum-repo',
  'apt',
  'yum',
  'pip-venv',
  'pip',
  'conda-env',
  'conda',
  'npm',
  'env',
  'git',
  'datalad',
  'file',
  'run',
] as const;
export type ManagerKind = (typeof KINDS)[number];

export function layerOf(kind: ManagerKind): number {
  return KINDS.indexOf(kind);
}

export function addressOf(kind: ManagerKind, name: string): Address {
  return `${kind}:${name}`;
}

/** Splits `apt:jq` into kind and name; the name may itself contain ':' (e.g. `file:/a:b`). */
export function parseAddress(address: string): { kind: string; name: string } | undefined {
  const i = address.indexOf(':');
  if (i <= 0 || i === address.length - 1) return undefined;
  return { kind: address.slice(0, i), name: address.slice(i + 1) };
}

/** One leaf of the spec, normalized. */
export interface Resource {
  readonly address: Address;
  readonly kind: ManagerKind;
  /** The part of the address after `kind:` (package name, variable name, absolute path, step name). */
  readonly name: string;
  /**
   * Normalized desired configuration, manager-specific. Displayable and stored in plans: it must
   * never contain a secret or bulky content (those go in `payload`, represented here by a sha256).
   */
  readonly desired: Attrs;
  /**
   * Bulky or secret data needed to apply (file content, secret env value). Never written to plans,
   * state or logs. Its sha256 is in `desired`.
   */
  readonly payload?: Buffer;
  /** Explicit ordering edges from the spec's `after:`. */
  readonly after: readonly Address[];
  /** Where the resource is declared in the spec. */
  readonly at: SourceRef;
}

/** Actions are the symbols users see. */
export type Action = 'create' | 'update' | 'replace' | 'delete' | 'noop';

export const ACTION_SYMBOLS: Record<Action, string> = {
  create: '+',
  update: '~',
  replace: '-/+',
  delete: '-',
  noop: ' ',
};

/** One planned change to one resource. */
export interface Change {
  readonly address: Address;
  readonly kind: ManagerKind;
  readonly action: Action;
  /** The resource as it is on the target now (live), undefined when absent. */
  readonly before?: Attrs;
  /** The resource as it will be after apply, undefined for delete. */
  readonly after?: Attrs;
  /** Attribute names of `after` whose values are only known after apply. */
  readonly afterUnknown?: readonly string[];
  /** For display only; apply decides from action, before and after. */
  readonly reason?: string;
}

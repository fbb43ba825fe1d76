// Helpers shared by the managers: diagnostics, path grammar, the probe line protocol and the one
// atomic "write these bytes to this path" shell fragment.
//
// Invariants:
// - Probe fragments run inside a subshell with stdin from /dev/null, so a fragment can neither
//   leak variables or `cd` into the next one nor read the script from stdin. Each output line is
//   `TAG<TAB>INDEX<TAB>fields…`, where INDEX is the item's position in the `items` array the
//   fragment was built from; names and paths never need to round-trip through the output.
// - File content only reaches a script as base64 (a string of [A-Za-z0-9+/=]), so no content can
//   break out of its quotes or show up in a Command's display.
import type { Diagnostic } from '../core/errors.js';
import { shellQuote } from '../core/shell.js';
import type { Attrs, Change, JsonValue, Resource } from '../core/types.js';
import type { DiffInput, ProbeItem } from './types.js';

export { sha256Hex } from '../core/canonical.js';

export function diag(resource: Resource, code: string, message: string, hint?: string): Diagnostic {
  return {
    severity: 'error',
    code,
    message,
    at: resource.at,
    address: resource.address,
    ...(hint === undefined ? {} : { hint }),
  };
}

/** The exact string value of `desired[key]`, or undefined when absent or not a string. */
export function str(attrs: Attrs | undefined, key: string): string | undefined {
  const v = attrs?.[key];
  return typeof v === 'string' ? v : undefined;
}

export function strList(attrs: Attrs | undefined, key: string): string[] | undefined {
  const v = attrs?.[key];
  if (!Array.isArray(v)) return undefined;
  return v.filter((x): x is string => typeof x === 'string');
}

/** Control characters (including newline and tab) have no place in paths, names or URLs we manage. */
// eslint-disable-next-line no-control-regex
export const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Why `path` is not an acceptable absolute, normalized path, or undefined when it is. Normalized
 * means no empty, `.` or `..` segments and no trailing slash, so one file has one address.
 */
export function pathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'must be an absolute path';
  if (path === '/') return 'must not be the root directory';
  if (CONTROL.test(path)) return 'must not contain control characters (newline, tab, …)';
  const segments = path.slice(1).split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) {
    return 'must be normalized (no "//", "/./", "/../" or trailing "/")';
  }
  return undefined;
}

export function parentDir(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** Wraps a probe fragment so it cannot leak state into, or read the input of, the whole script. */
export function probeFragment(lines: readonly string[]): string {
  // No indentation: a line may continue a quoted multi-line string (e.g. a run step's `unless`).
  // An empty subshell is a syntax error in sh: nothing to probe is the no-op `:`.
  return ['(', ...(lines.length > 0 ? lines : [':']), ') </dev/null'].join('\n');
}

/** The path a path-named resource (`file:`, `git:`, `datalad:`) is about, from any side. */
/**
 * An attribute of the resource a diff is about, from the spec, else the target, else the state
 * (a resource removed from the spec has only the last two); throws naming the manager when none
 * has it.
 */
export function attrOf(input: DiffInput, key: string, kind: string): string {
  const v = str(input.resource?.desired, key) ?? str(input.live, key) ?? str(input.recorded, key);
  if (v === undefined) throw new Error(`${kind}.diff: no resource, live or recorded ${key}`);
  return v;
}

export function pathOf(input: DiffInput, kind: string): string {
  const p = input.resource?.name ?? str(input.live, 'path') ?? str(input.recorded, 'path');
  if (p === undefined) throw new Error(`${kind}.diff: no resource, live or recorded path`);
  return p;
}

/** One parsed probe line: its tag and tab-separated fields. */
export interface ProbeLine {
  readonly tag: string;
  readonly fields: readonly string[];
}

/** Splits a probe section into tagged lines; lines without a tab (noise) are ignored. */
export function probeLines(output: string): ProbeLine[] {
  const out: ProbeLine[] = [];
  for (const line of output.split('\n')) {
    const i = line.indexOf('\t');
    if (i <= 0) continue;
    out.push({ tag: line.slice(0, i), fields: line.slice(i + 1).split('\t') });
  }
  return out;
}

/** The item index a probe line refers to, when it is a valid index into `length` items. */
export function itemIndex(field: string | undefined, length: number): number | undefined {
  if (field === undefined || !/^[0-9]+$/.test(field)) return undefined;
  const n = Number(field);
  return n < length ? n : undefined;
}

/** `printf` of a constant error message to stderr followed by `exit 1`, for use inside scripts. */
export function failScript(message: string): string {
  return `printf '%s\\n' ${shellQuote(message)} >&2; exit 1`;
}

export interface WriteFileOptions {
  readonly path: string;
  readonly content: Buffer;
  /** Mode to set, 4 octal digits; undefined keeps the mode of the file being replaced (0644 if new). */
  readonly mode?: string;
  /** chown argument (`user` or `user:group`); undefined keeps the owner of the file being replaced. */
  readonly owner?: string;
  /** Copy the content from the file whose path is in this shell variable instead of embedding it. */
  readonly fromVariable?: string;
}

/**
 * Shell text that writes `content` to `path` atomically: a temp file in the same directory, mode
 * and owner set on the temp file, then `mv` over the target. A directory at `path` is refused with
 * a message naming it. Variables are prefixed `_r_` to keep out of the user's way.
 */
export function writeFileScript(o: WriteFileOptions): string {
  const p = shellQuote(o.path);
  const dir = shellQuote(parentDir(o.path));
  const lines = [
    `if [ -d ${p} ]; then ${failScript(`repro: ${o.path} is a directory, not a file; remove it or choose another path`)}; fi`,
    `mkdir -p ${dir}`,
    `_r_tmp=$(mktemp ${shellQuote(`${parentDir(o.path) === '/' ? '' : parentDir(o.path)}/.repro-XXXXXX`)})`,
    o.fromVariable === undefined
      ? `printf '%s' ${shellQuote(o.content.toString('base64'))} | base64 -d > "$_r_tmp"`
      : `cat -- "$${o.fromVariable}" > "$_r_tmp"`,
  ];
  // mktemp creates the file 0600: carry over the replaced file's mode and owner unless managed.
  if (o.mode !== undefined) {
    lines.push(`chmod ${shellQuote(o.mode)} "$_r_tmp"`);
  } else {
    lines.push(
      `if [ -e ${p} ]; then chmod "$(stat -L -c %a ${p})" "$_r_tmp"; else chmod 0644 "$_r_tmp"; fi`,
    );
  }
  if (o.owner !== undefined) {
    lines.push(`chown ${shellQuote(o.owner)} "$_r_tmp"`);
  } else {
    lines.push(`if [ -e ${p} ]; then chown "$(stat -L -c %u:%g ${p})" "$_r_tmp"; fi`);
  }
  lines.push(`mv -f "$_r_tmp" ${p}`);
  return lines.join('\n');
}

/** Deep equality for JSON values (attribute comparison in diffs). */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (typeof a === 'object' && typeof b === 'object' && !Array.isArray(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}

/** `Manager.record` for managers whose state is exactly what their probe sees. */
export function recordLive(
  _resource: Resource | undefined,
  live: Attrs | undefined,
  _previous?: Attrs,
): Attrs | undefined {
  return live;
}

/**
 * Probe lines for a package source kept as files (apt-source, yum-repo): for each item whose name
 * passes `valid`, the sha256 of each of its files that exists, as `I\tINDEX\tWHAT\tSHA`.
 */
export function fileHashProbe(
  items: readonly ProbeItem[],
  valid: (name: string) => boolean,
  files: (name: string) => readonly (readonly [string, string])[],
): string {
  const lines: string[] = [];
  items.forEach((item, i) => {
    if (!valid(item.name)) return;
    for (const [what, path] of files(item.name)) {
      const p = shellQuote(path);
      lines.push(
        `if [ -f ${p} ]; then printf 'I\\t${i}\\t${what}\\t%s\\n' "$(sha256sum < ${p} | cut -c1-64)"; fi`,
      );
    }
  });
  return probeFragment(lines);
}

/** fileHashProbe's output as `{name, WHAT_sha256…}` per item address, for the `whats` expected. */
export function parseFileHashes(
  output: string,
  items: readonly ProbeItem[],
  whats: readonly string[],
): Map<string, Attrs> {
  const live = new Map<string, Attrs>();
  for (const { tag, fields } of probeLines(output)) {
    const i = itemIndex(fields[0], items.length);
    const sha = fields[2];
    if (tag !== 'I' || i === undefined || !sha || !/^[0-9a-f]{64}$/.test(sha)) continue;
    const item = items[i]!;
    const attrs = live.get(item.address) ?? { name: item.name };
    if (fields[1] !== undefined && whats.includes(fields[1])) attrs[`${fields[1]}_sha256`] = sha;
    live.set(item.address, attrs);
  }
  return live;
}

/**
 * The diff of a package source kept as one config file plus an optional signing key (apt-source,
 * yum-repo): both compared by sha256, `fileAttr` naming the config file's hash attribute and
 * `fileLabel` what the reason calls it.
 */
export function sourceFileDiff(
  input: DiffInput,
  kind: 'apt-source' | 'yum-repo',
  expected: (resource: Resource) => Attrs,
  fileAttr: string,
  fileLabel: string,
): Change {
  const { resource, live } = input;
  if (!resource) {
    const name = str(live, 'name') ?? str(input.recorded, 'name');
    const address = `${kind}:${name ?? '?'}`;
    return live
      ? { address, kind, action: 'delete', before: live, reason: 'removed from the spec' }
      : { address, kind, action: 'noop' };
  }
  const after = expected(resource);
  const base = { address: resource.address, kind };
  if (!live) return { ...base, action: 'create', after, reason: 'not configured' };
  const fileDiffers = live[fileAttr] !== after[fileAttr];
  const keyDiffers = live['key_sha256'] !== after['key_sha256'];
  if (!fileDiffers && !keyDiffers) return { ...base, action: 'noop', before: live, after };
  const what = [fileDiffers ? fileLabel : '', keyDiffers ? 'key' : ''].filter(Boolean);
  return {
    ...base,
    action: 'update',
    before: live,
    after,
    reason: `${what.join(' and ')} ${what.length === 1 ? 'differs' : 'differ'} from the spec`,
  };
}

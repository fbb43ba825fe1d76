// env: environment variables (`env:NAME`), all kept in ONE profile file (`ctx.envFile`) that `run`
// steps and login shells source. Every env batch rewrites the whole file from every env resource
// of the spec, sorted by name; no env resource left means no file.
//
// The file format is a strict subset of POSIX sh that this module can parse back exactly
// (parseEnvFile(renderEnvFile(x)) deep-equals x), one statement per variable:
//   export NAME='value'                      (a ' inside is written '\'' ; newlines stay literal)
//   export NAME='value' # repro:secret       (the same, marked so the parser hashes it at once)
//   export PATH='/a:/b'"${PATH:+:$PATH}"     (prepend, keeping the existing value)
//   export PATH="${PATH:+$PATH:}"'/y:/z'     (append)
//   export PATH='/a'"${PATH:+:$PATH}"':/z'   (both)
// Invariants:
// - Secret values exist only in the file and in the resource payload: live and recorded attrs
//   hold `{secret: true, value_sha256}`, and no Command display shows a value.
// - A hand edit of a managed variable's statement changes its parsed value, which is drift.
import type { Diagnostic } from '../core/errors.js';
import { shellJoin, shellQuote, type Command } from '../core/shell.js';
import type { Attrs, Change, Resource } from '../core/types.js';
import {
  diag,
  jsonEqual,
  probeFragment,
  probeLines,
  recordLive,
  sha256Hex,
  str,
  strList,
  writeFileScript,
} from './common.js';
import type {
  CommandInput,
  DiffInput,
  Manager,
  ManagerContext,
  ProbeItem,
  ProbeResult,
} from './types.js';

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SECRET_MARK = ' # repro:secret';

/** One variable as the file holds it. */
export type EnvEntry =
  | { readonly value: string; readonly secret?: true }
  | { readonly prepend?: readonly string[]; readonly append?: readonly string[] };

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function renderEntry(name: string, e: EnvEntry): string {
  if ('value' in e) return `export ${name}=${quote(e.value)}${e.secret ? SECRET_MARK : ''}`;
  const pre = e.prepend ?? [];
  const app = e.append ?? [];
  if (pre.length > 0) {
    const tail = app.length > 0 ? quote(`:${app.join(':')}`) : '';
    return `export ${name}=${quote(pre.join(':'))}"\${${name}:+:$${name}}"${tail}`;
  }
  return `export ${name}="\${${name}:+$${name}:}"${quote(app.join(':'))}`;
}

/** The profile file for `entries` (rendered sorted by name, whatever the map's order). */
export function renderEnvFile(entries: ReadonlyMap<string, EnvEntry>, specName: string): string {
  const header = `# Environment of ${specName.replace(/[\r\n]/g, ' ')}, written by repro; edits are overwritten on the next apply.`;
  const names = [...entries.keys()].sort();
  return [header, ...names.map((n) => renderEntry(n, entries.get(n)!))].join('\n') + '\n';
}

export interface ParsedEnvFile {
  readonly entries: Map<string, EnvEntry>;
  /** Statements that are not in repro's format (hand edits); they do not survive a rewrite. */
  readonly foreign: number;
}

/** Parses what `renderEnvFile` writes; anything else on a line counts as foreign and is skipped. */
export function parseEnvFile(text: string): ParsedEnvFile {
  const entries = new Map<string, EnvEntry>();
  let foreign = 0;
  let pos = 0;
  const skipLine = (): void => {
    const nl = text.indexOf('\n', pos);
    pos = nl < 0 ? text.length : nl + 1;
  };
  while (pos < text.length) {
    if (text[pos] === '\n') {
      pos++;
      continue;
    }
    if (text[pos] === '#') {
      skipLine();
      continue;
    }
    const head = /export ([A-Za-z_][A-Za-z0-9_]*)=/y;
    head.lastIndex = pos;
    const m = head.exec(text);
    if (!m) {
      foreign++;
      skipLine();
      continue;
    }
    const name = m[1]!;
    pos = head.lastIndex;
    const prependRef = `"\${${name}:+:$${name}}"`;
    const appendRef = `"\${${name}:+$${name}:}"`;
    // Literal text before and after the one allowed reference to the variable's old value.
    const chunks: string[] = [''];
    let ref: 'prepend' | 'append' | undefined;
    let ok = true;
    for (;;) {
      if (text[pos] === "'") {
        const end = text.indexOf("'", pos + 1);
        if (end < 0) {
          ok = false;
          break;
        }
        chunks[chunks.length - 1] += text.slice(pos + 1, end);
        pos = end + 1;
      } else if (text.startsWith("\\'", pos)) {
        chunks[chunks.length - 1] += "'";
        pos += 2;
      } else if (ref === undefined && text.startsWith(prependRef, pos)) {
        ref = 'prepend';
        chunks.push('');
        pos += prependRef.length;
      } else if (ref === undefined && text.startsWith(appendRef, pos)) {
        ref = 'append';
        chunks.push('');
        pos += appendRef.length;
      } else break;
    }
    let secret = false;
    if (ok && text.startsWith(SECRET_MARK, pos) && ref === undefined) {
      secret = true;
      pos += SECRET_MARK.length;
    }
    if (!ok || (pos < text.length && text[pos] !== '\n')) {
      foreign++;
      skipLine();
      continue;
    }
    pos++;
    const [before = '', after = ''] = chunks;
    let entry: EnvEntry | undefined;
    if (ref === undefined) entry = secret ? { value: before, secret: true } : { value: before };
    else if (ref === 'prepend' && before !== '' && (after === '' || after.startsWith(':'))) {
      entry =
        after === ''
          ? { prepend: before.split(':') }
          : { prepend: before.split(':'), append: after.slice(1).split(':') };
    } else if (ref === 'append' && before === '' && after !== '') {
      entry = { append: after.split(':') };
    }
    if (entry === undefined) foreign++;
    else entries.set(name, entry);
  }
  return { entries, foreign };
}

/** Desired attrs without empty prepend/append lists, plus the name: the shape live attrs have. */
function normalized(resource: Resource): Attrs {
  const d = resource.desired;
  if (d['secret'] === true)
    return { name: resource.name, secret: true, value_sha256: str(d, 'value_sha256') ?? '' };
  if (str(d, 'value') !== undefined) return { name: resource.name, value: str(d, 'value')! };
  const out: Attrs = { name: resource.name };
  const pre = strList(d, 'prepend') ?? [];
  const app = strList(d, 'append') ?? [];
  if (pre.length > 0) out['prepend'] = pre;
  if (app.length > 0) out['append'] = app;
  return out;
}

function entryOf(resource: Resource): EnvEntry {
  const d = resource.desired;
  if (d['secret'] === true) {
    if (!resource.payload)
      throw new Error(`the secret value of ${resource.address} was not loaded`);
    return { value: resource.payload.toString('utf8'), secret: true };
  }
  const value = str(d, 'value');
  if (value !== undefined) return { value };
  return { prepend: strList(d, 'prepend') ?? [], append: strList(d, 'append') ?? [] };
}

function liveAttrs(name: string, e: EnvEntry, forceSecret: boolean): Attrs {
  if ('value' in e) {
    return e.secret || forceSecret
      ? { name, secret: true, value_sha256: sha256Hex(Buffer.from(e.value, 'utf8')) }
      : { name, value: e.value };
  }
  const out: Attrs = { name };
  if (e.prepend && e.prepend.length > 0) out['prepend'] = [...e.prepend];
  if (e.append && e.append.length > 0) out['append'] = [...e.append];
  return out;
}

export const env = {
  kind: 'env',
  tracked: ['value', 'value_sha256', 'secret', 'prepend', 'append'],

  check(resource: Resource): Diagnostic[] {
    const out: Diagnostic[] = [];
    const d = resource.desired;
    if (!ENV_NAME.test(resource.name)) {
      out.push(
        diag(
          resource,
          'env.name',
          `invalid environment variable name ${JSON.stringify(resource.name)}`,
          'names are letters, digits and "_", not starting with a digit',
        ),
      );
    }
    const value = d['value'];
    if (value !== undefined && (typeof value !== 'string' || value.includes('\0'))) {
      out.push(diag(resource, 'env.value', 'the value must be a string without NUL characters'));
    }
    if (d['secret'] === true) {
      const sha = str(d, 'value_sha256');
      if (resource.payload?.includes(0)) {
        out.push(diag(resource, 'env.value', 'the secret value must not contain NUL characters'));
      }
      if (resource.payload && sha !== sha256Hex(resource.payload)) {
        out.push(diag(resource, 'env.secret', 'value_sha256 does not match the secret value'));
      }
    }
    const pathLists = (strList(d, 'prepend') ?? []).length + (strList(d, 'append') ?? []).length;
    if (value === undefined && d['secret'] !== true && pathLists === 0) {
      out.push(diag(resource, 'env.value', 'give a value, a secret, or prepend/append entries'));
    }
    for (const key of ['prepend', 'append']) {
      for (const entry of strList(d, key) ?? []) {
        if (entry === '' || entry.includes(':') || entry.includes('\0')) {
          out.push(
            diag(
              resource,
              'env.path',
              `${key} entry ${JSON.stringify(entry)} must be non-empty and contain no ":"`,
              'each list entry is one directory; ":" separates entries',
            ),
          );
        }
      }
    }
    return out;
  },

  probeScript(_items: readonly ProbeItem[], ctx: ManagerContext): string {
    const f = shellQuote(ctx.envFile);
    return probeFragment([
      `if [ -f ${f} ]; then`,
      `  printf 'F\\t'; base64 < ${f} | tr -d '\\n'; printf '\\n'`,
      `elif [ -e ${f} ]; then printf 'X\\tnot a regular file\\n'`,
      `else printf 'N\\tabsent\\n'; fi`,
    ]);
  },

  parseProbe(output: string, items: readonly ProbeItem[], _ctx: ManagerContext): ProbeResult {
    let parsed: ParsedEnvFile = { entries: new Map(), foreign: 0 };
    let state = 'absent';
    for (const { tag, fields } of probeLines(output)) {
      if (tag === 'F') {
        state = 'file';
        parsed = parseEnvFile(Buffer.from(fields[0] ?? '', 'base64').toString('utf8'));
      } else if (tag === 'X') state = 'other';
    }
    const live = new Map<string, Attrs>();
    for (const item of items) {
      const e = parsed.entries.get(item.name);
      if (!e) continue;
      const secret =
        item.resource?.desired['secret'] === true || item.recorded?.['secret'] === true;
      live.set(item.address, liveAttrs(item.name, e, secret));
    }
    return { live, facts: { env_file: state, foreign_lines: parsed.foreign } };
  },

  diff(input: DiffInput): Change {
    const { resource, live } = input;
    if (!resource) {
      const address = `env:${str(live, 'name') ?? str(input.recorded, 'name') ?? '?'}`;
      return live
        ? { address, kind: 'env', action: 'delete', before: live, reason: 'removed from the spec' }
        : { address, kind: 'env', action: 'noop' };
    }
    const after = normalized(resource);
    const base = { address: resource.address, kind: 'env' as const };
    if (!live) return { ...base, action: 'create', after, reason: 'not set in the env file' };
    if (jsonEqual(live, after)) return { ...base, action: 'noop', before: live, after };
    return { ...base, action: 'update', before: live, after };
  },

  commands(input: CommandInput): Command[] {
    if (input.changes.length === 0) return [];
    const { envFile, specName } = input.ctx;
    const entries = new Map<string, EnvEntry>();
    for (const r of input.resources.values()) {
      if (r.kind === 'env') entries.set(r.name, entryOf(r));
    }
    if (entries.size === 0) {
      return [{ display: `remove ${envFile}`, script: shellJoin(['rm', '-f', envFile]) }];
    }
    const anySecret = [...entries.values()].some((e) => 'secret' in e && e.secret === true);
    const content = Buffer.from(renderEnvFile(entries, specName), 'utf8');
    return [
      {
        display: `write ${envFile} (${entries.size} variable${entries.size === 1 ? '' : 's'})`,
        // Secrets make the file readable by root only.
        script: writeFileScript({ path: envFile, content, mode: anySecret ? '0600' : '0644' }),
      },
    ];
  },

  lockEntry(): Attrs | undefined {
    return undefined;
  },

  record: recordLive,
} satisfies Manager;

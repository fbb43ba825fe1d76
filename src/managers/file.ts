// file: a regular file with given content (`file:PATH`), optional mode and owner.
//
// Invariants:
// - Content is written atomically (temp file in the same directory, then mv) from base64 embedded
//   in the script, so it never appears in a display and cannot break out of its quotes; content of
//   UPLOAD_MIN_BYTES or more is offered as an upload too, which apply uses when the connection
//   can put files (ssh's sftp) so that large files do not travel as base64 in a shell script.
// - Mode and owner are managed only when the spec gives them; otherwise a rewrite keeps the old
//   file's mode and owner, and a new file gets 0644.
// - A directory at the path is never replaced: the script stops with a message naming it.
import type { Diagnostic } from '../core/errors.js';
import { command, shellJoin, shellQuote, type Command } from '../core/shell.js';
import type { Attrs, Change, Resource } from '../core/types.js';
import {
  diag,
  itemIndex,
  pathOf,
  pathProblem,
  probeFragment,
  probeLines,
  recordLive,
  sha256Hex,
  str,
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

const MODE = /^[0-7]{4}$/;

/** Payloads from this size on go by file upload (sftp) where the connection can put files. */
export const UPLOAD_MIN_BYTES = 64 * 1024;
const ACCOUNT = /^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/;

/** Splits `user` or `user:group`. */
function splitOwner(owner: string): { user: string; group?: string } {
  const i = owner.indexOf(':');
  return i < 0 ? { user: owner } : { user: owner.slice(0, i), group: owner.slice(i + 1) };
}

const numeric = (s: string | undefined): boolean => s !== undefined && /^[0-9]+$/.test(s);

/** The owner the file will have: the spec's user (and group, when given) over the live owner. */
function ownerAfter(desired: string, live: string | undefined): string | undefined {
  const d = splitOwner(desired);
  if (d.group !== undefined) return desired;
  const group = live === undefined ? undefined : splitOwner(live).group;
  return group === undefined ? undefined : `${d.user}:${group}`;
}

export const file = {
  kind: 'file',
  tracked: ['sha256', 'size', 'mode', 'owner'],

  check(resource: Resource): Diagnostic[] {
    const out: Diagnostic[] = [];
    const d = resource.desired;
    const problem = pathProblem(resource.name);
    if (problem) {
      out.push(
        diag(resource, 'file.path', `file path ${JSON.stringify(resource.name)} ${problem}`),
      );
    }
    const mode = d['mode'];
    if (mode !== undefined && (typeof mode !== 'string' || !MODE.test(mode))) {
      out.push(
        diag(
          resource,
          'file.mode',
          `invalid mode ${JSON.stringify(mode)}`,
          'write modes as four octal digits, e.g. "0644"',
        ),
      );
    }
    const owner = d['owner'];
    if (owner !== undefined) {
      const o = typeof owner === 'string' ? splitOwner(owner) : undefined;
      if (!o || !ACCOUNT.test(o.user) || (o.group !== undefined && !ACCOUNT.test(o.group))) {
        out.push(
          diag(
            resource,
            'file.owner',
            `invalid owner ${JSON.stringify(owner)}`,
            'write "user" or "user:group"',
          ),
        );
      }
    }
    const sha = str(d, 'sha256');
    if (sha === undefined || !/^[0-9a-f]{64}$/.test(sha)) {
      out.push(diag(resource, 'file.content', 'missing or malformed sha256 of the content'));
    } else if (resource.payload && sha256Hex(resource.payload) !== sha) {
      out.push(diag(resource, 'file.content', 'sha256 does not match the content'));
    }
    return out;
  },

  probeScript(items: readonly ProbeItem[], _ctx: ManagerContext): string {
    const lines: string[] = [];
    items.forEach((item, i) => {
      if (pathProblem(item.name) !== undefined) return;
      // Report the owner the way the spec spells it (names, or ids when it gives ids).
      const o = splitOwner(str(item.resource?.desired, 'owner') ?? '');
      const fmt = `%a\t${numeric(o.user) ? '%u' : '%U'}:${numeric(o.group) ? '%g' : '%G'}\t%s`;
      const p = shellQuote(item.name);
      lines.push(
        `if [ -d ${p} ]; then printf 'D\\t${i}\\n'`,
        `elif [ -f ${p} ]; then printf 'F\\t${i}\\t%s\\t%s\\n' "$(sha256sum < ${p} | cut -c1-64)" "$(stat -L -c ${shellQuote(fmt)} ${p})"`,
        `fi`,
      );
    });
    return probeFragment(lines);
  },

  parseProbe(output: string, items: readonly ProbeItem[], _ctx: ManagerContext): ProbeResult {
    const live = new Map<string, Attrs>();
    for (const { tag, fields } of probeLines(output)) {
      const i = itemIndex(fields[0], items.length);
      if (i === undefined) continue;
      const item = items[i]!;
      if (tag === 'D') {
        live.set(item.address, { path: item.name, directory: true });
        continue;
      }
      const [, sha, mode, owner, size] = fields;
      if (tag !== 'F' || !sha || !mode || !owner || !size) continue;
      live.set(item.address, {
        path: item.name,
        sha256: sha,
        size: Number(size),
        mode: mode.padStart(4, '0'),
        owner,
      });
    }
    return { live, facts: {} };
  },

  diff(input: DiffInput): Change {
    const path = pathOf(input, 'file');
    const { resource, live } = input;
    const address = resource?.address ?? `file:${path}`;
    const base = { address, kind: 'file' as const };
    if (!resource) {
      if (!live) return { ...base, action: 'noop' };
      if (live['directory'] === true) {
        return {
          ...base,
          action: 'noop',
          before: live,
          reason: 'a directory is at this path now; left alone',
        };
      }
      return { ...base, action: 'delete', before: live, reason: 'removed from the spec' };
    }
    const d = resource.desired;
    const after: Attrs = { path, sha256: str(d, 'sha256') ?? '', size: d['size'] ?? 0 };
    const unknown: string[] = [];
    const mode = str(d, 'mode');
    const owner = str(d, 'owner');
    const isFile = live !== undefined && live['directory'] !== true;
    if (mode !== undefined) after['mode'] = mode;
    else if (isFile && live['mode'] !== undefined) after['mode'] = live['mode'];
    else if (!isFile) after['mode'] = '0644';
    if (owner !== undefined) {
      const o = ownerAfter(owner, isFile ? str(live, 'owner') : undefined);
      if (o !== undefined) after['owner'] = o;
      else unknown.push('owner');
    } else if (isFile && live['owner'] !== undefined) after['owner'] = live['owner'];
    const extra = unknown.length > 0 ? { afterUnknown: unknown } : {};
    if (!live) return { ...base, action: 'create', after, ...extra };
    if (!isFile) {
      return {
        ...base,
        action: 'update',
        before: live,
        after,
        ...extra,
        reason: 'a directory is at this path; apply will stop',
      };
    }
    const differs = ['sha256', 'mode', 'owner'].filter(
      (k) => after[k] !== undefined && after[k] !== live[k],
    );
    if (differs.length === 0) return { ...base, action: 'noop', before: live, after };
    return {
      ...base,
      action: 'update',
      before: live,
      after,
      ...extra,
      reason: `${differs.map((d) => (d === 'sha256' ? 'content' : d)).join(' and ')} ${differs.length === 1 ? 'differs' : 'differ'} from the spec`,
    };
  },

  commands(input: CommandInput): Command[] {
    const out: Command[] = [];
    for (const change of input.changes) {
      const path = change.address.slice('file:'.length);
      if (pathProblem(path) !== undefined) throw new Error(`refusing invalid file path ${path}`);
      if (change.action === 'delete') {
        out.push({ display: `remove ${path}`, script: shellJoin(['rm', '-f', path]) });
        continue;
      }
      const resource = input.resources.get(change.address);
      if (!resource) throw new Error(`no desired resource for ${change.address}`);
      const mode = str(resource.desired, 'mode');
      const owner = str(resource.desired, 'owner');
      const before = change.before;
      const rewrite =
        !before || before['directory'] === true || before['sha256'] !== resource.desired['sha256'];
      if (rewrite) {
        const content = resource.payload;
        if (!content) throw new Error(`the content of ${change.address} was not loaded`);
        const write = {
          path,
          content,
          ...(mode === undefined ? {} : { mode }),
          ...(owner === undefined ? {} : { owner }),
        };
        const variable = `_r_up${out.length}`;
        out.push({
          display: `write ${path} (${content.length} bytes)`,
          script: writeFileScript(write),
          ...(content.length >= UPLOAD_MIN_BYTES
            ? {
                viaUpload: {
                  script: writeFileScript({ ...write, fromVariable: variable }),
                  uploads: [{ variable, data: content }],
                },
              }
            : {}),
        });
        continue;
      }
      if (mode !== undefined && before['mode'] !== mode) {
        out.push(command(['chmod', mode, path]));
      }
      if (owner !== undefined && before['owner'] !== change.after?.['owner']) {
        out.push(command(['chown', owner, path]));
      }
    }
    return out;
  },

  lockEntry(_resource: Resource, live: Attrs): Attrs | undefined {
    const sha = str(live, 'sha256');
    return sha === undefined ? undefined : { sha256: sha };
  },

  record: recordLive,
} satisfies Manager;

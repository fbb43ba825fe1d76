// git: a checkout at a path (`git:PATH`), detached at an exact commit.
//
// Invariants:
// - The commit to check out is the spec's revision when it is a full sha, else the locked commit
//   (when the lock was made for the same revision), else what the revision resolves to at apply
//   (origin/BRANCH, then tag, then short sha; no revision = the remote's HEAD).
// - A checkout with local changes (including untracked files) is never overwritten or deleted:
//   the script stops with `repro: git checkout PATH has local changes; …` and a non-zero exit.
//   Deletion also refuses when local branches or HEAD carry commits no remote or tag has.
// - git runs as `git -c safe.directory=* -C PATH`, because apply runs as root on checkouts
//   that may belong to someone else, and git refuses those otherwise.
import type { Diagnostic } from '../core/errors.js';
import { shellJoin, shellQuote, type Command } from '../core/shell.js';
import type { Attrs, Change, JsonValue, Resource } from '../core/types.js';
import {
  CONTROL,
  diag,
  itemIndex,
  parentDir,
  pathOf,
  pathProblem,
  probeFragment,
  probeLines,
  recordLive,
  str,
} from './common.js';
import type {
  CommandInput,
  DiffInput,
  Manager,
  ManagerContext,
  ProbeItem,
  ProbeResult,
} from './types.js';

export const FULL_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const URL_FORMS = [
  /^(?:https?|ssh|git|file):\/\/[^\s'"\\`]+$/,
  /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s'"\\`]+$/, // scp-like user@host:path
  /^\/[^\s'"\\`]*$/, // a local path
];

/** Why `rev` is not an acceptable revision (branch, tag or sha), or undefined. */
export function revisionProblem(rev: string): string | undefined {
  if (!/^[A-Za-z0-9._/+-]+$/.test(rev)) return 'may only contain letters, digits and . _ / + -';
  if (rev.startsWith('-') || rev.startsWith('/') || rev.endsWith('/') || rev.endsWith('.lock')) {
    return 'must not start with "-" or "/" or end with "/" or ".lock"';
  }
  if (rev.includes('..') || rev.includes('//')) return 'must not contain ".." or "//"';
  return undefined;
}

export function urlProblem(url: string): string | undefined {
  if (CONTROL.test(url)) return 'must not contain control characters';
  // `ext::` and other transport helpers run arbitrary commands; only plain transports are allowed.
  if (url.includes('::')) return 'must not use a git transport helper ("…::")';
  if (!URL_FORMS.some((re) => re.test(url))) {
    return 'must be an https://, http://, ssh://, git:// or file:// URL, user@host:path, or an absolute path';
  }
  return undefined;
}

export const GIT = ['git', '-c', 'safe.directory=*', '-c', 'advice.detachedHead=false'];
/** Shell prelude of every git command: the git wrapper and a clear message when git is missing. */
const PRELUDE = [
  `_r_git() { ${shellJoin(GIT)} "$@"; }`,
  `if ! command -v git >/dev/null 2>&1; then printf '%s\\n' 'repro: git is not installed on the target; add it to os.packages (or os.apt/os.yum)' >&2; exit 1; fi`,
].join('\n');

/**
 * Shell function `_r_resolve REPO REVISION`: resolves the revision the way the spec means it
 * (branch, tag, then sha; empty = the origin's HEAD). `what` names the repository in messages
 * ('' for a git checkout, 'dataset ' for datalad), `origin` the place HEAD comes from.
 */
export function resolveFunction(what: string, origin: string): string {
  return [
    `_r_resolve() {`,
    `  if [ -z "$2" ]; then`,
    `    if _r_git -C "$1" rev-parse -q --verify 'refs/remotes/origin/HEAD^{commit}'; then return 0; fi`,
    `    printf 'repro: ${what}%s has no ${origin} HEAD to check out; give a revision\\n' "$1" >&2; return 1`,
    `  fi`,
    `  for _r_ref in "refs/remotes/origin/$2" "refs/tags/$2" "$2"; do`,
    `    if _r_git -C "$1" rev-parse -q --verify "$_r_ref^{commit}" 2>/dev/null; then return 0; fi`,
    `  done`,
    `  printf 'repro: revision %s not found in ${what}%s\\n' "$2" "$1" >&2; return 1`,
    `}`,
  ].join('\n');
}

const RESOLVE = resolveFunction('', 'remote');

const refuseDirty = (p: string): string =>
  [
    `if ! _r_st=$(_r_git --no-optional-locks -C ${p} status --porcelain); then _r_st=unknown; fi`,
    `if [ -n "$_r_st" ]; then printf 'repro: git checkout %s has local changes; commit or discard them first\\n' ${p} >&2; exit 1; fi`,
  ].join('\n');

export function isFullSha(rev: string | undefined): rev is string {
  return rev !== undefined && FULL_SHA.test(rev);
}

/** What `revision` resolved to in the checkout at probe time (only if probed for that revision). */
export function resolvedLocally(
  facts: Attrs,
  path: string,
  revision: string | undefined,
): string | undefined {
  const r = facts['resolved'];
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return undefined;
  const v = (r as Record<string, JsonValue>)[path];
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  if ((v['revision'] ?? undefined) !== revision) return undefined;
  return typeof v['commit'] === 'string' ? v['commit'] : undefined;
}

/** The exact commit apply will check out, when it is known before apply. */
export function targetCommit(input: DiffInput): string | undefined {
  const revision = str(input.resource?.desired, 'revision');
  if (isFullSha(revision)) return revision;
  if (input.update || !input.locked) return undefined;
  // A lock made for another revision (the spec changed) no longer says anything.
  if (str(input.locked, 'revision') !== revision) return undefined;
  const c = str(input.locked, 'commit');
  return isFullSha(c) ? c : undefined;
}

export const git = {
  kind: 'git',
  tracked: ['commit', 'dirty', 'url'],

  check(resource: Resource): Diagnostic[] {
    const out: Diagnostic[] = [];
    const p = pathProblem(resource.name);
    if (p)
      out.push(diag(resource, 'git.path', `checkout path ${JSON.stringify(resource.name)} ${p}`));
    const url = str(resource.desired, 'url');
    const u = url === undefined ? 'is missing' : urlProblem(url);
    if (u) out.push(diag(resource, 'git.url', `git URL ${JSON.stringify(url ?? null)} ${u}`));
    const rev = resource.desired['revision'];
    if (rev !== undefined) {
      const r = typeof rev === 'string' ? revisionProblem(rev) : 'must be a string';
      if (r) {
        out.push(
          diag(
            resource,
            'git.revision',
            `revision ${JSON.stringify(rev)} ${r}`,
            'give a branch, a tag or a commit sha',
          ),
        );
      }
    }
    return out;
  },

  probeScript(items: readonly ProbeItem[], _ctx: ManagerContext): string {
    const lines = [
      `if command -v git >/dev/null 2>&1; then printf 'G\\t1\\n'; else printf 'G\\t0\\n'; fi`,
      `_r_git() { ${shellJoin(GIT)} "$@"; }`,
    ];
    items.forEach((item, i) => {
      if (pathProblem(item.name) !== undefined) return;
      const p = shellQuote(item.name);
      const rev = str(item.resource?.desired, 'revision');
      lines.push(
        `if [ -e ${p}/.git ] && command -v git >/dev/null 2>&1; then`,
        `  _r_c=$(_r_git -C ${p} rev-parse -q --verify 'HEAD^{commit}' 2>/dev/null) || _r_c=`,
        `  _r_u=$(_r_git -C ${p} remote get-url origin 2>/dev/null) || _r_u=`,
        `  if _r_st=$(_r_git --no-optional-locks -C ${p} status --porcelain 2>/dev/null); then`,
        `    if [ -n "$_r_st" ]; then _r_d=1; else _r_d=0; fi`,
        `  else _r_d=1; fi`,
        `  printf 'R\\t${i}\\t%s\\t%s\\t%s\\n' "$_r_c" "$_r_d" "$_r_u"`,
      );
      // What the revision means in the checkout now, so an unlocked checkout can be a noop.
      if (item.resource && !isFullSha(rev)) {
        const refs =
          rev === undefined
            ? ['refs/remotes/origin/HEAD']
            : [`refs/remotes/origin/${rev}`, `refs/tags/${rev}`, rev];
        lines.push(
          `  for _r_ref in ${shellJoin(refs)}; do`,
          `    if _r_v=$(_r_git -C ${p} rev-parse -q --verify "$_r_ref^{commit}" 2>/dev/null); then printf 'V\\t${i}\\t%s\\n' "$_r_v"; break; fi`,
          `  done`,
        );
      }
      lines.push(`elif [ -e ${p} ]; then printf 'E\\t${i}\\n'`, `fi`);
    });
    return probeFragment(lines);
  },

  parseProbe(output: string, items: readonly ProbeItem[], _ctx: ManagerContext): ProbeResult {
    const live = new Map<string, Attrs>();
    const resolved: Attrs = {};
    const occupied: string[] = [];
    let hasGit = false;
    for (const { tag, fields } of probeLines(output)) {
      if (tag === 'G') {
        hasGit = fields[0] === '1';
        continue;
      }
      const i = itemIndex(fields[0], items.length);
      if (i === undefined) continue;
      const item = items[i]!;
      if (tag === 'R') {
        // The URL is last and may (in a hand-edited config) contain tabs: keep the rest of the line.
        const [, commit = '', dirty = '1', ...url] = fields;
        live.set(item.address, {
          path: item.name,
          url: url.join('\t'),
          commit,
          dirty: dirty !== '0',
        });
      } else if (tag === 'V' && fields[1] && FULL_SHA.test(fields[1])) {
        const revision = str(item.resource?.desired, 'revision');
        resolved[item.name] = {
          commit: fields[1],
          ...(revision === undefined ? {} : { revision }),
        };
      } else if (tag === 'E') {
        occupied.push(item.name);
      }
    }
    return { live, facts: { git: hasGit, resolved, occupied } };
  },

  diff(input: DiffInput): Change {
    const path = pathOf(input, 'git');
    const { resource, live } = input;
    const address = resource?.address ?? `git:${path}`;
    const base = { address, kind: 'git' as const };
    const dirtyNote =
      live?.['dirty'] === true ? '; it has local changes, so apply will refuse' : '';
    if (!resource) {
      return live
        ? { ...base, action: 'delete', before: live, reason: `removed from the spec${dirtyNote}` }
        : { ...base, action: 'noop' };
    }
    const url = str(resource.desired, 'url') ?? '';
    const revision = str(resource.desired, 'revision');
    const target = targetCommit(input);
    if (!live) {
      const after: Attrs = { path, url, dirty: false };
      if (target !== undefined) after['commit'] = target;
      const occupied = input.facts['occupied'];
      const inTheWay = Array.isArray(occupied) && occupied.includes(path);
      return {
        ...base,
        action: 'create',
        after,
        ...(target === undefined ? { afterUnknown: ['commit'] } : {}),
        reason: inTheWay
          ? 'the path exists but is not a git checkout; clone needs it empty'
          : `clone ${revision ?? "the remote's HEAD"}`,
      };
    }
    const urlDiffers = live['url'] !== url;
    let commit = target;
    if (commit === undefined && !input.update) {
      // Unlocked (first apply on a checkout that exists): keep it when the revision already
      // resolves to HEAD locally; anything else needs a fetch, so only apply will know.
      const local = resolvedLocally(input.facts, path, revision);
      if (local !== undefined && local === live['commit']) commit = local;
    }
    if (commit !== undefined && commit === live['commit'] && !urlDiffers) {
      return { ...base, action: 'noop', before: live, after: live };
    }
    const after: Attrs = { path, url, dirty: false };
    if (commit !== undefined) after['commit'] = commit;
    const why = [
      urlDiffers ? 'origin URL differs' : '',
      commit === undefined
        ? `re-resolve ${revision ?? "the remote's HEAD"} from the remote`
        : commit !== live['commit']
          ? `check out ${commit.slice(0, 12)}`
          : '',
    ].filter(Boolean);
    return {
      ...base,
      action: 'update',
      before: live,
      after,
      ...(commit === undefined ? { afterUnknown: ['commit'] } : {}),
      reason: `${why.join('; ')}${dirtyNote}`,
    };
  },

  commands(input: CommandInput): Command[] {
    const out: Command[] = [];
    for (const change of input.changes) {
      const path = change.address.slice('git:'.length);
      if (pathProblem(path) !== undefined)
        throw new Error(`refusing invalid checkout path ${path}`);
      const p = shellQuote(path);
      if (change.action === 'delete') {
        const seen = str(change.before, 'commit') ?? '';
        out.push({
          display: `remove git checkout ${path}`,
          script: [
            PRELUDE,
            refuseDirty(p),
            `if [ -n "$(_r_git -C ${p} rev-list -n1 --branches --not --remotes --tags)" ]; then printf 'repro: git checkout %s has local branch commits that no remote has; push or delete them first\\n' ${p} >&2; exit 1; fi`,
            `if [ "$(_r_git -C ${p} rev-parse HEAD)" != ${shellQuote(seen)} ] && [ -n "$(_r_git -C ${p} rev-list -n1 HEAD --not --remotes --tags)" ]; then printf 'repro: git checkout %s has commits that no remote has; push them first\\n' ${p} >&2; exit 1; fi`,
            shellJoin(['rm', '-rf', '--', path]),
          ].join('\n'),
        });
        continue;
      }
      const resource = input.resources.get(change.address);
      if (!resource) throw new Error(`no desired resource for ${change.address}`);
      const url = str(resource.desired, 'url') ?? '';
      if (urlProblem(url) !== undefined) throw new Error(`refusing invalid git URL for ${path}`);
      const revision = str(resource.desired, 'revision');
      const target = change.afterUnknown?.includes('commit')
        ? undefined
        : str(change.after, 'commit');
      const lines = [PRELUDE, RESOLVE];
      if (change.action === 'create') {
        lines.push(
          shellJoin(['mkdir', '-p', parentDir(path)]),
          `_r_git clone -q --no-checkout -- ${shellQuote(url)} ${p}`,
        );
      } else {
        lines.push(
          refuseDirty(p),
          `if _r_git -C ${p} remote get-url origin >/dev/null 2>&1; then _r_git -C ${p} remote set-url origin ${shellQuote(url)}; else _r_git -C ${p} remote add origin ${shellQuote(url)}; fi`,
        );
      }
      if (target !== undefined && isFullSha(target)) {
        const t = shellQuote(target);
        // Fetch only when the commit is not here; a commit no ref reaches is fetched by id.
        lines.push(
          `if ! _r_git -C ${p} cat-file -e ${shellQuote(`${target}^{commit}`)} 2>/dev/null; then`,
          `  _r_git -C ${p} fetch -q --tags origin`,
          `  if ! _r_git -C ${p} cat-file -e ${shellQuote(`${target}^{commit}`)} 2>/dev/null; then _r_git -C ${p} fetch -q origin ${t}; fi`,
          `fi`,
          `_r_git -C ${p} checkout -q --detach ${t}`,
        );
      } else {
        if (change.action !== 'create') {
          lines.push(`_r_git -C ${p} fetch -q --prune --tags --force origin`);
          if (revision === undefined)
            lines.push(`_r_git -C ${p} remote set-head origin --auto >/dev/null`);
        }
        lines.push(
          `_r_c=$(_r_resolve ${p} ${shellQuote(revision ?? '')})`,
          `_r_git -C ${p} checkout -q --detach "$_r_c"`,
        );
      }
      const what = target !== undefined ? target.slice(0, 12) : (revision ?? 'HEAD');
      out.push({
        display: `${change.action === 'create' ? 'clone' : 'update'} git checkout ${path} at ${what}`,
        script: lines.join('\n'),
      });
    }
    return out;
  },

  lockEntry(resource: Resource, live: Attrs): Attrs | undefined {
    const revision = str(resource.desired, 'revision');
    if (isFullSha(revision)) return undefined;
    const commit = str(live, 'commit');
    if (commit === undefined || !isFullSha(commit)) return undefined;
    // The revision is kept so a lock made for another revision is not mistaken for this one.
    return revision === undefined ? { commit } : { commit, revision };
  },

  record: recordLive,
} satisfies Manager;

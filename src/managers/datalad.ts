// datalad: a DataLad dataset installed at a path (`datalad:PATH`), detached at an exact commit, with
// the annexed content of its `get` paths present.
//
// Invariants:
// - The commit to check out is the spec's revision when it is a full sha, else the locked commit
//   (when the lock was made for the same revision), else what the revision resolves to at apply
//   (origin/BRANCH, then tag, then short sha; no revision = the source's HEAD). HEAD is moved with
//   plain git (`fetch` + `checkout --detach`), never `datalad update --merge`.
// - A dataset with local changes (including untracked files) is never touched: the script stops
//   with `repro: dataset PATH has local changes; …` and a non-zero exit. Removal also refuses
//   when HEAD or local branches carry commits the source does not have.
// - git and datalad run with `safe.directory=*` (via GIT_CONFIG_* for datalad and git-annex),
//   because apply runs as root on datasets that may belong to someone else.
// - `get` paths reach datalad and git-annex only after `--`, relative to the dataset root.
// - datalad reports its results, failures included (`install(error): … [reason]`), on stdout:
//   apply sends that to stderr, where a failed batch's error shows its tail.
import type { Diagnostic } from '../core/errors.js';
import { shellJoin, shellQuote, type Command } from '../core/shell.js';
import type { Attrs, Change, Resource } from '../core/types.js';
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
  strList,
} from './common.js';
import {
  FULL_SHA,
  GIT,
  isFullSha,
  resolveFunction,
  resolvedLocally,
  revisionProblem,
  targetCommit,
  urlProblem,
} from './git.js';
import type {
  CommandInput,
  DiffInput,
  Manager,
  ManagerContext,
  ProbeItem,
  ProbeResult,
} from './types.js';

/** Why `p` is not an acceptable path inside a dataset (for `get`), or undefined. */
export function getPathProblem(p: string): string | undefined {
  if (p === '' || p === '.') return undefined;
  if (p.startsWith('/')) return 'must be relative to the dataset';
  if (p.startsWith('-')) return 'must not start with "-"';
  if (CONTROL.test(p)) return 'must not contain control characters (newline, tab, …)';
  if (p.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    return 'must be normalized (no "//", "/./", "/../", "..", or trailing "/")';
  }
  return undefined;
}

/** safe.directory for the git processes datalad and git-annex start themselves. */
const SAFE_ENV = "export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*'";

/** git-annex commits to its branch on clone, get and find: an identity when git has none. */
const IDENTITY = [
  `if ! _r_git config --get user.name >/dev/null 2>&1; then export GIT_AUTHOR_NAME="\${GIT_AUTHOR_NAME:-repro}" GIT_COMMITTER_NAME="\${GIT_COMMITTER_NAME:-repro}"; fi`,
  `if ! _r_git config --get user.email >/dev/null 2>&1; then export GIT_AUTHOR_EMAIL="\${GIT_AUTHOR_EMAIL:-repro@localhost}" GIT_COMMITTER_EMAIL="\${GIT_COMMITTER_EMAIL:-repro@localhost}"; fi`,
].join('\n');

const PRELUDE = [
  SAFE_ENV,
  `_r_git() { ${shellJoin(GIT)} "$@"; }`,
  IDENTITY,
  `for _r_tool in git git-annex datalad; do`,
  `  if ! command -v "$_r_tool" >/dev/null 2>&1; then printf 'repro: %s is not installed on the target; add datalad, git-annex and git to os.packages (or os.apt/os.yum)\\n' "$_r_tool" >&2; exit 1; fi`,
  `done`,
].join('\n');

const RESOLVE = resolveFunction('dataset ', 'source');

const refuseDirty = (p: string): string =>
  [
    `if ! _r_st=$(_r_git --no-optional-locks -C ${p} status --porcelain --ignored=no --untracked-files=all); then _r_st=unknown; fi`,
    `if [ -n "$_r_st" ]; then printf 'repro: dataset %s has local changes; save (datalad save) or discard them first\\n' ${p} >&2; exit 1; fi`,
  ].join('\n');

export const dataladManager = {
  kind: 'datalad',
  tracked: ['commit', 'dirty', 'content_present'],

  check(resource: Resource): Diagnostic[] {
    const out: Diagnostic[] = [];
    const p = pathProblem(resource.name);
    if (p) {
      out.push(
        diag(resource, 'datalad.path', `dataset path ${JSON.stringify(resource.name)} ${p}`),
      );
    }
    const source = str(resource.desired, 'source');
    const u = source === undefined ? 'is missing' : urlProblem(source);
    if (u) {
      out.push(
        diag(resource, 'datalad.source', `dataset source ${JSON.stringify(source ?? null)} ${u}`),
      );
    }
    const rev = resource.desired['revision'];
    if (rev !== undefined) {
      const r = typeof rev === 'string' ? revisionProblem(rev) : 'must be a string';
      if (r) {
        out.push(
          diag(
            resource,
            'datalad.revision',
            `revision ${JSON.stringify(rev)} ${r}`,
            'give a branch, a tag or a commit sha',
          ),
        );
      }
    }
    for (const g of strList(resource.desired, 'get') ?? []) {
      const gp = getPathProblem(g);
      if (gp) out.push(diag(resource, 'datalad.get', `get path ${JSON.stringify(g)} ${gp}`));
    }
    return out;
  },

  probeScript(items: readonly ProbeItem[], _ctx: ManagerContext): string {
    const lines = [
      SAFE_ENV,
      `if command -v datalad >/dev/null 2>&1 && command -v git-annex >/dev/null 2>&1 && command -v git >/dev/null 2>&1; then printf 'D\\t1\\n'; else printf 'D\\t0\\n'; fi`,
      `_r_git() { ${shellJoin(GIT)} "$@"; }`,
      IDENTITY,
    ];
    items.forEach((item, i) => {
      if (pathProblem(item.name) !== undefined) return;
      const p = shellQuote(item.name);
      const rev = str(item.resource?.desired, 'revision');
      const get = (strList(item.resource?.desired, 'get') ?? []).filter(
        (g) => getPathProblem(g) === undefined,
      );
      lines.push(
        `if [ -e ${p}/.git ] && [ -f ${p}/.datalad/config ] && command -v git >/dev/null 2>&1; then`,
        `  _r_c=$(_r_git -C ${p} rev-parse -q --verify 'HEAD^{commit}' 2>/dev/null) || _r_c=`,
        `  _r_u=$(_r_git -C ${p} remote get-url origin 2>/dev/null) || _r_u=`,
        `  if _r_st=$(_r_git --no-optional-locks -C ${p} status --porcelain --ignored=no --untracked-files=all 2>/dev/null); then`,
        `    if [ -n "$_r_st" ]; then _r_d=1; else _r_d=0; fi`,
        `  else _r_d=1; fi`,
      );
      if (get.length > 0) {
        // Content is present when git-annex lists nothing under the paths as missing here.
        lines.push(
          `  if command -v git-annex >/dev/null 2>&1 && _r_m=$(cd ${p} && _r_git -c annex.merge-annex-branches=false annex find --not --in=here -- ${shellJoin(get)} 2>/dev/null); then`,
          `    if [ -n "$_r_m" ]; then _r_p=0; else _r_p=1; fi`,
          `  else _r_p=0; fi`,
        );
      } else {
        lines.push(`  _r_p=1`);
      }
      lines.push(`  printf 'R\\t${i}\\t%s\\t%s\\t%s\\t%s\\n' "$_r_c" "$_r_d" "$_r_p" "$_r_u"`);
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
    let available = false;
    for (const { tag, fields } of probeLines(output)) {
      if (tag === 'D') {
        available = fields[0] === '1';
        continue;
      }
      const i = itemIndex(fields[0], items.length);
      if (i === undefined) continue;
      const item = items[i]!;
      if (tag === 'R') {
        const [, commit = '', dirty = '1', present = '0', ...url] = fields;
        live.set(item.address, {
          path: item.name,
          source: url.join('\t'),
          commit,
          dirty: dirty !== '0',
          content_present: present === '1',
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
    return { live, facts: { datalad: available, resolved, occupied } };
  },

  diff(input: DiffInput): Change {
    const path = pathOf(input, 'datalad');
    const { resource, live } = input;
    const address = resource?.address ?? `datalad:${path}`;
    const base = { address, kind: 'datalad' as const };
    const dirtyNote =
      live?.['dirty'] === true ? '; it has local changes, so apply will refuse' : '';
    if (!resource) {
      return live
        ? { ...base, action: 'delete', before: live, reason: `removed from the spec${dirtyNote}` }
        : { ...base, action: 'noop' };
    }
    const source = str(resource.desired, 'source') ?? '';
    const revision = str(resource.desired, 'revision');
    const target = targetCommit(input);
    if (!live) {
      const after: Attrs = { path, source, dirty: false, content_present: true };
      if (target !== undefined) after['commit'] = target;
      const occupied = input.facts['occupied'];
      const inTheWay = Array.isArray(occupied) && occupied.includes(path);
      return {
        ...base,
        action: 'create',
        after,
        ...(target === undefined ? { afterUnknown: ['commit'] } : {}),
        reason: inTheWay
          ? 'the path exists but is not a datalad dataset; clone needs it empty'
          : `clone ${revision ?? "the source's HEAD"}`,
      };
    }
    const sourceDiffers = live['source'] !== source;
    const contentMissing = live['content_present'] !== true;
    let commit = target;
    if (commit === undefined && !input.update) {
      const local = resolvedLocally(input.facts, path, revision);
      if (local !== undefined && local === live['commit']) commit = local;
    }
    if (
      commit !== undefined &&
      commit === live['commit'] &&
      !sourceDiffers &&
      !contentMissing &&
      live['dirty'] !== true
    ) {
      return { ...base, action: 'noop', before: live, after: live };
    }
    const after: Attrs = { path, source, dirty: false, content_present: true };
    if (commit !== undefined) after['commit'] = commit;
    const why = [
      sourceDiffers ? 'origin URL differs' : '',
      commit === undefined
        ? `re-resolve ${revision ?? "the source's HEAD"} from the source`
        : commit !== live['commit']
          ? `check out ${commit.slice(0, 12)}`
          : '',
      contentMissing ? 'get missing annexed content' : '',
      live['dirty'] === true && dirtyNote === '' ? 'local changes' : '',
    ].filter(Boolean);
    return {
      ...base,
      action: 'update',
      before: live,
      after,
      ...(commit === undefined ? { afterUnknown: ['commit'] } : {}),
      reason: `${why.join('; ') || 'local changes'}${dirtyNote}`,
    };
  },

  commands(input: CommandInput): Command[] {
    const out: Command[] = [];
    for (const change of input.changes) {
      const path = change.address.slice('datalad:'.length);
      if (pathProblem(path) !== undefined) throw new Error(`refusing invalid dataset path ${path}`);
      const p = shellQuote(path);
      if (change.action === 'delete') {
        const seen = str(change.before, 'commit') ?? '';
        out.push({
          display: `remove datalad dataset ${path}`,
          script: [
            PRELUDE,
            refuseDirty(p),
            `if [ -n "$(_r_git -C ${p} rev-list -n1 --exclude=git-annex '--exclude=synced/*' --branches --not --remotes --tags)" ]; then printf 'repro: dataset %s has local branch commits its source does not have; push or delete them first\\n' ${p} >&2; exit 1; fi`,
            `if [ "$(_r_git -C ${p} rev-parse HEAD)" != ${shellQuote(seen)} ] && [ -n "$(_r_git -C ${p} rev-list -n1 HEAD --not --remotes --tags)" ]; then printf 'repro: dataset %s has commits its source does not have; push them first\\n' ${p} >&2; exit 1; fi`,
            `datalad -c datalad.ui.progressbar=none remove -d ${p} --reckless kill >&2`,
            `if [ -e ${p} ]; then chmod -R u+w -- ${p} && rm -rf -- ${p}; fi`,
          ].join('\n'),
        });
        continue;
      }
      const resource = input.resources.get(change.address);
      if (!resource) throw new Error(`no desired resource for ${change.address}`);
      const source = str(resource.desired, 'source') ?? '';
      if (urlProblem(source) !== undefined) {
        throw new Error(`refusing invalid dataset source for ${path}`);
      }
      const revision = str(resource.desired, 'revision');
      if (revision !== undefined && revisionProblem(revision) !== undefined) {
        throw new Error(`refusing invalid revision for ${path}`);
      }
      const get = strList(resource.desired, 'get') ?? [];
      if (get.some((g) => getPathProblem(g) !== undefined)) {
        throw new Error(`refusing invalid get path for ${path}`);
      }
      const target = change.afterUnknown?.includes('commit')
        ? undefined
        : str(change.after, 'commit');
      const lines = [PRELUDE, RESOLVE];
      if (change.action === 'create') {
        lines.push(
          shellJoin(['mkdir', '-p', parentDir(path)]),
          `datalad -c datalad.ui.progressbar=none clone ${shellQuote(source)} ${p} >&2`,
        );
      } else {
        lines.push(
          refuseDirty(p),
          `if _r_git -C ${p} remote get-url origin >/dev/null 2>&1; then _r_git -C ${p} remote set-url origin ${shellQuote(source)}; else _r_git -C ${p} remote add origin ${shellQuote(source)}; fi`,
        );
      }
      if (target !== undefined && isFullSha(target)) {
        const t = shellQuote(target);
        const obj = shellQuote(`${target}^{commit}`);
        lines.push(
          `if ! _r_git -C ${p} cat-file -e ${obj} 2>/dev/null; then`,
          `  _r_git -C ${p} fetch -q --tags origin`,
          `  if ! _r_git -C ${p} cat-file -e ${obj} 2>/dev/null; then _r_git -C ${p} fetch -q origin ${t}; fi`,
          `fi`,
          `_r_git -C ${p} checkout -q --detach ${t}`,
        );
      } else {
        if (change.action !== 'create') {
          // All branches, so git-annex also learns where the new commits' content is.
          lines.push(`_r_git -C ${p} fetch -q --prune --tags --force origin`);
          if (revision === undefined) {
            lines.push(`_r_git -C ${p} remote set-head origin --auto >/dev/null`);
          }
        }
        lines.push(
          `_r_c=$(_r_resolve ${p} ${shellQuote(revision ?? '')})`,
          `_r_git -C ${p} checkout -q --detach "$_r_c"`,
        );
      }
      if (get.length > 0) {
        lines.push(
          `(cd ${p} && datalad -c datalad.ui.progressbar=none get -d . -- ${shellJoin(get)} >&2)`,
        );
      }
      const what = target !== undefined ? target.slice(0, 12) : (revision ?? 'HEAD');
      out.push({
        display: `${change.action === 'create' ? 'clone' : 'update'} datalad dataset ${path} at ${what}${get.length > 0 ? ` (get ${get.join(', ')})` : ''}`,
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
    return revision === undefined ? { commit } : { commit, revision };
  },

  record: recordLive,
} satisfies Manager;

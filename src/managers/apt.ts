// apt: Debian packages (`apt:NAME`), probed with one dpkg-query and one apt-cache policy for all
// names, installed with one `apt-get install` per batch (removals ride along as `name-`).
//
// Invariants:
// - Names and versions are checked against Debian policy before any reaches a shell; the probe
//   also skips names (from state) that fail the grammar, so nothing odd becomes an apt argument.
// - The version to install is: the spec's pin ?? the lock ?? the candidate apt reports now.
//   `--update` drops the lock (the engine passes no `locked`) and re-resolves to the candidate.
// - Only a package whose dpkg status is installed (`ii`, or `hi` when held) counts as present.
import type { Diagnostic } from '../core/errors.js';
import { shellJoin, shellQuote, type Command } from '../core/shell.js';
import type { Attrs, Change, JsonValue, Resource } from '../core/types.js';
import { diag, failScript, probeFragment, probeLines, recordLive, str } from './common.js';
import type {
  CommandInput,
  DiffInput,
  Manager,
  ManagerContext,
  ProbeItem,
  ProbeResult,
} from './types.js';

/** Debian policy §5.6.1: lower case alphanumerics, + - . ; at least two characters. */
export const APT_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

/** Why `v` is not a Debian version (policy §5.6.12), or undefined when it is one. */
export function debianVersionProblem(v: string): string | undefined {
  const m = /^(?:([0-9]+):)?(.*)$/s.exec(v);
  const rest = m?.[2] ?? '';
  if (rest === '') return 'is empty';
  const dash = rest.lastIndexOf('-');
  const upstream = dash < 0 ? rest : rest.slice(0, dash);
  const revision = dash < 0 ? undefined : rest.slice(dash + 1);
  if (!/^[0-9]/.test(upstream)) return 'must start with a digit (after any "epoch:")';
  const upstreamChars = revision === undefined ? /^[A-Za-z0-9.+~]+$/ : /^[A-Za-z0-9.+~-]+$/;
  if (!upstreamChars.test(upstream)) {
    return 'upstream part may only contain letters, digits and . + ~ (and - when a revision follows)';
  }
  if (revision !== undefined && !/^[A-Za-z0-9.+~]+$/.test(revision)) {
    return 'revision part (after the last "-") may only contain letters, digits and . + ~';
  }
  return undefined;
}

const DPKG_FORMAT = '${Package}\\t${Version}\\t${Architecture}\\t${db:Status-Abbrev}\\n';

function validNames(items: readonly ProbeItem[]): string[] {
  return [...new Set(items.map((i) => i.name))].filter((n) => APT_NAME.test(n)).sort();
}

/** Candidates per package from `apt-cache policy` output (one `NAME:` header per package). */
export function parsePolicy(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const header = /^(\S+):$/.exec(line);
    if (header) {
      current = header[1]!;
      continue;
    }
    const cand = /^\s+Candidate:\s+(\S+)\s*$/.exec(line);
    if (cand && current !== undefined && cand[1] !== '(none)') out[current] = cand[1]!;
  }
  return out;
}

function candidateOf(facts: Attrs, name: string): string | undefined {
  const c = facts['candidates'];
  if (c === null || typeof c !== 'object' || Array.isArray(c)) return undefined;
  const v = (c as Record<string, JsonValue>)[name];
  return typeof v === 'string' ? v : undefined;
}

function nameOf(input: DiffInput): string {
  const n = input.resource?.name ?? str(input.live, 'name') ?? str(input.recorded, 'name');
  if (n === undefined) throw new Error('apt.diff: no resource, live or recorded name');
  return n;
}

/** The version the resource should be at, and why; undefined when only apply will know. */
function targetVersion(input: DiffInput, name: string): { version?: string; source: string } {
  const pinned = str(input.resource?.desired, 'version');
  if (pinned !== undefined) return { version: pinned, source: 'pinned in the spec' };
  const locked = input.update ? undefined : str(input.locked, 'version');
  if (locked !== undefined) return { version: locked, source: 'locked' };
  const candidate = candidateOf(input.facts, name);
  return { version: candidate, source: 'candidate' };
}

export const apt = {
  kind: 'apt',
  tracked: ['version', 'arch'],

  check(resource: Resource): Diagnostic[] {
    const out: Diagnostic[] = [];
    if (!APT_NAME.test(resource.name)) {
      out.push(
        diag(
          resource,
          'apt.name',
          `invalid Debian package name ${JSON.stringify(resource.name)}`,
          'package names are lower-case letters, digits and + - . (at least two characters)',
        ),
      );
    }
    const version = resource.desired['version'];
    if (version !== undefined) {
      const problem =
        typeof version === 'string' ? debianVersionProblem(version) : 'must be a string';
      if (problem !== undefined) {
        out.push(
          diag(
            resource,
            'apt.version',
            `invalid Debian version ${JSON.stringify(version)} for ${resource.name}: ${problem}`,
            'write versions as dpkg-query shows them, e.g. jq=1.6-2.1',
          ),
        );
      }
    }
    return out;
  },

  probeScript(items: readonly ProbeItem[], _ctx: ManagerContext): string {
    const names = validNames(items);
    const lines = [
      `if command -v apt-get >/dev/null 2>&1; then printf 'G\\t1\\n'; else printf 'G\\t0\\n'; fi`,
      `printf 'A\\t%s\\n' "$(dpkg --print-architecture 2>/dev/null)"`,
      `_r_m=0`,
      `for _r_f in /var/lib/apt/lists/*_Packages /var/lib/apt/lists/*_Packages.*; do`,
      `  [ -f "$_r_f" ] || continue`,
      `  _r_t=$(stat -c %Y "$_r_f" 2>/dev/null) || continue`,
      `  if [ "$_r_t" -gt "$_r_m" ]; then _r_m=$_r_t; fi`,
      `done`,
      `printf 'L\\t%s\\n' "$_r_m"`,
      `printf 'T\\t%s\\n' "$(date +%s)"`,
    ];
    if (names.length > 0) {
      const args = shellJoin(names);
      // Candidates cost an apt-cache run (~0.1 s): ask only for packages that are not installed
      // (the plan shows what would be installed) and those --update re-resolves.
      const updating = new Set(items.filter((i) => i.update).map((i) => i.name));
      const rest = names.filter((n) => !updating.has(n));
      lines.push(
        `_r_p=''`,
        `if command -v dpkg-query >/dev/null 2>&1; then`,
        `  _r_p=$(dpkg-query -W -f=${shellQuote(DPKG_FORMAT)} ${args} 2>/dev/null)`,
        `  [ -z "$_r_p" ] || printf '%s\\n' "$_r_p" | sed 's/^/P\\t/'`,
        `fi`,
        `_r_i=$(printf '%s\\n' "$_r_p" | sed -n 's/^\\([^\t]*\\)\t[^\t]*\t[^\t]*\tii.*$/\\1/p' | tr '\\n' ' ')`,
        `_r_w=${shellQuote([...updating].sort().join(' '))}`,
        `for _r_n in ${rest.length > 0 ? shellJoin(rest) : ''}; do`,
        `  case " $_r_i " in *" $_r_n "*) ;; *) _r_w="$_r_w $_r_n" ;; esac`,
        `done`,
        `if [ -n "$_r_w" ] && command -v apt-cache >/dev/null 2>&1; then`,
        `  apt-cache policy $_r_w 2>/dev/null | sed 's/^/C\\t/'`,
        `fi`,
      );
    }
    return probeFragment(lines);
  },

  parseProbe(output: string, items: readonly ProbeItem[], _ctx: ManagerContext): ProbeResult {
    const facts: Attrs = { apt_get: false, arch: '', lists_mtime: 0, now: 0, candidates: {} };
    const installed = new Map<string, Attrs>();
    const policy: string[] = [];
    for (const { tag, fields } of probeLines(output)) {
      const f0 = fields[0] ?? '';
      if (tag === 'G') facts['apt_get'] = f0 === '1';
      else if (tag === 'A') facts['arch'] = f0;
      else if (tag === 'L') facts['lists_mtime'] = Number(f0) || 0;
      else if (tag === 'T') facts['now'] = Number(f0) || 0;
      else if (tag === 'C') policy.push(fields.join('\t'));
      else if (tag === 'P') {
        const [name, version, arch, status] = fields;
        if (!name || !version || !arch || status === undefined) continue;
        // Multi-arch packages print one line per architecture: prefer the native one.
        if (!/^[ih]i/.test(status)) continue;
        const prev = installed.get(name);
        if (prev && prev['arch'] === facts['arch']) continue;
        installed.set(name, { name, version, arch });
      }
    }
    facts['candidates'] = parsePolicy(policy.join('\n'));
    const live = new Map<string, Attrs>();
    for (const item of items) {
      const attrs = installed.get(item.name);
      if (attrs) live.set(item.address, attrs);
    }
    return { live, facts };
  },

  diff(input: DiffInput): Change {
    const name = nameOf(input);
    const address = input.resource?.address ?? `apt:${name}`;
    const { live } = input;
    if (!input.resource) {
      return live
        ? { address, kind: 'apt', action: 'delete', before: live, reason: 'removed from the spec' }
        : { address, kind: 'apt', action: 'noop' };
    }
    const target = targetVersion(input, name);
    const arch = str(input.update ? undefined : input.locked, 'arch');
    if (!live) {
      const after: Attrs = { name };
      const unknown: string[] = [];
      if (target.version !== undefined) after['version'] = target.version;
      else unknown.push('version');
      // The candidate may be Architecture: all; only the lock or the install itself knows.
      if (arch !== undefined) after['arch'] = arch;
      else unknown.push('arch');
      return {
        address,
        kind: 'apt',
        action: 'create',
        after,
        ...(unknown.length > 0 ? { afterUnknown: unknown } : {}),
        reason:
          target.version === undefined
            ? 'not installed; apt has no candidate yet (lists may need an update)'
            : `not installed (${target.source} ${target.version})`,
      };
    }
    const liveVersion = str(live, 'version');
    // Installed and nothing asks for a particular version: keep what is there (it gets locked).
    const wanted = target.source === 'candidate' && !input.update ? liveVersion : target.version;
    if (wanted === undefined || wanted === liveVersion) {
      return { address, kind: 'apt', action: 'noop', before: live, after: live };
    }
    return {
      address,
      kind: 'apt',
      action: 'update',
      before: live,
      after: { ...live, version: wanted },
      reason: `${target.source} ${wanted}, installed ${liveVersion ?? '?'}`,
    };
  },

  commands(input: CommandInput): Command[] {
    const { changes, facts, ctx } = input;
    if (changes.length === 0) return [];
    const out: Command[] = [];
    if (facts['apt_get'] === false) {
      out.push({
        display: 'check that apt-get exists',
        script: failScript('repro: apt-get is not available on the target; apt packages need it'),
      });
      return out;
    }
    const installs: string[] = [];
    const removals: string[] = [];
    let missingCandidate = false;
    for (const c of changes) {
      const name = str(c.after, 'name') ?? str(c.before, 'name') ?? c.address.slice('apt:'.length);
      if (!APT_NAME.test(name)) throw new Error(`refusing invalid apt package name ${name}`);
      if (c.action === 'delete') {
        removals.push(`${name}-`);
        continue;
      }
      const version = c.afterUnknown?.includes('version') ? undefined : str(c.after, 'version');
      if (version !== undefined && debianVersionProblem(version) !== undefined) {
        throw new Error(`refusing invalid version ${version} for apt package ${name}`);
      }
      // An installed package's candidate is not probed unless --update asked for it.
      if (c.before === undefined && candidateOf(facts, name) === undefined) missingCandidate = true;
      installs.push(version === undefined ? name : `${name}=${version}`);
    }
    const listsMtime = typeof facts['lists_mtime'] === 'number' ? facts['lists_mtime'] : 0;
    const now = typeof facts['now'] === 'number' ? facts['now'] : 0;
    const stale = listsMtime === 0 || now - listsMtime > ctx.aptUpdateMaxAge;
    // A package apt knows no candidate for is usually one the lists do not carry yet.
    const updateLists =
      installs.length > 0 && (input.changedKinds.has('apt-source') || stale || missingCandidate);
    if (updateLists) out.push({ display: 'apt-get update', script: 'apt-get update -q' });
    // A pinned package whose dependencies demand an exact version (`libjq1 (= 1.6-2.1+deb12u2)`,
    // from the same source package) cannot be installed when a newer candidate of the
    // dependency exists: apt's resolver picks the candidate. Pin those dependencies too (found
    // with one apt-cache call, so the words are apt's own: names and versions of Debian's
    // grammar; `apt-cache show NAME=VERSION` prints exactly that version's record), and
    // mark the ones that were not installed before as automatically installed.
    // A pin equal to apt's candidate resolves its dependencies to candidates already, but only
    // while the candidates the refresh saw still hold: after an apt-get update (a new source,
    // stale lists) they may have moved, so every pin is looked up.
    const pinned = installs.filter((i) => {
      const [name, version] = i.split('=');
      return version !== undefined && (updateLists || version !== candidateOf(facts, name!));
    });
    if (pinned.length > 0) {
      out.push({
        display: 'pin exact-version dependencies of pinned packages',
        script: [
          String.raw`repro_exact=$(apt-cache show ${pinned.map(shellQuote).join(' ')} 2>/dev/null | sed -n 's/^\(Pre-\)\{0,1\}Depends: //p' | tr ',|' '\n\n' | sed -n 's/^ *\([a-z0-9][a-z0-9+.-]*\)\(:[a-z0-9]*\)\{0,1\} *(= *\([A-Za-z0-9.+~:-]*\)).*$/\1=\3/p' | sort -u)`,
          "repro_new=''",
          'for repro_d in $repro_exact; do dpkg-query -W -f=\'${db:Status-Abbrev}\' "${repro_d%%=*}" 2>/dev/null | grep -q \'^ii\' || repro_new="$repro_new ${repro_d%%=*}"; done',
        ].join('\n'),
      });
    }
    const argv = [
      'apt-get',
      'install',
      '-y',
      '-q',
      '-o',
      'Dpkg::Options::=--force-confdef',
      '-o',
      'Dpkg::Options::=--force-confold',
      ...(ctx.aptInstallRecommends ? [] : ['--no-install-recommends']),
      '--allow-downgrades',
      ...installs,
      ...removals,
    ];
    const exact = pinned.length > 0 ? ' $repro_exact' : '';
    out.push({
      display: shellJoin(['apt-get', 'install', ...installs, ...removals]),
      script: `DEBIAN_FRONTEND=noninteractive ${shellJoin(argv)}${exact}`,
    });
    if (pinned.length > 0) {
      out.push({
        display: 'apt-mark auto (dependencies pinned above)',
        script: '[ -z "$repro_new" ] || apt-mark auto $repro_new >/dev/null',
      });
    }
    return out;
  },

  lockEntry(resource: Resource, live: Attrs): Attrs | undefined {
    if (str(resource.desired, 'version') !== undefined) return undefined;
    const version = str(live, 'version');
    const arch = str(live, 'arch');
    if (version === undefined) return undefined;
    return arch === undefined ? { version } : { version, arch };
  },

  record: recordLive,
} satisfies Manager;

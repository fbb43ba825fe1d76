// pip: Python virtual environments (`pip-venv:PATH`) and the packages in them or in a system
// interpreter (`pip:SCOPE:NAME`, SCOPE being the venv path or the interpreter's name).
//
// Invariants:
// - Every name, extra, specifier, URL, index option and interpreter is checked (check()) before
//   it can reach a shell; commands() re-checks and throws rather than quote something odd, and
//   the requirement given to pip is rebuilt from the checked parts, never the text as written.
// - The probe starts no Python: one awk per site directory reads every distribution's
//   METADATA/PKG-INFO header and direct_url.json (the venv's site-packages, or a system
//   interpreter's directories in sys.path order), printed base64-encoded on one line per scope,
//   so nothing a package's metadata says can forge a probe line.
// - A declared venv's lock entry is its whole closure (lockFromFacts); a batch installs exactly
//   that closure with --no-deps when it covers the spec and the batch, else pip resolves.
// - The version to install is: the spec's exact pin (`==X`) ?? the lock ?? what pip resolves now
//   (unknown until apply). `--update` drops the lock and re-resolves with `--upgrade`.
// - A venv path is only ever removed when it holds a pyvenv.cfg; an existing path that is not a
//   venv is refused with a message naming it.
import type { Diagnostic } from '../core/errors.js';
import { shellJoin, shellQuote, type Command } from '../core/shell.js';
import type { Attrs, Change, JsonValue, Resource } from '../core/types.js';
import {
  attrOf,
  CONTROL,
  diag,
  failScript,
  itemIndex,
  pathProblem,
  probeFragment,
  probeLines,
  recordLive,
  str,
  strList,
} from './common.js';
import type {
  CommandInput,
  DiffInput,
  Manager,
  ManagerContext,
  ProbeItem,
  ProbeResult,
} from './types.js';

// ---------------------------------------------------------------------------------------------
// Grammar: PEP 503 names, PEP 508 extras, PEP 440 versions and specifiers.

/** A PEP 503-normalized project name. */
export const PIP_NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
/** An extra's name (PEP 685 normalizes them like project names; we accept the PEP 508 form). */
export const EXTRA_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;
/** An interpreter: a command name or an absolute path of plain characters. */
export const PYTHON_NAME = /^(?:\/[A-Za-z0-9._+-]+)*\/?[A-Za-z0-9._+-]+$/;

/** PEP 440 version (the `packaging` library's VERSION_PATTERN), anchored. */
const VERSION_RE =
  /^v?(?:(?:([0-9]+)!)?([0-9]+(?:\.[0-9]+)*)([-_.]?(alpha|beta|preview|pre|a|b|c|rc)[-_.]?([0-9]+)?)?((?:-([0-9]+))|(?:[-_.]?(post|rev|r)[-_.]?([0-9]+)?))?([-_.]?(dev)[-_.]?([0-9]+)?)?)(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?$/i;

export function isPep440Version(v: string): boolean {
  return VERSION_RE.test(v);
}

type LocalPart = number | string;
interface ParsedVersion {
  epoch: number;
  release: number[];
  pre?: [number, number];
  post?: number;
  dev?: number;
  local?: LocalPart[];
}

const PRE_RANK: Record<string, number> = {
  a: 0,
  alpha: 0,
  b: 1,
  beta: 1,
  c: 2,
  rc: 2,
  pre: 2,
  preview: 2,
};

export function parseVersion(v: string): ParsedVersion | undefined {
  const m = VERSION_RE.exec(v.trim());
  if (!m) return undefined;
  const out: ParsedVersion = {
    epoch: m[1] ? Number(m[1]) : 0,
    release: m[2]!.split('.').map(Number),
  };
  if (m[4]) out.pre = [PRE_RANK[m[4].toLowerCase()]!, Number(m[5] ?? 0)];
  if (m[6]) out.post = Number(m[7] ?? m[9] ?? 0);
  if (m[11]) out.dev = Number(m[12] ?? 0);
  if (m[13]) {
    out.local = m[13]
      .toLowerCase()
      .split(/[-_.]/)
      .map((s) => (/^[0-9]+$/.test(s) ? Number(s) : s));
  }
  return out;
}

function cmpNum(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function cmpRelease(a: readonly number[], b: readonly number[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = cmpNum(a[i] ?? 0, b[i] ?? 0);
    if (c !== 0) return c;
  }
  return 0;
}

/** Orders parsed versions as PEP 440 does; `withLocal` false ignores local labels. */
function cmpParsed(a: ParsedVersion, b: ParsedVersion, withLocal = true): number {
  let c = cmpNum(a.epoch, b.epoch) || cmpRelease(a.release, b.release);
  if (c !== 0) return c;
  // Pre-release key: a dev release without pre or post sorts before every pre-release.
  const preKey = (v: ParsedVersion): number[] =>
    v.pre ? [0, ...v.pre] : v.post === undefined && v.dev !== undefined ? [-1] : [1];
  const pa = preKey(a);
  const pb = preKey(b);
  for (let i = 0; i < Math.max(pa.length, pb.length) && c === 0; i++) {
    c = cmpNum(pa[i] ?? 0, pb[i] ?? 0);
  }
  if (c !== 0) return c;
  c = cmpNum(a.post ?? -1, b.post ?? -1);
  if (c !== 0) return c;
  c = cmpNum(a.dev ?? Infinity, b.dev ?? Infinity);
  if (c !== 0 || !withLocal) return c;
  const la = a.local;
  const lb = b.local;
  if (!la || !lb) return la ? 1 : lb ? -1 : 0;
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    const x = la[i];
    const y = lb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (typeof x === 'number' && typeof y === 'number') c = cmpNum(x, y);
    else if (typeof x === 'number') c = 1;
    else if (typeof y === 'number') c = -1;
    else c = x < y ? -1 : x > y ? 1 : 0;
    if (c !== 0) return c;
  }
  return 0;
}

/** PEP 440 ordering of two version strings; undefined when either is not a version. */
export function compareVersions(a: string, b: string): number | undefined {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  return pa && pb ? cmpParsed(pa, pb) : undefined;
}

/** A version as pip prints it (`str(packaging.version.Version(v))`); unparsable ones as given. */
export function normalizeVersion(v: string): string {
  const p = parseVersion(v);
  if (!p) return v.trim();
  const pre = p.pre ? `${['a', 'b', 'rc'][p.pre[0]]}${p.pre[1]}` : '';
  return (
    (p.epoch !== 0 ? `${p.epoch}!` : '') +
    p.release.join('.') +
    pre +
    (p.post !== undefined ? `.post${p.post}` : '') +
    (p.dev !== undefined ? `.dev${p.dev}` : '') +
    (p.local ? `+${p.local.join('.')}` : '')
  );
}

const OPERATORS = ['===', '~=', '==', '!=', '<=', '>=', '<', '>'] as const;
type Operator = (typeof OPERATORS)[number];
export interface Clause {
  readonly op: Operator;
  readonly version: string;
}

/** Parses a PEP 440 specifier set (`>=1,<2`), or explains why it is not one. */
export function parseSpecifier(spec: string): { clauses: Clause[] } | { problem: string } {
  if (CONTROL.test(spec)) return { problem: 'must not contain control characters' };
  if (spec.includes(';')) return { problem: 'environment markers (";") are not supported' };
  const clauses: Clause[] = [];
  for (const raw of spec.split(',')) {
    const part = raw.trim();
    const op = OPERATORS.find((o) => part.startsWith(o));
    if (op === undefined) {
      return { problem: `"${part}" does not start with one of ${OPERATORS.join(' ')}` };
    }
    const version = part.slice(op.length).trim();
    if (op === '===') {
      if (!/^[A-Za-z0-9._+!-]+$/.test(version)) {
        return { problem: `"${part}": "===" needs a version without spaces or symbols` };
      }
    } else {
      const wildcard = version.endsWith('.*');
      const base = wildcard ? version.slice(0, -2) : version;
      if (wildcard && op !== '==' && op !== '!=') {
        return { problem: `"${part}": a ".*" suffix is only allowed with == and !=` };
      }
      if (!isPep440Version(base)) {
        return { problem: `"${version}" in "${part}" is not a PEP 440 version` };
      }
      if ((wildcard || (op !== '==' && op !== '!=')) && base.includes('+')) {
        return {
          problem: `"${part}": a local version label ("+…") is only allowed with == and !=`,
        };
      }
      if (op === '~=' && !/^[^+]*[0-9]+\.[0-9]+/.test(base.replace(/^[0-9]+!/, ''))) {
        return { problem: `"${part}": "~=" needs at least two release segments (e.g. ~=1.4)` };
      }
    }
    clauses.push({ op, version });
  }
  return { clauses };
}

function matchesClause(v: ParsedVersion, raw: string, c: Clause): boolean {
  if (c.op === '===') return raw.trim().toLowerCase() === c.version.toLowerCase();
  const wildcard = c.version.endsWith('.*');
  const s = parseVersion(wildcard ? c.version.slice(0, -2) : c.version);
  if (!s) return false;
  if (wildcard) {
    const prefix = v.epoch === s.epoch && s.release.every((n, i) => (v.release[i] ?? 0) === n);
    return c.op === '==' ? prefix : !prefix;
  }
  const withLocal = s.local !== undefined;
  const cmp = cmpParsed(v, s, withLocal);
  switch (c.op) {
    case '==':
      return cmp === 0;
    case '!=':
      return cmp !== 0;
    case '<=':
      return cmp <= 0;
    case '>=':
      return cmp >= 0;
    case '<':
      return cmp < 0;
    case '>':
      return cmp > 0;
    case '~=': {
      const head = s.release.slice(0, -1);
      return cmp >= 0 && v.epoch === s.epoch && head.every((n, i) => (v.release[i] ?? 0) === n);
    }
  }
}

/** Whether `version` satisfies the specifier set; undefined when either cannot be parsed. */
export function satisfies(version: string, spec: string): boolean | undefined {
  const parsed = parseSpecifier(spec);
  const v = parseVersion(version);
  if ('problem' in parsed || !v) return undefined;
  return parsed.clauses.every((c) => matchesClause(v, version, c));
}

/** The exact version a specifier pins (`==1.2`, `===1.2`), or undefined. */
export function exactPin(spec: string | undefined): string | undefined {
  if (spec === undefined) return undefined;
  const parsed = parseSpecifier(spec);
  if ('problem' in parsed || parsed.clauses.length !== 1) return undefined;
  const c = parsed.clauses[0]!;
  if ((c.op === '==' || c.op === '===') && !c.version.endsWith('.*')) return c.version;
  return undefined;
}

/** Why `url` is not an acceptable direct reference / index / find-links URL, or undefined. */
export function urlProblem(url: string): string | undefined {
  if (CONTROL.test(url) || /\s/.test(url)) return 'must not contain spaces or control characters';
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(.*)$/i.exec(url);
  if (!m) return 'must be a URL like https://host/path';
  const scheme = m[1]!.toLowerCase();
  const allowed = ['http', 'https', 'file', 'git+https', 'git+http', 'git+ssh', 'git+file'];
  if (!allowed.includes(scheme)) return `scheme ${scheme}:// is not one of ${allowed.join(', ')}`;
  if (scheme !== 'file' && scheme !== 'git+file' && m[2] === '') return 'has no host';
  return undefined;
}

/** find_links entries are URLs or absolute directories on the target. */
function linkProblem(link: string): string | undefined {
  return link.startsWith('/') ? pathProblem(link) : urlProblem(link);
}

/** `https://user:token@host/…` → `https://***@host/…`, for displays. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1***@');
}

// ---------------------------------------------------------------------------------------------
// pip-venv

function venvPathOf(item: ProbeItem): string {
  return str(item.resource?.desired, 'path') ?? str(item.recorded, 'path') ?? item.name;
}

export const pipVenvManager = {
  kind: 'pip-venv',
  // The venv's lock entry is its package closure, which pipManager.lockFromFacts records.
  lockDerived: true,
  tracked: ['python_version'],

  check(resource: Resource): Diagnostic[] {
    const out: Diagnostic[] = [];
    const path = str(resource.desired, 'path') ?? resource.name;
    const problem = pathProblem(path);
    if (problem !== undefined) {
      out.push(diag(resource, 'pip-venv.path', `venv path ${JSON.stringify(path)} ${problem}`));
    }
    const python = str(resource.desired, 'python') ?? 'python3';
    if (!PYTHON_NAME.test(python)) {
      out.push(
        diag(
          resource,
          'pip-venv.python',
          `invalid interpreter ${JSON.stringify(python)} for venv ${path}`,
          'name a command such as python3 or python3.11, or an absolute path',
        ),
      );
    }
    return out;
  },

  probeScript(items: readonly ProbeItem[], _ctx: ManagerContext): string {
    const lines: string[] = [];
    items.forEach((item, i) => {
      const p = venvPathOf(item);
      if (pathProblem(p) !== undefined) return;
      const q = shellQuote(p);
      lines.push(
        `if [ -f ${q}/pyvenv.cfg ] && [ -x ${q}/bin/python ]; then`,
        `  _r_v=$(sed -n 's/^version[_a-z]* *= *\\([0-9][0-9a-z.+]*\\) *$/\\1/p' ${q}/pyvenv.cfg 2>/dev/null | head -n 1)`,
        `  printf 'V\\t${i}\\tvenv\\t%s\\n' "$_r_v"`,
        `elif [ -e ${q} ] || [ -L ${q} ]; then printf 'V\\t${i}\\tother\\n'`,
        `fi`,
      );
    });
    return probeFragment(lines);
  },

  parseProbe(output: string, items: readonly ProbeItem[], _ctx: ManagerContext): ProbeResult {
    const live = new Map<string, Attrs>();
    const notVenv: string[] = [];
    for (const { tag, fields } of probeLines(output)) {
      if (tag !== 'V') continue;
      const i = itemIndex(fields[0], items.length);
      if (i === undefined) continue;
      const item = items[i]!;
      const path = venvPathOf(item);
      if (fields[1] === 'venv') {
        const v = fields[2] ?? '';
        live.set(item.address, { path, python_version: /^[0-9][0-9a-z.+]*$/.test(v) ? v : '' });
      } else if (fields[1] === 'other') {
        notVenv.push(path);
      }
    }
    return { live, facts: { not_venv: notVenv.sort() } };
  },

  diff(input: DiffInput): Change {
    const path = attrOf(input, 'path', 'pip-venv');
    const address = input.resource?.address ?? `pip-venv:${path}`;
    const { live } = input;
    if (!input.resource) {
      return live
        ? {
            address,
            kind: 'pip-venv',
            action: 'delete',
            before: live,
            reason: 'removed from the spec',
          }
        : { address, kind: 'pip-venv', action: 'noop' };
    }
    if (live) return { address, kind: 'pip-venv', action: 'noop', before: live, after: live };
    const python = str(input.resource.desired, 'python') ?? 'python3';
    const notVenv = strList(input.facts, 'not_venv') ?? [];
    return {
      address,
      kind: 'pip-venv',
      action: 'create',
      after: { path },
      afterUnknown: ['python_version'],
      reason: notVenv.includes(path)
        ? `${path} exists but is not a venv (no pyvenv.cfg)`
        : `no venv (created with ${python} -m venv)`,
    };
  },

  commands(input: CommandInput): Command[] {
    const out: Command[] = [];
    for (const c of input.changes) {
      const path = str(c.after, 'path') ?? str(c.before, 'path') ?? c.address.slice(9);
      if (pathProblem(path) !== undefined) throw new Error(`refusing invalid venv path ${path}`);
      const q = shellQuote(path);
      if (c.action === 'delete') {
        out.push({
          display: `rm -rf ${q} (a venv)`,
          script: `if [ -f ${q}/pyvenv.cfg ]; then rm -rf ${q}; fi`,
        });
        continue;
      }
      const python = str(input.resources.get(c.address)?.desired, 'python') ?? 'python3';
      if (!PYTHON_NAME.test(python)) throw new Error(`refusing invalid interpreter ${python}`);
      const py = shellQuote(python);
      out.push({
        display: `${shellJoin([python, '-m', 'venv', path])}`,
        script: [
          `if [ -e ${q} ] || [ -L ${q} ]; then`,
          `  if [ ! -d ${q} ] || { [ ! -f ${q}/pyvenv.cfg ] && [ -n "$(ls -A ${q} 2>/dev/null)" ]; }; then`,
          `    ${failScript(`repro: ${path} exists but is not a venv (no pyvenv.cfg); remove it or choose another venv path`)}`,
          `  fi`,
          `fi`,
          `if ! command -v ${py} >/dev/null 2>&1; then`,
          `  ${failScript(`repro: the interpreter ${python} for venv ${path} is not on the target; install it (e.g. apt: [python3, python3-venv]) or set python:`)}`,
          `fi`,
          `${py} -m venv ${q}`,
        ].join('\n'),
      });
    }
    return out;
  },

  lockEntry(_resource: Resource, _live: Attrs): Attrs | undefined {
    return undefined;
  },

  record: recordLive,
} satisfies Manager;

// ---------------------------------------------------------------------------------------------
// pip packages

/** PEP 503 normalization. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** Splits `SCOPE:NAME` (the scope may itself contain ':'). */
function splitName(name: string): { scope: string; pkg: string } {
  const i = name.lastIndexOf(':');
  return i < 0 ? { scope: '', pkg: name } : { scope: name.slice(0, i), pkg: name.slice(i + 1) };
}

function scopeOf(item: { name: string; resource?: Resource; recorded?: Attrs }): string {
  return (
    str(item.resource?.desired, 'scope') ??
    str(item.recorded, 'scope') ??
    splitName(item.name).scope
  );
}

function pkgOf(item: { name: string; resource?: Resource; recorded?: Attrs }): string {
  return (
    str(item.resource?.desired, 'name') ?? str(item.recorded, 'name') ?? splitName(item.name).pkg
  );
}

/** Whether a scope names a venv: declared so, or (from state only) an absolute path. */
type ScopeKind = 'venv' | 'system' | 'auto';

function scopeProblem(scope: string): string | undefined {
  if (scope.startsWith('/')) return pathProblem(scope);
  return PYTHON_NAME.test(scope) ? undefined : 'is not an interpreter name';
}

/** Sorted scopes of the items, each with what the spec says it is. */
function scopesOf(items: readonly ProbeItem[]): [string, ScopeKind][] {
  const kinds = new Map<string, ScopeKind>();
  for (const item of items) {
    const scope = scopeOf(item);
    if (scopeProblem(scope) !== undefined || !PIP_NAME.test(pkgOf(item))) continue;
    const declared: ScopeKind | undefined = item.resource
      ? str(item.resource.desired, 'venv') !== undefined
        ? 'venv'
        : 'system'
      : undefined;
    const prev = kinds.get(scope);
    kinds.set(scope, declared ?? prev ?? (scope.startsWith('/') ? 'auto' : 'system'));
  }
  return [...kinds.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function scopeFacts(facts: Attrs, scope: string): { [k: string]: JsonValue } | undefined {
  const s = facts['scopes'];
  if (s === null || typeof s !== 'object' || Array.isArray(s)) return undefined;
  const v = (s as Record<string, JsonValue>)[scope];
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

/**
 * Prints, per metadata file of one site directory, what parseDists reads: the RFC 822 header of
 * `METADATA`/`PKG-INFO` (Name, Version, Provides-Extra; the body is skipped) and the archive
 * sha256 of `direct_url.json`. DIR is the metadata directory's base name, which joins the two.
 */
const DIST_AWK = [
  'function flush() { if (n != "" && v != "") printf "D\\t%s\\t%s\\t%s\\t%s\\n", d, n, v, x; n = ""; v = ""; x = "" }',
  'FNR == 1 { flush(); d = FILENAME; if (d !~ /\\.egg-info$/) sub(/\\/[^\\/]*$/, "", d); sub(/^.*\\//, "", d); m = (FILENAME ~ /\\/direct_url\\.json$/) ? "u" : (FILENAME ~ /\\/\\.repro-wheel-sha256$/) ? "r" : "h" }',
  'm == "r" { if (split($0, f, "\\t") == 3) printf "R\\t%s\\n", $0; next }',
  'm == "u" { if (match($0, /"sha256" *: *"[0-9a-fA-F]+"/) || match($0, /sha256=[0-9a-fA-F]+/)) { s = substr($0, RSTART, RLENGTH); sub(/^[^=:]*[=:] *"?/, "", s); sub(/"$/, "", s); printf "H\\t%s\\t%s\\n", d, s; m = "" } next }',
  'm != "h" { next }',
  '/^\\r?$/ { flush(); m = ""; next }',
  '/^[Nn]ame:/ { if (n == "") { n = $0; sub(/^[^:]*: */, "", n); sub(/[ \\r]*$/, "", n) } next }',
  '/^[Vv]ersion:/ { if (v == "") { v = $0; sub(/^[^:]*: */, "", v); sub(/[ \\r]*$/, "", v) } next }',
  '/^[Pp]rovides-[Ee]xtra:/ { e = $0; sub(/^[^:]*: */, "", e); sub(/[ \\r]*$/, "", e); x = (x == "" ? e : x "," e) }',
  'END { flush() }',
].join('\n');

/**
 * `_r_dists DIR…`: the metadata of every distribution in the existing DIRs, in order, as one
 * base64 line (so nothing a package's metadata says can forge a probe line).
 */
const DIST_READER = [
  '_r_dists() {',
  '  for _r_d in "$@"; do',
  '    if [ -f "$_r_d" ]; then awk "$_r_awk" "$_r_d" 2>/dev/null; continue; fi',
  '    [ -d "$_r_d" ] || continue',
  '    set --',
  '    for _r_x in "$_r_d"/*.dist-info/METADATA "$_r_d"/*.dist-info/direct_url.json "$_r_d"/*.egg-info/PKG-INFO "$_r_d"/*.egg-info; do',
  '      [ -f "$_r_x" ] && set -- "$@" "$_r_x"',
  '    done',
  '    [ $# -eq 0 ] || awk "$_r_awk" "$@" 2>/dev/null',
  "  done | base64 | tr -d '\\n'",
  '}',
].join('\n');

/**
 * In a venv's root: `NAME<TAB>VERSION<TAB>SHA256` of the archives repro's installs came from,
 * taken from `pip install --report` (pip records no archive hash in the venv for index or
 * find_links installs). The probe only believes a line whose name and version are installed.
 */
const HASH_FILE = '.repro-wheel-sha256';

/** Merges a `pip install --report` into HASH_FILE (argv: report, hash file); runs in the venv. */
const MERGE_REPORT_PY = [
  'import json, os, re, sys',
  'rep, out = sys.argv[1], sys.argv[2]',
  "norm = lambda n: re.sub(r'[-_.]+', '-', n).lower()",
  'rows = {}',
  'try:',
  '    for line in open(out):',
  "        f = line.rstrip('\\n').split('\\t')",
  '        if len(f) == 3: rows[norm(f[0])] = f',
  'except OSError: pass',
  "for i in json.load(open(rep)).get('install', []):",
  "    m, a = i.get('metadata') or {}, (i.get('download_info') or {}).get('archive_info') or {}",
  "    h = (a.get('hashes') or {}).get('sha256') or (a.get('hash') or '').partition('sha256=')[2]",
  "    n, v = m.get('name'), m.get('version')",
  '    if not n or not v: continue',
  "    if re.fullmatch('[0-9a-f]{64}', h or ''): rows[norm(n)] = [norm(n), v, h]",
  '    else: rows.pop(norm(n), None)',
  "with open(out + '.tmp', 'w') as f:",
  "    for k in sorted(rows): f.write('\\t'.join(rows[k]) + '\\n')",
  "os.replace(out + '.tmp', out)",
].join('\n');

/** Packages that seed every venv; left out of the lock's closure, as `pip freeze` leaves them. */
const SEED_PACKAGES = new Set(['pip', 'setuptools', 'wheel', 'distribute']);

/** A scope's installed distributions as a JSON fact: name → {version, sha256?}, sorted. */
function closureOf(dists: ReadonlyMap<string, InstalledDist>): { [k: string]: JsonValue } {
  const out: { [k: string]: JsonValue } = {};
  for (const name of [...dists.keys()].sort()) {
    const d = dists.get(name)!;
    out[name] = { version: d.version, ...(d.sha256 === undefined ? {} : { sha256: d.sha256 }) };
  }
  return out;
}

/** One installed distribution as the probe read it from its metadata directory. */
export interface InstalledDist {
  /** The version as pip shows it (PEP 440-normalized when it parses). */
  readonly version: string;
  /** `Provides-Extra` values, PEP 685-normalized. */
  readonly extras: readonly string[];
  /** sha256 of the archive it was installed from, when pip recorded one (direct_url.json). */
  readonly sha256?: string;
}

/**
 * Reads what the probe's awk printed for one site directory after another, in the interpreter's
 * search order: `D<TAB>DIR<TAB>NAME<TAB>VERSION<TAB>EXTRAS` per `*.dist-info/METADATA` or
 * `*.egg-info` and `H<TAB>DIR<TAB>SHA256` per `direct_url.json` with an archive hash. The first
 * distribution of a name wins, as it does on `sys.path`.
 */
export function parseDists(text: string): Map<string, InstalledDist> {
  const rows: { dir: string; name: string; version: string; extras: string[] }[] = [];
  const hashes = new Map<string, string>();
  const recorded = new Map<string, string>();
  for (const line of text.split('\n')) {
    const f = line.replace(/\r$/, '').split('\t');
    if (f[0] === 'D' && f.length >= 4) {
      rows.push({
        dir: f[1]!,
        name: f[2]!.trim(),
        version: f[3]!.trim(),
        extras: (f[4] ?? '')
          .split(',')
          .map((e) => e.trim())
          .filter((e) => e !== '')
          .map(normalizeName),
      });
    } else if (f[0] === 'H' && f.length >= 3 && /^[0-9a-fA-F]{64}$/.test(f[2]!)) {
      hashes.set(f[1]!, f[2]!.toLowerCase());
    } else if (f[0] === 'R' && f.length === 4 && /^[0-9a-fA-F]{64}$/.test(f[3]!)) {
      recorded.set(`${normalizeName(f[1]!)}\0${normalizeVersion(f[2]!)}`, f[3]!.toLowerCase());
    }
  }
  const out = new Map<string, InstalledDist>();
  for (const r of rows) {
    const name = normalizeName(r.name);
    if (!PIP_NAME.test(name) || r.version === '' || out.has(name)) continue;
    const version = normalizeVersion(r.version);
    const sha256 = hashes.get(r.dir) ?? recorded.get(`${name}\0${version}`);
    out.set(name, {
      version,
      extras: [...new Set(r.extras)].sort(),
      ...(sha256 === undefined ? {} : { sha256 }),
    });
  }
  return out;
}

function checkPip(resource: Resource): Diagnostic[] {
  const out: Diagnostic[] = [];
  const d = resource.desired;
  const name = str(d, 'name') ?? '';
  const req = str(d, 'requirement') ?? name;
  const bad = (code: string, what: string, hint?: string): void => {
    out.push(
      diag(
        resource,
        code,
        `${resource.address}: ${what} in requirement ${JSON.stringify(req)}`,
        hint,
      ),
    );
  };
  if (!PIP_NAME.test(name)) {
    bad(
      'pip.name',
      `invalid package name ${JSON.stringify(name)}`,
      'names are letters, digits and - _ .',
    );
  }
  for (const extra of strList(d, 'extras') ?? []) {
    if (!EXTRA_NAME.test(extra)) {
      bad(
        'pip.extra',
        `invalid extra ${JSON.stringify(extra)}`,
        "write extras as 'name[extra1,extra2]'",
      );
    }
  }
  const spec = str(d, 'spec');
  if (spec !== undefined) {
    const parsed = parseSpecifier(spec);
    if ('problem' in parsed) {
      bad(
        'pip.specifier',
        `invalid version specifier ${JSON.stringify(spec)}: ${parsed.problem}`,
        "write PEP 440 specifiers such as '==5.2.0', '>=1,<2', '~=1.4' or '!=1.3.*'",
      );
    }
  }
  const url = str(d, 'url');
  if (url !== undefined) {
    const problem = urlProblem(url);
    if (problem !== undefined) {
      bad(
        'pip.url',
        `invalid direct reference ${JSON.stringify(url)}: ${problem}`,
        "write 'name @ https://host/path/file.whl'",
      );
    }
  }
  const scope = str(d, 'scope') ?? '';
  const scopeBad = scopeProblem(scope);
  if (scopeBad !== undefined) bad('pip.scope', `scope ${JSON.stringify(scope)} ${scopeBad}`);
  const python = str(d, 'python') ?? 'python3';
  if (!PYTHON_NAME.test(python)) bad('pip.python', `invalid interpreter ${JSON.stringify(python)}`);
  const index = str(d, 'index');
  const urls: [string, string][] = [
    ...(index === undefined ? [] : [['index', index] as [string, string]]),
    ...(strList(d, 'extra_index') ?? []).map((u): [string, string] => ['extra_index', u]),
  ];
  for (const [key, u] of urls) {
    const problem = urlProblem(u);
    if (problem !== undefined)
      bad('pip.index', `${key} ${JSON.stringify(redactUrl(u))} ${problem}`);
  }
  for (const link of strList(d, 'find_links') ?? []) {
    const problem = linkProblem(link);
    if (problem !== undefined) {
      bad(
        'pip.find-links',
        `find_links ${JSON.stringify(redactUrl(link))} ${problem}`,
        'an absolute directory on the target or a URL',
      );
    }
  }
  return out;
}

/** The checked requirement pip gets: `name[extras]==v`, `name[extras]SPEC` or `name @ URL`. */
export function requirementFor(desired: Attrs, version: string | undefined): string {
  const name = str(desired, 'name') ?? '';
  if (!PIP_NAME.test(name)) throw new Error(`refusing invalid pip package name ${name}`);
  const extras = strList(desired, 'extras') ?? [];
  for (const e of extras) {
    if (!EXTRA_NAME.test(e)) throw new Error(`refusing invalid extra ${e} of ${name}`);
  }
  const head = extras.length > 0 ? `${name}[${extras.join(',')}]` : name;
  const url = str(desired, 'url');
  if (url !== undefined) {
    if (urlProblem(url) !== undefined) throw new Error(`refusing invalid URL for ${name}`);
    return `${head} @ ${url}`;
  }
  if (version !== undefined) {
    if (!isPep440Version(version))
      throw new Error(`refusing invalid version ${version} of ${name}`);
    return `${head}==${version}`;
  }
  const spec = str(desired, 'spec');
  if (spec === undefined) return head;
  if ('problem' in parseSpecifier(spec)) throw new Error(`refusing invalid specifier of ${name}`);
  return `${head}${spec.replace(/\s+/g, '')}`;
}

/** The version the resource should be at and why; version undefined when pip resolves it. */
function targetVersion(input: DiffInput): { version?: string; source: string } {
  const d = input.resource?.desired;
  if (str(d, 'url') !== undefined) return { source: 'direct reference' };
  const pinned = exactPin(str(d, 'spec'));
  if (pinned !== undefined) return { version: pinned, source: 'pinned in the spec' };
  const locked = input.update ? undefined : str(input.locked, 'version');
  if (locked !== undefined) return { version: locked, source: 'locked' };
  return { source: 'resolved by pip' };
}

function sameVersion(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a === b || compareVersions(a, b) === 0;
}

export const pipManager = {
  kind: 'pip',
  tracked: ['version'],

  check: checkPip,

  probeScript(items: readonly ProbeItem[], _ctx: ManagerContext): string {
    const lines: string[] = [`_r_awk=${shellQuote(DIST_AWK)}`, DIST_READER];
    scopesOf(items).forEach(([scope, kind], k) => {
      const q = shellQuote(scope);
      const venvTest = `[ -f ${q}/pyvenv.cfg ] && [ -x ${q}/bin/python ]`;
      // The site directories in the interpreter's search order, read with the shell and awk only:
      // starting Python (and importing pip) costs half a second per scope. Debian's dist-packages
      // first, then the RPM family's (Fedora/RHEL: /usr/local/lib64, /usr/local/lib, /usr/lib64,
      // /usr/lib site-packages); a directory that does not exist is skipped.
      const venv = `_r_k=venv; _r_m=$(_r_dists ${q}/lib/python3*/site-packages ${q}/${HASH_FILE})`;
      const system = [
        `_r_k=system; _r_real=$(readlink -f "$(command -v ${q})"); _r_pre=\${_r_real%/bin/*}; _r_ver=\${_r_real##*/}`,
        `  case $_r_ver in python3.[0-9]*) ;; *) _r_ver=$(cd "$_r_pre/lib" 2>/dev/null && ls -d python3.[0-9]* 2>/dev/null | head -n 1) ;; esac`,
        `  _r_m=$(_r_dists "$HOME/.local/lib/$_r_ver/site-packages" "$_r_pre/local/lib/$_r_ver/dist-packages" "$_r_pre/lib/python3/dist-packages" "$_r_pre/lib/$_r_ver/dist-packages" "$_r_pre/local/lib64/$_r_ver/site-packages" "$_r_pre/local/lib/$_r_ver/site-packages" "$_r_pre/lib64/$_r_ver/site-packages" "$_r_pre/lib/$_r_ver/site-packages")`,
      ].join('\n');
      lines.push(`_r_k=none; _r_m=''`);
      if (kind === 'venv') {
        lines.push(`if ${venvTest}; then ${venv}; fi`);
      } else if (kind === 'system') {
        lines.push(`if command -v ${q} >/dev/null 2>&1; then ${system}`, `fi`);
      } else {
        lines.push(
          `if ${venvTest}; then ${venv}`,
          `elif command -v ${q} >/dev/null 2>&1; then ${system}`,
          `fi`,
        );
      }
      lines.push(`printf 'S\\t${k}\\t%s\\n' "$_r_k"`, `printf 'M\\t${k}\\t%s\\n' "$_r_m"`);
    });
    return probeFragment(lines);
  },

  parseProbe(output: string, items: readonly ProbeItem[], _ctx: ManagerContext): ProbeResult {
    const scopes = scopesOf(items);
    const kinds = new Map<string, string>();
    const installed = new Map<string, Map<string, InstalledDist>>();
    for (const { tag, fields } of probeLines(output)) {
      const k = itemIndex(fields[0], scopes.length);
      if (k === undefined) continue;
      const scope = scopes[k]![0];
      if (tag === 'S') {
        const kind = fields[1];
        kinds.set(scope, kind === 'venv' || kind === 'system' ? kind : 'none');
      } else if (tag === 'M') {
        const b64 = fields[1] ?? '';
        if (!/^[A-Za-z0-9+/=]*$/.test(b64)) continue;
        installed.set(scope, parseDists(Buffer.from(b64, 'base64').toString('utf8')));
      }
    }
    const info: Record<string, JsonValue> = {};
    for (const [scope] of scopes) {
      const python = kinds.get(scope) ?? 'none';
      const dists = installed.get(scope) ?? new Map<string, InstalledDist>();
      info[scope] = {
        python,
        pip: dists.has('pip'),
        // A venv's whole closure, for the lock; a system interpreter's is the distribution's.
        ...(python === 'venv' ? { packages: closureOf(dists) } : {}),
      };
    }
    const live = new Map<string, Attrs>();
    for (const item of items) {
      const scope = scopeOf(item);
      const name = normalizeName(pkgOf(item));
      const dist = installed.get(scope)?.get(name);
      if (dist === undefined) continue;
      const attrs: Attrs = { scope, name, version: dist.version };
      const wanted = (strList(item.resource?.desired, 'extras') ?? []).map(normalizeName);
      const missing = wanted.filter((e) => !dist.extras.includes(e));
      if (missing.length > 0) attrs['missing_extras'] = missing;
      live.set(item.address, attrs);
    }
    return { live, facts: { scopes: info } };
  },

  diff(input: DiffInput): Change {
    const scope = attrOf(input, 'scope', 'pip');
    const name = attrOf(input, 'name', 'pip');
    const address = input.resource?.address ?? `pip:${scope}:${name}`;
    const { live } = input;
    if (!input.resource) {
      return live
        ? { address, kind: 'pip', action: 'delete', before: live, reason: 'removed from the spec' }
        : { address, kind: 'pip', action: 'noop' };
    }
    const target = targetVersion(input);
    if (!live) {
      return {
        address,
        kind: 'pip',
        action: 'create',
        after: {
          scope,
          name,
          ...(target.version === undefined ? {} : { version: target.version }),
        },
        ...(target.version === undefined ? { afterUnknown: ['version'] } : {}),
        reason:
          target.version === undefined
            ? `not installed (${target.source})`
            : `not installed (${target.source} ${target.version})`,
      };
    }
    const liveVersion = str(live, 'version');
    const update = (version: string | undefined, reason: string): Change => ({
      address,
      kind: 'pip',
      action: 'update',
      before: live,
      after: { ...live, ...(version === undefined ? {} : { version }) },
      ...(version === undefined ? { afterUnknown: ['version'] } : {}),
      reason,
    });
    if (target.version !== undefined && !sameVersion(target.version, liveVersion)) {
      return update(
        target.version,
        `${target.source} ${target.version}, installed ${liveVersion ?? '?'}`,
      );
    }
    const spec = str(input.resource.desired, 'spec');
    if (spec !== undefined && liveVersion !== undefined && satisfies(liveVersion, spec) === false) {
      return update(target.version, `installed ${liveVersion} does not satisfy ${spec}`);
    }
    if (input.update && target.version === undefined && target.source === 'resolved by pip') {
      return update(undefined, `--update: re-resolve (installed ${liveVersion ?? '?'})`);
    }
    return { address, kind: 'pip', action: 'noop', before: live, after: live };
  },

  commands(input: CommandInput): Command[] {
    const byScope = new Map<string, Change[]>();
    for (const c of input.changes) {
      const r = input.resources.get(c.address);
      const scope =
        str(r?.desired, 'scope') ??
        str(c.after, 'scope') ??
        str(c.before, 'scope') ??
        splitName(c.address.slice(4)).scope;
      const problem = scopeProblem(scope);
      if (problem !== undefined) throw new Error(`refusing pip scope ${scope}: ${problem}`);
      byScope.set(scope, [...(byScope.get(scope) ?? []), c]);
    }
    const out: Command[] = [];
    for (const scope of [...byScope.keys()].sort()) {
      const changes = byScope.get(scope)!;
      const resources = changes
        .map((c) => input.resources.get(c.address))
        .filter((r): r is Resource => r !== undefined);
      const declaredVenv = resources.some((r) => str(r.desired, 'venv') !== undefined);
      const known = str(scopeFacts(input.facts, scope), 'python');
      const venv =
        declaredVenv ||
        (resources.length === 0 &&
          (known === 'venv' || (known !== 'system' && scope.startsWith('/'))));
      const q = shellQuote(scope);
      const py = venv ? `${q}/bin/python` : q;
      const pyDisplay = venv ? `${scope}/bin/python` : scope;
      const script: string[] = [];
      if (venv) {
        script.push(
          `if [ ! -x ${q}/bin/python ]; then ${failScript(`repro: the venv ${scope} does not exist (no ${scope}/bin/python); declare it with venv: ${scope}`)}; fi`,
        );
      } else {
        script.push(
          `if ! command -v ${q} >/dev/null 2>&1; then ${failScript(`repro: the interpreter ${scope} is not on the target; install it (e.g. apt: [python3, python3-pip])`)}; fi`,
        );
      }
      script.push(
        `if ! _r_pipv=$(${py} -c 'import pip; print(pip.__version__)' 2>/dev/null); then ${failScript(`repro: pip is not available for ${pyDisplay}; install it (e.g. apt: [python3-pip]) or use a venv`)}; fi`,
      );
      // PEP 668: Debian marks its interpreter externally managed; repro installs there on purpose.
      let bsp = '';
      if (!venv) {
        script.push(
          `_r_bsp=''`,
          `if ${py} -c 'import os,sys,sysconfig; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)' 2>/dev/null; then _r_bsp=--break-system-packages; fi`,
        );
        bsp = ' $_r_bsp';
      }
      const common = ['--disable-pip-version-check', '--no-input'];
      const removals: string[] = [];
      const installs: string[] = [];
      let upgrade = false;
      for (const c of changes) {
        const r = input.resources.get(c.address);
        if (c.action === 'delete' || !r) {
          const name = str(c.before, 'name') ?? splitName(c.address.slice(4)).pkg;
          if (!PIP_NAME.test(name)) throw new Error(`refusing invalid pip package name ${name}`);
          removals.push(name);
          continue;
        }
        const version = c.afterUnknown?.includes('version') ? undefined : str(c.after, 'version');
        if (version === undefined && c.before !== undefined) upgrade = true;
        installs.push(requirementFor(r.desired, version));
      }
      if (removals.length > 0) {
        out.push({
          display: `${pyDisplay} -m pip uninstall -y ${removals.join(' ')}`,
          script: [
            ...script,
            `${py} -m pip uninstall -y ${shellJoin(common)}${bsp} ${shellJoin(removals)}`,
          ].join('\n'),
        });
        script.length = 0;
      }
      // A complete locked closure: install exactly it, without resolving (see closureFor).
      const closure =
        venv && removals.length === 0
          ? closureFor(input.locked?.(`pip-venv:${scope}`), changes, input.resources, scope)
          : undefined;
      if (closure) {
        installs.length = 0;
        installs.push(...[...closure.keys()].sort().map((n) => `${n}==${closure.get(n)!.version}`));
        upgrade = false;
      }
      if (installs.length > 0) {
        const opts: string[] = [];
        const shown: string[] = [];
        const index = resources.map((r) => str(r.desired, 'index')).find((x) => x !== undefined);
        const extra = [
          ...new Set(resources.flatMap((r) => strList(r.desired, 'extra_index') ?? [])),
        ];
        const links = [
          ...new Set(resources.flatMap((r) => strList(r.desired, 'find_links') ?? [])),
        ];
        const noIndex = resources.some((r) => r.desired['no_index'] === true);
        const add = (flag: string, value: string, problem: string | undefined): void => {
          if (problem !== undefined) throw new Error(`refusing ${flag} value: ${problem}`);
          opts.push(flag, value);
          shown.push(flag, redactUrl(value));
        };
        if (index !== undefined) add('--index-url', index, urlProblem(index));
        for (const u of extra) add('--extra-index-url', u, urlProblem(u));
        for (const l of links) add('--find-links', l, linkProblem(l));
        if (noIndex) {
          opts.push('--no-index');
          shown.push('--no-index');
        }
        if (upgrade) {
          opts.push('--upgrade');
          shown.push('--upgrade');
        }
        if (closure) {
          opts.push('--no-deps');
          shown.push('--no-deps');
        }
        // pip >= 22.2 reports each archive's sha256; kept in the venv for the probe (HASH_FILE).
        const pre = venv
          ? [
              `_r_rep=''; case $_r_pipv in [0-9].*|1[0-9].*|2[01].*|22.[01]|22.[01].*) ;; *) _r_rep=$(mktemp) ;; esac`,
            ]
          : [];
        const rep = venv ? ' ${_r_rep:+--report "$_r_rep"}' : '';
        const post = venv
          ? [
              `if [ -n "$_r_rep" ]; then ${py} -c ${shellQuote(MERGE_REPORT_PY)} "$_r_rep" ${q}/${HASH_FILE} || true; rm -f "$_r_rep"; fi`,
            ]
          : [];
        const hashed = closure && [...closure.values()].every((e) => e.sha256 !== undefined);
        if (closure && hashed) {
          // --require-hashes takes hashes from a requirements file only.
          const lines = [...closure.keys()]
            .sort()
            .map(
              (n) => `${n}==${closure.get(n)!.version} --hash=sha256:${closure.get(n)!.sha256!}`,
            );
          out.push({
            display: `${pyDisplay} -m pip install ${shown.join(' ')} --require-hashes -r (the locked closure: ${installs.join(' ')})`,
            script: [
              ...script,
              ...pre,
              `_r_req=$(mktemp)`,
              `printf '%s\\n' ${shellJoin(lines)} > "$_r_req"`,
              `_r_rc=0; ${py} -m pip install ${shellJoin([...common, ...opts, '--require-hashes'])}${bsp}${rep} -r "$_r_req" || _r_rc=$?`,
              `rm -f "$_r_req"; [ "$_r_rc" -eq 0 ] || exit "$_r_rc"`,
              ...post,
            ].join('\n'),
          });
          continue;
        }
        out.push({
          display: `${pyDisplay} -m pip install ${[...shown, ...installs].join(' ')}`,
          script: [
            ...script,
            ...pre,
            `${py} -m pip install ${shellJoin([...common, ...opts])}${bsp}${rep} ${shellJoin(installs)}`,
            ...post,
          ].join('\n'),
        });
      }
    }
    return out;
  },

  lockEntry(resource: Resource, live: Attrs): Attrs | undefined {
    const d = resource.desired;
    if (exactPin(str(d, 'spec')) !== undefined || str(d, 'url') !== undefined) return undefined;
    const version = str(live, 'version');
    return version === undefined ? undefined : { version };
  },

  lockFromFacts(facts: Attrs, resources: ReadonlyMap<string, Resource>): Map<string, Attrs> {
    const out = new Map<string, Attrs>();
    const scopes = facts['scopes'];
    if (scopes === null || typeof scopes !== 'object' || Array.isArray(scopes)) return out;
    for (const scope of Object.keys(scopes).sort()) {
      const info = scopeFacts(facts, scope);
      const packages = info?.['packages'];
      if (info?.['python'] !== 'venv' || !isObject(packages)) continue;
      if (!resources.has(`pip-venv:${scope}`)) continue;
      const named = new Set(
        [...resources.values()]
          .filter((r) => r.kind === 'pip' && str(r.desired, 'scope') === scope)
          .map((r) => str(r.desired, 'name')),
      );
      const kept: { [k: string]: JsonValue } = {};
      for (const name of Object.keys(packages).sort()) {
        if (!SEED_PACKAGES.has(name) || named.has(name)) kept[name] = packages[name]!;
      }
      out.set(`pip-venv:${scope}`, { packages: kept });
    }
    return out;
  },

  problem(resource: Resource, live: Attrs): string | undefined {
    const missing = strList(live, 'missing_extras') ?? [];
    if (missing.length === 0) return undefined;
    const name = str(resource.desired, 'name') ?? '';
    const extras = missing.map((e) => `'${e}'`).join(', ');
    return `${name} ${str(live, 'version') ?? ''} does not provide the extra${missing.length > 1 ? 's' : ''} ${extras} (pip only warns); remove ${missing.length > 1 ? 'them' : 'it'} from requirement ${JSON.stringify(str(resource.desired, 'requirement') ?? name)} or pin a version that provides ${missing.length > 1 ? 'them' : 'it'}`;
  },

  // What the extras check found is for problem() only; state keeps what pip installed.
  record(resource: Resource | undefined, live: Attrs | undefined, previous?: Attrs) {
    if (live === undefined) return recordLive(resource, live, previous);
    const { missing_extras: _missing, ...rest } = live;
    return rest;
  },
} satisfies Manager;

/**
 * The locked closure of a venv when it is complete for this batch: every spec package of the
 * scope is in it without a direct reference, and every install the batch makes is at the
 * closure's version (a spec pin, `--update` or a changed spec that disagrees means: resolve).
 */
function closureFor(
  entry: Attrs | undefined,
  changes: readonly Change[],
  resources: ReadonlyMap<string, Resource>,
  scope: string,
): Map<string, { version: string; sha256?: string }> | undefined {
  const closure = lockedClosure(entry);
  if (!closure || closure.size === 0) return undefined;
  for (const r of resources.values()) {
    if (r.kind !== 'pip' || str(r.desired, 'scope') !== scope) continue;
    if (str(r.desired, 'url') !== undefined) return undefined;
    if (!closure.has(str(r.desired, 'name') ?? '')) return undefined;
  }
  for (const c of changes) {
    const r = resources.get(c.address);
    if (!r || c.action === 'delete') return undefined;
    const version = c.afterUnknown?.includes('version') ? undefined : str(c.after, 'version');
    const locked = closure.get(str(r.desired, 'name') ?? '');
    if (!locked || version === undefined || !sameVersion(version, locked.version)) return undefined;
  }
  return closure;
}

function isObject(v: JsonValue | undefined): v is { [k: string]: JsonValue } {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A locked venv closure (`pip-venv:PATH`'s lock entry): name → {version, sha256?}. */
function lockedClosure(
  entry: Attrs | undefined,
): Map<string, { version: string; sha256?: string }> | undefined {
  const packages = entry?.['packages'];
  if (!isObject(packages)) return undefined;
  const out = new Map<string, { version: string; sha256?: string }>();
  for (const [name, raw] of Object.entries(packages)) {
    if (!isObject(raw)) return undefined;
    const version = raw['version'];
    const sha256 = raw['sha256'];
    if (!PIP_NAME.test(name) || typeof version !== 'string' || !isPep440Version(version)) {
      return undefined;
    }
    out.set(name, {
      version,
      ...(typeof sha256 === 'string' && /^[0-9a-f]{64}$/.test(sha256) ? { sha256 } : {}),
    });
  }
  return out;
}

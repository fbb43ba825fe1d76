// conda: environments per prefix (`conda-env:PREFIX`) and the packages asked for in them
// (`conda:PREFIX:NAME`), driven by whichever of micromamba, mamba or conda the target has.
//
// Invariants:
// - Every MatchSpec (name, version constraint, build string), channel, prefix and tool is checked
//   (check()) before it can reach a shell; commands() re-parses and throws rather than quote
//   something odd, and the spec handed to the tool is rebuilt from the checked parts.
// - The env resource is the unit of conda transactions: its batch runs the ONE `create` (or one
//   `remove` + one `install` [+ one `update` for `--update`]) per env, because the solver must see
//   every spec of the env at once and because the env's lock entry — the complete package set
//   with explicit URLs and hashes, as conda-lock writes it — is only correct when it is taken
//   after the env's last change in the apply. The package resources' batch re-probes and records
//   what the env batch did; its only command is `update NAME…` for `--update` naming packages
//   but not their env.
// - The probe reads `PREFIX/conda-meta/*.json` with grep (no Python start-up, no solver) and prints
//   the matched lines base64-encoded, so nothing in a package record can forge a probe line.
//   Only top-level keys are kept (the least-indented ones of each file: conda writes indent 2).
// - An env whose lock covers every spec is created from an explicit file (`@EXPLICIT`, one URL
//   per line with its `#md5` fragment, or `#sha256:` when no md5 is known): no solve, exactly the
//   locked set. Without a usable lock the tool resolves, and the plan says so.
// - A prefix is only ever removed when it holds `conda-meta/history`; an existing path that is
//   not a conda env is refused with a message naming it.
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
// Grammar: package names, versions, build strings (conda-build's rules), MatchSpec strings.

/** Package names: lower-case letters, digits and `_ . -` (`_libgcc_mutex`, `numpy-base`). */
export const CONDA_NAME = /^[a-z0-9_][a-z0-9_.-]*$/;
/** A version: letters, digits and `. _ + !` (conda-build refuses `-` in versions). */
const VERSION_CHARS = /^[A-Za-z0-9_.+!]+$/;
/** A build string: letters, digits and `_ . +`, with `*` as a wildcard in a spec. */
export const BUILD_STRING = /^[A-Za-z0-9_.+*]+$/;
/** A channel name (`conda-forge`, `bioconda`, `pytorch/label/nightly`). */
const CHANNEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*(?:\/[A-Za-z0-9_.-]+)*$/;
const TOOLS = ['auto', 'conda', 'mamba', 'micromamba'] as const;
export type CondaTool = (typeof TOOLS)[number];

const OPS = ['==', '!=', '>=', '<=', '~=', '>', '<', '='] as const;

/** A checked MatchSpec: `name`, `name=1.2`, `name>=1,<2|==0.9`, `name=1.2=build`, `name 1.2 build`. */
export interface MatchSpec {
  readonly name: string;
  /** The version constraint as written (`=1.26`, `>=1.11`, `1.26.*`); undefined for any. */
  readonly version?: string;
  /** The build string or glob; undefined for any. */
  readonly build?: string;
  /** Written with spaces (`name 1.2 build`) rather than operators. */
  readonly spaced: boolean;
}

export type ParsedSpec =
  { spec: MatchSpec } | { problem: string; part: 'name' | 'version' | 'build' };

/** Parses one version term (`>=1.11`, `=1.26`, `1.26.*`, `*`), or explains why it is not one. */
function termProblem(term: string): string | undefined {
  if (term === '*') return undefined;
  const op = OPS.find((o) => term.startsWith(o)) ?? '';
  let v = term.slice(op.length);
  if (v === '') return `"${term}" has an operator but no version`;
  if (v.endsWith('.*')) v = v.slice(0, -2);
  else if (v.endsWith('*')) v = v.slice(0, -1);
  if (!VERSION_CHARS.test(v)) {
    return `"${v}" is not a conda version (letters, digits and . _ + ! only; no "-")`;
  }
  if (!/^[0-9A-Za-z]/.test(v)) return `"${v}" must start with a letter or digit`;
  return undefined;
}

function versionProblem(version: string): string | undefined {
  for (const alt of version.split('|')) {
    for (const term of alt.split(',')) {
      const t = term.trim();
      if (t === '') return `empty term in "${version}"`;
      const p = termProblem(t);
      if (p !== undefined) return p;
    }
  }
  return undefined;
}

function buildProblem(build: string): string | undefined {
  return BUILD_STRING.test(build)
    ? undefined
    : `build string "${build}" may only contain letters, digits and _ . + (and * as a wildcard)`;
}

/** Parses a MatchSpec string as repro accepts it, or says which part is wrong and why. */
export function parseMatchSpec(text: string): ParsedSpec {
  const s = text.trim();
  if (CONTROL.test(s)) return { problem: 'must not contain control characters', part: 'name' };
  if (s.includes('::')) {
    return {
      problem: '"channel::name" is not supported; list the channel under channels:',
      part: 'name',
    };
  }
  if (s.includes('[')) {
    return { problem: 'bracket options ("name[version=…]") are not supported', part: 'name' };
  }
  const m = /^([^\s=<>!~]+)(.*)$/s.exec(s);
  if (!m) return { problem: 'has no package name', part: 'name' };
  const name = m[1]!;
  if (!CONDA_NAME.test(name)) {
    return {
      problem: `"${name}" is not a conda package name (lower-case letters, digits and _ . -)`,
      part: 'name',
    };
  }
  const rest = m[2]!;
  if (rest.trim() === '') return { spec: { name, spaced: false } };
  if (/^\s/.test(rest)) {
    const words = rest.trim().split(/\s+/);
    if (words.length > 2) {
      return { problem: `"${rest.trim()}" has more than a version and a build`, part: 'version' };
    }
    const [version, build] = words as [string, string | undefined];
    const vp = versionProblem(version);
    if (vp !== undefined) return { problem: vp, part: 'version' };
    if (build !== undefined) {
      const bp = buildProblem(build);
      if (bp !== undefined) return { problem: bp, part: 'build' };
    }
    return { spec: { name, version, ...(build === undefined ? {} : { build }), spaced: true } };
  }
  if (/\s/.test(rest)) return { problem: `"${rest}" must not contain spaces`, part: 'version' };
  // `=1.26.4=py311_0`, `==1.2=b`: a build follows the last `=` not preceded by an operator.
  const withBuild = /^([=<>!~].*[^=<>!~,|])=([^=<>!~,|]*)$/.exec(rest);
  const version = withBuild ? withBuild[1]! : rest;
  const build = withBuild ? withBuild[2]! : undefined;
  const vp = versionProblem(version);
  if (vp !== undefined) return { problem: vp, part: 'version' };
  if (build !== undefined) {
    const bp = buildProblem(build);
    if (bp !== undefined) return { problem: bp, part: 'build' };
  }
  return { spec: { name, version, ...(build === undefined ? {} : { build }), spaced: false } };
}

/** The spec text given to the tool, rebuilt from checked parts. */
export function specText(spec: MatchSpec): string {
  if (spec.version === undefined) return spec.name;
  if (spec.spaced) return [spec.name, spec.version, spec.build].filter(Boolean).join(' ');
  return `${spec.name}${spec.version}${spec.build === undefined ? '' : `=${spec.build}`}`;
}

/**
 * The exact version the spec pins (`==1.2`, `=1.2=build`, `name 1.2 build`), with its build when
 * that is exact too; undefined when the spec leaves a choice.
 */
export function exactPin(spec: MatchSpec): { version: string; build?: string } | undefined {
  const v = spec.version;
  if (v === undefined || /[*|,<>!~]/.test(v)) return undefined;
  const build = spec.build !== undefined && !spec.build.includes('*') ? spec.build : undefined;
  let version: string | undefined;
  if (v.startsWith('==')) version = v.slice(2);
  else if (v.startsWith('=') && spec.build !== undefined) version = v.slice(1);
  else if (spec.spaced && !v.startsWith('=')) version = v;
  if (version === undefined || version.includes('=')) return undefined;
  return build === undefined ? { version } : { version, build };
}

// ---------------------------------------------------------------------------------------------
// Versions: conda's VersionOrder, enough to tell whether an installed version meets a spec.

type Token = number | string;
interface Version {
  readonly epoch: number;
  readonly main: Token[][];
  readonly local: Token[][];
}

function components(part: string): Token[][] {
  return part
    .split(/[._]/)
    .filter((c) => c !== '')
    .map((c) => {
      const tokens: Token[] = (c.match(/[0-9]+|[^0-9]+/g) ?? []).map((t) =>
        /^[0-9]+$/.test(t) ? Number(t) : t,
      );
      // conda: a component starting with a letter gets an implicit leading 0 ("1.1a1" = 1.1.0a1).
      if (typeof tokens[0] === 'string') tokens.unshift(0);
      return tokens;
    });
}

function parseCondaVersion(v: string): Version {
  const s = v.trim().toLowerCase();
  const bang = s.indexOf('!');
  const epoch = bang > 0 ? Number(s.slice(0, bang)) || 0 : 0;
  const rest = bang > 0 ? s.slice(bang + 1) : s;
  const plus = rest.indexOf('+');
  return {
    epoch,
    main: components(plus >= 0 ? rest.slice(0, plus) : rest),
    local: plus >= 0 ? components(rest.slice(plus + 1)) : [],
  };
}

/**
 * conda's token order: `post` is above every number, numbers are above strings, and `dev` is
 * below every other string (conda maps them to +inf and "DEV" before comparing).
 */
function cmpToken(a: Token, b: Token): number {
  const key = (t: Token): Token => (t === 'post' ? Infinity : t === 'dev' ? 'DEV' : t);
  const x = key(a);
  const y = key(b);
  if (typeof x === 'number' && typeof y === 'number') return x < y ? -1 : x > y ? 1 : 0;
  if (typeof x === 'number') return 1;
  if (typeof y === 'number') return -1;
  return x < y ? -1 : x > y ? 1 : 0;
}

function cmpComponents(a: Token[][], b: Token[][]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? [0];
    const y = b[i] ?? [0];
    for (let j = 0; j < Math.max(x.length, y.length); j++) {
      const c = cmpToken(x[j] ?? 0, y[j] ?? 0);
      if (c !== 0) return c;
    }
  }
  return 0;
}

/** Orders two conda versions as conda's VersionOrder does (epoch, main, local). */
export function compareCondaVersions(a: string, b: string): number {
  const x = parseCondaVersion(a);
  const y = parseCondaVersion(b);
  if (x.epoch !== y.epoch) return x.epoch < y.epoch ? -1 : 1;
  return cmpComponents(x.main, y.main) || cmpComponents(x.local, y.local);
}

/** Whether `version` starts with `prefix` component-wise (`1.26.4` starts with `1.26`, not `1.2`). */
function startsWith(version: string, prefix: string): boolean {
  const v = parseCondaVersion(version);
  const p = parseCondaVersion(prefix);
  if (v.epoch !== p.epoch) return false;
  return p.main.every((comp, i) => {
    const vc = v.main[i] ?? [0];
    return comp.every((t, j) => cmpToken(vc[j] ?? 0, t) === 0);
  });
}

function termMatches(version: string, term: string): boolean {
  if (term === '*') return true;
  const op = OPS.find((o) => term.startsWith(o)) ?? '';
  let v = term.slice(op.length);
  const glob = v.endsWith('*');
  if (glob) v = v.replace(/\.?\*$/, '');
  const c = compareCondaVersions(version, v);
  switch (op) {
    case '':
    case '==':
      return glob ? startsWith(version, v) : c === 0;
    case '=':
      return startsWith(version, v);
    case '!=':
      return glob ? !startsWith(version, v) : c !== 0;
    case '>=':
      return c >= 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '<':
      return c < 0;
    case '~=': {
      const head = v.split('.').slice(0, -1).join('.');
      return c >= 0 && (head === '' || startsWith(version, head));
    }
  }
}

function globMatches(value: string, glob: string): boolean {
  const re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
  return re.test(value);
}

/** Whether an installed (version, build) meets the spec. `=1.2=b` means version exactly 1.2. */
export function specMatches(spec: MatchSpec, version: string, build: string): boolean {
  if (spec.build !== undefined && !globMatches(build, spec.build)) return false;
  let v = spec.version;
  if (v === undefined) return true;
  if (spec.build !== undefined && /^=[^=]/.test(v) && !/[*|,]/.test(v)) v = `==${v.slice(1)}`;
  return v.split('|').some((alt) => alt.split(',').every((t) => termMatches(version, t.trim())));
}

// ---------------------------------------------------------------------------------------------
// Channels, URLs, hashes

function channelProblem(channel: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(channel)) return urlProblem(channel);
  return CHANNEL_NAME.test(channel)
    ? undefined
    : 'is neither a channel name (letters, digits, _ . - and /) nor a URL';
}

function urlProblem(url: string): string | undefined {
  if (CONTROL.test(url) || /[\s#'"\\`]/.test(url)) {
    return 'must not contain spaces, quotes, backslashes, "#" or control characters';
  }
  if (!/^(https?|file):\/\/[^/]*\/\S*$/.test(url)) return 'must be an http(s):// or file:// URL';
  return undefined;
}

const MD5 = /^[0-9a-f]{32}$/;
const SHA256 = /^[0-9a-f]{64}$/;

// ---------------------------------------------------------------------------------------------
// Finding the tool on the target

/** Directories conda, mamba and micromamba are commonly installed under (besides PATH). */
const INSTALL_ROOTS = [
  '/opt/conda',
  '/opt/miniforge3',
  '/opt/miniconda3',
  '/opt/mambaforge',
  '/opt/anaconda3',
  '/usr/local/miniconda3',
  '/usr/local/miniforge3',
];
const HOME_ROOTS = ['miniforge3', 'miniconda3', 'mambaforge', 'anaconda3'];

/** The install root of a prefix under `ROOT/envs/NAME`, whose `bin/` may hold the tool. */
function rootOf(prefix: string): string | undefined {
  const i = prefix.lastIndexOf('/envs/');
  return i > 0 ? prefix.slice(0, i) : undefined;
}

/**
 * Shell text setting `_r_tool` (its path) and `_r_tname` (its name) to the first of the tool's
 * candidates found: on PATH, then `$MAMBA_EXE`/`$CONDA_EXE`, then the common install paths. Leaves
 * both empty when none is found. Only constants and quoted paths go into it.
 */
export function findToolScript(tool: CondaTool, prefixes: readonly string[]): string {
  const names = tool === 'auto' ? (['micromamba', 'mamba', 'conda'] as const) : [tool];
  const lines = [`_r_tool=''; _r_tname=''`];
  for (const n of names) {
    lines.push(
      `if [ -z "$_r_tool" ] && command -v ${n} >/dev/null 2>&1; then _r_tool=$(command -v ${n}); _r_tname=${n}; fi`,
    );
  }
  const env: [string, string][] = [];
  if ((names as readonly string[]).includes('micromamba')) env.push(['MAMBA_EXE', 'micromamba']);
  if ((names as readonly string[]).includes('conda')) env.push(['CONDA_EXE', 'conda']);
  for (const [v, n] of env) {
    lines.push(
      `if [ -z "$_r_tool" ] && [ -n "$` +
        `{${v}:-}" ] && [ -x "$${v}" ]; then _r_tool=$${v}; _r_tname=${n}; fi`,
    );
  }
  const roots = [
    ...new Set([
      ...prefixes.map(rootOf).filter((r): r is string => r !== undefined && !pathProblem(r)),
      ...INSTALL_ROOTS,
    ]),
  ];
  for (const n of names) {
    const paths = roots.map((r) => shellQuote(`${r}/bin/${n}`));
    const home = HOME_ROOTS.map((h) => `"$HOME"/${h}/bin/${n}`);
    if (n === 'micromamba') {
      paths.push('/usr/local/bin/micromamba', '/usr/bin/micromamba', '/bin/micromamba');
      home.unshift('"$HOME"/.local/bin/micromamba', '"$HOME"/micromamba/bin/micromamba');
    }
    lines.push(
      `if [ -z "$_r_tool" ]; then for _r_c in ${[...paths, ...home].join(' ')}; do if [ -x "$_r_c" ]; then _r_tool=$_r_c; _r_tname=${n}; break; fi; done; fi`,
    );
  }
  return lines.join('\n');
}

/** `findToolScript` for one env, failing the batch with a message naming what was looked for. */
function requireToolScript(tool: CondaTool, prefix: string): string {
  return [
    findToolScript(tool, [prefix]),
    `if [ -z "$_r_tool" ]; then ${failScript(
      `repro: ${tool === 'auto' ? 'none of micromamba, mamba or conda was' : `${tool} was not`} found on the target (PATH, $MAMBA_EXE/$CONDA_EXE, /opt/conda and the usual install directories); install one (e.g. Miniforge) or set tool: for ${prefix}`,
    )}; fi`,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Reading conda-meta

/** One installed package as its `conda-meta/*.json` record describes it. */
export interface PackageRecord {
  readonly name: string;
  readonly version: string;
  readonly build: string;
  readonly channel?: string;
  readonly subdir?: string;
  readonly url?: string;
  readonly md5?: string;
  readonly sha256?: string;
}

const RECORD_KEYS = ['name', 'version', 'build', 'channel', 'subdir', 'url', 'md5', 'sha256'];

/** Shell text printing `P<TAB>k<TAB>BASE64` of the top-level record lines of PREFIX's conda-meta. */
function listScript(prefix: string, k: number): string {
  const q = shellQuote(`${prefix}/conda-meta`);
  const keys = RECORD_KEYS.join('|');
  return [
    `_r_o=$(cd ${q} 2>/dev/null && grep -E -H -e '^ {1,8}"(${keys})": ' -- *.json 2>/dev/null)`,
    `printf 'P\\t${k}\\t%s\\n' "$(printf '%s' "$_r_o" | base64 | tr -d '\\n')"`,
    // How many records there are, so a file this parser cannot read is reported, not ignored.
    `printf 'N\\t${k}\\t%s\\n' "$(ls ${q} 2>/dev/null | grep -c '[.]json$')"`,
  ].join('\n');
}

/**
 * Parses `grep -H` output of conda-meta records (`FILE.json:  "key": value,`) into records by
 * name. Per file, only the least-indented lines count: nested objects (`paths_data`, `link`) carry
 * keys such as `sha256` of their own, always deeper than the record's top level.
 */
export function parseCondaMeta(text: string): Map<string, PackageRecord> {
  const byFile = new Map<string, { indent: number; key: string; value: string }[]>();
  for (const line of text.split('\n')) {
    const m = /^([^:\n]+\.json):( +)"([a-z0-9_]+)": (.*?),?$/.exec(line);
    if (!m) continue;
    let value: unknown;
    try {
      value = JSON.parse(m[4]!);
    } catch {
      continue;
    }
    if (typeof value !== 'string') continue;
    const rows = byFile.get(m[1]!) ?? [];
    rows.push({ indent: m[2]!.length, key: m[3]!, value });
    byFile.set(m[1]!, rows);
  }
  const out = new Map<string, PackageRecord>();
  for (const rows of byFile.values()) {
    const top = Math.min(...rows.map((r) => r.indent));
    const f: Record<string, string> = {};
    for (const r of rows) if (r.indent === top && !(r.key in f)) f[r.key] = r.value;
    const { name, version, build } = f;
    if (!name || !version || build === undefined || !CONDA_NAME.test(name)) continue;
    const rec: Record<string, string> = { name, version, build };
    for (const k of ['channel', 'subdir', 'url'] as const) if (f[k]) rec[k] = f[k];
    if (f.md5 && MD5.test(f.md5)) rec.md5 = f.md5;
    if (f.sha256 && SHA256.test(f.sha256)) rec.sha256 = f.sha256;
    out.set(name, rec as unknown as PackageRecord);
  }
  return out;
}

function decodeList(b64: string | undefined): Map<string, PackageRecord> | undefined {
  if (b64 === undefined || !/^[A-Za-z0-9+/=]*$/.test(b64)) return undefined;
  return parseCondaMeta(Buffer.from(b64, 'base64').toString('utf8'));
}

// ---------------------------------------------------------------------------------------------
// Explicit files (conda-lock's and `conda list --explicit --md5`'s format)

/** The explicit-file line of a locked package: `URL#MD5`, or `URL#sha256:HEX` without an md5. */
export function explicitLine(rec: Attrs): string {
  const url = str(rec, 'url');
  const name = str(rec, 'name') ?? '?';
  if (url === undefined) throw new Error(`locked conda package ${name} has no URL`);
  const problem = urlProblem(url);
  if (problem !== undefined) throw new Error(`refusing locked URL of ${name}: ${problem}`);
  const md5 = str(rec, 'md5');
  const sha = str(rec, 'sha256');
  if (md5 !== undefined && MD5.test(md5)) return `${url}#${md5}`;
  if (sha !== undefined && SHA256.test(sha)) return `${url}#sha256:${sha}`;
  throw new Error(`locked conda package ${name} has neither an md5 nor a sha256`);
}

/**
 * The explicit file for a locked set. conda links in file order and `noarch: python` packages
 * need their interpreter present, so architecture-specific packages come first, then noarch ones,
 * each by name (conda-lock sorts topologically; the lock keeps no dependency graph).
 */
export function explicitFile(records: readonly Attrs[]): string {
  const noarch = (r: Attrs): number => (str(r, 'subdir') === 'noarch' ? 1 : 0);
  const sorted = [...records].sort(
    (a, b) => noarch(a) - noarch(b) || cmpStr(str(a, 'name') ?? '', str(b, 'name') ?? ''),
  );
  return ['@EXPLICIT', ...sorted.map(explicitLine)].join('\n') + '\n';
}

/** Parses an explicit file into URL + hash entries (comments and `@EXPLICIT` skipped). */
export function parseExplicit(text: string): { url: string; md5?: string; sha256?: string }[] {
  const out: { url: string; md5?: string; sha256?: string }[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line === '@EXPLICIT') continue;
    const [url, frag] = line.split('#', 2) as [string, string | undefined];
    if (frag === undefined) out.push({ url });
    else if (frag.startsWith('sha256:')) out.push({ url, sha256: frag.slice(7) });
    else out.push({ url, md5: frag });
  }
  return out;
}

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Shared helpers of the two kinds

function prefixOf(item: { name: string; resource?: Resource; recorded?: Attrs }): string {
  return (
    str(item.resource?.desired, 'prefix') ??
    str(item.recorded, 'prefix') ??
    splitName(item.name).prefix
  );
}

/** Splits `PREFIX:NAME` (a prefix may itself contain ':'). */
function splitName(name: string): { prefix: string; pkg: string } {
  const i = name.lastIndexOf(':');
  return i < 0 ? { prefix: name, pkg: '' } : { prefix: name.slice(0, i), pkg: name.slice(i + 1) };
}

function toolOf(desired: Attrs | undefined): CondaTool {
  const t = str(desired, 'tool');
  return (TOOLS as readonly string[]).includes(t ?? '') ? (t as CondaTool) : 'auto';
}

function sortedPrefixes(items: readonly ProbeItem[]): string[] {
  return [...new Set(items.map(prefixOf).filter((p) => pathProblem(p) === undefined))].sort(cmpStr);
}

/** Checks shared by both kinds: prefix, channels, tool. */
function checkEnvSettings(resource: Resource, out: Diagnostic[]): void {
  const d = resource.desired;
  const prefix = str(d, 'prefix') ?? '';
  const p = pathProblem(prefix);
  if (p !== undefined) {
    out.push(diag(resource, 'conda.prefix', `conda prefix ${JSON.stringify(prefix)} ${p}`));
  }
  for (const ch of strList(d, 'channels') ?? []) {
    const problem = channelProblem(ch);
    if (problem !== undefined) {
      out.push(
        diag(
          resource,
          'conda.channel',
          `channel ${JSON.stringify(ch)} ${problem}`,
          "write channels as 'conda-forge' or 'https://conda.anaconda.org/conda-forge'",
        ),
      );
    }
  }
  const tool = str(d, 'tool');
  if (tool !== undefined && !(TOOLS as readonly string[]).includes(tool)) {
    out.push(
      diag(
        resource,
        'conda.tool',
        `conda tool ${JSON.stringify(tool)} is not one of ${TOOLS.join(', ')}`,
      ),
    );
  }
}

/** `-c ch …` (and `--override-channels`) for a create/install, each checked. */
function channelArgs(desired: Attrs | undefined): string[] {
  const args: string[] = [];
  if (desired?.['override_channels'] === true) args.push('--override-channels');
  for (const ch of strList(desired, 'channels') ?? []) {
    const problem = channelProblem(ch);
    if (problem !== undefined) throw new Error(`refusing conda channel ${ch}: ${problem}`);
    args.push('-c', ch);
  }
  return args;
}

function mustSpec(text: string): MatchSpec {
  const parsed = parseMatchSpec(text);
  if ('problem' in parsed) throw new Error(`refusing conda spec ${text}: ${parsed.problem}`);
  return parsed.spec;
}

/** Installed packages as the compact `name → version=build` map kept in state (drift-tracked). */
function compact(records: ReadonlyMap<string, PackageRecord>): { [k: string]: JsonValue } {
  const out: { [k: string]: JsonValue } = {};
  for (const name of [...records.keys()].sort(cmpStr)) {
    const r = records.get(name)!;
    out[name] = `${r.version}=${r.build}`;
  }
  return out;
}

function lockedRecords(locked: Attrs | undefined): Map<string, Attrs> | undefined {
  const list = locked?.['packages'];
  if (!Array.isArray(list)) return undefined;
  const out = new Map<string, Attrs>();
  for (const r of list) {
    if (r === null || typeof r !== 'object' || Array.isArray(r)) continue;
    const name = str(r, 'name');
    if (name !== undefined) out.set(name, r);
  }
  return out;
}

function livePackages(live: Attrs | undefined): Map<string, { version: string; build: string }> {
  const out = new Map<string, { version: string; build: string }>();
  const p = live?.['packages'];
  if (p === null || typeof p !== 'object' || Array.isArray(p) || p === undefined) return out;
  for (const [name, vb] of Object.entries(p)) {
    if (typeof vb !== 'string') continue;
    const i = vb.lastIndexOf('=');
    out.set(name, { version: vb.slice(0, i), build: vb.slice(i + 1) });
  }
  return out;
}

/** The exact `name=version=build` spec of a locked or pinned target. */
function exactSpec(name: string, version: string, build: string | undefined): string {
  if (!VERSION_CHARS.test(version)) throw new Error(`refusing conda version ${version} of ${name}`);
  if (build === undefined) return `${name}==${version}`;
  if (!BUILD_STRING.test(build)) throw new Error(`refusing conda build ${build} of ${name}`);
  return `${name}=${version}=${build}`;
}

// ---------------------------------------------------------------------------------------------
// conda-env

/** What an env must do in one transaction, planned by diff and carried in the change's `after`. */
interface EnvPlan {
  readonly install: string[];
  readonly update: string[];
  readonly remove: string[];
  unresolved: boolean;
  readonly why: string[];
}

function planEnv(input: DiffInput, resource: Resource): EnvPlan {
  const specs = (strList(resource.desired, 'specs') ?? []).map(mustSpec);
  const locked = lockedRecords(input.update ? undefined : input.locked);
  const live = livePackages(input.live);
  const plan: EnvPlan = { install: [], update: [], remove: [], unresolved: false, why: [] };
  for (const spec of specs) {
    const pin = exactPin(spec);
    const lockRec = locked?.get(spec.name);
    const lockVersion = str(lockRec, 'version');
    const lockBuild = str(lockRec, 'build');
    const useLock =
      pin === undefined &&
      lockVersion !== undefined &&
      lockBuild !== undefined &&
      specMatches(spec, lockVersion, lockBuild);
    const target = pin ?? (useLock ? { version: lockVersion, build: lockBuild } : undefined);
    const have = live.get(spec.name);
    const want = target ? exactSpec(spec.name, target.version, target.build) : specText(spec);
    if (!target) plan.unresolved ||= !have || !specMatches(spec, have.version, have.build);
    if (!have) {
      plan.install.push(want);
      plan.why.push(`${spec.name} not installed`);
    } else if (
      target &&
      (compareCondaVersions(have.version, target.version) !== 0 ||
        (target.build !== undefined && have.build !== target.build))
    ) {
      plan.install.push(want);
      plan.why.push(
        `${spec.name} ${have.version}=${have.build} → ${target.version}${target.build ? `=${target.build}` : ''}`,
      );
    } else if (!specMatches(spec, have.version, have.build)) {
      plan.install.push(want);
      plan.why.push(`${spec.name} ${have.version}=${have.build} does not meet ${specText(spec)}`);
    } else if (input.update && pin === undefined) {
      plan.update.push(spec.name);
      plan.unresolved = true;
      plan.why.push(`--update ${spec.name}`);
    }
  }
  const desired = new Set(specs.map((s) => s.name));
  for (const name of strList(input.recorded, 'managed') ?? []) {
    if (!desired.has(name) && live.has(name) && CONDA_NAME.test(name)) {
      plan.remove.push(name);
      plan.why.push(`${name} removed from the spec`);
    }
  }
  plan.install.sort(cmpStr);
  plan.update.sort(cmpStr);
  plan.remove.sort(cmpStr);
  return plan;
}

/** Whether the lock holds every spec of the env, each meeting it, each with a URL and a hash. */
function explicitFromLock(resource: Resource, locked: Attrs | undefined): Attrs[] | undefined {
  const recs = lockedRecords(locked);
  if (!recs || recs.size === 0) return undefined;
  for (const text of strList(resource.desired, 'specs') ?? []) {
    const spec = mustSpec(text);
    const r = recs.get(spec.name);
    if (!r || !specMatches(spec, str(r, 'version') ?? '', str(r, 'build') ?? '')) return undefined;
  }
  for (const r of recs.values()) {
    try {
      explicitLine(r);
    } catch {
      return undefined;
    }
  }
  return [...recs.values()];
}

export const condaEnvManager = {
  kind: 'conda-env',
  tracked: ['packages'],

  check(resource: Resource): Diagnostic[] {
    const out: Diagnostic[] = [];
    checkEnvSettings(resource, out);
    return out;
  },

  probeScript(items: readonly ProbeItem[], _ctx: ManagerContext): string {
    const prefixes = sortedPrefixes(items);
    if (prefixes.length === 0) return probeFragment([]);
    const tool = toolOf(items.find((i) => i.resource)?.resource?.desired);
    const lines = [
      findToolScript(tool, prefixes),
      `printf 'T\\t0\\t%s\\t%s\\n' "$_r_tname" "$_r_tool"`,
    ];
    prefixes.forEach((prefix, k) => {
      const q = shellQuote(prefix);
      lines.push(
        `if [ -f ${q}/conda-meta/history ]; then printf 'E\\t${k}\\tenv\\n'`,
        listScript(prefix, k),
        `elif [ -e ${q} ] || [ -L ${q} ]; then printf 'E\\t${k}\\tother\\n'`,
        `fi`,
      );
    });
    return probeFragment(lines);
  },

  parseProbe(output: string, items: readonly ProbeItem[], _ctx: ManagerContext): ProbeResult {
    const prefixes = sortedPrefixes(items);
    const kind = new Map<string, string>();
    const lists = new Map<string, Map<string, PackageRecord>>();
    const counts = new Map<string, number>();
    let tool: Attrs = { name: null, path: null };
    for (const { tag, fields } of probeLines(output)) {
      if (tag === 'T') {
        const [, name, path] = fields;
        if (name && (TOOLS as readonly string[]).includes(name) && path && !CONTROL.test(path)) {
          tool = { name, path };
        }
        continue;
      }
      const k = itemIndex(fields[0], prefixes.length);
      if (k === undefined) continue;
      if (tag === 'E' && (fields[1] === 'env' || fields[1] === 'other'))
        kind.set(prefixes[k]!, fields[1]);
      if (tag === 'P') {
        const recs = decodeList(fields[1]);
        if (recs) lists.set(prefixes[k]!, recs);
      }
      if (tag === 'N' && /^[0-9]+$/.test(fields[1] ?? ''))
        counts.set(prefixes[k]!, Number(fields[1]));
    }
    // Records that exist but did not parse (a writer with another layout): said, never guessed.
    const unread: Record<string, JsonValue> = {};
    for (const [prefix, n] of counts) {
      const got = lists.get(prefix)?.size ?? 0;
      if (n > got) unread[prefix] = n - got;
    }
    const live = new Map<string, Attrs>();
    for (const item of items) {
      const prefix = prefixOf(item);
      if (kind.get(prefix) !== 'env') continue;
      const recs = lists.get(prefix) ?? new Map<string, PackageRecord>();
      live.set(item.address, {
        prefix,
        // Which tool this target would run (recorded in state; not drift-tracked).
        ...(typeof tool['name'] === 'string' ? { tool: tool['name'] } : {}),
        packages: compact(recs),
        records: [...recs.values()].sort((a, b) => cmpStr(a.name, b.name)) as unknown as JsonValue,
      });
    }
    const notEnv = prefixes.filter((p) => kind.get(p) === 'other');
    return { live, facts: { tool, not_env: notEnv, unread_records: unread } };
  },

  diff(input: DiffInput): Change {
    const prefix = attrOf(input, 'prefix', 'conda-env');
    const address = input.resource?.address ?? `conda-env:${prefix}`;
    const { live, resource } = input;
    if (!resource) {
      return live
        ? {
            address,
            kind: 'conda-env',
            action: 'delete',
            before: live,
            reason: 'removed from the spec',
          }
        : { address, kind: 'conda-env', action: 'noop' };
    }
    const specs = strList(resource.desired, 'specs') ?? [];
    if (!live) {
      const notEnv = (strList(input.facts, 'not_env') ?? []).includes(prefix);
      const t = input.facts['tool'];
      const noTool =
        t !== null && typeof t === 'object' && !Array.isArray(t) && t['name'] === null
          ? '; no micromamba, mamba or conda was found on the target, so apply will fail until one is installed'
          : '';
      const explicit = input.update ? undefined : explicitFromLock(resource, input.locked);
      if (explicit) {
        const packages: { [k: string]: JsonValue } = {};
        for (const r of [...explicit].sort((a, b) => cmpStr(str(a, 'name')!, str(b, 'name')!))) {
          packages[str(r, 'name')!] = `${str(r, 'version')}=${str(r, 'build')}`;
        }
        return {
          address,
          kind: 'conda-env',
          action: 'create',
          after: {
            prefix,
            packages,
            explicit: explicitFile(explicit).trimEnd().split('\n').slice(1),
          },
          reason: notEnv
            ? `${prefix} exists but is not a conda env (no conda-meta/history)`
            : `no env (created from the lock: ${explicit.length} packages by explicit URL and hash)${noTool}`,
        };
      }
      return {
        address,
        kind: 'conda-env',
        action: 'create',
        after: { prefix, install: specs.map((s) => specText(mustSpec(s))) },
        afterUnknown: ['packages'],
        reason: notEnv
          ? `${prefix} exists but is not a conda env (no conda-meta/history)`
          : `no env (created and solved by the tool: no complete lock entry)${noTool}`,
      };
    }
    const plan = planEnv(input, resource);
    const unreadFacts = input.facts['unread_records'];
    const unread =
      unreadFacts !== null && typeof unreadFacts === 'object' && !Array.isArray(unreadFacts)
        ? unreadFacts[prefix]
        : undefined;
    if (typeof unread === 'number' && unread > 0) {
      plan.why.push(
        `${unread} conda-meta record(s) in ${prefix} could not be read, so those packages look absent`,
      );
    }
    // `records` stay in before/after: apply takes a noop's lock entry from `before`.
    const before = live;
    if (plan.install.length + plan.update.length + plan.remove.length === 0) {
      return { address, kind: 'conda-env', action: 'noop', before, after: before };
    }
    const after: Attrs = { ...before };
    if (plan.install.length > 0) after['install'] = plan.install;
    if (plan.update.length > 0) after['update'] = plan.update;
    if (plan.remove.length > 0) after['remove'] = plan.remove;
    return {
      address,
      kind: 'conda-env',
      action: 'update',
      before,
      after,
      ...(plan.unresolved || plan.install.length + plan.remove.length > 0
        ? { afterUnknown: ['packages'] }
        : {}),
      reason: plan.why.join('; '),
    };
  },

  commands(input: CommandInput): Command[] {
    const out: Command[] = [];
    for (const c of input.changes) {
      const resource = input.resources.get(c.address);
      const prefix =
        str(resource?.desired, 'prefix') ??
        str(c.after, 'prefix') ??
        str(c.before, 'prefix') ??
        c.address.slice(10);
      const problem = pathProblem(prefix);
      if (problem !== undefined) throw new Error(`refusing conda prefix ${prefix}: ${problem}`);
      const q = shellQuote(prefix);
      if (c.action === 'delete' || !resource) {
        out.push({
          display: `rm -rf ${q} (a conda env)`,
          script: `if [ -f ${q}/conda-meta/history ]; then rm -rf ${q}; fi`,
        });
        continue;
      }
      const tool = toolOf(resource.desired);
      const head = [requireToolScript(tool, prefix)];
      const channels = channelArgs(resource.desired);
      const shownTool = tool === 'auto' ? '<conda>' : tool;
      if (c.action === 'create') {
        head.push(
          `if [ -e ${q} ] || [ -L ${q} ]; then`,
          `  if [ ! -d ${q} ] || { [ ! -f ${q}/conda-meta/history ] && [ -n "$(ls -A ${q} 2>/dev/null)" ]; }; then`,
          `    ${failScript(`repro: ${prefix} exists but is not a conda env (no conda-meta/history); remove it or choose another prefix`)}`,
          `  fi`,
          `fi`,
        );
        const explicit = strList(c.after, 'explicit');
        if (explicit !== undefined) {
          // The plan carries the explicit lines (a saved plan applies exactly the set it showed);
          // each is re-checked and rebuilt before it reaches the file.
          const lines = [
            '@EXPLICIT',
            ...parseExplicit(explicit.join('\n')).map((e) =>
              explicitLine({
                name: e.url,
                url: e.url,
                ...(e.md5 ? { md5: e.md5 } : {}),
                ...(e.sha256 ? { sha256: e.sha256 } : {}),
              }),
            ),
          ];
          if (lines.length !== explicit.length + 1)
            throw new Error(`conda-env ${prefix}: malformed explicit lines in the plan`);
          out.push({
            display: `${shownTool} create -y -p ${q} --file <explicit: ${lines.length - 1} locked packages>`,
            script: [
              ...head,
              `_r_f=$(mktemp)`,
              `printf '%s\\n' ${lines.map(shellQuote).join(' ')} > "$_r_f"`,
              `_r_rc=0; "$_r_tool" create -y -p ${q} --file "$_r_f" || _r_rc=$?`,
              `rm -f "$_r_f"`,
              `if [ "$_r_rc" != 0 ]; then exit "$_r_rc"; fi`,
            ].join('\n'),
          });
          continue;
        }
        const specs = (strList(resource.desired, 'specs') ?? []).map((s) => specText(mustSpec(s)));
        const args = ['create', '-y', '-p', prefix, ...channels, ...specs];
        out.push({
          display: `${shownTool} ${shellJoin(args)}`,
          script: [...head, `"$_r_tool" ${shellJoin(args)}`].join('\n'),
        });
        continue;
      }
      const remove = strList(c.after, 'remove') ?? [];
      const install = (strList(c.after, 'install') ?? []).map((s) => specText(mustSpec(s)));
      const update = strList(c.after, 'update') ?? [];
      for (const n of [...remove, ...update]) {
        if (!CONDA_NAME.test(n)) throw new Error(`refusing conda package name ${n}`);
      }
      const calls: string[][] = [];
      if (remove.length > 0) calls.push(['remove', '-y', '-p', prefix, ...remove]);
      if (install.length > 0) calls.push(['install', '-y', '-p', prefix, ...channels, ...install]);
      if (update.length > 0) calls.push(['update', '-y', '-p', prefix, ...channels, ...update]);
      if (calls.length === 0) continue;
      out.push({
        display: calls.map((a) => `${shownTool} ${shellJoin(a)}`).join(' && '),
        script: [
          ...head,
          `if [ ! -f ${q}/conda-meta/history ]; then ${failScript(`repro: ${prefix} is no longer a conda env (no conda-meta/history)`)}; fi`,
          ...calls.map((a) => `"$_r_tool" ${shellJoin(a)}`),
        ].join('\n'),
      });
    }
    return out;
  },

  lockEntry(_resource: Resource, live: Attrs): Attrs | undefined {
    const records = live['records'];
    if (!Array.isArray(records) || records.length === 0) return undefined;
    return { packages: records };
  },

  record(
    resource: Resource | undefined,
    live: Attrs | undefined,
    previous: Attrs | undefined,
  ): Attrs | undefined {
    if (!live) return undefined;
    const { records: _records, install: _i, update: _u, remove: _r, ...rest } = live;
    const pkgs = livePackages(live);
    // Names repro manages in this env: those in the spec, and those it still has to remove.
    const desired = (strList(resource?.desired, 'specs') ?? [])
      .map((s) => parseMatchSpec(s))
      .flatMap((p) => ('spec' in p ? [p.spec.name] : []));
    const pending = (strList(previous, 'managed') ?? []).filter((n) => pkgs.has(n));
    const managed = [...new Set([...desired, ...pending])].sort(cmpStr);
    return { ...rest, managed };
  },
} satisfies Manager;

// ---------------------------------------------------------------------------------------------
// conda (packages)

function pkgOf(item: { name: string; resource?: Resource; recorded?: Attrs }): string {
  return (
    str(item.resource?.desired, 'name') ?? str(item.recorded, 'name') ?? splitName(item.name).pkg
  );
}

export const condaManager = {
  kind: 'conda',
  tracked: ['version', 'build'],

  check(resource: Resource): Diagnostic[] {
    const out: Diagnostic[] = [];
    checkEnvSettings(resource, out);
    const text = str(resource.desired, 'spec') ?? '';
    const parsed = parseMatchSpec(text);
    if ('problem' in parsed) {
      const hint: Record<typeof parsed.part, string> = {
        name: "write specs as 'numpy', 'python=3.11', 'scipy>=1.11' or 'numpy=1.26.4=py311h64a7726_0'",
        version:
          "conda versions use letters, digits and . _ + !, with operators = == != >= <= > < ~= and ',' '|'",
        build:
          "build strings look like 'py311h64a7726_0' (letters, digits, _ . +; * as a wildcard)",
      };
      out.push(
        diag(
          resource,
          `conda.${parsed.part}`,
          `invalid conda spec ${JSON.stringify(text)}: ${parsed.problem}`,
          hint[parsed.part],
        ),
      );
    }
    return out;
  },

  probeScript(items: readonly ProbeItem[], _ctx: ManagerContext): string {
    const lines: string[] = [];
    sortedPrefixes(items).forEach((prefix, k) => {
      lines.push(
        `if [ -f ${shellQuote(prefix)}/conda-meta/history ]; then`,
        listScript(prefix, k),
        'fi',
      );
    });
    return probeFragment(lines);
  },

  parseProbe(output: string, items: readonly ProbeItem[], _ctx: ManagerContext): ProbeResult {
    const prefixes = sortedPrefixes(items);
    const lists = new Map<string, Map<string, PackageRecord>>();
    for (const { tag, fields } of probeLines(output)) {
      const k = itemIndex(fields[0], prefixes.length);
      if (tag !== 'P' || k === undefined) continue;
      const recs = decodeList(fields[1]);
      if (recs) lists.set(prefixes[k]!, recs);
    }
    const live = new Map<string, Attrs>();
    for (const item of items) {
      const prefix = prefixOf(item);
      const name = pkgOf(item);
      const r = lists.get(prefix)?.get(name);
      if (!r) continue;
      live.set(item.address, {
        prefix,
        name,
        version: r.version,
        build: r.build,
        ...(r.channel === undefined ? {} : { channel: r.channel }),
      });
    }
    return { live, facts: {} };
  },

  diff(input: DiffInput): Change {
    const prefix = attrOf(input, 'prefix', 'conda');
    const name = attrOf(input, 'name', 'conda');
    const address = input.resource?.address ?? `conda:${prefix}:${name}`;
    const { live, resource } = input;
    if (!resource) {
      return live
        ? {
            address,
            kind: 'conda',
            action: 'delete',
            before: live,
            reason: `removed from the spec (conda-env:${prefix} removes it)`,
          }
        : { address, kind: 'conda', action: 'noop' };
    }
    const spec = mustSpec(str(resource.desired, 'spec') ?? name);
    const pin = exactPin(spec);
    const lv = input.update ? undefined : str(input.locked, 'version');
    const lb = input.update ? undefined : str(input.locked, 'build');
    const target =
      pin ??
      (lv !== undefined && lb !== undefined && specMatches(spec, lv, lb)
        ? { version: lv, build: lb }
        : undefined);
    const source = pin ? 'pinned in the spec' : target ? 'locked' : 'resolved by the solver';
    const shownTarget = target ? `${target.version}${target.build ? `=${target.build}` : ''}` : '';
    const afterFor = (base: Attrs): Attrs => ({
      ...base,
      prefix,
      name,
      ...(target ? { version: target.version } : {}),
      ...(target?.build ? { build: target.build } : {}),
    });
    const unknown = [...(target ? [] : ['version']), ...(target?.build ? [] : ['build'])];
    if (!live) {
      return {
        address,
        kind: 'conda',
        action: 'create',
        after: afterFor({}),
        ...(unknown.length > 0 ? { afterUnknown: unknown } : {}),
        reason: target ? `not installed (${source} ${shownTarget})` : `not installed (${source})`,
      };
    }
    const version = str(live, 'version') ?? '';
    const build = str(live, 'build') ?? '';
    const update = (reason: string): Change => ({
      address,
      kind: 'conda',
      action: 'update',
      before: live,
      after: afterFor({ ...live }),
      ...(unknown.length > 0 ? { afterUnknown: unknown } : {}),
      reason,
    });
    if (
      target &&
      (compareCondaVersions(version, target.version) !== 0 ||
        (target.build !== undefined && build !== target.build))
    ) {
      return update(`${source} ${shownTarget}, installed ${version}=${build}`);
    }
    if (!specMatches(spec, version, build))
      return update(`installed ${version}=${build} does not meet ${specText(spec)}`);
    if (input.update && !pin) return update(`--update: re-resolve (installed ${version}=${build})`);
    return { address, kind: 'conda', action: 'noop', before: live, after: live };
  },

  /**
   * Normally no command: the env batch (`conda-env:PREFIX`, the layer below) ran the one
   * transaction that installs, changes and removes packages. The exception is `--update` naming
   * packages but not their env: an update whose target version is unknown while the installed
   * one already meets the spec is a re-resolve the env did not plan, run here as one
   * `update NAME…` per env — unless an env batch already ran in this apply (`--update` of the
   * env re-resolves every unpinned spec).
   */
  commands(input: CommandInput): Command[] {
    if (input.changedKinds.has('conda-env')) return [];
    const byPrefix = new Map<string, string[]>();
    for (const c of input.changes) {
      const r = input.resources.get(c.address);
      if (c.action !== 'update' || !r || !c.afterUnknown?.includes('version')) continue;
      const spec = mustSpec(str(r.desired, 'spec') ?? '');
      const v = str(c.before, 'version');
      const b = str(c.before, 'build');
      if (v === undefined || b === undefined || !specMatches(spec, v, b)) continue;
      const prefix = str(r.desired, 'prefix') ?? '';
      byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), spec.name]);
    }
    const out: Command[] = [];
    for (const prefix of [...byPrefix.keys()].sort(cmpStr)) {
      const problem = pathProblem(prefix);
      if (problem !== undefined) throw new Error(`refusing conda prefix ${prefix}: ${problem}`);
      const names = byPrefix.get(prefix)!.sort(cmpStr);
      const desired = input.resources.get(`conda-env:${prefix}`)?.desired;
      const tool = toolOf(desired);
      const args = ['update', '-y', '-p', prefix, ...channelArgs(desired), ...names];
      out.push({
        display: `${tool === 'auto' ? '<conda>' : tool} ${shellJoin(args)}`,
        script: [requireToolScript(tool, prefix), `"$_r_tool" ${shellJoin(args)}`].join('\n'),
      });
    }
    return out;
  },

  lockEntry(resource: Resource, live: Attrs): Attrs | undefined {
    const parsed = parseMatchSpec(str(resource.desired, 'spec') ?? '');
    if ('spec' in parsed && exactPin(parsed.spec)?.build !== undefined) return undefined;
    const version = str(live, 'version');
    const build = str(live, 'build');
    return version === undefined || build === undefined ? undefined : { version, build };
  },

  /** Forgotten once out of the spec: removing it is the env's transaction, which follows. */
  record(
    resource: Resource | undefined,
    live: Attrs | undefined,
    _previous: Attrs | undefined,
  ): Attrs | undefined {
    return resource ? live : undefined;
  },
} satisfies Manager;

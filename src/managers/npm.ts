// npm: Node packages (`npm:SCOPE:NAME`), global under a prefix (`SCOPE/lib/node_modules`) or
// local to a project directory (`SCOPE/node_modules`). The probe reads each package's own
// package.json and the scope's npm lockfile with the shell (no `npm ls`: starting npm costs
// ~0.6 s); one `npm install` (plus one `npm uninstall`) per scope per batch.
//
// Invariants:
// - Names, version specs and registry URLs are checked against npm's grammar before any reaches
//   a shell, and every word reaches a script through shellJoin/shellQuote only. Names that could
//   read as options (leading `-`) are refused.
// - Files only reach the probe protocol base64-encoded (`P<TAB>ITEM<TAB>BASE64` per package.json,
//   `L<TAB>GROUP<TAB>BASE64` per lockfile), so a package cannot forge probe lines or markers.
// - npm >= 7 writes no `_integrity`/`_resolved` into installed package.json files and keeps no
//   lockfile for global prefixes, so a global package's integrity is only known when an older npm
//   wrote it; a project's comes from `node_modules/.package-lock.json` or `package-lock.json`.
// - The version to install is: the spec's exact version ?? the lock (when it satisfies the spec)
//   ?? what npm resolves at apply (unknown in the plan). `--update` drops the lock and the probe
//   asks the registry (`npm view`) what a fresh resolution gives.
// - npm may be missing at refresh and installed (by apt) earlier in the same apply, so the command
//   batch checks for npm itself and fails with a clear message when it is still missing.
import type { Diagnostic } from '../core/errors.js';
import { shellJoin, shellQuote, type Command } from '../core/shell.js';
import type { Attrs, Change, JsonValue, Resource } from '../core/types.js';
import {
  CONTROL,
  diag,
  failScript,
  itemIndex,
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

// ---------------------------------------------------------------------------------------------
// Grammar

const NAME_PART = /^[a-z0-9~][a-z0-9._~-]*$/;
const SCOPE_PART = /^[a-z0-9~][a-z0-9._~-]*$/;

/** Why `name` is not an npm package name repro accepts, or undefined when it is one. */
export function npmNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (name.length > 214) return 'is longer than 214 characters';
  if (name !== name.trim() || CONTROL.test(name) || /\s/.test(name)) {
    return 'must not contain spaces or control characters';
  }
  if (name !== name.toLowerCase()) return 'must be lower case';
  let bare = name;
  if (name.startsWith('@')) {
    const m = /^@([^/]+)\/([^/]+)$/.exec(name);
    if (!m) return 'a scoped name is @scope/name';
    if (!SCOPE_PART.test(m[1]!)) return 'the scope may only contain a-z 0-9 - . _ ~';
    bare = m[2]!;
  }
  if (bare.startsWith('.') || bare.startsWith('_')) return 'must not start with . or _';
  if (bare.startsWith('-')) return 'must not start with - (it would read as an option)';
  if (!NAME_PART.test(bare)) return 'may only contain url-safe characters a-z 0-9 - . _ ~';
  if (bare === 'node_modules' || bare === 'favicon.ico') return 'is a reserved name';
  return undefined;
}

type Triple = [number, number, number];
interface Ver {
  readonly v: Triple;
  readonly pre: readonly string[];
}

const NUM = '0|[1-9][0-9]*';
const PRE = '[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*';
const EXACT = new RegExp(`^v?(${NUM})\\.(${NUM})\\.(${NUM})(?:-(${PRE}))?(?:\\+(${PRE}))?$`);
const PARTIAL = new RegExp(
  `^v?(${NUM}|[xX*])(?:\\.(${NUM}|[xX*])(?:\\.(${NUM}|[xX*])(?:-(${PRE}))?(?:\\+(${PRE}))?)?)?$`,
);
/** A dist-tag: `latest`, `next`, `beta`, `legacy-2` (not something that reads as a version). */
const DIST_TAG = /^[A-Za-z][A-Za-z0-9._-]{0,127}$/;

/** An exact semver version (`1.2.3`, `1.0.0-rc.1`), normalized, or undefined. */
export function exactVersion(spec: string | undefined): string | undefined {
  if (spec === undefined) return undefined;
  const s = spec.startsWith('=') ? spec.slice(1) : spec;
  const m = EXACT.exec(s);
  if (!m) return undefined;
  return `${m[1]}.${m[2]}.${m[3]}${m[4] !== undefined ? `-${m[4]}` : ''}`;
}

function parseVer(s: string): Ver | undefined {
  const m = EXACT.exec(s);
  if (!m) return undefined;
  return { v: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] ? m[4].split('.') : [] };
}

function cmpPre(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0 && b.length === 0) return 0;
  if (a.length === 0) return 1;
  if (b.length === 0) return -1;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^[0-9]+$/.test(x);
    const ny = /^[0-9]+$/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return Math.sign(d);
    } else if (nx !== ny) return nx ? -1 : 1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function cmp(a: Ver, b: Ver): number {
  for (let i = 0; i < 3; i++) if (a.v[i] !== b.v[i]) return Math.sign(a.v[i]! - b.v[i]!);
  return cmpPre(a.pre, b.pre);
}

type Op = '<' | '<=' | '>' | '>=' | '=';
interface Comparator {
  readonly op: Op;
  readonly ver: Ver;
}

const ver = (a: number, b: number, c: number, pre: readonly string[] = []): Ver => ({
  v: [a, b, c],
  pre,
});
/** The smallest version of a line (`<2.0.0-0` excludes 2.0.0's prereleases too). */
const floor = (a: number, b: number, c: number): Ver => ver(a, b, c, ['0']);

/** Comparators of one primitive (`^1.2`, `>=1`, `1.x`, `~0.2.3`), or undefined when malformed. */
function primitive(token: string): Comparator[] | undefined {
  const m = /^(<=|>=|<|>|=|\^|~>|~)?\s*(.*)$/.exec(token)!;
  const op = m[1] ?? '';
  const p = PARTIAL.exec(m[2]!);
  if (!p) return undefined;
  const wild = (x: string | undefined): boolean => x === undefined || /^[xX*]$/.test(x);
  const [M, mi, pa] = [p[1], p[2], p[3]];
  const pre = p[4] ? p[4].split('.') : [];
  if (wild(M)) return op === '<' || op === '>' ? [{ op: '<', ver: floor(0, 0, 0) }] : [];
  const maj = Number(M);
  if (wild(mi)) {
    if (op === '>') return [{ op: '>=', ver: floor(maj + 1, 0, 0) }];
    if (op === '<=') return [{ op: '<', ver: floor(maj + 1, 0, 0) }];
    if (op === '<') return [{ op: '<', ver: floor(maj, 0, 0) }];
    if (op === '>=') return [{ op: '>=', ver: ver(maj, 0, 0) }];
    return [
      { op: '>=', ver: ver(maj, 0, 0) },
      { op: '<', ver: floor(maj + 1, 0, 0) },
    ];
  }
  const min = Number(mi);
  if (wild(pa)) {
    if (op === '>') return [{ op: '>=', ver: floor(maj, min + 1, 0) }];
    if (op === '<=') return [{ op: '<', ver: floor(maj, min + 1, 0) }];
    if (op === '<') return [{ op: '<', ver: floor(maj, min, 0) }];
    if (op === '>=') return [{ op: '>=', ver: ver(maj, min, 0) }];
    const upper =
      op === '^' ? (maj > 0 ? floor(maj + 1, 0, 0) : floor(0, min + 1, 0)) : floor(maj, min + 1, 0);
    return [
      { op: '>=', ver: ver(maj, min, 0) },
      { op: '<', ver: upper },
    ];
  }
  const v = ver(maj, min, Number(pa), pre);
  if (op === '^') {
    const upper =
      maj > 0 ? floor(maj + 1, 0, 0) : min > 0 ? floor(0, min + 1, 0) : floor(0, 0, v.v[2] + 1);
    return [
      { op: '>=', ver: v },
      { op: '<', ver: upper },
    ];
  }
  if (op === '~' || op === '~>') {
    return [
      { op: '>=', ver: v },
      { op: '<', ver: floor(maj, min + 1, 0) },
    ];
  }
  return [{ op: (op === '' ? '=' : op) as Op, ver: v }];
}

/** A range as OR-ed sets of AND-ed comparators, or undefined when it is not a semver range. */
export function parseRange(range: string): Comparator[][] | undefined {
  if (CONTROL.test(range) || range.length > 256) return undefined;
  const sets: Comparator[][] = [];
  for (const alt of range.split('||')) {
    const text = alt.trim();
    const set: Comparator[] = [];
    const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(text);
    if (hyphen) {
      const lo = primitive(`>=${hyphen[1]!}`);
      const hi = primitive(`<=${hyphen[2]!}`);
      if (!lo || !hi) return undefined;
      sets.push([...lo, ...hi]);
      continue;
    }
    // `>= 1.2` is one comparator: glue operators to their version first.
    const tokens = text.replace(/(<=|>=|<|>|=|\^|~>|~)\s+/g, '$1').split(/\s+/);
    for (const t of tokens) {
      if (t === '') continue;
      const c = primitive(t);
      if (!c) return undefined;
      set.push(...c);
    }
    sets.push(set);
  }
  return sets;
}

function testComparator(c: Comparator, v: Ver): boolean {
  const d = cmp(v, c.ver);
  switch (c.op) {
    case '<':
      return d < 0;
    case '<=':
      return d <= 0;
    case '>':
      return d > 0;
    case '>=':
      return d >= 0;
    default:
      return d === 0;
  }
}

/**
 * Whether `version` satisfies `spec` (a range); undefined when that cannot be told here (a
 * dist-tag such as `latest` names whatever the registry says now).
 */
export function satisfies(version: string, spec: string | undefined): boolean | undefined {
  if (spec === undefined || spec === '') return true;
  const v = parseVer(version);
  const sets = parseRange(spec);
  if (!sets) return undefined;
  if (!v) return false;
  return sets.some(
    (set) =>
      set.every((c) => testComparator(c, v)) &&
      // A prerelease only satisfies a range naming a prerelease of the same major.minor.patch.
      (v.pre.length === 0 ||
        set.some((c) => c.ver.pre.length > 0 && c.ver.v.join() === v.v.join())),
  );
}

/** Why `spec` is neither a semver range nor a dist-tag, or undefined when it is one. */
export function npmSpecProblem(spec: string): string | undefined {
  if (spec === '') return 'is empty';
  if (CONTROL.test(spec)) return 'must not contain control characters';
  if (parseRange(spec) !== undefined) return undefined;
  if (DIST_TAG.test(spec) && !/^v?[0-9]/.test(spec)) return undefined;
  return 'is not a version (1.2.3), a range (^1.2, ~1.2.3, >=1 <2, 1.x) or a dist-tag (latest)';
}

/** Why `url` is not a registry URL repro passes to npm, or undefined when it is one. */
export function registryProblem(url: string): string | undefined {
  if (CONTROL.test(url) || /\s/.test(url)) return 'must not contain spaces or control characters';
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'is not a URL';
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'must be an http(s) URL';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Items and groups

type Mode = 'global' | 'project';

interface Target {
  readonly scope: string;
  readonly mode: Mode;
  readonly name: string;
}

/** Scope, mode and package name of an item, from the spec or else from state. */
function targetOf(item: ProbeItem): Target | undefined {
  const from = item.resource?.desired ?? item.recorded;
  const scope = str(from, 'scope');
  const name = str(from, 'name');
  const mode = str(from, 'mode') === 'project' ? 'project' : 'global';
  if (scope === undefined || name === undefined) return undefined;
  if (pathProblem(scope) !== undefined || npmNameProblem(name) !== undefined) return undefined;
  return { scope, mode, name };
}

const groupKey = (t: { scope: string; mode: Mode }): string => `${t.mode}\0${t.scope}`;

/** The `npm` options selecting a scope: `-g --prefix DIR` or `--prefix DIR`. */
function scopeArgs(mode: Mode, scope: string): string[] {
  return mode === 'global' ? ['-g', '--prefix', scope] : ['--prefix', scope];
}

/** Where a scope's packages live, to skip `npm ls` when there is nothing there. */
function modulesDir(mode: Mode, scope: string): string {
  return mode === 'global' ? `${scope}/lib/node_modules` : `${scope}/node_modules`;
}

function groupsOf(items: readonly ProbeItem[]): { scope: string; mode: Mode }[] {
  const seen = new Map<string, { scope: string; mode: Mode }>();
  for (const item of items) {
    const t = targetOf(item);
    if (t && !seen.has(groupKey(t))) seen.set(groupKey(t), { scope: t.scope, mode: t.mode });
  }
  return [...seen.values()].sort((a, b) =>
    groupKey(a) < groupKey(b) ? -1 : groupKey(a) > groupKey(b) ? 1 : 0,
  );
}

const NPM_FLAGS = ['--no-audit', '--no-fund', '--no-update-notifier'];

// ---------------------------------------------------------------------------------------------
// Probe parsing

function obj(v: JsonValue | undefined): Record<string, JsonValue> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

/**
 * An installed package's attributes from its own package.json: the version, plus `_integrity`
 * and `_resolved` when an npm older than 7 wrote them there. Undefined when it is not one.
 */
export function parseManifest(json: string): Attrs | undefined {
  let doc: JsonValue;
  try {
    doc = JSON.parse(json) as JsonValue;
  } catch {
    return undefined;
  }
  const d = obj(doc);
  const version = d?.['version'];
  if (typeof version !== 'string' || parseVer(version) === undefined) return undefined;
  const attrs: Attrs = { version };
  if (typeof d!['_integrity'] === 'string' && d!['_integrity'] !== '') {
    attrs['integrity'] = d!['_integrity'];
  }
  if (typeof d!['_resolved'] === 'string' && d!['_resolved'] !== '') {
    attrs['resolved'] = d!['_resolved'];
  }
  return attrs;
}

/**
 * Top-level packages of an npm lockfile (`package-lock.json` or the hidden
 * `node_modules/.package-lock.json`, lockfileVersion 2 or 3): name → {version, integrity,
 * resolved}. Nested copies (`node_modules/a/node_modules/b`) are not top-level and are left out.
 */
export function parseLockfile(json: string): Map<string, Attrs> {
  const out = new Map<string, Attrs>();
  let doc: JsonValue;
  try {
    doc = JSON.parse(json) as JsonValue;
  } catch {
    return out;
  }
  const packages = obj(obj(doc)?.['packages']);
  for (const [path, raw] of Object.entries(packages ?? {})) {
    const m = /^node_modules\/((?:@[^/]+\/)?[^/@][^/]*)$/.exec(path);
    const d = obj(raw);
    if (!m || !d || typeof d['version'] !== 'string') continue;
    const attrs: Attrs = { version: d['version'] };
    if (typeof d['integrity'] === 'string') attrs['integrity'] = d['integrity'];
    if (typeof d['resolved'] === 'string') attrs['resolved'] = d['resolved'];
    out.set(m[1]!, attrs);
  }
  return out;
}

/** The version a fresh resolution gives, from `npm view --json NAME@SPEC version`. */
export function parseNpmView(json: string): string | undefined {
  let doc: JsonValue;
  try {
    doc = JSON.parse(json) as JsonValue;
  } catch {
    return undefined;
  }
  const list = Array.isArray(doc) ? doc : [doc];
  const versions = list
    .filter((x): x is string => typeof x === 'string' && parseVer(x) !== undefined)
    .sort((a, b) => cmp(parseVer(a)!, parseVer(b)!));
  return versions[versions.length - 1];
}

function resolvedOf(facts: Attrs, address: string): string | undefined {
  const r = obj(facts['resolved']);
  const v = r?.[address];
  return typeof v === 'string' ? v : undefined;
}

// ---------------------------------------------------------------------------------------------
// Diff helpers

function installWord(c: Change): string {
  const name = str(c.after, 'name')!;
  const version = c.afterUnknown?.includes('version') ? undefined : str(c.after, 'version');
  if (version !== undefined) {
    if (exactVersion(version) === undefined) {
      throw new Error(`refusing invalid version ${version} for npm package ${name}`);
    }
    return `${name}@${version}`;
  }
  const spec = str(c.after, 'spec');
  if (spec !== undefined) {
    if (npmSpecProblem(spec) !== undefined) {
      throw new Error(`refusing invalid version spec ${spec} for npm package ${name}`);
    }
    return `${name}@${spec}`;
  }
  return name;
}

export const npmManager = {
  kind: 'npm',
  tracked: ['version'],

  check(resource: Resource): Diagnostic[] {
    const out: Diagnostic[] = [];
    const d = resource.desired;
    const name = str(d, 'name') ?? '';
    const nameProblem = npmNameProblem(name);
    if (nameProblem !== undefined) {
      out.push(
        diag(
          resource,
          'npm.name',
          `invalid npm package name ${JSON.stringify(name)}: ${nameProblem}`,
          "npm names are lower case, url-safe, at most 214 characters, optionally '@scope/name'",
        ),
      );
    }
    const spec = d['spec'];
    if (spec !== undefined) {
      const problem = typeof spec === 'string' ? npmSpecProblem(spec) : 'must be a string';
      if (problem !== undefined) {
        out.push(
          diag(
            resource,
            'npm.version',
            `invalid npm version ${JSON.stringify(spec)} for ${name}: ${problem}`,
            "write 'name@1.2.3', 'name@^1.2', 'name@~1.2.3', 'name@1.x' or 'name@latest'",
          ),
        );
      }
    }
    const scope = str(d, 'scope') ?? '';
    const scopeProblem = pathProblem(scope);
    if (scopeProblem !== undefined) {
      out.push(
        diag(
          resource,
          'npm.scope',
          `invalid npm prefix or project ${JSON.stringify(scope)}: ${scopeProblem}`,
        ),
      );
    }
    const registry = d['registry'];
    if (registry !== undefined) {
      const problem = typeof registry === 'string' ? registryProblem(registry) : 'must be a string';
      if (problem !== undefined) {
        out.push(
          diag(
            resource,
            'npm.registry',
            `invalid npm registry ${JSON.stringify(registry)}: ${problem}`,
            'write the registry as an https:// URL, e.g. https://registry.npmjs.org/',
          ),
        );
      }
    }
    return out;
  },

  probeScript(items: readonly ProbeItem[], _ctx: ManagerContext): string {
    const groups = groupsOf(items);
    const lines = [
      `if command -v npm >/dev/null 2>&1; then printf 'N\\t1\\n'; else printf 'N\\t0\\n'; fi`,
    ];
    // Each package's own package.json, read with the shell (starting npm costs ~0.6 s a scope).
    items.forEach((item, i) => {
      const t = targetOf(item);
      if (!t) return;
      const f = shellQuote(`${modulesDir(t.mode, t.scope)}/${t.name}/package.json`);
      lines.push(`[ -f ${f} ] && printf 'P\\t${i}\\t%s\\n' "$(base64 < ${f} | tr -d '\\n')"`);
    });
    // Integrity and resolved URL live in npm's lockfiles (npm >= 7 writes none into package.json).
    groups.forEach((g, i) => {
      const dir = modulesDir(g.mode, g.scope);
      const locks = [
        `${dir}/.package-lock.json`,
        ...(g.mode === 'project' ? [`${g.scope}/package-lock.json`] : []),
      ];
      const tests = locks.map((l) => `if [ -f ${shellQuote(l)} ]; then _r_l=${shellQuote(l)}`);
      lines.push(
        `_r_l=''; ${tests.join('; el')}; fi`,
        `[ -n "$_r_l" ] && printf 'L\\t${i}\\t%s\\n' "$(base64 < "$_r_l" | tr -d '\\n')"`,
      );
    });
    // --update: ask the registry what a fresh resolution gives (network, so only when asked).
    items.forEach((item, i) => {
      const t = targetOf(item);
      if (!item.update || !t || !item.resource) return;
      const spec = str(item.resource.desired, 'spec');
      if (exactVersion(spec) !== undefined) return;
      if (spec !== undefined && npmSpecProblem(spec) !== undefined) return;
      const registry = str(item.resource.desired, 'registry');
      const reg =
        registry !== undefined && registryProblem(registry) === undefined
          ? ['--registry', registry]
          : [];
      const argv = [
        'npm',
        'view',
        '--json',
        ...reg,
        spec === undefined ? t.name : `${t.name}@${spec}`,
        'version',
      ];
      lines.push(
        `if command -v npm >/dev/null 2>&1; then printf 'U\\t${i}\\t%s\\n' "$(${shellJoin(argv)} 2>/dev/null | base64 | tr -d '\\n')"; fi`,
      );
    });
    return probeFragment(lines);
  },

  parseProbe(output: string, items: readonly ProbeItem[], _ctx: ManagerContext): ProbeResult {
    const groups = groupsOf(items);
    const manifests = new Map<number, Attrs>();
    const locks = new Map<string, Map<string, Attrs>>();
    const resolved: Attrs = {};
    const facts: Attrs = { npm: false, resolved };
    const decode = (b64: string | undefined): string =>
      /^[A-Za-z0-9+/=]*$/.test(b64 ?? '') ? Buffer.from(b64 ?? '', 'base64').toString('utf8') : '';
    for (const { tag, fields } of probeLines(output)) {
      if (tag === 'N') facts['npm'] = fields[0] === '1';
      else if (tag === 'P') {
        const i = itemIndex(fields[0], items.length);
        const m = i === undefined ? undefined : parseManifest(decode(fields[1]));
        if (m) manifests.set(i!, m);
      } else if (tag === 'L') {
        const g = itemIndex(fields[0], groups.length);
        if (g !== undefined) locks.set(groupKey(groups[g]!), parseLockfile(decode(fields[1])));
      } else if (tag === 'U') {
        const i = itemIndex(fields[0], items.length);
        if (i === undefined) continue;
        const v = parseNpmView(decode(fields[1]));
        if (v !== undefined) resolved[items[i]!.address] = v;
      }
    }
    const live = new Map<string, Attrs>();
    items.forEach((item, i) => {
      const t = targetOf(item);
      const m = manifests.get(i);
      if (!t || !m) return;
      const attrs: Attrs = { scope: t.scope, mode: t.mode, name: t.name, ...m };
      // The lockfile's integrity is only this package's when it names the same version.
      const l = locks.get(groupKey(t))?.get(t.name);
      if (l && l['version'] === m['version']) {
        if (typeof l['integrity'] === 'string') attrs['integrity'] = l['integrity'];
        if (typeof l['resolved'] === 'string') attrs['resolved'] = l['resolved'];
      }
      live.set(item.address, attrs);
    });
    return { live, facts };
  },

  diff(input: DiffInput): Change {
    const { resource, live } = input;
    const from = resource?.desired ?? live ?? input.recorded;
    const scope = str(from, 'scope');
    const name = str(from, 'name');
    if (scope === undefined || name === undefined) {
      throw new Error('npm.diff: no resource, live or recorded scope and name');
    }
    const address = resource?.address ?? `npm:${scope}:${name}`;
    if (!resource) {
      return live
        ? { address, kind: 'npm', action: 'delete', before: live, reason: 'removed from the spec' }
        : { address, kind: 'npm', action: 'noop' };
    }
    const d = resource.desired;
    const spec = str(d, 'spec');
    const exact = exactVersion(spec);
    const lockedRaw = input.update ? undefined : str(input.locked, 'version');
    // A lock the spec no longer admits (the range changed) is stale: the spec wins.
    const locked =
      exact === undefined && lockedRaw !== undefined && satisfies(lockedRaw, spec) !== false
        ? lockedRaw
        : undefined;
    const fresh =
      input.update && exact === undefined ? resolvedOf(input.facts, address) : undefined;
    const target: { version?: string; source: string } =
      exact !== undefined
        ? { version: exact, source: 'pinned in the spec' }
        : locked !== undefined
          ? { version: locked, source: 'locked' }
          : fresh !== undefined
            ? { version: fresh, source: 'resolved' }
            : { source: 'resolved at apply' };
    const base: Attrs = { scope, mode: str(d, 'mode') === 'project' ? 'project' : 'global', name };
    if (spec !== undefined) base['spec'] = spec;
    const toward = (v: string | undefined): { after: Attrs; afterUnknown?: string[] } =>
      v !== undefined
        ? { after: { ...base, version: v } }
        : { after: base, afterUnknown: ['version'] };
    const what = `${name}${spec !== undefined ? `@${spec}` : ''}`;
    if (!live) {
      return {
        address,
        kind: 'npm',
        action: 'create',
        ...toward(target.version),
        reason:
          target.version === undefined
            ? `not installed (npm resolves ${what} at apply)`
            : `not installed (${target.source} ${target.version})`,
      };
    }
    const liveVersion = str(live, 'version') ?? '';
    const update = (v: string | undefined, reason: string): Change => {
      const t = toward(v);
      return {
        address,
        kind: 'npm',
        action: 'update',
        before: live,
        after: { ...live, ...t.after },
        ...(t.afterUnknown ? { afterUnknown: t.afterUnknown } : {}),
        reason,
      };
    };
    if (target.version !== undefined) {
      if (target.version === liveVersion) {
        return { address, kind: 'npm', action: 'noop', before: live, after: live };
      }
      return update(target.version, `${target.source} ${target.version}, installed ${liveVersion}`);
    }
    if (satisfies(liveVersion, spec) === false) {
      return update(undefined, `installed ${liveVersion} does not satisfy ${spec ?? ''}`);
    }
    if (input.update) {
      // --update without an answer from the registry (npm missing, offline): let npm resolve.
      return update(undefined, `update requested; npm resolves ${what} at apply`);
    }
    return { address, kind: 'npm', action: 'noop', before: live, after: live };
  },

  commands(input: CommandInput): Command[] {
    const { changes } = input;
    if (changes.length === 0) return [];
    interface Batch {
      scope: string;
      mode: Mode;
      registry?: string;
      installs: string[];
      removals: string[];
    }
    const batches = new Map<string, Batch>();
    for (const c of changes) {
      const attrs = c.action === 'delete' ? c.before : c.after;
      const scope = str(attrs, 'scope');
      const name = str(attrs, 'name');
      const mode: Mode = str(attrs, 'mode') === 'project' ? 'project' : 'global';
      if (scope === undefined || pathProblem(scope) !== undefined) {
        throw new Error(`refusing invalid npm scope ${String(scope)} for ${c.address}`);
      }
      if (name === undefined || npmNameProblem(name) !== undefined) {
        throw new Error(`refusing invalid npm package name ${String(name)} for ${c.address}`);
      }
      const registry =
        c.action === 'delete'
          ? undefined
          : str(input.resources.get(c.address)?.desired, 'registry');
      if (registry !== undefined && registryProblem(registry) !== undefined) {
        throw new Error(`refusing invalid npm registry ${registry} for ${c.address}`);
      }
      const key = `${groupKey({ scope, mode })}\0${registry ?? ''}`;
      let b = batches.get(key);
      if (!b) {
        b = { scope, mode, installs: [], removals: [], ...(registry ? { registry } : {}) };
        batches.set(key, b);
      }
      if (c.action === 'delete') b.removals.push(name);
      else b.installs.push(installWord(c));
    }
    const out: Command[] = [
      {
        display: 'check that npm exists',
        script: `command -v npm >/dev/null 2>&1 || { ${failScript(
          'repro: npm is not available on the target; npm packages need it (e.g. os.apt.packages: [nodejs, npm])',
        )}; }`,
      },
    ];
    const keys = [...batches.keys()].sort();
    for (const key of keys) {
      const b = batches.get(key)!;
      const where = scopeArgs(b.mode, b.scope);
      if (b.removals.length > 0) {
        const argv = ['npm', 'uninstall', ...where, ...NPM_FLAGS, ...b.removals];
        out.push({
          display: shellJoin(['npm', 'uninstall', ...where, ...b.removals]),
          script: shellJoin(argv),
        });
      }
      if (b.installs.length > 0) {
        const reg = b.registry !== undefined ? ['--registry', b.registry] : [];
        const exact = b.mode === 'project' ? ['--save-exact'] : [];
        const argv = ['npm', 'install', ...where, ...NPM_FLAGS, ...exact, ...reg, ...b.installs];
        out.push({
          display: shellJoin(['npm', 'install', ...where, ...b.installs]),
          script: `mkdir -p ${shellQuote(b.scope)}\n${shellJoin(argv)}`,
        });
      }
    }
    return out;
  },

  lockEntry(resource: Resource, live: Attrs): Attrs | undefined {
    if (exactVersion(str(resource.desired, 'spec')) !== undefined) return undefined;
    const version = str(live, 'version');
    if (version === undefined) return undefined;
    const integrity = str(live, 'integrity');
    return integrity === undefined ? { version } : { version, integrity };
  },

  record: recordLive,
} satisfies Manager;

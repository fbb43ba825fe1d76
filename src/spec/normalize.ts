// Turns the schema-checked spec data into resources, targets and manager settings: the exact
// `desired` attributes the managers are written against. Reads the files the spec points at
// (apt keys, file sources) so their bytes travel as payloads and their hashes as attributes.
// Invariants: a value the schema rejected (anything at or under a bad path) is skipped, never
// guessed at, so one mistake yields one diagnostic; resources come out sorted by address; the
// first declaration of an address wins and later ones are reported against it.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Diagnostic, SourceRef } from '../core/errors.js';
import {
  addressOf,
  KINDS,
  parseAddress,
  type Address,
  type Attrs,
  type ManagerKind,
  type Resource,
} from '../core/types.js';
import type { ManagerContext } from '../managers/types.js';
import { parseRpmSpec } from '../managers/yum.js';
import type { ProviderKind } from '../../providers/types.js';
import { labelOf } from './schema.js';
import type { Path, SpecSource } from './source.js';
import { closest } from './suggest.js';
import type { TargetSpec } from './types.js';

export interface Normalized {
  readonly name: string;
  readonly os?: { readonly distribution?: string; readonly release?: string };
  readonly ctx: ManagerContext;
  readonly targets: TargetSpec[];
  readonly resources: Resource[];
  readonly diagnostics: Diagnostic[];
}

const DEFAULT_UPDATE_MAX_AGE = 86400;
/** Distributions whose OS packages are RPMs (yum/dnf); the others in the schema use apt. */
export const RPM_FAMILY: readonly string[] = [
  'fedora',
  'rhel',
  'centos',
  'rocky',
  'almalinux',
  'amazon',
  'oracle',
];
const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

type Rec = Record<string, unknown>;

export async function normalize(
  source: SpecSource,
  dir: string,
  badPaths: readonly string[],
): Promise<Normalized> {
  const n = new Normalizer(source, dir, badPaths);
  await n.run();
  const root = rec(source.data);
  const name = str(root.name) ?? '';
  const os = rec(root.os);
  const apt = rec(os.apt);
  const yum = rec(os.yum);
  const options = rec(root.options);
  return {
    name,
    ...(root.os === undefined ? {} : { os: pick(os, ['distribution', 'release']) }),
    ctx: {
      specName: name,
      envFile: str(options.env_file) ?? `/etc/profile.d/repro-${name}.sh`,
      aptUpdateMaxAge: seconds(apt.update_max_age),
      aptInstallRecommends: apt.install_recommends === true,
      // Only when set, so the digest of specs without os.yum stays what it was.
      ...(yum.install_weak_deps === true ? { yumInstallWeakDeps: true } : {}),
    },
    targets: n.targets(),
    resources: [...n.resources.values()].sort((a, b) => compare(a.address, b.address)),
    diagnostics: n.diagnostics,
  };
}

class Normalizer {
  readonly resources = new Map<Address, Resource>();
  readonly diagnostics: Diagnostic[] = [];
  private readonly data: Rec;

  constructor(
    private readonly source: SpecSource,
    private readonly dir: string,
    private readonly badPaths: readonly string[],
  ) {
    this.data = rec(source.data);
  }

  async run(): Promise<void> {
    const os = rec(this.data.os);
    const apt = rec(os.apt);
    for (const [i, item] of this.items(apt.sources, ['os', 'apt', 'sources'])) {
      await this.aptSource(item, ['os', 'apt', 'sources', i]);
    }
    for (const [i, item] of this.items(apt.packages, ['os', 'apt', 'packages'])) {
      this.aptPackage(item, ['os', 'apt', 'packages', i]);
    }
    const yum = rec(os.yum);
    for (const [i, item] of this.items(yum.repos, ['os', 'yum', 'repos'])) {
      await this.yumRepo(rec(item), ['os', 'yum', 'repos', i]);
    }
    for (const [i, item] of this.items(yum.packages, ['os', 'yum', 'packages'])) {
      this.yumPackage(item, ['os', 'yum', 'packages', i]);
    }
    this.osFamily(os);
    for (const [i, item] of this.items(this.data.pip, ['pip'])) {
      this.pipEnv(rec(item), ['pip', i]);
    }
    for (const [i, item] of this.items(this.data.conda, ['conda'])) {
      this.condaEnv(rec(item), ['conda', i]);
    }
    for (const [i, item] of this.items(this.data.npm, ['npm'])) {
      this.npmScope(rec(item), ['npm', i]);
    }
    for (const [name, value] of Object.entries(rec(this.data.env))) {
      if (this.ok(['env', name])) this.envVar(name, value);
    }
    for (const [i, item] of this.items(this.data.git, ['git'])) {
      this.gitCheckout(rec(item), ['git', i]);
    }
    for (const [i, item] of this.items(this.data.datalad, ['datalad'])) {
      this.dataladDataset(rec(item), ['datalad', i]);
    }
    for (const [i, item] of this.items(this.data.files, ['files'])) {
      await this.file(rec(item), ['files', i]);
    }
    for (const [i, item] of this.items(this.data.run, ['run'])) {
      this.runStep(rec(item), ['run', i]);
    }
  }

  targets(): TargetSpec[] {
    const out: TargetSpec[] = [];
    for (const [name, value] of Object.entries(rec(this.data.targets))) {
      const at: Path = ['targets', name];
      if (!this.ok(at)) continue;
      const [provider, config] = Object.entries(rec(value))[0] ?? [];
      if (provider === undefined) continue;
      out.push({
        name,
        provider: provider as ProviderKind,
        config: rec(config),
        at: this.source.keyAt(at),
      });
    }
    return out.sort((a, b) => compare(a.name, b.name));
  }

  private async aptSource(s: unknown, at: Path): Promise<void> {
    const item = rec(s);
    const name = String(item.name);
    const desired: Attrs = {
      name,
      uri: String(item.uri),
      suites: strings(item.suites),
      components: strings(item.components),
      trusted: item.trusted === true,
    };
    let payload: Buffer | undefined;
    if (typeof item.key === 'string') {
      payload = await this.readBeside(item.key, [...at, 'key'], 'key');
      if (payload) desired.key_sha256 = sha256(payload);
    }
    this.add('apt-source', name, desired, item.after, at, payload);
  }

  private aptPackage(p: unknown, at: Path): void {
    if (typeof p === 'string') {
      const eq = p.indexOf('=');
      const name = eq < 0 ? p : p.slice(0, eq);
      const desired: Attrs = eq < 0 ? { name } : { name, version: p.slice(eq + 1) };
      this.add('apt', name, desired, undefined, at);
      return;
    }
    const item = rec(p);
    const name = String(item.name);
    const desired: Attrs = { name };
    if (typeof item.version === 'string') desired.version = item.version;
    this.add('apt', name, desired, item.after, at);
  }

  /**
   * The OS package manager follows `os.distribution`: `os.apt` on an RPM family, or `os.yum` on
   * debian/ubuntu, is an error; `os.packages` goes to apt or yum by the distribution.
   */
  private osFamily(os: Rec): void {
    const dist = str(os.distribution);
    if (dist === undefined && os.distribution !== undefined) return; // the schema reported it
    const rpm = dist !== undefined && RPM_FAMILY.includes(dist);
    const distAt = this.source.valueAt(['os', 'distribution']);
    if (rpm && os.apt !== undefined) {
      this.error(
        'spec.os-family',
        `os.apt: ${dist} is an RPM distribution, which has no apt`,
        this.source.keyAt(['os', 'apt']),
        { hint: `use os.yum (or the distribution-neutral os.packages) for ${dist}` },
      );
    }
    if (dist !== undefined && !rpm && os.yum !== undefined) {
      this.error(
        'spec.os-family',
        `os.yum: ${dist} uses apt, not yum/dnf`,
        this.source.keyAt(['os', 'yum']),
        {
          hint: `use os.apt (or the distribution-neutral os.packages) for ${dist}, or set os.distribution to an RPM family (line ${distAt.line})`,
        },
      );
    }
    if (os.packages === undefined) return;
    if (dist === undefined) {
      this.error(
        'spec.os-family',
        'os.packages: needs os.distribution to choose apt or yum',
        this.source.keyAt(['os', 'packages']),
        { hint: 'add e.g. "distribution: debian" or "distribution: fedora" to os' },
      );
      return;
    }
    for (const [i, item] of this.items(os.packages, ['os', 'packages'])) {
      if (rpm) this.yumPackage(item, ['os', 'packages', i]);
      else this.aptPackage(item, ['os', 'packages', i]);
    }
  }

  private async yumRepo(item: Rec, at: Path): Promise<void> {
    const name = String(item.name);
    const desired: Attrs = { name, baseurl: String(item.baseurl) };
    if (typeof item.gpgcheck === 'boolean') desired.gpgcheck = item.gpgcheck;
    if (typeof item.enabled === 'boolean') desired.enabled = item.enabled;
    let payload: Buffer | undefined;
    if (typeof item.gpgkey === 'string') {
      // A URL goes into the .repo file as is; anything else is a key file beside the spec.
      if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(item.gpgkey)) desired.gpgkey = item.gpgkey;
      else {
        payload = await this.readBeside(item.gpgkey, [...at, 'gpgkey'], 'gpgkey');
        if (payload) desired.key_sha256 = sha256(payload);
      }
    }
    this.add('yum-repo', name, desired, item.after, at, payload);
  }

  /** `name`, `name.arch`, `name-version`, `name-[epoch:]version-release[.arch]` or a mapping. */
  private yumPackage(p: unknown, at: Path): void {
    if (typeof p === 'string') {
      const parsed = parseRpmSpec(p);
      this.add('yum', parsed.name, { ...parsed }, undefined, at);
      return;
    }
    const item = rec(p);
    const name = String(item.name);
    const desired: Attrs = { name };
    if (typeof item.version === 'string') {
      // `version: 1.2-3.el9` or `2:1.2-3` in the mapping form is split like the string form.
      const parsed = parseRpmSpec(`${name}-${item.version}`);
      const whole = parsed.name === name && parsed.version !== undefined;
      if (whole) Object.assign(desired, parsed);
      else desired.version = item.version;
    }
    for (const k of ['release', 'arch'] as const) {
      if (typeof item[k] === 'string') desired[k] = item[k];
    }
    if (typeof item.epoch === 'number' || typeof item.epoch === 'string') {
      desired.epoch = String(item.epoch);
    }
    this.add('yum', name, desired, item.after, at);
  }

  private envVar(name: string, value: unknown): void {
    const at: Path = ['env', name];
    const ref = this.source.keyAt(at);
    if (typeof value !== 'object' || value === null) {
      this.add('env', name, { value: String(value) }, undefined, at, undefined, ref);
      return;
    }
    const v = value as Rec;
    if ('value' in v) {
      const text = String(v.value);
      if (v.secret === true) {
        const payload = Buffer.from(text, 'utf8');
        this.add(
          'env',
          name,
          { secret: true, value_sha256: sha256(payload) },
          undefined,
          at,
          payload,
          ref,
        );
      } else {
        this.add('env', name, { value: text }, undefined, at, undefined, ref);
      }
      return;
    }
    const desired: Attrs = {};
    const prepend = strings(v.prepend);
    const append = strings(v.append);
    if (prepend.length > 0) desired.prepend = prepend;
    if (append.length > 0) desired.append = append;
    if (prepend.length === 0 && append.length === 0) {
      this.error(
        'spec.invalid-value',
        `${labelOf(at)}: 'prepend' and 'append' are both empty`,
        ref,
        {
          hint: 'list at least one directory, or remove the variable',
        },
      );
      return;
    }
    this.add('env', name, desired, undefined, at, undefined, ref);
  }

  /**
   * A `pip:` entry: the venv (`pip-venv:PATH`) when one is named, and one `pip:SCOPE:NAME` per
   * requirement, SCOPE being the venv path or, for a system interpreter, the interpreter's name.
   * Names are normalized as PEP 503 does; the specifier's grammar is the manager's to check.
   */
  private pipEnv(item: Rec, at: Path): void {
    const python = typeof item.python === 'string' ? item.python : 'python3';
    const venv = typeof item.venv === 'string' ? absolute(item.venv) : undefined;
    const scope = venv ?? python;
    if (venv !== undefined) {
      this.add('pip-venv', venv, { path: venv, python }, item.after, [...at, 'venv']);
    }
    const options: Attrs = {};
    if (typeof item.index === 'string') options.index = item.index;
    if (Array.isArray(item.extra_index)) options.extra_index = strings(item.extra_index);
    if (Array.isArray(item.find_links)) options.find_links = strings(item.find_links);
    if (item.no_index === true) options.no_index = true;
    for (const [i, raw] of this.items(item.packages, [...at, 'packages'])) {
      const where: Path = [...at, 'packages', i];
      const text = String(raw).trim();
      const m = /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[([^\]]*)\])?\s*(.*)$/s.exec(
        text,
      );
      if (!m) {
        this.error(
          'spec.pip-requirement',
          `${labelOf(where)}: '${text}' is not a requirement`,
          this.source.valueAt(where),
          { hint: "write 'name', 'name==1.2', 'name[extra]>=1' or 'name @ https://…'" },
        );
        continue;
      }
      const name = m[1]!.toLowerCase().replace(/[-_.]+/g, '-');
      const desired: Attrs = { scope, python, name, requirement: text, ...options };
      if (venv !== undefined) desired.venv = venv;
      const extras = (m[2] ?? '')
        .split(',')
        .map((e) => e.trim().toLowerCase())
        .filter(Boolean);
      if (extras.length > 0) desired.extras = [...new Set(extras)].sort();
      const rest = m[3]!.trim();
      if (rest.startsWith('@')) desired.url = rest.slice(1).trim();
      else if (rest !== '') desired.spec = rest;
      this.add('pip', `${scope}:${name}`, desired, item.after, where);
    }
  }

  /**
   * A `conda:` entry: the env (`conda-env:PREFIX`, carrying every spec, since its batch runs the
   * env's one transaction) and one `conda:PREFIX:NAME` per spec. Only the name is split off here;
   * the rest of the MatchSpec grammar (version, build string) is the manager's to check.
   */
  private condaEnv(item: Rec, at: Path): void {
    const prefix = absolute(String(item.prefix));
    const settings: Attrs = { prefix };
    if (Array.isArray(item.channels)) settings.channels = strings(item.channels);
    if (item.override_channels === true) settings.override_channels = true;
    if (typeof item.tool === 'string' && item.tool !== 'auto') settings.tool = item.tool;
    const specs: string[] = [];
    const seen = new Set<string>();
    for (const [i, raw] of this.items(item.packages, [...at, 'packages'])) {
      const where: Path = [...at, 'packages', i];
      const text = String(raw).trim();
      const m = /^([^\s=<>!~[:]+)/.exec(text);
      if (!m) {
        this.error(
          'spec.conda-package',
          `${labelOf(where)}: '${text}' is not a conda spec`,
          this.source.valueAt(where),
          { hint: "write 'numpy', 'python=3.11', 'scipy>=1.11' or 'numpy=1.26.4=py311h64a7726_0'" },
        );
        continue;
      }
      if (!seen.has(m[1]!)) specs.push(text);
      seen.add(m[1]!);
      this.add(
        'conda',
        `${prefix}:${m[1]!}`,
        { ...settings, name: m[1]!, spec: text },
        item.after,
        where,
      );
    }
    this.add('conda-env', prefix, { ...settings, specs }, item.after, [...at, 'prefix']);
  }

  /** An `npm:` entry: one `npm:SCOPE:NAME` per package, SCOPE the prefix or project directory. */
  private npmScope(item: Rec, at: Path): void {
    const project = typeof item.project === 'string' ? absolute(item.project) : undefined;
    const prefix = typeof item.prefix === 'string' ? absolute(item.prefix) : undefined;
    const scope = project ?? prefix ?? '/usr/local';
    for (const [i, raw] of this.items(item.packages, [...at, 'packages'])) {
      const where: Path = [...at, 'packages', i];
      const text = String(raw).trim();
      const m = /^((?:@[^@/\s]+\/)?[^@/\s]+)(?:@(\S+))?$/.exec(text);
      if (!m) {
        this.error(
          'spec.npm-package',
          `${labelOf(where)}: '${text}' is not an npm package`,
          this.source.valueAt(where),
          { hint: "write 'name', 'name@1.2.3', 'name@^1' or '@scope/name@2'" },
        );
        continue;
      }
      const desired: Attrs = { scope, mode: project ? 'project' : 'global', name: m[1]! };
      if (m[2] !== undefined) desired.spec = m[2];
      if (typeof item.registry === 'string') desired.registry = item.registry;
      this.add('npm', `${scope}:${m[1]!}`, desired, item.after, where);
    }
  }

  private gitCheckout(item: Rec, at: Path): void {
    const p = absolute(String(item.path));
    const desired: Attrs = { path: p, url: String(item.url) };
    if (typeof item.revision === 'string') desired.revision = item.revision;
    this.add('git', p, desired, item.after, at);
  }

  private dataladDataset(item: Rec, at: Path): void {
    const p = absolute(String(item.path));
    const desired: Attrs = { path: p, source: String(item.source) };
    if (typeof item.revision === 'string') desired.revision = item.revision;
    if (Array.isArray(item.get)) desired.get = [...new Set(strings(item.get))].sort();
    this.add('datalad', p, desired, item.after, at);
  }

  private async file(item: Rec, at: Path): Promise<void> {
    const p = absolute(String(item.path));
    let payload: Buffer | undefined;
    if (typeof item.content === 'string') payload = Buffer.from(item.content, 'utf8');
    else if (typeof item.source === 'string') {
      payload = await this.readBeside(item.source, [...at, 'source'], 'source');
    }
    if (!payload) return;
    const desired: Attrs = { path: p, sha256: sha256(payload), size: payload.length };
    if (typeof item.mode === 'string') desired.mode = item.mode.padStart(4, '0');
    if (typeof item.owner === 'string') desired.owner = item.owner;
    if (typeof item.source === 'string') desired.source = item.source;
    this.add('file', p, desired, item.after, at, payload);
  }

  private runStep(item: Rec, at: Path): void {
    const name = String(item.name);
    const desired: Attrs = { name, command: String(item.command) };
    for (const k of ['creates', 'unless', 'cwd'] as const) {
      if (typeof item[k] === 'string') desired[k] = item[k];
    }
    desired.index = at[1] as number;
    this.add('run', name, desired, item.after, at);
  }

  private add(
    kind: ManagerKind,
    name: string,
    desired: Attrs,
    after: unknown,
    at: Path,
    payload?: Buffer,
    ref: SourceRef = this.source.valueAt(at),
  ): void {
    const address = addressOf(kind, name);
    const first = this.resources.get(address);
    if (first) {
      this.error(
        'spec.duplicate',
        `${labelOf(at)}: duplicate resource ${address}, first declared at line ${first.at.line}`,
        ref,
        // The address is in the message already; no `address` field to print it twice.
        { hint: 'declare each resource once; remove or merge this entry' },
      );
      return;
    }
    const resource: Resource = {
      address,
      kind,
      name,
      desired,
      after: this.after(after, [...at, 'after']),
      at: ref,
      ...(payload ? { payload } : {}),
    };
    this.resources.set(address, resource);
  }

  /** `after:` as written; each entry must at least look like an address of a known kind. */
  private after(after: unknown, at: Path): Address[] {
    const list = strings(after);
    list.forEach((entry, i) => {
      const parsed = parseAddress(entry);
      if (parsed && (KINDS as readonly string[]).includes(parsed.kind)) return;
      const kind = parsed ? closest(parsed.kind, KINDS) : undefined;
      this.error(
        'spec.after',
        `${labelOf([...at, i])}: '${entry}' is not a resource address; expected kind:name with kind one of ${KINDS.join(', ')}`,
        this.source.valueAt([...at, i]),
        kind && parsed ? { hint: `did you mean '${kind}:${parsed.name}'?` } : {},
      );
    });
    return list;
  }

  private async readBeside(rel: string, at: Path, what: string): Promise<Buffer | undefined> {
    const abs = path.resolve(this.dir, rel);
    try {
      return await readFile(abs);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const reason =
        code === 'ENOENT'
          ? 'no such file'
          : code === 'EISDIR'
            ? 'it is a directory'
            : code === 'EACCES'
              ? 'permission denied'
              : String((err as Error).message);
      this.error(
        'spec.file-unreadable',
        `${labelOf(at)}: cannot read '${rel}': ${reason}`,
        this.source.valueAt(at),
        { hint: `'${what}' paths are relative to the spec's directory (looked for ${abs})` },
      );
      return undefined;
    }
  }

  private error(
    code: string,
    message: string,
    at: SourceRef,
    extra: { hint?: string; address?: string } = {},
  ): void {
    this.diagnostics.push({ severity: 'error', code, message, at, ...extra });
  }

  /** Items of a list the schema accepted, with their indexes; rejected items are skipped. */
  private *items(list: unknown, at: Path): Generator<[number, unknown]> {
    if (!Array.isArray(list)) return;
    for (let i = 0; i < list.length; i++) if (this.ok([...at, i])) yield [i, list[i]];
  }

  private ok(at: Path): boolean {
    const pointer = at
      .map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`)
      .join('');
    return !this.badPaths.some((b) => b === pointer || b.startsWith(`${pointer}/`));
  }
}

function rec(v: unknown): Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Rec) : {};
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function pick(o: Rec, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) if (typeof o[k] === 'string') out[k] = o[k];
  return out;
}

/** `update_max_age` as seconds: a number as is, or `6h`/`30m`/`2d`/`90` (the schema checked it). */
function seconds(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return DEFAULT_UPDATE_MAX_AGE;
  const m = /^([0-9]+)([smhd]?)$/.exec(v);
  if (!m) return DEFAULT_UPDATE_MAX_AGE;
  return Number(m[1]) * (DURATION_UNITS[m[2] || 's'] ?? 1);
}

/** Normalized absolute path; `/opt/src/x/` and `/opt/src/./x` name the same resource. */
function absolute(p: string): string {
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Code-unit order: deterministic across locales, unlike localeCompare. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

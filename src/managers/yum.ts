// yum: RPM packages (`yum:NAME`) on RPM-family targets, through dnf when the target has it, else
// yum. Probed with one `rpm -q --qf` for all names (plus one `dnf repoquery` for the names that
// are not installed or that `--update` names), installed with one `dnf install` per batch.
//
// Invariants:
// - Names, epochs, versions, releases and arches are checked against RPM's grammar before any
//   reaches a shell; the probe also skips names (from state) that fail it.
// - Live and recorded versions are always the full `EPOCH:VERSION-RELEASE` (epoch 0 when rpm
//   says `(none)`), so state and lock say exactly which build is installed, as apt's do.
// - The build to install is: the lock when it satisfies the spec's (possibly partial) pin ?? the
//   newest candidate that satisfies it ?? the pin itself, resolved by dnf at apply.
// - One exact NEVRA per package goes to one `dnf install`, which upgrades or downgrades an
//   installed package to it; yum (without dnf) gets `yum downgrade` for the downgrades.
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

/** RPM package names: letters, digits and `_ + . -`, not starting with `-` or `.`. */
export const RPM_NAME = /^[A-Za-z0-9_+][A-Za-z0-9_.+-]*$/;
/** Version and release: no `-` (it separates them) and no `:` (it ends the epoch). */
export const RPM_VERSION = /^[A-Za-z0-9_+~^][A-Za-z0-9._+~^]*$/;
export const RPM_EPOCH = /^[0-9]+$/;
export const RPM_ARCH = /^[A-Za-z0-9_]+$/;

/** Architectures recognised as a `.ARCH` suffix in the string forms (`glibc.i686`, `…-1.el9.noarch`). */
export const KNOWN_ARCHES = [
  'aarch64',
  'armv7hl',
  'i386',
  'i586',
  'i686',
  'noarch',
  'ppc64',
  'ppc64le',
  'riscv64',
  's390x',
  'x86_64',
];

/** The parts of an RPM package as the spec writes it; only `name` is required. */
export interface RpmSpec {
  name: string;
  epoch?: string;
  version?: string;
  release?: string;
  arch?: string;
}

function splitArch(s: string): { rest: string; arch?: string } {
  const dot = s.lastIndexOf('.');
  if (dot > 0 && KNOWN_ARCHES.includes(s.slice(dot + 1))) {
    return { rest: s.slice(0, dot), arch: s.slice(dot + 1) };
  }
  return { rest: s };
}

/** A version-looking segment: starts with a digit and is all digits or has a `.` (not `75dpi`). */
function looksLikeVersion(s: string): boolean {
  const v = s.replace(/^[0-9]+:/, '');
  return /^[0-9]/.test(v) && (/^[0-9]+$/.test(v) || v.includes('.'));
}

/**
 * Splits `name`, `name.arch`, `name-version`, `name-[epoch:]version-release[.arch]` the way
 * users write them. A segment is a version only when it looks like one (starts with a digit and
 * has a `.` or only digits), so `xorg-x11-fonts-75dpi` stays a name; the mapping form
 * `{name, version, release}` settles any other doubt. Never fails: the grammar is checked later.
 */
export function parseRpmSpec(text: string): RpmSpec {
  const parts = text.split('-');
  const withEpoch = (out: RpmSpec, v: string): RpmSpec => {
    const m = /^([0-9]+):(.*)$/.exec(v);
    return m ? { ...out, epoch: m[1]!, version: m[2]! } : { ...out, version: v };
  };
  if (parts.length >= 3) {
    const v = parts[parts.length - 2]!;
    const r = parts[parts.length - 1]!;
    if (looksLikeVersion(v) && /^[0-9A-Za-z]/.test(r)) {
      const { rest, arch } = splitArch(r);
      const base = withEpoch({ name: parts.slice(0, -2).join('-') }, v);
      return { ...base, release: rest, ...(arch ? { arch } : {}) };
    }
  }
  if (parts.length >= 2) {
    const v = parts[parts.length - 1]!;
    if (looksLikeVersion(v)) return withEpoch({ name: parts.slice(0, -1).join('-') }, v);
  }
  const { rest, arch } = splitArch(text);
  return arch ? { name: rest, arch } : { name: text };
}

/** `EPOCH:VERSION-RELEASE` split back into its parts. */
export function parseEvr(evr: string): { epoch: string; version: string; release: string } {
  const m = /^(?:([0-9]+):)?([^-]*)(?:-(.*))?$/.exec(evr);
  return { epoch: m?.[1] ?? '0', version: m?.[2] ?? evr, release: m?.[3] ?? '' };
}

/** rpmvercmp: RPM's comparison of one version or release string (segments of digits/letters, `~`, `^`). */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  for (;;) {
    while (i < a.length && !/[A-Za-z0-9~^]/.test(a[i]!)) i++;
    while (j < b.length && !/[A-Za-z0-9~^]/.test(b[j]!)) j++;
    if (a[i] === '~' || b[j] === '~') {
      if (a[i] !== '~') return 1;
      if (b[j] !== '~') return -1;
      i++;
      j++;
      continue;
    }
    if (a[i] === '^' || b[j] === '^') {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (a[i] !== '^') return 1;
      if (b[j] !== '^') return -1;
      i++;
      j++;
      continue;
    }
    if (i >= a.length || j >= b.length) break;
    const digits = /[0-9]/.test(a[i]!);
    const re = digits ? /^[0-9]+/ : /^[A-Za-z]+/;
    const sa = re.exec(a.slice(i))?.[0] ?? '';
    const sb = re.exec(b.slice(j))?.[0] ?? '';
    if (sb === '') return digits ? 1 : -1;
    i += sa.length;
    j += sb.length;
    if (digits) {
      const na = sa.replace(/^0+/, '');
      const nb = sb.replace(/^0+/, '');
      if (na.length !== nb.length) return na.length > nb.length ? 1 : -1;
      if (na !== nb) return na > nb ? 1 : -1;
    } else if (sa !== sb) {
      return sa > sb ? 1 : -1;
    }
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

/** Compares two `EPOCH:VERSION-RELEASE` strings as RPM does. */
export function compareEvr(a: string, b: string): number {
  const x = parseEvr(a);
  const y = parseEvr(b);
  const e = Number(x.epoch) - Number(y.epoch);
  if (e !== 0) return e > 0 ? 1 : -1;
  return rpmvercmp(x.version, y.version) || rpmvercmp(x.release, y.release);
}

/** The pin the spec writes, from a resource's desired attributes. */
function pinOf(desired: Attrs | undefined): RpmSpec {
  const out: RpmSpec = { name: str(desired, 'name') ?? '' };
  for (const k of ['epoch', 'version', 'release', 'arch'] as const) {
    const v = str(desired, k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Whether a build (`E:V-R`, arch) satisfies a pin; parts the pin omits match anything. */
export function satisfies(
  pin: RpmSpec,
  evr: string | undefined,
  arch: string | undefined,
): boolean {
  if (evr === undefined) return pin.version === undefined && pin.epoch === undefined;
  const p = parseEvr(evr);
  if (pin.epoch !== undefined && Number(pin.epoch) !== Number(p.epoch)) return false;
  if (pin.version !== undefined && pin.version !== p.version) return false;
  if (pin.release !== undefined && pin.release !== p.release) return false;
  if (pin.arch !== undefined && pin.arch !== arch) return false;
  return true;
}

/** The argument dnf gets for a pin: `name[-[epoch:]version[-release]][.arch]`. */
export function pinArgument(pin: RpmSpec): string {
  let s = pin.name;
  if (pin.version !== undefined) {
    s += `-${pin.epoch !== undefined ? `${pin.epoch}:` : ''}${pin.version}`;
    if (pin.release !== undefined) s += `-${pin.release}`;
  }
  if (pin.arch !== undefined) s += `.${pin.arch}`;
  return s;
}

/** The exact NEVRA dnf installs: `name-EPOCH:VERSION-RELEASE.ARCH`. */
export function nevra(name: string, evr: string, arch: string | undefined): string {
  return `${name}-${evr}${arch ? `.${arch}` : ''}`;
}

/** Why the pin is not RPM grammar, per part; empty when it is. */
export function rpmSpecProblems(pin: RpmSpec): string[] {
  const out: string[] = [];
  if (!RPM_NAME.test(pin.name)) out.push(`invalid RPM package name ${JSON.stringify(pin.name)}`);
  if (pin.epoch !== undefined && !RPM_EPOCH.test(pin.epoch)) {
    out.push(`invalid epoch ${JSON.stringify(pin.epoch)}: must be a number`);
  }
  if (pin.version !== undefined && !RPM_VERSION.test(pin.version)) {
    out.push(
      `invalid version ${JSON.stringify(pin.version)}: letters, digits and . _ + ~ ^ only (no "-" or ":")`,
    );
  }
  if (pin.release !== undefined && !RPM_VERSION.test(pin.release)) {
    out.push(
      `invalid release ${JSON.stringify(pin.release)}: letters, digits and . _ + ~ ^ only (no "-" or ":")`,
    );
  }
  if (pin.release !== undefined && pin.version === undefined) {
    out.push('a release needs a version');
  }
  if (pin.epoch !== undefined && pin.version === undefined) out.push('an epoch needs a version');
  if (pin.arch !== undefined && !RPM_ARCH.test(pin.arch)) {
    out.push(`invalid architecture ${JSON.stringify(pin.arch)}`);
  }
  return out;
}

const RPM_QF = 'P\\t%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\n';
const REPOQUERY_QF = 'C\\t%{name}\\t%{epoch}\\t%{version}\\t%{release}\\t%{arch}\\n';

function validNames(items: readonly ProbeItem[]): string[] {
  return [...new Set(items.map((i) => i.name))].filter((n) => RPM_NAME.test(n)).sort();
}

/** One installed or available build. */
interface Build {
  readonly version: string;
  readonly arch: string;
}

function evrOf(epoch: string, version: string, release: string): string {
  return `${epoch === '(none)' || epoch === '' ? '0' : epoch}:${version}-${release}`;
}

/**
 * Candidates from `yum list available` (yum without dnf and without repoquery): `name.arch
 * [epoch:]version-release repo`, one per line, or wrapped after a long `name.arch`.
 */
export function parseYumList(text: string): Map<string, Build[]> {
  const out = new Map<string, Build[]>();
  const words = text
    .split('\n')
    .filter((l) => !/^(Available|Installed|Loaded plugins|Loading)/.test(l))
    .join(' ')
    .split(/\s+/)
    .filter(Boolean);
  for (let i = 0; i + 1 < words.length; i++) {
    const na = /^(.+)\.([A-Za-z0-9_]+)$/.exec(words[i]!);
    const evr = words[i + 1];
    if (!na || evr === undefined || !/^(?:[0-9]+:)?[^-\s]+-[^-\s]+$/.test(evr)) continue;
    const p = parseEvr(evr);
    const list = out.get(na[1]!) ?? [];
    list.push({ version: evrOf(p.epoch, p.version, p.release), arch: na[2]! });
    out.set(na[1]!, list);
    i += 2;
  }
  return out;
}

/** The build of `builds` to use: the pin's arch, else the native arch, else noarch, else the newest. */
function pick(builds: readonly Build[], pin: RpmSpec, native: string): Build | undefined {
  const ok = builds.filter((b) => satisfies(pin, b.version, b.arch));
  const newest = (bs: readonly Build[]): Build | undefined =>
    [...bs].sort((a, b) => compareEvr(b.version, a.version))[0];
  return (
    newest(ok.filter((b) => b.arch === native)) ??
    newest(ok.filter((b) => b.arch === 'noarch')) ??
    newest(ok)
  );
}

function buildsOf(facts: Attrs, key: string, name: string): Build[] {
  const c = facts[key];
  if (c === null || typeof c !== 'object' || Array.isArray(c)) return [];
  const v = (c as Record<string, JsonValue>)[name];
  if (!Array.isArray(v)) return [];
  return v.flatMap((b) =>
    b !== null && typeof b === 'object' && !Array.isArray(b) && typeof b['version'] === 'string'
      ? [{ version: b['version'], arch: typeof b['arch'] === 'string' ? b['arch'] : '' }]
      : [],
  );
}

function nameOf(input: DiffInput): string {
  const n = input.resource?.name ?? str(input.live, 'name') ?? str(input.recorded, 'name');
  if (n === undefined) throw new Error('yum.diff: no resource, live or recorded name');
  return n;
}

export const yum = {
  kind: 'yum',
  tracked: ['version', 'arch'],

  check(resource: Resource): Diagnostic[] {
    const pin = { ...pinOf(resource.desired), name: resource.name };
    return rpmSpecProblems(pin).map((p) =>
      diag(
        resource,
        'yum.grammar',
        `${p} for ${resource.name}`,
        "write 'name', 'name-1.2', 'name-1.2-3.el9', 'name-1.2-3.el9.x86_64' or a mapping {name, epoch, version, release, arch}",
      ),
    );
  },

  probeScript(items: readonly ProbeItem[], _ctx: ManagerContext): string {
    const names = validNames(items);
    const lines = [
      `if command -v dnf >/dev/null 2>&1; then _r_b=dnf; elif command -v yum >/dev/null 2>&1; then _r_b=yum; else _r_b=''; fi`,
      `printf 'B\\t%s\\n' "$_r_b"`,
      `if command -v rpm >/dev/null 2>&1; then printf 'R\\t1\\n'; printf 'A\\t%s\\n' "$(rpm --eval '%{_arch}' 2>/dev/null)"; else printf 'R\\t0\\n'; exit 0; fi`,
    ];
    if (names.length > 0) {
      const updating = new Set(items.filter((i) => i.update).map((i) => i.name));
      const rest = names.filter((n) => !updating.has(n));
      lines.push(
        // Prints `package X is not installed` (no tab: ignored by the parser) for absent names.
        `_r_p=$(rpm -q --qf ${shellQuote(RPM_QF)} ${shellJoin(names)} 2>/dev/null)`,
        `printf '%s\\n' "$_r_p"`,
        `_r_i=$(printf '%s\\n' "$_r_p" | sed -n 's/^P\t\\([^\t]*\\)\t.*$/\\1/p' | tr '\\n' ' ')`,
        `_r_w=${shellQuote(
          [...updating]
            .filter((n) => RPM_NAME.test(n))
            .sort()
            .join(' '),
        )}`,
        `for _r_n in ${rest.length > 0 ? shellJoin(rest) : ''}; do`,
        `  case " $_r_i " in *" $_r_n "*) ;; *) _r_w="$_r_w $_r_n" ;; esac`,
        `done`,
        // Candidates cost a dnf start (~0.5 s): only for names not installed or being updated.
        `if [ -n "$_r_w" ]; then`,
        `  if [ "$_r_b" = dnf ]; then`,
        `    dnf -q repoquery --latest-limit 1 --qf ${shellQuote(REPOQUERY_QF)} $_r_w 2>/dev/null`,
        `  elif command -v repoquery >/dev/null 2>&1; then`,
        // yum-utils' repoquery prints its --qf verbatim (no \t escapes): '|' never occurs in RPM
        // names, versions or arches, so it separates the fields and becomes a tab here.
        `    repoquery --qf 'C|%{name}|%{epoch}|%{version}|%{release}|%{arch}' $_r_w 2>/dev/null | tr '|' '\t'`,
        `  elif [ "$_r_b" = yum ]; then`,
        `    yum -q list available $_r_w 2>/dev/null | sed 's/^/Y\t/'`,
        `  fi`,
        `fi`,
      );
    }
    return probeFragment(lines);
  },

  parseProbe(output: string, items: readonly ProbeItem[], _ctx: ManagerContext): ProbeResult {
    const facts: Attrs = { binary: '', rpm: false, arch: '', candidates: {} };
    const installed = new Map<string, Build[]>();
    const candidates = new Map<string, Build[]>();
    const yumList: string[] = [];
    for (const { tag, fields } of probeLines(output)) {
      const f0 = fields[0] ?? '';
      if (tag === 'B') facts['binary'] = f0 === 'dnf' || f0 === 'yum' ? f0 : '';
      else if (tag === 'R') facts['rpm'] = f0 === '1';
      else if (tag === 'A') facts['arch'] = f0;
      else if (tag === 'Y') yumList.push(fields.join('\t'));
      else if (tag === 'P' || tag === 'C') {
        const [name, epoch, version, release, arch] = fields;
        if (!name || epoch === undefined || !version || release === undefined || !arch) continue;
        const into = tag === 'P' ? installed : candidates;
        const list = into.get(name) ?? [];
        list.push({ version: evrOf(epoch, version, release), arch });
        into.set(name, list);
      }
    }
    for (const [name, builds] of parseYumList(yumList.join('\n'))) {
      candidates.set(name, [...(candidates.get(name) ?? []), ...builds]);
    }
    const native = String(facts['arch']);
    const cand: Record<string, JsonValue> = {};
    for (const [name, builds] of [...candidates.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      cand[name] = builds.map((b) => ({ version: b.version, arch: b.arch }));
    }
    facts['candidates'] = cand;
    const live = new Map<string, Attrs>();
    for (const item of items) {
      const builds = installed.get(item.name);
      if (!builds || builds.length === 0) continue;
      // Several builds of one name (multilib, installonly kernels): the one the spec pins, else
      // the one recorded, else the native arch, else noarch, else the newest.
      const pin = pinOf(item.resource?.desired);
      const recordedArch = str(item.recorded, 'arch');
      const chosen =
        (pin.arch !== undefined || pin.version !== undefined
          ? pick(builds, { ...pin, name: item.name }, native)
          : undefined) ??
        (recordedArch !== undefined
          ? pick(builds, { name: item.name, arch: recordedArch }, native)
          : undefined) ??
        pick(builds, { name: item.name }, native)!;
      const attrs: Attrs = { name: item.name, version: chosen.version, arch: chosen.arch };
      if (builds.length > 1) {
        attrs['installed'] = builds.map((b) => `${b.version}.${b.arch}`).sort();
      }
      live.set(item.address, attrs);
    }
    return { live, facts };
  },

  diff(input: DiffInput): Change {
    const name = nameOf(input);
    const address = input.resource?.address ?? `yum:${name}`;
    const { live } = input;
    if (!input.resource) {
      return live
        ? { address, kind: 'yum', action: 'delete', before: live, reason: 'removed from the spec' }
        : { address, kind: 'yum', action: 'noop' };
    }
    const pin = { ...pinOf(input.resource.desired), name };
    const native = str(input.facts, 'arch') ?? '';
    const lockedVersion = input.update ? undefined : str(input.locked, 'version');
    const lockedArch = input.update ? undefined : str(input.locked, 'arch');
    const locked =
      lockedVersion !== undefined && satisfies(pin, lockedVersion, lockedArch)
        ? { version: lockedVersion, arch: lockedArch }
        : undefined;
    const candidate = pick(buildsOf(input.facts, 'candidates', name), pin, native);
    const pinned = pin.version !== undefined || pin.arch !== undefined;
    const target: { version?: string; arch?: string; source: string } = locked
      ? { ...locked, source: 'locked' }
      : candidate && (pinned || !live || input.update)
        ? { ...candidate, source: pinned ? `pinned ${pinArgument(pin)}, candidate` : 'candidate' }
        : { source: pinned ? `pinned ${pinArgument(pin)}` : 'candidate' };
    if (!live) {
      const after: Attrs = { name };
      const unknown: string[] = [];
      if (target.version !== undefined) after['version'] = target.version;
      else unknown.push('version');
      if (target.arch !== undefined) after['arch'] = target.arch;
      else if (pin.arch !== undefined) after['arch'] = pin.arch;
      else unknown.push('arch');
      return {
        address,
        kind: 'yum',
        action: 'create',
        after,
        ...(unknown.length > 0 ? { afterUnknown: unknown } : {}),
        reason:
          target.version === undefined
            ? `not installed; ${pinned ? `${pinArgument(pin)} is resolved by ${str(input.facts, 'binary') || 'dnf'} at apply` : 'no candidate in the enabled repositories yet'}`
            : `not installed (${target.source} ${target.version}${target.arch ? `.${target.arch}` : ''})`,
      };
    }
    const liveVersion = str(live, 'version');
    const liveArch = str(live, 'arch');
    const liveOk = satisfies(pin, liveVersion, liveArch);
    // Installed and meeting the pin: it moves only to the lock, or to the candidate under
    // --update; otherwise it stays (and gets locked as it is).
    const move = !liveOk || locked !== undefined || input.update;
    const same =
      target.version === undefined ||
      (target.version === liveVersion && (target.arch ?? liveArch) === liveArch);
    if (!move || (liveOk && same)) {
      return { address, kind: 'yum', action: 'noop', before: live, after: live };
    }
    const after: Attrs = { ...live };
    delete after['installed'];
    const unknown: string[] = [];
    if (target.version !== undefined) after['version'] = target.version;
    else unknown.push('version');
    if (target.arch !== undefined) after['arch'] = target.arch;
    else if (pin.arch !== undefined) after['arch'] = pin.arch;
    return {
      address,
      kind: 'yum',
      action: 'update',
      before: live,
      after,
      ...(unknown.length > 0 ? { afterUnknown: unknown } : {}),
      reason: `${target.source}${target.version ? ` ${target.version}` : ''}, installed ${liveVersion ?? '?'}.${liveArch ?? '?'}`,
    };
  },

  commands(input: CommandInput): Command[] {
    const { changes, facts, ctx } = input;
    if (changes.length === 0) return [];
    // The refresh saw which of dnf/yum the target has; a target that did not exist at plan time
    // (a container created by this apply) decides in the script itself, dnf first.
    const seen = facts['binary'] === 'dnf' || facts['binary'] === 'yum' ? facts['binary'] : '';
    if (seen === '' && facts['rpm'] !== undefined) {
      return [
        {
          display: 'check that dnf or yum exists',
          script: failScript(
            'repro: neither dnf nor yum is available on the target; yum packages need one (is this an RPM-family system?)',
          ),
        },
      ];
    }
    const bin = seen || 'dnf';
    const installs: { arg: string; address: string }[] = [];
    const downgrades: { arg: string; address: string }[] = [];
    const removals: string[] = [];
    for (const c of changes) {
      const name = str(c.after, 'name') ?? str(c.before, 'name') ?? c.address.slice('yum:'.length);
      if (!RPM_NAME.test(name)) throw new Error(`refusing invalid RPM package name ${name}`);
      if (c.action === 'delete') {
        removals.push(name);
        continue;
      }
      const version = c.afterUnknown?.includes('version') ? undefined : str(c.after, 'version');
      const arch = c.afterUnknown?.includes('arch') ? undefined : str(c.after, 'arch');
      let arg: string;
      if (version !== undefined) {
        const p = parseEvr(version);
        const problems = rpmSpecProblems({ name, ...p, ...(arch ? { arch } : {}) });
        if (problems.length > 0) throw new Error(`refusing ${problems.join('; ')} for ${name}`);
        arg = nevra(name, version, arch);
      } else {
        const pin = { ...pinOf(input.resources.get(c.address)?.desired), name };
        if (rpmSpecProblems(pin).length > 0)
          throw new Error(`refusing invalid RPM pin for ${name}`);
        arg = pinArgument(pin);
      }
      const before = str(c.before, 'version');
      // yum (3) only upgrades on install; dnf's install moves to the exact NEVRA either way.
      const down =
        bin === 'yum' && before !== undefined && version !== undefined
          ? compareEvr(version, before) < 0
          : false;
      (down ? downgrades : installs).push({ arg, address: c.address });
    }
    const out: Command[] = [
      {
        display: `find ${bin}`,
        script: [
          'if command -v dnf >/dev/null 2>&1; then _r_b=dnf; elif command -v yum >/dev/null 2>&1; then _r_b=yum; else',
          `  ${failScript('repro: neither dnf nor yum is available on the target; yum packages need one (is this an RPM-family system?)')}`,
          'fi',
          "_r_wd=''",
          `if [ "$_r_b" = dnf ]; then _r_wd=${shellQuote(`--setopt=install_weak_deps=${ctx.yumInstallWeakDeps ? 'True' : 'False'}`)}; fi`,
        ].join('\n'),
      },
    ];
    if (removals.length > 0) {
      out.push({
        display: shellJoin([bin, 'remove', ...removals]),
        script: `"$_r_b" -y remove ${shellJoin(removals)}`,
      });
    }
    if (installs.length + downgrades.length === 0) return out;
    if (input.changedKinds.has('yum-repo')) {
      // A repository repro just wrote or changed: metadata cached under the same id is stale.
      out.push({
        display: `${bin} makecache`,
        script: [
          'if [ "$_r_b" = dnf ]; then dnf -y -q --refresh makecache',
          'else yum -y -q clean expire-cache && yum -y -q makecache; fi',
        ].join('\n'),
      });
    }
    for (const [verb, group] of [
      ['install', installs],
      ['downgrade', downgrades],
    ] as const) {
      if (group.length === 0) continue;
      const args = group.map((g) => g.arg);
      out.push({
        display: shellJoin([bin, verb, ...args]),
        script: wrapNoMatch(`"$_r_b" -y ${verb} $_r_wd ${shellJoin(args)}`, group),
      });
    }
    return out;
  },

  lockEntry(resource: Resource, live: Attrs): Attrs | undefined {
    const pin = pinOf(resource.desired);
    // Fully pinned (epoch, version, release and arch): the spec says it all already.
    if (pin.epoch !== undefined && pin.release !== undefined && pin.arch !== undefined) {
      return undefined;
    }
    const version = str(live, 'version');
    const arch = str(live, 'arch');
    if (version === undefined) return undefined;
    return arch === undefined ? { version } : { version, arch };
  },

  record: recordLive,
} satisfies Manager;

/**
 * Runs a dnf/yum command, and when it fails, turns its "No match for argument: X" lines (yum:
 * "No package X available.") into lines naming the resource, so the error points at the address.
 */
function wrapNoMatch(cmd: string, group: readonly { arg: string; address: string }[]): string {
  const cases = group
    .map(
      (g) =>
        `    ${shellQuote(g.arg)}) printf '%s\\n' ${shellQuote(`repro: no package matches ${g.arg} in the enabled repositories (${g.address})`)} >&2 ;;`,
    )
    .join('\n');
  return [
    '_r_o=$(mktemp)',
    `if ${cmd} >"$_r_o" 2>&1; then cat "$_r_o" >&2; rm -f "$_r_o"; else`,
    '  _r_rc=$?; cat "$_r_o" >&2',
    `  sed -n -e 's/^No match for argument: //p' -e 's/^No package \\(.*\\) available\\.$/\\1/p' "$_r_o" | while IFS= read -r _r_a; do`,
    '  case "$_r_a" in',
    cases,
    '    *) ;;',
    '  esac',
    '  done',
    '  rm -f "$_r_o"; exit "$_r_rc"',
    'fi',
  ].join('\n');
}

// Refresh in one round trip: every manager's probe fragment is composed into one shell script,
// run once on the target, and its stdout split back per manager by marker lines.
import { ReproError, tailLines } from '../core/errors.js';
import type { Address, Attrs, ManagerKind } from '../core/types.js';
import { KINDS } from '../core/types.js';
import type { Manager, ManagerContext, ProbeItem } from '../managers/types.js';
import type { Connection } from '../../providers/types.js';

const MARKER = '@@repro-section';

export interface Live {
  readonly live: Map<Address, Attrs>;
  readonly facts: Map<ManagerKind, Attrs>;
}

export const EMPTY_LIVE: Live = { live: new Map(), facts: new Map() };

/** The fixed prelude of every script repro runs: C locale, a full PATH, no stdin for children. */
export const SCRIPT_PRELUDE =
  'export LC_ALL=C LANG=C DEBIAN_FRONTEND=noninteractive\n' +
  'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}; export PATH\n';

/** Builds the probe script for the given items, grouped by kind. Pure. */
export function composeProbe(
  groups: ReadonlyMap<ManagerKind, readonly ProbeItem[]>,
  managers: ReadonlyMap<ManagerKind, Manager>,
  ctx: ManagerContext,
): string {
  const parts = [SCRIPT_PRELUDE];
  for (const kind of KINDS) {
    const items = groups.get(kind);
    if (!items || items.length === 0) continue;
    const m = managers.get(kind)!;
    parts.push(`printf '\\n${MARKER} %s\\n' ${kind}`);
    parts.push(`{\n${m.probeScript(items, ctx)}\n} </dev/null`);
  }
  parts.push(`printf '\\n${MARKER} end\\n'`);
  return parts.join('\n') + '\n';
}

/** Splits probe stdout into sections per kind. */
export function splitSections(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = new RegExp(`^${MARKER} (\\S+)$`, 'gm');
  let last: { kind: string; start: number } | undefined;
  for (const m of stdout.matchAll(re)) {
    if (last) out.set(last.kind, trimSection(stdout.slice(last.start, m.index)));
    last = { kind: m[1]!, start: m.index! + m[0].length + 1 };
  }
  return out;
}

function trimSection(s: string): string {
  // The marker is printed after a newline; drop that one separator line only.
  return s.endsWith('\n') ? s.slice(0, -1) : s;
}

/** Parses composed-probe output per manager. */
export function parseSections(
  stdout: string,
  groups: ReadonlyMap<ManagerKind, readonly ProbeItem[]>,
  managers: ReadonlyMap<ManagerKind, Manager>,
  ctx: ManagerContext,
): Live {
  const sections = splitSections(stdout);
  const live = new Map<Address, Attrs>();
  const facts = new Map<ManagerKind, Attrs>();
  for (const [kind, items] of groups) {
    if (items.length === 0) continue;
    const section = sections.get(kind);
    if (section === undefined) {
      throw new ReproError('probe.malformed', `the probe printed no ${kind} section`, {
        hint: 'run with --debug to see the probe output',
      });
    }
    const res = managers.get(kind)!.parseProbe(section, items, ctx);
    for (const [addr, attrs] of res.live) live.set(addr, attrs);
    facts.set(kind, res.facts);
  }
  return { live, facts };
}

export async function refresh(
  conn: Connection,
  groups: ReadonlyMap<ManagerKind, readonly ProbeItem[]>,
  managers: ReadonlyMap<ManagerKind, Manager>,
  ctx: ManagerContext,
): Promise<Live> {
  if ([...groups.values()].every((g) => g.length === 0)) return EMPTY_LIVE;
  const script = composeProbe(groups, managers, ctx);
  const res = await conn.exec(['/bin/sh', '-s'], { stdin: script });
  if (res.exitCode !== 0 || !res.stdout.includes(`${MARKER} end`)) {
    throw new ReproError(
      'probe.failed',
      `refreshing ${conn.description} failed (exit code ${res.exitCode})${res.stderr ? `:\n${tailLines(res.stderr, 8)}` : ''}`,
      { hint: 'the target needs a POSIX shell at /bin/sh; run with --debug for details' },
    );
  }
  return parseSections(res.stdout, groups, managers, ctx);
}

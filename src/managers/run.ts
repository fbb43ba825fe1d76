// run: a command step (`run:NAME`), run with `sh -c` after sourcing the env file.
//
// Invariants:
// - A guarded step (`creates:` path exists, or `unless:` command exits 0) whose guard holds is
//   never re-run; the guard is evaluated in the probe, in the step's environment and cwd, with
//   stdin from /dev/null and its output discarded.
// - An unguarded step runs again only when its command changed: state records the sha256 of the
//   command that ran. It has no live state.
// - Deleting a step runs nothing: repro only forgets it.
// - Steps of one batch run in spec order (`index`), not address order.
import type { Diagnostic } from '../core/errors.js';
import { shellQuote, type Command } from '../core/shell.js';
import type { Attrs, Change, Resource } from '../core/types.js';
import {
  CONTROL,
  diag,
  itemIndex,
  pathProblem,
  probeFragment,
  probeLines,
  sha256Hex,
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

export function commandDigest(cmd: string): string {
  return sha256Hex(Buffer.from(cmd, 'utf8'));
}

function guarded(desired: Attrs): boolean {
  return str(desired, 'creates') !== undefined || str(desired, 'unless') !== undefined;
}

/** Shell text entering the step's environment: the env file (when present), then its cwd. */
function enterEnv(desired: Attrs, ctx: ManagerContext): string {
  const f = shellQuote(ctx.envFile);
  const cwd = str(desired, 'cwd');
  return `if [ -f ${f} ]; then . ${f}; fi${cwd === undefined ? '' : `; cd ${shellQuote(cwd)}`}`;
}

/** The first line of a command, shortened, for progress displays. */
function summary(cmd: string): string {
  const first = cmd.split('\n')[0] ?? '';
  const more = first.length > 60 || cmd.includes('\n');
  return more ? `${first.slice(0, 60)}…` : first;
}

export const run = {
  kind: 'run',
  tracked: ['satisfied'],

  check(resource: Resource): Diagnostic[] {
    const out: Diagnostic[] = [];
    const d = resource.desired;
    if (resource.name === '' || CONTROL.test(resource.name)) {
      out.push(diag(resource, 'run.name', `invalid step name ${JSON.stringify(resource.name)}`));
    }
    const cmd = str(d, 'command');
    if (cmd === undefined || cmd.trim() === '' || cmd.includes('\0')) {
      out.push(diag(resource, 'run.command', 'the command must be a non-empty string without NUL'));
    }
    for (const key of ['creates', 'cwd']) {
      const v = str(d, key);
      const problem = v === undefined ? undefined : pathProblem(v);
      if (problem) out.push(diag(resource, `run.${key}`, `${key} ${JSON.stringify(v)} ${problem}`));
    }
    const unless = str(d, 'unless');
    if (unless !== undefined && (unless.trim() === '' || unless.includes('\0'))) {
      out.push(diag(resource, 'run.unless', 'unless must be a non-empty command without NUL'));
    }
    return out;
  },

  probeScript(items: readonly ProbeItem[], ctx: ManagerContext): string {
    const lines: string[] = [];
    items.forEach((item, i) => {
      const d = item.resource?.desired;
      if (!d || !guarded(d)) return;
      const creates = str(d, 'creates');
      const unless = str(d, 'unless');
      const tests: string[] = [];
      if (creates !== undefined) tests.push(`[ -e ${shellQuote(creates)} ]`);
      if (unless !== undefined) {
        tests.push(
          `( ${enterEnv(d, ctx)}; exec sh -c ${shellQuote(unless)} ) </dev/null >/dev/null 2>&1`,
        );
      }
      lines.push(
        `if ${tests.join(' || ')}; then printf 'S\\t${i}\\t1\\n'; else printf 'S\\t${i}\\t0\\n'; fi`,
      );
    });
    return probeFragment(lines);
  },

  parseProbe(output: string, items: readonly ProbeItem[], _ctx: ManagerContext): ProbeResult {
    const live = new Map<string, Attrs>();
    for (const { tag, fields } of probeLines(output)) {
      const i = itemIndex(fields[0], items.length);
      if (tag !== 'S' || i === undefined) continue;
      const item = items[i]!;
      live.set(item.address, { name: item.name, satisfied: fields[1] === '1' });
    }
    return { live, facts: {} };
  },

  diff(input: DiffInput): Change {
    const { resource, live, recorded } = input;
    if (!resource) {
      const name = str(live, 'name') ?? str(recorded, 'name') ?? '?';
      const base = { address: `run:${name}`, kind: 'run' as const };
      // Nothing to undo on the target; the delete only tells the engine to forget the step.
      return live || recorded
        ? {
            ...base,
            action: 'delete',
            ...(live ? { before: live } : {}),
            reason: 'removed from the spec; nothing is undone',
          }
        : { ...base, action: 'noop' };
    }
    const base = { address: resource.address, kind: 'run' as const };
    const cmd = str(resource.desired, 'command') ?? '';
    if (guarded(resource.desired)) {
      if (live?.['satisfied'] === true)
        return { ...base, action: 'noop', before: live, after: live };
      return {
        ...base,
        action: 'create',
        ...(live ? { before: live } : {}),
        after: { name: resource.name, satisfied: true },
        reason:
          str(resource.desired, 'creates') !== undefined
            ? `${str(resource.desired, 'creates')} does not exist`
            : 'the unless command fails',
      };
    }
    const digest = commandDigest(cmd);
    if (str(recorded, 'command_sha256') === digest) {
      return {
        ...base,
        action: 'noop',
        before: { name: resource.name, command_sha256: digest },
        after: { name: resource.name, command_sha256: digest },
      };
    }
    return {
      ...base,
      action: 'create',
      ...(recorded
        ? { before: { name: resource.name, command_sha256: str(recorded, 'command_sha256') ?? '' } }
        : {}),
      after: { name: resource.name, command_sha256: digest },
      reason: recorded ? 'the command changed' : 'never ran',
    };
  },

  commands(input: CommandInput): Command[] {
    const steps: Resource[] = [];
    for (const change of input.changes) {
      if (change.action === 'delete') continue;
      const r = input.resources.get(change.address);
      if (!r) throw new Error(`no desired resource for ${change.address}`);
      steps.push(r);
    }
    const index = (r: Resource): number => {
      const v = r.desired['index'];
      return typeof v === 'number' ? v : 0;
    };
    steps.sort((a, b) => index(a) - index(b) || (a.address < b.address ? -1 : 1));
    return steps.map((r) => {
      const cmd = str(r.desired, 'command') ?? '';
      return {
        display: `run ${r.name}: ${summary(cmd)}`,
        // A subshell, so neither the env file nor cd leaks into the next step.
        script: `( ${enterEnv(r.desired, input.ctx)}; exec sh -c ${shellQuote(cmd)} </dev/null )`,
      };
    });
  },

  lockEntry(): Attrs | undefined {
    return undefined;
  },

  record(
    resource: Resource | undefined,
    live: Attrs | undefined,
    _previous?: Attrs,
  ): Attrs | undefined {
    if (!resource) return undefined;
    const out: Attrs = {
      name: resource.name,
      command_sha256: commandDigest(str(resource.desired, 'command') ?? ''),
    };
    if (live && typeof live['satisfied'] === 'boolean') out['satisfied'] = live['satisfied'];
    return out;
  },
} satisfies Manager;

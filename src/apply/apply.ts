// Walks a plan on a connected target: records noops, then runs one exec per batch (the batch's
// commands under `set -e`, followed by a probe of the same resources), and merges what the probe
// saw into state and lock after every batch. Invariants: state is written before a batch (with
// its addresses as `pending`) and after it, so a killed apply leaves a state that says what was
// in flight; a failed batch records what did land and its dependents are not attempted.
import { randomBytes } from 'node:crypto';
import { CommandFailedError, ReproError } from '../core/errors.js';
import { shellJoin, shellQuote, type Command } from '../core/shell.js';
import type { Address, Attrs, Change, ManagerKind, Resource } from '../core/types.js';
import type { IoHost } from '../core/io.js';
import type { Manager } from '../managers/types.js';
import type { Connection } from '../../providers/types.js';
import type { Spec } from '../spec/types.js';
import type { StateFile, StateResource } from '../state/format.js';
import { writeState } from '../state/store.js';
import { writeLock, type LockFile } from '../state/lock-file.js';
import type { Plan } from '../plan/model.js';
import { composeProbe, parseSections, SCRIPT_PRELUDE } from '../plan/refresh.js';
import type { ResourceGraph } from '../graph/build.js';
import { scheduleBatches, type Batch } from './schedule.js';

export interface ApplyInput {
  readonly plan: Plan;
  readonly spec: Spec;
  readonly graph: ResourceGraph;
  readonly conn: Connection;
  readonly managers: ReadonlyMap<ManagerKind, Manager>;
  readonly statePath: string;
  readonly state: StateFile;
  readonly lockPath: string;
  readonly lock: LockFile;
  readonly io: IoHost;
  /** Forward the target's command output as progress. */
  readonly verbose?: boolean;
  /** Destroy: keep lock entries (the lock belongs to the spec, not to the target). */
  readonly destroy?: boolean;
}

export interface BatchFailure {
  readonly kind: ManagerKind;
  readonly addresses: readonly Address[];
  readonly error: ReproError;
}

export interface ApplyResult {
  readonly state: StateFile;
  readonly lock: LockFile;
  readonly applied: readonly Address[];
  readonly failures: readonly BatchFailure[];
  /** Changes skipped because something they depend on failed, with the address that failed. */
  readonly notAttempted: readonly { address: Address; because: Address }[];
}

type MutableResources = Record<Address, StateResource>;

export async function applyPlan(input: ApplyInput): Promise<ApplyResult> {
  const { plan, spec, managers, io } = input;
  // Destroy converges to an empty spec: managers that rewrite whole files (env) must see none.
  const specResources = new Map<Address, Resource>(
    input.destroy ? [] : spec.resources.map((r) => [r.address, r]),
  );
  const wasPending = new Set(input.state.pending ?? []);
  let state = input.state;
  let lock = input.lock;
  const resources: MutableResources = { ...state.resources };
  const lockEntries: Record<Address, Attrs> = { ...lock.resources };
  const updating = new Set(plan.update);
  const lockFor = (addr: Address): Attrs | undefined =>
    updating.has('*') || updating.has(addr) ? undefined : lock.resources[addr];

  // 1. Record what needs no command: converged resources, vanished ones, adopted deletions.
  const toRun: Change[] = [];
  for (const change of plan.changes) {
    const m = managers.get(change.kind)!;
    const resource = input.destroy ? undefined : specResources.get(change.address);
    const prev = resources[change.address];
    if (change.action === 'noop') {
      if (!resource) {
        delete resources[change.address];
        continue;
      }
      const attrs = m.record(resource, change.before, prev?.attributes);
      if (attrs) {
        const adopted = prev
          ? prev.adopted
          : change.before !== undefined && !wasPending.has(change.address);
        resources[change.address] = {
          kind: change.kind,
          attributes: attrs,
          ...(adopted ? { adopted: true } : {}),
        };
      }
      if (change.before && !m.lockDerived) {
        setLock(lockEntries, change.address, m.lockEntry(resource, change.before));
      }
      continue;
    }
    if (change.action === 'delete' && prev?.adopted) {
      io.notify(
        'info',
        `${change.address}: forgotten (it was on the target before repro; left in place)`,
      );
      delete resources[change.address];
      continue;
    }
    toRun.push(change);
  }
  if (!input.destroy) {
    // After every resource's own entry: a venv's closure comes from its packages' probe. Here,
    // with no batch run, only where the lock has none yet: a dependency changed behind repro's
    // back must not move the lock; the batches that install into a scope re-record it.
    for (const [kind, facts] of Object.entries(plan.facts)) {
      setDerivedLocks(
        lockEntries,
        managers.get(kind as ManagerKind),
        facts,
        specResources,
        lock.resources,
      );
    }
  }
  state = await writeState(input.statePath, input.state, {
    ...state,
    resources: { ...resources },
    pending: [],
  });
  lock = await saveLock(input.lockPath, lock, lockEntries);
  // Batches install what the lock said when the apply began, not what earlier batches wrote.
  const lockedAtStart = (addr: Address): Attrs | undefined =>
    updating.has('*') || updating.has(addr) ? undefined : input.lock.resources[addr];

  // 2. Run the batches.
  const batches = scheduleBatches(toRun, input.graph.dag);
  const applied: Address[] = [];
  const failures: BatchFailure[] = [];
  const skipped = new Map<Address, Address>();
  const changedKinds = new Set<ManagerKind>();
  const failedSet = new Set<Address>();
  for (const [index, planned] of batches.entries()) {
    // Changes that depend on a failed one are not attempted; the rest of the batch still runs.
    const runnable: Change[] = [];
    for (const c of planned.changes) {
      const because = blocker(input.graph, c.address, failedSet);
      if (because === undefined) {
        runnable.push(c);
      } else {
        skipped.set(c.address, because);
        failedSet.add(c.address);
      }
    }
    if (runnable.length === 0) continue;
    const batch: Batch = { kind: planned.kind, changes: runnable };
    const m = managers.get(batch.kind)!;
    const addresses = batch.changes.map((c) => c.address);
    state = await writeState(input.statePath, state, {
      ...state,
      resources: { ...resources },
      pending: addresses,
    });
    const commands = m.commands({
      changes: batch.changes,
      resources: specResources,
      facts: plan.facts[batch.kind] ?? {},
      changedKinds,
      ctx: spec.ctx,
      locked: lockedAtStart,
    });
    const items = batch.changes.map((c) => ({
      address: c.address,
      name: c.address.slice(c.kind.length + 1),
      resource: input.destroy ? undefined : specResources.get(c.address),
      recorded: resources[c.address]?.attributes,
    }));
    const groups = new Map([[batch.kind, items]]);
    const body = await stageUploads(input.conn, commands);
    const script =
      SCRIPT_PRELUDE +
      `(\nset -e\n${body}\n) 1>&2 </dev/null\n` +
      'repro_rc=$?\n' +
      composeProbe(groups, managers, spec.ctx) +
      'exit $repro_rc\n';
    const display = commands.map((c) => c.display).join(' && ') || '(no command)';
    io.notify('progress', `${batch.kind}: ${describeBatch(batch)}`);
    const started = Date.now();
    const res = await input.conn.exec(['/bin/sh', '-s'], {
      stdin: script,
      onStderr: input.verbose
        ? (chunk) => io.notify('progress', chunk.replace(/\n$/, ''))
        : undefined,
    });
    let liveAfter: Map<Address, Attrs>;
    let factsAfter: Attrs | undefined;
    try {
      const parsed = parseSections(res.stdout, groups, managers, spec.ctx);
      liveAfter = parsed.live;
      factsAfter = parsed.facts.get(batch.kind);
    } catch {
      // The probe after the batch did not complete (connection lost, shell killed): record nothing
      // for this batch; `pending` stays set so the next plan knows.
      const err = new CommandFailedError(display, res.exitCode, res.stderr, {
        address: addresses.join(', '),
      });
      failures.push({ kind: batch.kind, addresses, error: err });
      for (const a of addresses) failedSet.add(a);
      for (const rest of batches.slice(index + 1)) {
        for (const c of rest.changes)
          if (!skipped.has(c.address)) skipped.set(c.address, addresses[0]!);
      }
      break;
    }
    const ok = res.exitCode === 0;
    const missing: Address[] = [];
    const problems: ReproError[] = [];
    for (const change of batch.changes) {
      const resource = input.destroy ? undefined : specResources.get(change.address);
      const now = liveAfter.get(change.address);
      const prev = resources[change.address];
      if (!resource) {
        // A deletion landed when nothing is left to record: the thing is gone, or (run steps)
        // deleting it only means forgetting it.
        const kept = now ? m.record(undefined, now, prev?.attributes) : undefined;
        if (kept) {
          resources[change.address] = { kind: change.kind, attributes: kept };
        } else {
          delete resources[change.address];
          applied.push(change.address);
        }
        continue;
      }
      // A manager that records without live state (an unguarded run step) says so itself.
      const landed = ok
        ? now !== undefined || m.record(resource, undefined, prev?.attributes) !== undefined
        : now !== undefined &&
          m.diff({
            resource,
            locked: lockFor(change.address),
            live: now,
            recorded: prev?.attributes,
            facts: {},
            update: false,
          }).action === 'noop';
      if (!landed) {
        if (ok) missing.push(change.address);
        continue;
      }
      const attrs = m.record(resource, now, prev?.attributes);
      // Updating something that was there before repro does not make it repro's to remove.
      if (attrs) {
        resources[change.address] = {
          kind: change.kind,
          attributes: attrs,
          ...(prev?.adopted ? { adopted: true } : {}),
        };
      } else {
        delete resources[change.address];
      }
      if (now && !m.lockDerived) setLock(lockEntries, change.address, m.lockEntry(resource, now));
      const problem = now ? m.problem?.(resource, now) : undefined;
      if (problem !== undefined) {
        problems.push(
          new ReproError('apply.not-as-specified', `${change.address}: ${problem}`, {
            address: change.address,
            at: resource.at,
            hint: 'fix the spec (or the package); what was installed is recorded',
          }),
        );
        continue;
      }
      applied.push(change.address);
    }
    if (!input.destroy && factsAfter) {
      setDerivedLocks(lockEntries, m, factsAfter, specResources);
    }
    state = await writeState(input.statePath, state, {
      ...state,
      resources: { ...resources },
      pending: [],
    });
    lock = await saveLock(input.lockPath, lock, lockEntries);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (ok) changedKinds.add(batch.kind);
    for (const error of problems) {
      failures.push({ kind: batch.kind, addresses: [error.address!], error });
      failedSet.add(error.address!);
    }
    if (ok && missing.length > 0) {
      // The commands succeeded yet the probe does not find these: recording them would lie, and
      // not saying so would make every later plan create them again.
      failures.push({
        kind: batch.kind,
        addresses: missing,
        error: new ReproError(
          'apply.not-found-after',
          `${batch.kind} commands succeeded, but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not on the target afterwards`,
          {
            address: missing.join(', '),
            hint:
              batch.kind === 'apt'
                ? 'a virtual package installs a provider under another name: name the real package in the spec'
                : batch.kind === 'yum'
                  ? 'dnf installed the package that provides this name under another name: name the real package in the spec'
                  : 'check the resource definition; run with --verbose to see the commands’ output',
          },
        ),
      });
      for (const a of missing) failedSet.add(a);
    } else if (ok) {
      io.notify('progress', `${batch.kind}: done in ${seconds}s`);
    } else {
      const blamed = culprit(batch, res.stderr);
      const at = blamed === undefined ? undefined : specResources.get(blamed)?.at;
      const err = new CommandFailedError(display, res.exitCode, res.stderr, {
        address: blamed ?? addresses.join(', '),
        ...(at ? { at } : {}),
        hint: 'fix the cause and run `repro apply` again; what succeeded is recorded and will not be redone',
      });
      failures.push({ kind: batch.kind, addresses, error: err });
      for (const a of addresses) failedSet.add(a);
    }
  }

  // 3. Finish: the lock follows the spec; the state remembers which spec it converged to.
  if (!input.destroy) {
    for (const addr of Object.keys(lockEntries))
      if (!specResources.has(addr)) delete lockEntries[addr];
    lock = await saveLock(input.lockPath, lock, lockEntries);
  }
  if (failures.length === 0) {
    state = await writeState(input.statePath, state, {
      ...state,
      spec_digest: input.destroy ? state.spec_digest : spec.digest,
      resources: { ...resources },
      pending: [],
    });
  }
  return {
    state,
    lock,
    applied,
    failures,
    notAttempted: [...skipped.entries()]
      .map(([address, because]) => ({ address, because }))
      .sort((a, b) => (a.address < b.address ? -1 : 1)),
  };
}

function setLock(
  entries: Record<Address, Attrs>,
  address: Address,
  entry: Attrs | undefined,
): void {
  if (entry) entries[address] = entry;
  else delete entries[address];
}

/** Sets the lock entries a manager derives from its probe facts, for addresses in the spec. */
function setDerivedLocks(
  entries: Record<Address, Attrs>,
  m: Manager | undefined,
  facts: Attrs,
  specResources: ReadonlyMap<Address, Resource>,
  /** Entries that win over what the facts say (the lock as it was, on a pass without batches). */
  existing: Readonly<Record<Address, Attrs>> = {},
): void {
  for (const [address, entry] of m?.lockFromFacts?.(facts, specResources) ?? []) {
    if (specResources.has(address)) entries[address] = existing[address] ?? entry;
  }
}

async function saveLock(
  path: string,
  previous: LockFile,
  entries: Record<Address, Attrs>,
): Promise<LockFile> {
  const next: LockFile = { lock_version: previous.lock_version, resources: { ...entries } };
  await writeLock(path, previous, next);
  return next;
}

/** The failed address this one (transitively) depends on, if any. */
function blocker(
  graph: ResourceGraph,
  address: Address,
  failed: ReadonlySet<Address>,
): Address | undefined {
  if (!graph.dag.hasNode(address)) return undefined;
  for (const f of [...failed].sort()) {
    if (graph.dag.hasNode(f) && graph.dag.descendants([f]).has(address)) return f;
  }
  return undefined;
}

function describeBatch(batch: Batch): string {
  const verbs: Record<string, string> = {
    create: 'create',
    update: 'update',
    replace: 'replace',
    delete: 'delete',
  };
  const counts = new Map<string, number>();
  for (const c of batch.changes)
    counts.set(verbs[c.action]!, (counts.get(verbs[c.action]!) ?? 0) + 1);
  const what = [...counts.entries()].map(([v, n]) => `${v} ${n}`).join(', ');
  const names = batch.changes.map((c) => c.address);
  const shown = names.length > 4 ? `${names.slice(0, 4).join(', ')}, …` : names.join(', ');
  return `${what} (${shown})`;
}

/**
 * The resource a failure most likely belongs to: the one whose name the error lines mention
 * (`E: Unable to locate package X`, `repro: git checkout X has local changes`), else the one the
 * whole tail mentions. Undefined when that is not a single resource.
 */
function culprit(batch: Batch, stderr: string): Address | undefined {
  const tail = stderr.split('\n').slice(-20);
  const errorLines = tail.filter((l) => /^(E:|error|fatal|repro:)|\berror\b/i.test(l)).join('\n');
  for (const text of [errorLines, tail.join('\n')]) {
    const hits = batch.changes.filter((c) => {
      // Scoped addresses (`pip:/opt/venv:numpy`, `npm:/usr/local:left-pad`): tools name the package.
      const full = c.address.slice(c.kind.length + 1);
      const names = full.includes(':') ? [full, full.slice(full.lastIndexOf(':') + 1)] : [full];
      return names.some((name) =>
        new RegExp(`(^|[^A-Za-z0-9+._/-])${escapeRe(name)}([^A-Za-z0-9+._-]|$)`, 'm').test(text),
      );
    });
    if (hits.length === 1) return hits[0]!.address;
    if (hits.length > 1) return undefined;
  }
  return undefined;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The batch's command text. Where the connection can put files, commands that offer an upload
 * variant have their payloads put on the target first (each in a fresh 0600 file under /tmp) and
 * read from there; the files are removed when the batch's subshell exits, failed or not.
 */
export async function stageUploads(
  conn: Connection,
  commands: readonly Command[],
): Promise<string> {
  if (!conn.putFile || !commands.some((c) => c.viaUpload)) {
    return commands.map((c) => c.script).join('\n');
  }
  const lines: string[] = [];
  const staged: string[] = [];
  const parts: string[] = [];
  for (const c of commands) {
    if (!c.viaUpload) {
      parts.push(c.script);
      continue;
    }
    for (const u of c.viaUpload.uploads) {
      const path = `/tmp/.repro-upload-${randomBytes(8).toString('hex')}`;
      await conn.putFile(path, u.data, 0o600);
      staged.push(path);
      lines.push(`${u.variable}=${shellQuote(path)}`);
    }
    parts.push(c.viaUpload.script);
  }
  return [`trap ${shellQuote(`rm -f ${shellJoin(staged)}`)} EXIT`, ...lines, ...parts].join('\n');
}

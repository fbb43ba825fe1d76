// The contract of a manager: how one kind of resource is checked, probed, diffed and changed.
// Managers return scripts and parsers, never do I/O, so each is testable without a target.
import type { Diagnostic } from '../core/errors.js';
import type { Command } from '../core/shell.js';
import type { Address, Attrs, Change, ManagerKind, Resource } from '../core/types.js';

/** Settings from the spec that managers need (normalized, defaults applied). */
export interface ManagerContext {
  readonly specName: string;
  /** Profile file on the target holding the spec's env vars; sourced by `run` steps. */
  readonly envFile: string;
  /** apt: run `apt-get update` when the newest list is older than this many seconds. */
  readonly aptUpdateMaxAge: number;
  /** apt: pass --no-install-recommends unless true. */
  readonly aptInstallRecommends: boolean;
  /** yum/dnf: install weak dependencies (Recommends) too; default false, like apt's. */
  readonly yumInstallWeakDeps?: boolean;
}

/** One resource to probe: by desired resource, by recorded state entry, or both. */
export interface ProbeItem {
  readonly address: Address;
  readonly name: string;
  /** Present when the spec declares the resource. */
  readonly resource?: Resource;
  /** Present when state records the resource. */
  readonly recorded?: Attrs;
  /**
   * `--update` names this resource: the probe must find what a fresh resolution would give
   * (apt's candidate, a branch's head), which it may skip otherwise to stay cheap.
   */
  readonly update?: boolean;
}

export interface ProbeResult {
  /** Live attributes per address; an address missing from the map is absent on the target. */
  readonly live: Map<Address, Attrs>;
  /** Manager-level facts the commands need (e.g. apt list age, whether the tool exists). */
  readonly facts: Attrs;
}

export interface DiffInput {
  /** Desired resource from the spec; undefined when the resource was removed from the spec. */
  readonly resource?: Resource;
  /** Lock entry for this address; undefined when absent or when an update was requested. */
  readonly locked?: Attrs;
  /** Live attributes; undefined when absent on the target. */
  readonly live?: Attrs;
  /** Attributes recorded in state; undefined when state does not know the resource. */
  readonly recorded?: Attrs;
  /** Manager facts from the same probe. */
  readonly facts: Attrs;
  /** `repro apply --update` named this resource (or all): re-resolve unpinned versions. */
  readonly update: boolean;
}

export interface CommandInput {
  /** The non-noop changes of this manager in this batch, sorted by address. */
  readonly changes: readonly Change[];
  /** Desired resources by address, for payloads (file content, secret values). */
  readonly resources: ReadonlyMap<Address, Resource>;
  /** Facts from the refresh probe. */
  readonly facts: Attrs;
  /** Kinds that already had changes applied earlier in this apply (e.g. apt-source → apt-get update). */
  readonly changedKinds: ReadonlySet<ManagerKind>;
  readonly ctx: ManagerContext;
  /**
   * The lock entry of any address as it was when the apply began (undefined when absent or being
   * updated): pip reads its venv's locked closure here. Not for the batch's own versions, which
   * the changes already carry.
   */
  readonly locked?: (address: Address) => Attrs | undefined;
}

export interface Manager {
  readonly kind: ManagerKind;
  /**
   * Another manager derives this kind's lock entries (lockFromFacts; pip does a venv's), so apply
   * neither sets nor removes them from lockEntry.
   */
  readonly lockDerived?: boolean;
  /** Attribute names compared between state and live to report drift. */
  readonly tracked: readonly string[];
  /** Grammar checks of names, versions, paths before anything reaches a shell. */
  check(resource: Resource): Diagnostic[];
  /** Shell fragment printing this manager's probe output on stdout. Must never fail the script. */
  probeScript(items: readonly ProbeItem[], ctx: ManagerContext): string;
  /** Parses what `probeScript` printed. */
  parseProbe(output: string, items: readonly ProbeItem[], ctx: ManagerContext): ProbeResult;
  /** The change that takes live to desired (always returns a Change; `noop` when converged). */
  diff(input: DiffInput): Change;
  /** One batch of commands applying `changes`. Run in order under `set -e`. */
  commands(input: CommandInput): Command[];
  /**
   * What to write to the lock for a resource after apply, given its live attributes; undefined
   * when the spec pins everything (nothing to lock).
   */
  lockEntry(resource: Resource, live: Attrs): Attrs | undefined;
  /**
   * Lock entries for other addresses that this manager's probe facts determine (pip: each declared
   * venv's whole closure, kept on `pip-venv:PATH`); set after its batches and on a converged apply.
   */
  lockFromFacts?(facts: Attrs, resources: ReadonlyMap<Address, Resource>): Map<Address, Attrs>;
  /**
   * Why a resource that is on the target is still not what the spec asks although no command of
   * this manager can change that (pip: an extra the installed version does not provide).
   * Plans show it as a warning; apply fails naming the resource and its spec position.
   */
  problem?(resource: Resource, live: Attrs): string | undefined;
  /**
   * Attributes to record in state after apply. Normally the live attributes; a manager may add
   * facts only known at apply time (e.g. `run` records the command digest).
   */
  record(
    resource: Resource | undefined,
    live: Attrs | undefined,
    previous: Attrs | undefined,
  ): Attrs | undefined;
}

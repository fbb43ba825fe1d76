// The state file format: one JSON file per target, committed beside the spec. It records what
// repro did to the target. Readers upgrade older formats through a chain of small upgraders and
// refuse newer ones; the format's single source is schemas/state.schema.json.
import type { Address, Attrs, ManagerKind } from '../core/types.js';
import type { ProviderKind, SnapshotRecord, TargetBinding } from '../../providers/types.js';

export const STATE_FORMAT_VERSION = 1;

export interface StateResource {
  readonly kind: ManagerKind;
  /** Attributes as probed on the target after repro last changed or accepted it. */
  readonly attributes: Attrs;
  /**
   * True when the resource was already on the target, matching the spec, before repro managed it.
   * Removing it from the spec (or destroy on a target repro did not create) forgets it instead of
   * uninstalling it.
   */
  readonly adopted?: boolean;
}

/**
 * A snapshot as the state records it: what the provider saved (image, tarball, AMI) plus what the
 * state said about the target at that moment, so that `repro reset` can restore both together.
 * No timestamp (state stays deterministic): `serial` orders snapshots in time.
 */
export interface StateSnapshot extends SnapshotRecord {
  /** The state's serial when the snapshot was taken; the highest is the latest snapshot. */
  readonly serial: number;
  /** The spec digest and resources recorded at that moment; reset writes them back. */
  readonly spec_digest: string;
  readonly resources: Readonly<Record<Address, StateResource>>;
}

export interface StateFile {
  readonly format_version: number;
  /** Born once per target with a fresh uuid; a saved plan for another lineage is refused. */
  readonly lineage: string;
  /** +1 on every write. */
  readonly serial: number;
  /** Digest of the normalized spec last applied. */
  readonly spec_digest: string;
  readonly target: {
    readonly name: string;
    readonly provider: ProviderKind;
    /** What the provider bound to (container id, chroot path…); null before the first apply. */
    readonly binding: TargetBinding | null;
  };
  readonly resources: Readonly<Record<Address, StateResource>>;
  /**
   * Set while a batch runs and cleared when it is recorded: the addresses an interrupted apply was
   * changing. The next refresh re-reads them; they are never mistaken for pre-existing resources.
   */
  readonly pending?: readonly Address[];
  /** Snapshots of the target (`repro snapshot`), sorted by name; absent when there are none. */
  readonly snapshots?: readonly StateSnapshot[];
}

// The one contract every backend implements. A Connection runs commands on a target; a Provider
// finds (or creates) the target and returns a Connection plus the binding recorded in state.
// Providers never know about resources or managers.
import type { Attrs } from '../src/core/types.js';
import type { IoHost } from '../src/core/io.js';

export interface ExecResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ExecOptions {
  /** Bytes written to the command's stdin, then stdin is closed. Without it stdin is empty. */
  readonly stdin?: string | Buffer;
  /** Called with stderr text as it arrives (progress). */
  readonly onStderr?: (chunk: string) => void;
}

export interface Connection {
  /** Human description: `docker container repro-x (3f2a…)`, `chroot /srv/root`, `local`. */
  readonly description: string;
  /** Runs argv (no shell unless argv says so) as root on the target; stdout and stderr kept apart. */
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /**
   * Runs argv with this process's stdin, stdout and stderr attached (a pseudo-terminal when `tty`)
   * and resolves to its exit code: `repro exec` and `repro shell`. Changes nothing in state.
   */
  attach?(argv: readonly string[], opts: AttachOptions): Promise<number>;
  /**
   * Writes `data` to a new file at `path` on the target with `mode`, outside any exec (ssh: sftp
   * on the same connection). Optional: without it, file payloads travel inside batch scripts.
   */
  putFile?(path: string, data: Buffer, mode: number): Promise<void>;
  /** Releases what the connection holds (mounts, sockets). Safe to call twice. */
  close(): Promise<void>;
}

export interface AttachOptions {
  /** Allocate a pseudo-terminal (interactive shell) instead of plain pipes. */
  readonly tty: boolean;
}

/** What a provider records in state about the target it bound to (container id, image id, path…). */
export type TargetBinding = Attrs;

export interface ConnectOptions {
  /** The binding recorded in state by an earlier apply, if any. */
  readonly binding?: TargetBinding;
  /** When false, a missing target is reported as `undefined` instead of being created. */
  readonly create: boolean;
  readonly io: IoHost;
  /** Directory of the spec; relative paths in the target config are relative to it. */
  readonly specDir: string;
  /**
   * `--accept-host-key`: a host key that differs from the one pinned in the binding is accepted
   * (and the new one returned in the binding) instead of refused.
   */
  readonly acceptHostKey?: boolean;
  /** The state's lineage (a uuid), for tagging what a provider creates (`repro:lineage`). */
  readonly lineage?: string;
  /** The spec's name for the target (`cluster`), so that errors can name it. */
  readonly targetName?: string;
}

export interface Connected {
  readonly connection: Connection;
  readonly binding: TargetBinding;
  /** True when this call created the target (container, chroot root). */
  readonly created: boolean;
}

export interface DestroyOptions {
  readonly binding: TargetBinding;
  readonly io: IoHost;
  readonly specDir: string;
}

export interface Provider<Config> {
  readonly kind: ProviderKind;
  /** Checks the target config (beyond the JSON schema) before anything runs. Returns error messages. */
  check(config: Config): string[];
  /** One line describing what would be created when the target does not exist yet. */
  describeCreate(config: Config): string;
  /** Finds the target (by binding, then by config), creating it when `create` is true. */
  connect(config: Config, opts: ConnectOptions): Promise<Connected | undefined>;
  /**
   * Removes what repro created for this target (the container it made, the chroot it bootstrapped).
   * Returns false when there was nothing of its own to remove (e.g. `local`, or a target that
   * existed before repro), so the engine deletes resources one by one instead.
   */
  destroy(config: Config, opts: DestroyOptions): Promise<boolean>;
  /** `repro snapshot`: saves the target as it is now (docker commit, chroot tarball, EC2 image). */
  snapshot?(config: Config, opts: SnapshotOptions): Promise<SnapshotRecord>;
  /** `repro reset`: returns the target to a recorded snapshot; returns the new binding. */
  reset?(config: Config, opts: ResetOptions): Promise<TargetBinding>;
  /** `repro stop` / `repro start`: stops or starts the bound target (container, EC2 instance). */
  stop?(config: Config, opts: DestroyOptions): Promise<void>;
  start?(config: Config, opts: DestroyOptions): Promise<void>;
}

export interface SnapshotOptions {
  readonly binding: TargetBinding;
  /** The snapshot's name (`repro snapshot NAME`); unique within the target's state. */
  readonly name: string;
  /** The spec's `name` and the target's name, for naming what the snapshot creates. */
  readonly specName: string;
  readonly target: string;
  readonly io: IoHost;
  readonly specDir: string;
  /** Extra labels/tags to put on the snapshot (target name, lineage). */
  readonly labels: Readonly<Record<string, string>>;
}

export interface ResetOptions {
  readonly binding: TargetBinding;
  readonly snapshot: SnapshotRecord;
  readonly io: IoHost;
  readonly specDir: string;
}

/** A snapshot as recorded in state (`snapshots[]`). */
export interface SnapshotRecord {
  readonly name: string;
  /** What the snapshot is: a docker image, a tarball of a chroot root, an EC2 AMI. */
  readonly kind: 'docker-image' | 'tarball' | 'ami';
  /** Image id / tarball path (relative to the spec's directory when inside it) / AMI id. */
  readonly ref: string;
  /** Tag of a docker image; region of an AMI; absent otherwise. */
  readonly tag?: string;
  /** sha256 of a tarball's bytes, or a docker image's content digest. */
  readonly sha256?: string;
}

export type ProviderKind = 'local' | 'chroot' | 'docker' | 'ssh' | 'aws-ec2';

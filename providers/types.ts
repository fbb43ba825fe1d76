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
  /** Releases what the connection holds (mounts, sockets). Safe to call twice. */
  close(): Promise<void>;
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
}

export type ProviderKind = 'local' | 'chroot' | 'docker';

// Connects to a workspace's target through its provider, loaded lazily so that heavy clients
// (dockerode) load only for the targets that need them. Wraps the connection to count exec
// round trips, which the benchmark and `REPRO_STATS=1` report.
import { ReproError } from '../core/errors.js';
import { loadProvider } from '../../providers/index.js';
import type {
  Connected,
  Connection,
  ExecOptions,
  ExecResult,
  Provider,
  TargetBinding,
} from '../../providers/types.js';
import type { Workspace } from './workspace.js';

/** Exec round trips made by this process; reported on stderr when REPRO_STATS=1. */
export const stats = { execs: 0 };

/** Counts every exec into `stats`; otherwise the provider's connection unchanged. */
export class CountingConnection implements Connection {
  constructor(private readonly inner: Connection) {}
  get description(): string {
    return this.inner.description;
  }
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    stats.execs++;
    return this.inner.exec(argv, opts);
  }
  get putFile(): Connection['putFile'] {
    return this.inner.putFile?.bind(this.inner);
  }
  get attach(): Connection['attach'] {
    return this.inner.attach?.bind(this.inner);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

export async function providerFor(ws: Workspace): Promise<Provider<unknown>> {
  const provider = (await loadProvider(ws.target.provider)) as Provider<unknown>;
  const problems = provider.check(ws.target.config);
  if (problems.length > 0) {
    throw new ReproError('target.invalid', `target '${ws.target.name}': ${problems.join('; ')}`, {
      at: ws.target.at,
    });
  }
  return provider;
}

export async function connectTarget(
  ws: Workspace,
  binding: TargetBinding | null | undefined,
  create: boolean,
  lineage?: string,
): Promise<(Connected & { connection: CountingConnection }) | undefined> {
  const provider = await providerFor(ws);
  const connected = await provider.connect(ws.target.config, {
    binding: binding ?? undefined,
    create,
    io: ws.opts.io,
    specDir: ws.spec.dir,
    acceptHostKey: ws.opts.acceptHostKey === true,
    lineage,
    targetName: ws.target.name,
  });
  if (!connected) return undefined;
  return { ...connected, connection: new CountingConnection(connected.connection) };
}

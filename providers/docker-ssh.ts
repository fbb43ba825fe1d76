// A Docker client for a remote daemon reached over ssh (`host: ssh://user@host[:port]` on a docker
// target). Rather than docker-modem's ssh transport (a new ssh handshake per API request, and no
// say over host keys), every API request is an ssh channel running `docker system dial-stdio` on
// one long-lived connection made by the ssh provider: the host key is pinned and checked exactly
// as for ssh targets, and auth, timeouts and errors are the ssh provider's. The host needs the
// docker CLI and access to its daemon's socket.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type Dockerode from 'dockerode';
import { ReproError } from '../src/core/errors.js';
import type { IoHost } from '../src/core/io.js';
import type { TargetBinding } from './types.js';

export interface DockerSshEndpoint {
  readonly user: string;
  readonly host: string;
  readonly port: number;
}

const SSH_URL =
  /^ssh:\/\/(?:([A-Za-z_][A-Za-z0-9_.-]*)@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.][A-Za-z0-9_.-]*)(?::(\d+))?\/?$/;

/** Parses `ssh://user@host:port` (user root, port 22 by default); undefined when it is not one. */
export function parseSshUrl(url: string): DockerSshEndpoint | undefined {
  const m = SSH_URL.exec(url);
  if (!m) return undefined;
  const port = m[3] === undefined ? 22 : Number(m[3]);
  if (!(port >= 1 && port <= 65535)) return undefined;
  return { user: m[1] ?? 'root', host: m[2]!.replace(/^\[|\]$/g, ''), port };
}

export interface DockerSshOptions {
  readonly url: string;
  readonly key?: string;
  readonly binding?: TargetBinding;
  readonly acceptHostKey?: boolean;
  readonly io: IoHost;
  readonly specDir: string;
  readonly targetName?: string;
}

export interface SshDockerClient {
  readonly docker: Dockerode;
  /** What to record in the docker target's binding: `docker_host` and the pinned `host_key`. */
  readonly binding: TargetBinding;
  /** Closes the ssh connection (and with it every API stream). */
  close(): Promise<void>;
}

/** Connects to the daemon behind `url` and checks that it answers; throws a ReproError otherwise. */
export async function createSshDockerClient(o: DockerSshOptions): Promise<SshDockerClient> {
  const ep = parseSshUrl(o.url);
  if (!ep) {
    throw new ReproError(
      'docker.host',
      `docker host ${JSON.stringify(o.url)} is not ssh://user@host[:port]`,
    );
  }
  const { connectSsh } = await import('./ssh.js');
  // The docker binding pins the key of the host its docker_host names.
  const pinned =
    o.binding?.['docker_host'] === o.url && typeof o.binding['host_key'] === 'string'
      ? { host: ep.host, port: ep.port, user: ep.user, host_key: o.binding['host_key'] }
      : undefined;
  const connected = await connectSsh(
    { host: ep.host, port: ep.port, user: ep.user, ...(o.key ? { key: o.key } : {}) },
    {
      create: false,
      io: o.io,
      specDir: o.specDir,
      ...(pinned ? { binding: pinned } : {}),
      ...(o.acceptHostKey ? { acceptHostKey: true } : {}),
      ...(o.targetName ? { targetName: o.targetName } : {}),
    },
  );
  const ssh = connected.connection as import('./ssh.js').SshConnection;
  const agent = new http.Agent({ keepAlive: false });
  // Node's Agent waits for the callback when createConnection returns nothing.
  (
    agent as unknown as {
      createConnection: (opts: unknown, cb: (err: Error | null, s?: Duplex) => void) => void;
    }
  ).createConnection = (_opts, cb) => {
    ssh.openStream('docker system dial-stdio').then(
      (stream) => cb(null, stream),
      (e: Error) => cb(e),
    );
  };
  const { loadDockerode } = await import('./dockerode-lean.js');
  const Docker = loadDockerode();
  // host/port only shape the request URL; every byte goes through the agent's ssh channels.
  const docker = new Docker({
    protocol: 'http',
    host: 'docker',
    port: 2375,
    agent,
  } as Dockerode.DockerOptions);
  try {
    await docker.ping();
  } catch (e) {
    await ssh.close();
    if (e instanceof ReproError) throw e;
    const why = e instanceof Error ? e.message : String(e);
    throw new ReproError(
      'docker.unreachable',
      `${o.targetName ? `target '${o.targetName}': ` : ''}cannot reach the Docker daemon through ssh ${o.url}: ${why}`,
      {
        hint: `check that \`ssh -p ${ep.port} ${ep.user}@${ep.host} docker system dial-stdio\` works: the host needs the docker CLI and ${ep.user} needs access to the daemon's socket`,
        cause: e,
      },
    );
  }
  return {
    docker,
    binding: { docker_host: o.url, host_key: connected.binding['host_key'] ?? 'unknown' },
    close: () => ssh.close(),
  };
}

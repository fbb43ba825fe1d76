// The `docker` provider: a long-running container on a Docker daemon, reached through dockerode
// (loaded lazily, so commands on other targets never load it). A missing container is created
// from the configured image, which is used when present locally, else pulled, else (with
// `bootstrap: debootstrap`) built from Debian's mirror and imported.
// Invariants:
// - what repro creates carries the label org.repro.managed=true; destroy never removes a
//   container without it unless the state says repro created that very container (same id);
// - a snapshot is `docker commit` to `repro/<spec>-<target>:<name>`; reset replaces the container
//   by one of the same name and labels made from that image (by id, so a moved tag cannot swap it);
// - exec attaches stdin on a hijacked connection, writes the whole input then half-closes the
//   socket (the daemon then closes the process's stdin, so `sh -s` sees EOF), reads the
//   multiplexed stdout/stderr until the daemon closes, then asks the daemon for the exit code.
import type Dockerode from 'dockerode';
import type { Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { mkdtemp } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReproError } from '../src/core/errors.js';
import type { IoHost } from '../src/core/io.js';
import {
  copyHostCaBundle,
  DEFAULT_MIRROR,
  DEFAULT_SUITE,
  DEFAULT_VARIANT,
  runDebootstrap,
  writePolicyRcD,
} from './debootstrap.js';
import { parseSshUrl } from './docker-ssh.js';
import { removeRootTree } from './mounts.js';
import { pipeAttachedStdio } from './attach.js';
import type {
  AttachOptions,
  Connected,
  Connection,
  ExecOptions,
  ExecResult,
  Provider,
  SnapshotRecord,
  TargetBinding,
} from './types.js';

export interface DockerConfig {
  /** Container name; the container's identity for repro. */
  readonly container: string;
  /** Image to create the container from (and the tag a bootstrapped image gets). */
  readonly image: string;
  /** How to make the image when it is neither local nor pullable. */
  readonly bootstrap?: 'debootstrap';
  readonly suite?: string;
  readonly mirror?: string;
  /** A remote daemon reached over ssh: `ssh://user@host[:port]` (host key pinned in state). */
  readonly host?: string;
  /** Private key for `host`, relative to the spec's directory (default: the ssh agent). */
  readonly key?: string;
}

export const MANAGED_LABEL = 'org.repro.managed';
export const TARGET_LABEL = 'org.repro.target';
/** Set on snapshot images (by the engine's labels): what marks an image as a repro snapshot. */
const SNAPSHOT_LABEL = 'org.repro.snapshot';
const LINEAGE_LABEL = 'org.repro.lineage';

const EXEC_ENV = ['LC_ALL=C', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];

// PID 1 is docker-init (HostConfig.Init, shipped by Debian's docker.io), which reaps the zombies
// left by exec'd commands and forwards SIGTERM; the shell exits on it at once, so `docker stop`
// does not wait out its 10 s grace period.
const KEEPALIVE_CMD = [
  '/bin/sh',
  '-c',
  'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done',
];

const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

type DockerClient = Dockerode;
type ContainerInfo = Awaited<ReturnType<Dockerode.Container['inspect']>>;

function statusOf(e: unknown): number | undefined {
  const s = (e as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

function messageOf(e: unknown): string {
  const json = (e as { json?: { message?: unknown } } | null)?.json;
  if (json && typeof json.message === 'string') return json.message.trim();
  return e instanceof Error ? e.message.trim() : String(e);
}

function daemonAddress(): string {
  return process.env['DOCKER_HOST'] ?? 'unix:///var/run/docker.sock';
}

function dockerError(e: unknown, what: string, hint?: string): ReproError {
  if (e instanceof ReproError) return e;
  return new ReproError('docker.api', `docker: ${what}: ${messageOf(e)}`, {
    hint: hint ?? `check the daemon at ${daemonAddress()} (docker info)`,
    cause: e,
  });
}

interface ClientOptions {
  readonly binding?: TargetBinding;
  readonly io: IoHost;
  readonly specDir: string;
  readonly acceptHostKey?: boolean;
  readonly targetName?: string;
}

interface Client {
  readonly docker: DockerClient;
  /** Binding fields of a remote daemon (`docker_host`, `host_key`); empty for the local one. */
  readonly remote: TargetBinding;
  /** Releases the transport (the ssh connection to a remote daemon). */
  close(): Promise<void>;
}

/**
 * The one place a Docker client is made: the local daemon (DOCKER_HOST or the default socket), or
 * with `host: ssh://…` a remote one, whose host key goes into the binding as for ssh targets.
 */
async function createClient(config: DockerConfig, opts: ClientOptions): Promise<Client> {
  if (config.host) {
    const { createSshDockerClient } = await import('./docker-ssh.js');
    const c = await createSshDockerClient({
      url: config.host,
      ...(config.key === undefined ? {} : { key: config.key }),
      ...opts,
    });
    return { docker: c.docker, remote: c.binding, close: c.close };
  }
  return { docker: await createLocalClient(), remote: {}, close: async () => {} };
}

/** Runs `fn` with a client for the target's daemon, released afterwards. */
async function withClient<T>(
  config: DockerConfig,
  opts: ClientOptions,
  fn: (client: Client) => Promise<T>,
): Promise<T> {
  const client = await createClient(config, opts);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

async function createLocalClient(): Promise<DockerClient> {
  const { loadDockerode } = await import('./dockerode-lean.js');
  const Docker = loadDockerode();
  const docker = new Docker();
  try {
    await docker.ping();
  } catch (e) {
    throw new ReproError(
      'docker.unreachable',
      `cannot reach the Docker daemon at ${daemonAddress()}: ${messageOf(e)}`,
      {
        hint: 'start it (systemctl start docker, or dockerd &) or set DOCKER_HOST',
        cause: e,
      },
    );
  }
  return docker;
}

async function inspectContainer(
  docker: DockerClient,
  idOrName: string,
): Promise<ContainerInfo | undefined> {
  try {
    return await docker.getContainer(idOrName).inspect();
  } catch (e) {
    if (statusOf(e) === 404) return undefined;
    throw dockerError(e, `inspecting container ${idOrName}`);
  }
}

/**
 * The container for this target: the recorded one if it still carries the configured name, else
 * the one with that name. Docker also resolves id prefixes, so the name is always checked.
 */
async function findContainer(
  docker: DockerClient,
  config: DockerConfig,
  binding: TargetBinding | undefined,
  io: IoHost,
): Promise<ContainerInfo | undefined> {
  const wanted = `/${config.container}`;
  const recordedId = binding?.['container_id'];
  if (typeof recordedId === 'string' && recordedId) {
    const byId = await inspectContainer(docker, recordedId);
    if (byId?.Name === wanted) return byId;
  }
  const byName = await inspectContainer(docker, config.container);
  if (byName?.Name !== wanted) return undefined;
  if (typeof recordedId === 'string' && recordedId && byName.Id !== recordedId) {
    io.notify(
      'warn',
      `container ${config.container} was replaced outside repro (state has ${recordedId.slice(0, 12)}, found ${byName.Id.slice(0, 12)})`,
    );
  }
  return byName;
}

async function imageIdOf(docker: DockerClient, ref: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(ref).inspect()).Id;
  } catch (e) {
    if (statusOf(e) === 404) return undefined;
    throw dockerError(e, `inspecting image ${ref}`);
  }
}

function followProgress(
  docker: DockerClient,
  stream: NodeJS.ReadableStream,
  onEvent: (ev: { status?: string; id?: string }) => void = () => {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(stream, (err: unknown) => (err ? reject(err) : resolve()), onEvent);
  });
}

async function pullImage(docker: DockerClient, ref: string, io: IoHost): Promise<void> {
  io.notify('progress', `pulling image ${ref}`);
  const stream = (await docker.pull(ref)) as NodeJS.ReadableStream;
  let last = '';
  await followProgress(docker, stream, (ev) => {
    const line = `${ev.id ? `${ev.id}: ` : ''}${ev.status ?? ''}`;
    if (ev.status && line !== last) io.notify('progress', `pull ${ref}: ${line}`);
    last = line;
  });
}

/** Splits `registry:5000/repo/name:tag` into repository and tag (default `latest`). */
export function splitImageRef(ref: string): { repo: string; tag: string } {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repo: ref, tag: 'latest' };
}

/** debootstrap → tar → POST /images/create?fromSrc=-, tagged as `ref`; the temp root is removed. */
async function buildImage(docker: DockerClient, config: DockerConfig, io: IoHost): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'repro-image-'));
  try {
    await runDebootstrap({
      suite: config.suite ?? DEFAULT_SUITE,
      variant: DEFAULT_VARIANT,
      mirror: config.mirror ?? DEFAULT_MIRROR,
      target: dir,
      io,
    });
    await writePolicyRcD(dir);
    await copyHostCaBundle(dir);
    io.notify('progress', `importing ${dir} as image ${config.image}`);
    const tar = spawn('tar', ['--numeric-owner', '-C', dir, '-c', '.'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let tarErr = '';
    tar.stderr.on('data', (b: Buffer) => (tarErr += b.toString()));
    const tarDone = new Promise<number>((resolve, reject) => {
      tar.on('error', reject);
      tar.on('close', (code) => resolve(code ?? 1));
    });
    const { repo, tag } = splitImageRef(config.image);
    try {
      const stream = await docker.importImage(tar.stdout, {
        repo,
        tag,
        changes: [`LABEL ${MANAGED_LABEL}=true`],
        message: `repro: debootstrap ${config.suite ?? DEFAULT_SUITE} (${DEFAULT_VARIANT})`,
      });
      await followProgress(docker, stream);
    } catch (e) {
      tar.kill();
      throw dockerError(e, `importing the bootstrapped root as ${config.image}`);
    }
    const tarCode = await tarDone;
    if (tarCode !== 0) {
      throw new ReproError('docker.import', `tar of ${dir} failed (exit ${tarCode}): ${tarErr}`);
    }
  } finally {
    await removeRootTree(dir);
  }
}

/** Makes the configured image available on the daemon (see the module comment for the order). */
async function ensureImage(docker: DockerClient, config: DockerConfig, io: IoHost): Promise<void> {
  if (await imageIdOf(docker, config.image)) return;
  let pullError: unknown;
  try {
    await pullImage(docker, config.image, io);
  } catch (e) {
    pullError = e;
  }
  if (pullError === undefined && (await imageIdOf(docker, config.image))) return;
  if (config.bootstrap !== 'debootstrap') {
    throw new ReproError(
      'docker.image-missing',
      `image ${config.image} is not on the Docker daemon and could not be pulled: ${messageOf(pullError)}`,
      {
        hint: 'add `bootstrap: debootstrap` to the docker target to build it from Debian’s mirror, or load it with docker load / docker import',
      },
    );
  }
  io.notify('info', `image ${config.image} cannot be pulled; building it with debootstrap`);
  await buildImage(docker, config, io);
  if (!(await imageIdOf(docker, config.image))) {
    throw new ReproError('docker.import', `image ${config.image} is still missing after import`);
  }
}

async function createContainer(
  docker: DockerClient,
  config: DockerConfig,
  io: IoHost,
  from?: { image: string; labels: Readonly<Record<string, string>> },
): Promise<ContainerInfo> {
  if (!from) await ensureImage(docker, config, io);
  const image = from?.image ?? config.image;
  io.notify('progress', `creating container ${config.container} from ${image}`);
  let container: Dockerode.Container;
  try {
    container = await docker.createContainer({
      name: config.container,
      Image: image,
      Cmd: KEEPALIVE_CMD,
      WorkingDir: '/',
      Labels: { ...from?.labels, [MANAGED_LABEL]: 'true', [TARGET_LABEL]: config.container },
      HostConfig: { Init: true },
    });
  } catch (e) {
    throw dockerError(e, `creating container ${config.container}`);
  }
  try {
    await container.start();
    return await container.inspect();
  } catch (e) {
    // Keep the promise "if create fails, nothing was created".
    await container.remove({ force: true }).catch(() => {});
    throw dockerError(e, `starting container ${config.container}`);
  }
}

async function ensureRunning(docker: DockerClient, info: ContainerInfo): Promise<ContainerInfo> {
  if (info.State.Running && !info.State.Paused) return info;
  const c = docker.getContainer(info.Id);
  try {
    if (info.State.Paused) await c.unpause();
    else await c.start();
    return await c.inspect();
  } catch (e) {
    throw dockerError(e, `starting container ${info.Name.slice(1)}`);
  }
}

/** What state records about a container; connect and reset return the same shape. */
function bindingOf(config: DockerConfig, info: ContainerInfo): TargetBinding {
  return {
    container_id: info.Id,
    container_name: config.container,
    image: config.image,
    image_id: info.Image,
    created: info.Config.Labels?.[MANAGED_LABEL] === 'true',
  };
}

function notCreated(config: DockerConfig): ReproError {
  return new ReproError('target.missing', `container ${config.container} does not exist`, {
    hint: 'run `repro apply` to create it',
  });
}

/**
 * The image repository for a target's snapshots: `repro/<spec>-<target>`, lower-cased, every run
 * of characters other than letters and digits made one '-' (always a valid separator in a Docker
 * repository name, where `..` or `_-` would not be).
 */
export function snapshotRepo(specName: string, target: string): string {
  const part = `${specName}-${target}`
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  return `repro/${part || 'target'}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class DockerConnection implements Connection {
  readonly description: string;
  private closed = false;

  constructor(
    private readonly docker: DockerClient,
    private readonly container: Dockerode.Container,
    name: string,
    private readonly release: () => Promise<void> = async () => {},
    where = '',
  ) {
    this.description = `docker container ${name} (${container.id.slice(0, 12)})${where}`;
  }

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.closed)
      throw new ReproError('connection.closed', `exec on closed ${this.description}`);
    if (argv.length === 0) throw new ReproError('exec.empty', 'exec called with an empty argv');
    let exec: Dockerode.Exec;
    let socket: Duplex;
    try {
      exec = await this.container.exec({
        Cmd: [...argv],
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        Env: EXEC_ENV,
        User: '0',
        WorkingDir: '/',
      });
      socket = await exec.start({ hijack: true, stdin: true });
    } catch (e) {
      throw dockerError(
        e,
        `exec in ${this.description}`,
        statusOf(e) === 409
          ? 'the container is not running; run the command again to start it'
          : undefined,
      );
    }
    try {
      const { stdout, stderr } = await this.pump(socket, opts);
      return { exitCode: await this.exitCode(exec), stdout, stderr };
    } finally {
      // The daemon half-closes when the output ends; when the process exited without reading
      // all of its stdin, the rest of our input would otherwise stay queued on a socket the
      // daemon keeps open, holding this process alive.
      socket.destroy();
    }
  }

  /**
   * `repro exec` / `repro shell`: this process's stdin, stdout and stderr on an exec of `argv`.
   * With a TTY the stream is raw (stdin in raw mode, resized with the terminal); without, it is
   * multiplexed and split back onto stdout and stderr. Resolves to the exec's exit code.
   */
  async attach(argv: readonly string[], opts: AttachOptions): Promise<number> {
    if (this.closed)
      throw new ReproError('connection.closed', `attach on closed ${this.description}`);
    if (argv.length === 0) throw new ReproError('exec.empty', 'attach called with an empty argv');
    const env = [...EXEC_ENV.filter((e) => !e.startsWith('LC_ALL=')), 'HOME=/root'];
    if (opts.tty) env.push(`TERM=${process.env['TERM'] || 'xterm'}`);
    let exec: Dockerode.Exec;
    let socket: Duplex;
    try {
      exec = await this.container.exec({
        Cmd: [...argv],
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: opts.tty,
        Env: env,
        User: '0',
        WorkingDir: '/root',
      });
      socket = await exec.start({ hijack: true, stdin: true, Tty: opts.tty });
    } catch (e) {
      throw dockerError(e, `exec in ${this.description}`);
    }
    const resize = () => {
      const { columns, rows } = process.stdout;
      if (columns && rows) exec.resize({ h: rows, w: columns }).catch(() => {});
    };
    const done = new Promise<void>((resolve) => {
      socket.on('end', resolve);
      socket.on('close', resolve);
      socket.on('error', () => resolve());
    });
    if (opts.tty) {
      socket.on('data', (b: Buffer) => process.stdout.write(b));
      resize();
      process.stdout.on('resize', resize);
    } else {
      this.docker.modem.demuxStream(socket, process.stdout, process.stderr);
    }
    // The reader of our stdout went away (`repro exec -- cat big | head`): end the session and
    // exit as the left side of a shell pipeline would, of SIGPIPE (128 + 13), instead of crashing.
    let readerGone = false;
    const onStdoutError = () => {
      readerGone = true;
      socket.destroy();
    };
    process.stdout.on('error', onStdoutError);
    const unpipe = pipeAttachedStdio(socket, opts.tty);
    try {
      await done;
    } finally {
      unpipe();
      process.stdout.off('resize', resize);
      process.stdout.off('error', onStdoutError);
      socket.destroy();
    }
    return readerGone ? 141 : this.exitCode(exec);
  }

  /** Writes stdin, half-closes, and collects the demultiplexed output until the daemon closes. */
  private pump(socket: Duplex, opts: ExecOptions): Promise<{ stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const decoder = new StringDecoder('utf8');
      // demuxStream calls write() synchronously per frame; plain sinks keep that order exact.
      const stdoutSink = { write: (b: Buffer) => out.push(b) > 0 };
      const stderrSink = {
        write: (b: Buffer) => {
          err.push(b);
          if (opts.onStderr) {
            const text = decoder.write(b);
            if (text) opts.onStderr(text);
          }
          return true;
        },
      };
      this.docker.modem.demuxStream(
        socket,
        stdoutSink as unknown as NodeJS.WritableStream,
        stderrSink as unknown as NodeJS.WritableStream,
      );
      let settled = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        resolve({
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        });
      };
      socket.on('end', finish);
      socket.on('close', finish);
      socket.on('error', (e: NodeJS.ErrnoException) => {
        // The daemon closes the connection when the process exits; if the process did not read
        // all of its stdin, our pending write fails. The exit code still comes from inspect.
        if (e.code === 'EPIPE' || e.code === 'ECONNRESET') return finish();
        if (settled) return;
        settled = true;
        reject(dockerError(e, `exec stream of ${this.description}`));
      });
      socket.end(opts.stdin ?? '');
    });
  }

  /** The daemon records the exit code just after closing the stream; wait for it briefly. */
  private async exitCode(exec: Dockerode.Exec): Promise<number> {
    for (let i = 0; i < 100; i++) {
      const info = await exec.inspect().catch((e: unknown) => {
        throw dockerError(e, `inspecting exec in ${this.description}`);
      });
      if (!info.Running && typeof info.ExitCode === 'number') return info.ExitCode;
      await sleep(Math.min(10 * (i + 1), 100));
    }
    throw new ReproError('docker.exec', `exec in ${this.description} did not report an exit code`, {
      hint: 'the command may still be running in the container; check with docker top',
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.release();
  }
}

export const dockerProvider = {
  kind: 'docker',

  check(config: DockerConfig): string[] {
    const errors: string[] = [];
    if (!CONTAINER_NAME.test(config.container ?? '')) {
      errors.push(
        `docker: container name ${JSON.stringify(config.container)} must match ${CONTAINER_NAME.source}`,
      );
    }
    if (!config.image || /\s/.test(config.image)) {
      errors.push(`docker: image ${JSON.stringify(config.image)} is not an image reference`);
    }
    if (config.bootstrap !== undefined && config.bootstrap !== 'debootstrap') {
      errors.push(
        `docker: bootstrap must be "debootstrap", not ${JSON.stringify(config.bootstrap)}`,
      );
    }
    if (config.bootstrap && config.image?.includes('@')) {
      errors.push(`docker: cannot bootstrap an image named by digest (${config.image}); use a tag`);
    }
    if (config.suite !== undefined && !/^[a-z0-9][a-z0-9.+-]*$/.test(config.suite)) {
      errors.push(`docker: suite ${JSON.stringify(config.suite)} is not a Debian suite name`);
    }
    if (config.mirror !== undefined && !/^(https?|file):\/\/\S+$/.test(config.mirror)) {
      errors.push(
        `docker: mirror ${JSON.stringify(config.mirror)} must be an http(s):// or file:// URL`,
      );
    }
    if (config.host !== undefined && !parseSshUrl(config.host)) {
      errors.push(
        `docker: host ${JSON.stringify(config.host)} must be ssh://user@host[:port] (a local daemon needs no host)`,
      );
    }
    if (config.key !== undefined && config.host === undefined) {
      errors.push('docker: key is only used with host: ssh://…');
    }
    return errors;
  },

  describeCreate(config: DockerConfig): string {
    const build = config.bootstrap
      ? ` (built with debootstrap ${config.suite ?? DEFAULT_SUITE} if it cannot be pulled)`
      : '';
    const where = config.host ? ` on the daemon at ${config.host}` : '';
    return `docker container ${config.container} from image ${config.image}${build}${where}`;
  },

  async connect(config, opts): Promise<Connected | undefined> {
    const { binding, create, io } = opts;
    const client = await createClient(config, opts);
    try {
      const connected = await connectWith(client, config, binding, create, io);
      if (!connected) await client.close();
      return connected;
    } catch (e) {
      await client.close();
      throw e;
    }
  },

  async snapshot(config, opts) {
    const { binding, name, specName, target, labels, io } = opts;
    return withClient(config, opts, async ({ docker }) => {
      const info = await findContainer(docker, config, binding, io);
      if (!info) throw notCreated(config);
      const repo = snapshotRepo(specName, target);
      // `--force` with a name already taken: the tag moves to the new image; the old one is removed
      // below when it was a repro snapshot that nothing else (a tag, a container) still uses.
      const previous = await docker
        .getImage(`${repo}:${name}`)
        .inspect()
        .catch(() => undefined);
      io.notify('progress', `committing container ${config.container} as ${repo}:${name}`);
      let id: string;
      try {
        const res = (await docker.getContainer(info.Id).commit({
          repo,
          tag: name,
          comment: `repro snapshot ${name} of target ${target}`,
          changes: Object.entries(labels).map(([k, v]) => `LABEL ${k}=${JSON.stringify(v)}`),
        })) as { Id?: string };
        id = res.Id ?? (await imageIdOf(docker, `${repo}:${name}`)) ?? '';
      } catch (e) {
        throw dockerError(e, `committing container ${config.container}`);
      }
      if (!id)
        throw new ReproError(
          'docker.commit',
          `docker commit of ${config.container} returned no image id`,
        );
      // Only a snapshot image of this same state (lineage) is ours to remove: another checkout
      // of a spec with the same name and target shares the repository name.
      if (
        previous &&
        previous.Id !== id &&
        previous.Config?.Labels?.[SNAPSHOT_LABEL] !== undefined &&
        previous.Config.Labels[LINEAGE_LABEL] === labels[LINEAGE_LABEL]
      ) {
        await docker
          .getImage(previous.Id)
          .remove()
          .catch(() =>
            io.notify(
              'info',
              `the replaced snapshot image ${previous.Id.slice(0, 19)} is still in use; kept`,
            ),
          );
      }
      return {
        name,
        kind: 'docker-image',
        ref: id,
        tag: `${repo}:${name}`,
      } satisfies SnapshotRecord;
    });
  },

  async reset(config, opts): Promise<TargetBinding> {
    const { binding, snapshot, io } = opts;
    return withClient(config, opts, async ({ docker, remote }) => {
      // By id: the tag may have been moved since; the id is what was recorded.
      const imageId = await imageIdOf(docker, snapshot.ref);
      if (!imageId) {
        throw new ReproError(
          'docker.snapshot-missing',
          `the image of snapshot ${snapshot.name} (${snapshot.tag ?? snapshot.ref}, ${snapshot.ref.slice(0, 19)}) is not on the Docker daemon`,
          {
            hint: 'it was removed (docker rmi / image prune); take a new snapshot after the next apply',
          },
        );
      }
      const old = await findContainer(docker, config, binding, io);
      const labels: Record<string, string> = { ...old?.Config.Labels };
      // The container is replaced only when repro made it or state recorded this very one, as
      // destroy decides: a container that merely took the name is someone else's.
      if (
        old &&
        old.Config.Labels?.[MANAGED_LABEL] !== 'true' &&
        !(binding['container_id'] === old.Id)
      ) {
        throw new ReproError(
          'docker.not-ours',
          `container ${config.container} (${old.Id.slice(0, 12)}) was not created by repro for this target; refusing to replace it with snapshot ${snapshot.name}`,
          { hint: 'remove or rename that container yourself, then run repro reset again' },
        );
      }
      if (old) {
        io.notify('progress', `removing container ${config.container} (${old.Id.slice(0, 12)})`);
        try {
          await docker.getContainer(old.Id).remove({ force: true });
        } catch (e) {
          if (statusOf(e) !== 404) throw dockerError(e, `removing container ${config.container}`);
        }
      }
      const info = await createContainer(docker, config, io, { image: imageId, labels });
      return { ...bindingOf(config, info), ...remote };
    });
  },

  async stop(config, opts): Promise<void> {
    const { binding, io } = opts;
    return withClient(config, opts, async ({ docker }) => {
      const info = await findContainer(docker, config, binding, io);
      if (!info) throw notCreated(config);
      if (!info.State.Running) {
        io.notify('info', `container ${config.container} is already stopped`);
        return;
      }
      try {
        await docker.getContainer(info.Id).stop();
      } catch (e) {
        if (statusOf(e) !== 304) throw dockerError(e, `stopping container ${config.container}`);
      }
    });
  },

  async start(config, opts): Promise<void> {
    const { binding, io } = opts;
    return withClient(config, opts, async ({ docker }) => {
      const info = await findContainer(docker, config, binding, io);
      if (!info) throw notCreated(config);
      if (info.State.Running && !info.State.Paused) {
        io.notify('info', `container ${config.container} is already running`);
        return;
      }
      await ensureRunning(docker, info);
    });
  },

  async destroy(config, opts): Promise<boolean> {
    const client = await createClient(config, opts);
    try {
      return await destroyWith(client.docker, config, opts.binding, opts.io);
    } finally {
      await client.close();
    }
  },
} satisfies Provider<DockerConfig>;

async function connectWith(
  client: Client,
  config: DockerConfig,
  binding: TargetBinding | undefined,
  create: boolean,
  io: IoHost,
): Promise<Connected | undefined> {
  const { docker, remote } = client;
  let info = await findContainer(docker, config, binding, io);
  let created = false;
  if (!info) {
    if (!create) return undefined;
    info = await createContainer(docker, config, io);
    created = true;
  } else {
    info = await ensureRunning(docker, info);
  }
  const connection = new DockerConnection(
    docker,
    docker.getContainer(info.Id),
    config.container,
    client.close,
    config.host ? ` on ${config.host}` : '',
  );
  return {
    connection,
    binding: {
      container_id: info.Id,
      container_name: config.container,
      image: config.image,
      image_id: info.Image,
      created: info.Config.Labels?.[MANAGED_LABEL] === 'true',
      ...remote,
    },
    created,
  };
}

async function destroyWith(
  docker: DockerClient,
  config: DockerConfig,
  binding: TargetBinding,
  io: IoHost,
): Promise<boolean> {
  const info = await findContainer(docker, config, binding, io);
  if (!info) return binding['created'] === true;
  const managed = info.Config.Labels?.[MANAGED_LABEL] === 'true';
  const recordedAsOurs = binding['created'] === true && binding['container_id'] === info.Id;
  if (!managed && !recordedAsOurs) return false;
  io.notify('progress', `removing container ${config.container} (${info.Id.slice(0, 12)})`);
  try {
    await docker.getContainer(info.Id).remove({ force: true });
  } catch (e) {
    if (statusOf(e) !== 404) throw dockerError(e, `removing container ${config.container}`);
  }
  return true;
}

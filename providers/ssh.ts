// The `ssh` provider: an existing host reached over one long-lived ssh2 connection (optionally
// through a jump host). repro never creates or destroys an ssh host. ssh2 is loaded lazily, so
// commands on other targets never load it.
// Invariants:
// - host keys are pinned: the binding records the key type and OpenSSH SHA256 fingerprint of the
//   host (and of the jump host); a later connection presenting another key is refused in ssh2's
//   hostVerifier, before any credential is sent, unless `--accept-host-key` was given;
// - a private key readable by group or others is refused before it is read, as OpenSSH does;
// - exec runs `shellJoin(argv)` (prefixed by `sudo -n --` with `sudo: true`) with LC_ALL=C,
//   writes stdin whole then EOF, keeps stdout and stderr apart and resolves with the exit code;
//   a connection lost mid-command rejects with an error naming the target, never a fake exit code;
// - every failure names the target and says what to do.
import { createHash, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type {
  AnyAuthMethod,
  AuthenticationType,
  Client,
  ClientChannel,
  ConnectConfig,
  ExecOptions as ExecChannelOptions,
  ParsedKey,
  SFTPWrapper,
} from 'ssh2';
import type { Duplex } from 'node:stream';
import { ReproError } from '../src/core/errors.js';
import type { IoHost } from '../src/core/io.js';
import { shellJoin } from '../src/core/shell.js';
import type {
  AttachOptions,
  ConnectOptions,
  Connected,
  Connection,
  ExecOptions,
  ExecResult,
  Provider,
  TargetBinding,
} from './types.js';

export interface SshJumpConfig {
  readonly host: string;
  /** Default 22. */
  readonly port?: number;
  /** Default: the target's user. */
  readonly user?: string;
  /** Private key file (relative to the spec's directory); default: the target's key. */
  readonly key?: string;
}

export interface SshConfig {
  readonly host: string;
  /** Default 22. */
  readonly port?: number;
  /** Default root. */
  readonly user?: string;
  /** Private key file, relative to the spec's directory. */
  readonly key?: string;
  /** Use the ssh agent at $SSH_AUTH_SOCK. Default: when no key is given and the variable is set. */
  readonly agent?: boolean;
  /** Reach the host through this one (ssh -J). */
  readonly jump?: SshJumpConfig;
  /** Run every command through `sudo -n --` (the user needs NOPASSWD sudo). */
  readonly sudo?: boolean;
  /** Seconds to wait for the TCP connection and the ssh handshake. Default 20. */
  readonly connect_timeout?: number;
}

const DEFAULT_TIMEOUT_S = 20;
const HOST_RE = /^[A-Za-z0-9_.:[\]%-]+$/;
const USER_RE = /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/;

/** The host key algorithms ssh2 offers, in its default order; the pinned type's go first. */
const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

type Ssh2 = typeof import('ssh2');

export async function loadSsh2(): Promise<Ssh2> {
  const mod = (await import('ssh2')) as Ssh2 & { default?: Ssh2 };
  return mod.default ?? mod;
}

// ---------------------------------------------------------------------------------------------
// Host keys

/** `ssh-ed25519 SHA256:…`: the key type and OpenSSH's fingerprint (base64 without padding). */
export function fingerprintOf(keyBlob: Buffer): string {
  let type = 'unknown';
  if (keyBlob.length >= 4) {
    const len = keyBlob.readUInt32BE(0);
    if (len > 0 && len < 64 && keyBlob.length >= 4 + len)
      type = keyBlob.toString('ascii', 4, 4 + len);
  }
  const hash = createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
  return `${type} SHA256:${hash}`;
}

export function algorithmsFor(pinned: string | undefined): string[] {
  const type = pinned?.split(' ')[0];
  if (!type) return HOST_KEY_ALGORITHMS;
  const first =
    type === 'ssh-rsa'
      ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']
      : HOST_KEY_ALGORITHMS.filter((a) => a === type);
  return [...first, ...HOST_KEY_ALGORITHMS.filter((a) => !first.includes(a))];
}

/** Where OpenSSH keeps the host key of this type, for the hint that tells how to check it. */
export function hostKeyFile(fingerprint: string | undefined): string {
  const type = fingerprint?.split(' ')[0] ?? '';
  const short = type.startsWith('ecdsa-') ? 'ecdsa' : type.replace(/^ssh-/, '') || 'ed25519';
  return `/etc/ssh/ssh_host_${short}_key.pub`;
}

/** The refusal when `who` (`host:port`) presents another key than the pinned one. */
export function hostKeyMismatch(
  label: string,
  who: string,
  pinned: string | undefined,
  presented: string | undefined,
): ReproError {
  return new ReproError(
    'ssh.host-key-mismatch',
    `${label}: the host key of ${who} does not match the one pinned in state: pinned ${pinned}, presented ${presented}; refusing to connect`,
    {
      hint: `the host may have been reinstalled, or someone may be intercepting the connection. Check the presented fingerprint out of band (on the host: ssh-keygen -lf ${hostKeyFile(presented)}), then run \`repro apply --accept-host-key\` to pin it`,
    },
  );
}

/** What the verifier saw: the presented key, and whether it was refused for not matching the pin. */
interface HostKeyCheck {
  presented?: string;
  mismatch: boolean;
}

// ---------------------------------------------------------------------------------------------
// Naming and errors

/** `user@host:port`. */
function endpoint(host: string, port: number, user: string): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return `${user}@${h}:${port}`;
}

function targetLabel(targetName: string | undefined, where: string): string {
  return targetName ? `target '${targetName}' (ssh ${where})` : `ssh target ${where}`;
}

function errnoOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function levelOf(e: unknown): string | undefined {
  const level = (e as { level?: unknown } | null)?.level;
  return typeof level === 'string' ? level : undefined;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---------------------------------------------------------------------------------------------
// Credentials

interface Credentials {
  /** Auth methods in the order tried, each with a label for error messages. */
  readonly methods: { readonly label: string; readonly method: AnyAuthMethod }[];
}

/** Reads and checks a private key file the way OpenSSH would before using it. */
export async function readPrivateKey(
  ssh2: Ssh2,
  file: string,
  specDir: string,
  label: string,
): Promise<ParsedKey> {
  const path = resolve(specDir, file);
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw new ReproError(
      'ssh.key-missing',
      `${label}: private key file ${path} ${errnoOf(e) === 'ENOENT' ? 'does not exist' : `cannot be read: ${messageOf(e)}`}`,
      {
        hint: `fix 'key:' in the target (relative paths are relative to the spec's directory, ${specDir}), or make a key with ssh-keygen -t ed25519 -f ${path}`,
      },
    );
  }
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw new ReproError(
      'ssh.key-permissions',
      `${label}: UNPROTECTED PRIVATE KEY FILE: permissions ${mode} for ${path} are too open; a private key must not be accessible by group or others, so it is refused (as OpenSSH does)`,
      { hint: `chmod 600 ${path}` },
    );
  }
  const data = await readFile(path);
  const parsed = ssh2.utils.parseKey(data);
  const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey | Error | undefined) : parsed;
  if (!key || key instanceof Error) {
    const why = key instanceof Error ? key.message : 'no key found';
    const encrypted = /encrypted|passphrase/i.test(why);
    throw new ReproError('ssh.key-invalid', `${label}: cannot use private key ${path}: ${why}`, {
      hint: encrypted
        ? 'repro does not ask for passphrases: load the key into an ssh agent (ssh-add) and use `agent: true` instead of `key:`'
        : 'give an OpenSSH or PEM private key (ssh-keygen -t ed25519)',
    });
  }
  if (!key.isPrivateKey()) {
    throw new ReproError(
      'ssh.key-invalid',
      `${label}: ${path} is a public key, not a private key`,
      {
        hint: `give the private half (usually the same name without .pub)`,
      },
    );
  }
  return key;
}

async function credentialsFor(
  ssh2: Ssh2,
  user: string,
  keyFile: string | undefined,
  agent: boolean | undefined,
  specDir: string,
  label: string,
): Promise<Credentials> {
  const methods: Credentials['methods'] = [];
  if (keyFile) {
    const key = await readPrivateKey(ssh2, keyFile, specDir, label);
    methods.push({
      label: `publickey (${resolve(specDir, keyFile)})`,
      method: { type: 'publickey', username: user, key },
    });
  }
  const sock = process.env['SSH_AUTH_SOCK'];
  const useAgent = agent ?? (!keyFile && !!sock);
  if (useAgent) {
    if (!sock) {
      throw new ReproError(
        'ssh.no-agent',
        `${label}: 'agent: true' but SSH_AUTH_SOCK is not set, so there is no ssh agent to ask`,
        { hint: 'start one (eval "$(ssh-agent)"; ssh-add KEY) or give `key:` instead' },
      );
    }
    methods.push({
      label: `agent (${sock})`,
      method: { type: 'agent', username: user, agent: sock },
    });
  }
  if (methods.length === 0) {
    throw new ReproError(
      'ssh.no-credentials',
      `${label}: no way to authenticate: no 'key:' is given and no ssh agent is running (SSH_AUTH_SOCK is unset)`,
      { hint: 'add `key: path/to/private_key` to the target, or start an ssh agent with the key' },
    );
  }
  return { methods };
}

// ---------------------------------------------------------------------------------------------
// One ssh2 handshake

interface HopOptions {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly credentials: Credentials;
  /** Pinned `type SHA256:…`, if any. */
  readonly pinned: string | undefined;
  readonly acceptHostKey: boolean;
  readonly timeoutMs: number;
  readonly label: string;
  /** What this hop is, for messages: 'the host' or 'the jump host'. */
  readonly role: string;
  readonly sock?: Duplex;
  readonly io: IoHost;
}

/** Connects one client; resolves once authenticated, with the presented host key. */
function handshake(ssh2: Ssh2, o: HopOptions): Promise<{ client: Client; hostKey: string }> {
  return new Promise((resolvePromise, reject) => {
    const client = new ssh2.Client();
    const check: HostKeyCheck = { mismatch: false };
    const tried: string[] = [];
    let serverMethods: string[] | undefined;
    const queue = [...o.credentials.methods];
    let settled = false;
    const where = endpoint(o.host, o.port, o.user);

    const fail = (err: ReproError) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(err);
    };

    const config: ConnectConfig = {
      host: o.host,
      port: o.port,
      username: o.user,
      readyTimeout: o.timeoutMs,
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
      algorithms: { serverHostKey: algorithmsFor(o.pinned) as never },
      hostVerifier: (key: Buffer) => {
        const presented = fingerprintOf(key);
        check.presented = presented;
        if (!o.pinned || o.pinned === presented) return true;
        if (o.acceptHostKey) {
          o.io.notify(
            'warn',
            `${o.label}: ${o.role} ${o.host} presented a new host key ${presented} (pinned: ${o.pinned}); accepted because of --accept-host-key`,
          );
          return true;
        }
        check.mismatch = true;
        return false;
      },
      authHandler: (methodsLeft: AuthenticationType[] | null, _partial: boolean | null, next) => {
        if (methodsLeft) serverMethods = methodsLeft;
        const m = queue.shift();
        if (!m) return next(false as never);
        tried.push(m.label);
        next(m.method);
      },
    };
    if (o.sock) config.sock = o.sock as never;

    client.on('ready', () => {
      if (settled) return;
      settled = true;
      resolvePromise({ client, hostKey: check.presented ?? 'unknown' });
    });
    client.on('error', (e: Error) => {
      if (check.mismatch) {
        const who = `${o.role === 'the host' ? '' : `${o.role} `}${o.host}:${o.port}`;
        return fail(hostKeyMismatch(o.label, who, o.pinned, check.presented));
      }
      fail(connectError(e, o, where, tried, serverMethods));
    });
    client.on('close', () => {
      fail(
        new ReproError(
          'ssh.closed',
          `${o.label}: ${o.role} ${where} closed the connection during the ssh handshake`,
          { hint: 'check the server’s sshd log (MaxStartups, AllowUsers, a firewall)' },
        ),
      );
    });
    try {
      client.connect(config);
    } catch (e) {
      fail(new ReproError('ssh.config', `${o.label}: ${messageOf(e)}`, { cause: e }));
    }
  });
}

function connectError(
  e: unknown,
  o: HopOptions,
  where: string,
  tried: readonly string[],
  serverMethods: readonly string[] | undefined,
): ReproError {
  const level = levelOf(e);
  const code = errnoOf(e);
  const hostPort = `${o.host}:${o.port}`;
  if (level === 'client-authentication') {
    const accepts = serverMethods?.length
      ? `; the server accepts: ${serverMethods.join(', ')}`
      : '';
    return new ReproError(
      'ssh.auth-refused',
      `${o.label}: ${o.role} refused authentication as ${o.user} (tried: ${tried.join(', ') || 'nothing'}${accepts})`,
      {
        hint: `check the user name and that the public key is in ~${o.user}/.ssh/authorized_keys on ${o.host}`,
        cause: e,
      },
    );
  }
  if (level === 'client-timeout' || code === 'ETIMEDOUT') {
    return new ReproError(
      'ssh.timeout',
      `${o.label}: cannot connect to ${o.role} ${hostPort}: no answer within ${Math.round(o.timeoutMs / 1000)} s`,
      {
        hint:
          'check the address, that the host is up and that no firewall drops port ' +
          o.port +
          ' (connect_timeout: sets the wait)',
        cause: e,
      },
    );
  }
  if (code === 'ECONNREFUSED') {
    return new ReproError(
      'ssh.refused',
      `${o.label}: cannot connect to ${o.role} ${hostPort}: connection refused`,
      { hint: `check that sshd runs on ${o.host} and listens on port ${o.port}`, cause: e },
    );
  }
  if (level === 'client-dns' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new ReproError('ssh.dns', `${o.label}: cannot resolve the host name ${o.host}`, {
      hint: 'check the spelling of host:, or use an IP address',
      cause: e,
    });
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return new ReproError(
      'ssh.unreachable',
      `${o.label}: cannot connect to ${o.role} ${hostPort}: host unreachable`,
      { hint: 'check the address and this machine’s network route to it', cause: e },
    );
  }
  return new ReproError(
    'ssh.connect',
    `${o.label}: cannot connect to ${o.role} ${where}: ${messageOf(e)}`,
    { cause: e },
  );
}

/** A TCP tunnel through the jump host to host:port (ssh -J). */
function forward(jump: Client, host: string, port: number, label: string): Promise<Duplex> {
  return new Promise((res, rej) => {
    jump.forwardOut('127.0.0.1', 0, host, port, (err, stream) => {
      if (err) {
        rej(
          new ReproError(
            'ssh.jump-forward',
            `${label}: the jump host could not open a connection to ${host}:${port}: ${err.message}`,
            {
              hint: 'check that the host is reachable from the jump host and that its sshd allows TCP forwarding (AllowTcpForwarding)',
              cause: err,
            },
          ),
        );
      } else res(stream);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The connection

/** The remote command line for exec: argv quoted for sh, with LC_ALL=C, through `sudo -n` when asked. */
export function remoteCommand(argv: readonly string[], sudo: boolean): string {
  const inner = ['env', 'LC_ALL=C', ...argv];
  return shellJoin(sudo ? ['sudo', '-n', '--', ...inner] : inner);
}

const SUDO_PASSWORD = /^sudo: (a password is required|a terminal is required|no tty present)/m;

export class SshConnection implements Connection {
  readonly description: string;
  private closed = false;
  private lost: Error | undefined;
  private readonly inflight = new Set<(e: Error) => void>();
  private sftpSession: Promise<SFTPWrapper> | undefined;

  constructor(
    private readonly client: Client,
    private readonly jump: Client | undefined,
    private readonly label: string,
    private readonly user: string,
    private readonly sudo: boolean,
    description: string,
  ) {
    this.description = description;
    const onDown = (why: string) => () => {
      if (this.closed) return;
      this.lost ??= new Error(why);
      for (const rejectOne of [...this.inflight]) rejectOne(this.lost);
    };
    client.on('close', onDown('the connection closed'));
    client.on('error', (e: Error) => onDown(e.message)());
    jump?.on('close', onDown('the connection to the jump host closed'));
    jump?.on('error', (e: Error) => onDown(`jump host: ${e.message}`)());
  }

  private lostError(what: string, cause?: unknown): ReproError {
    return new ReproError(
      'ssh.connection-lost',
      `${this.label}: the ssh connection was lost while running ${what}${this.lost ? ` (${this.lost.message})` : ''}`,
      {
        hint: 'what finished before is recorded in state; run `repro apply` again when the host is reachable and it resumes from there',
        cause: cause ?? this.lost,
      },
    );
  }

  private openExec(cmd: string, options: ExecChannelOptions): Promise<ClientChannel> {
    return new Promise((res, rej) => {
      this.client.exec(cmd, options, (err, stream) => (err ? rej(err) : res(stream)));
    });
  }

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.closed)
      throw new ReproError('connection.closed', `exec on closed ${this.description}`);
    if (argv.length === 0) throw new ReproError('exec.empty', 'exec called with an empty argv');
    const what = argv.length > 2 ? `${argv.slice(0, 2).join(' ')} …` : argv.join(' ');
    if (this.lost) throw this.lostError(what);
    let stream: ClientChannel;
    try {
      stream = await this.openExec(remoteCommand(argv, this.sudo), {});
    } catch (e) {
      if (this.lost) throw this.lostError(what, e);
      throw new ReproError('ssh.exec', `${this.label}: cannot start ${what}: ${messageOf(e)}`, {
        cause: e,
      });
    }
    const result = await new Promise<ExecResult>((res, rej) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const decoder = new StringDecoder('utf8');
      let exitCode: number | undefined;
      let done = false;
      const onLost = (e: Error) => {
        if (done) return;
        done = true;
        this.inflight.delete(onLost);
        rej(this.lostError(what, e));
      };
      this.inflight.add(onLost);
      stream.on('data', (b: Buffer) => out.push(b));
      stream.stderr.on('data', (b: Buffer) => {
        err.push(b);
        if (opts.onStderr) {
          const text = decoder.write(b);
          if (text) opts.onStderr(text);
        }
      });
      stream.on('exit', (code: number | null, signal?: string) => {
        if (typeof code === 'number') exitCode = code;
        else if (signal) {
          const n = (osConstants.signals as Record<string, number>)[`SIG${signal}`] ?? 0;
          exitCode = 128 + n;
        }
      });
      stream.on('error', (e: Error) => onLost(e));
      stream.on('close', () => {
        if (done) return;
        if (exitCode === undefined) {
          // A channel closed without an exit status: the session (or the connection) died.
          this.lost ??= new Error('the remote session ended without an exit status');
          return onLost(this.lost);
        }
        done = true;
        this.inflight.delete(onLost);
        res({
          exitCode,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        });
      });
      stream.end(opts.stdin ?? '');
    });
    if (this.sudo && result.exitCode === 1 && SUDO_PASSWORD.test(result.stderr)) {
      throw new ReproError(
        'ssh.sudo-password',
        `${this.label}: sudo asks ${this.user} for a password, and repro runs sudo non-interactively (sudo -n)`,
        {
          hint: `allow ${this.user} password-less sudo on the host (e.g. '${this.user} ALL=(ALL) NOPASSWD: ALL' in /etc/sudoers.d/${this.user}, edited with visudo), or connect as root without sudo`,
        },
      );
    }
    return result;
  }

  async attach(argv: readonly string[], opts: AttachOptions): Promise<number> {
    if (this.closed)
      throw new ReproError('connection.closed', `attach on closed ${this.description}`);
    const stdin = process.stdin;
    const stdout = process.stdout;
    const pty = opts.tty
      ? {
          term: process.env['TERM'] ?? 'xterm',
          rows: stdout.rows ?? 24,
          cols: stdout.columns ?? 80,
        }
      : undefined;
    const cmd =
      argv.length > 0
        ? this.sudo
          ? shellJoin(['sudo', '-n', '--', ...argv])
          : shellJoin(argv)
        : this.sudo
          ? 'sudo -n -i'
          : '';
    let stream: ClientChannel;
    try {
      stream = await new Promise<ClientChannel>((res, rej) => {
        const cb = (err: Error | undefined, s: ClientChannel) => (err ? rej(err) : res(s));
        if (cmd === '') this.client.shell(pty ?? false, cb);
        else this.client.exec(cmd, pty ? { pty } : {}, cb);
      });
    } catch (e) {
      throw new ReproError(
        'ssh.exec',
        `${this.label}: cannot start ${argv.join(' ') || 'a shell'}: ${messageOf(e)}`,
        {
          cause: e,
        },
      );
    }
    const raw = opts.tty && stdin.isTTY === true;
    if (raw) stdin.setRawMode(true);
    const onResize = () => stream.setWindow(stdout.rows ?? 24, stdout.columns ?? 80, 0, 0);
    if (opts.tty) stdout.on('resize', onResize);
    // The reader of our stdout went away (`repro exec -- seq 1 1000000 | head`): end the session
    // and exit as the left side of a shell pipeline would, of SIGPIPE (128 + 13), not crash.
    let readerGone = false;
    const onStdoutError = () => {
      readerGone = true;
      // Drain what is still in flight (a paused channel never emits 'close'), then close it.
      stream.unpipe(stdout);
      stream.resume();
      stream.close();
    };
    stdout.on('error', onStdoutError);
    return new Promise<number>((res, rej) => {
      let exitCode = 255;
      let done = false;
      const restore = () => {
        if (raw) stdin.setRawMode(false);
        if (opts.tty) stdout.off('resize', onResize);
        stdout.off('error', onStdoutError);
        stream.unpipe(stdout);
        stdin.unpipe(stream);
        stdin.pause();
        this.inflight.delete(onLost);
      };
      const onLost = (e: Error) => {
        if (done) return;
        done = true;
        restore();
        rej(this.lostError(argv.join(' ') || 'a shell', e));
      };
      this.inflight.add(onLost);
      stream.on('exit', (code: number | null, signal?: string) => {
        if (typeof code === 'number') exitCode = code;
        else if (signal)
          exitCode = 128 + ((osConstants.signals as Record<string, number>)[`SIG${signal}`] ?? 0);
      });
      stream.on('close', () => {
        if (done) return;
        done = true;
        restore();
        res(readerGone ? 141 : exitCode);
      });
      stream.pipe(stdout, { end: false });
      stream.stderr.pipe(process.stderr, { end: false });
      stdin.pipe(stream);
      stdin.resume();
    });
  }

  /**
   * Runs `command` as is (no sudo, no quoting) and returns its channel as a raw byte stream: a
   * transport for protocols spoken over a remote command (`docker system dial-stdio`).
   */
  async openStream(command: string): Promise<Duplex> {
    if (this.closed)
      throw new ReproError('connection.closed', `openStream on closed ${this.description}`);
    if (this.lost) throw this.lostError(command);
    try {
      return await this.openExec(command, {});
    } catch (e) {
      if (this.lost) throw this.lostError(command, e);
      throw new ReproError('ssh.exec', `${this.label}: cannot start ${command}: ${messageOf(e)}`, {
        cause: e,
      });
    }
  }

  private sftp(): Promise<SFTPWrapper> {
    this.sftpSession ??= new Promise((res, rej) => {
      this.client.sftp((err, s) => (err ? rej(err) : res(s)));
    });
    return this.sftpSession;
  }

  /**
   * Writes `data` to `path` on the host through sftp on this connection, atomically (a temporary
   * file beside it, then rename), with `mode`. Files are written as the login user: with
   * `sudo: true` only paths that user may write are possible.
   */
  async putFile(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
    if (this.closed)
      throw new ReproError('connection.closed', `putFile on closed ${this.description}`);
    const tmp = `${path}.repro-${randomBytes(4).toString('hex')}`;
    const call = <T>(f: (cb: (err: Error | null | undefined, v?: T) => void) => void) =>
      new Promise<T | undefined>((res, rej) => f((err, v) => (err ? rej(err) : res(v))));
    try {
      const sftp = await this.sftp();
      await call((cb) => sftp.writeFile(tmp, data, { mode }, (e) => cb(e)));
      await call((cb) => sftp.chmod(tmp, mode, (e) => cb(e)));
      await call((cb) => sftp.ext_openssh_rename(tmp, path, (e) => cb(e)));
    } catch (e) {
      if (this.lost) throw this.lostError(`sftp write of ${path}`, e);
      const sftp = await this.sftp().catch(() => undefined);
      sftp?.unlink(tmp, () => {});
      throw new ReproError(
        'ssh.sftp',
        `${this.label}: cannot write ${path} through sftp: ${messageOf(e)}`,
        {
          hint: `check that ${this.user} may write ${path}'s directory and that the server has the sftp subsystem enabled`,
          cause: e,
        },
      );
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.end();
    this.jump?.end();
  }
}

// ---------------------------------------------------------------------------------------------
// Connecting

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v ? v : undefined;
}

/**
 * Connects to the ssh host of `config`, verifying (or, on first contact, pinning) its host key
 * and the jump host's. Throws a ReproError on any failure; never returns undefined.
 */
export async function connectSsh(
  config: SshConfig,
  opts: ConnectOptions & { targetName?: string },
): Promise<Connected> {
  const ssh2 = await loadSsh2();
  const port = config.port ?? 22;
  const user = config.user ?? 'root';
  const where = endpoint(config.host, port, user);
  const label = targetLabel(opts.targetName, where);
  const timeoutMs = (config.connect_timeout ?? DEFAULT_TIMEOUT_S) * 1000;
  const binding = opts.binding;
  const acceptHostKey = opts.acceptHostKey === true;
  // A pin applies only to the host it was recorded for.
  const sameHost =
    binding !== undefined && str(binding['host']) === config.host && binding['port'] === port;
  if (binding && str(binding['host_key']) && !sameHost) {
    opts.io.notify(
      'warn',
      `${label}: the state was recorded for ${String(binding['host'])}:${String(binding['port'])}; the target now names ${config.host}:${port}, whose key is pinned anew`,
    );
  }
  const pinned = sameHost ? str(binding?.['host_key']) : undefined;

  let jumpClient: Client | undefined;
  let jumpKey: string | undefined;
  let jumpWhere: string | undefined;
  let sock: Duplex | undefined;
  if (config.jump) {
    const j = config.jump;
    const jPort = j.port ?? 22;
    const jUser = j.user ?? user;
    jumpWhere = endpoint(j.host, jPort, jUser);
    const sameJump = sameHost && str(binding?.['jump']) === jumpWhere;
    const jumpPinned = sameJump ? str(binding?.['jump_host_key']) : undefined;
    const jCreds = await credentialsFor(
      ssh2,
      jUser,
      j.key ?? config.key,
      config.agent,
      opts.specDir,
      label,
    );
    const hop = await handshake(ssh2, {
      host: j.host,
      port: jPort,
      user: jUser,
      credentials: jCreds,
      pinned: jumpPinned,
      acceptHostKey,
      timeoutMs,
      label,
      role: 'the jump host',
      io: opts.io,
    });
    jumpClient = hop.client;
    jumpKey = hop.hostKey;
    if (!jumpPinned) {
      opts.io.notify(
        'info',
        `${label}: jump host ${jumpWhere} has host key ${jumpKey}; it will be pinned in the state`,
      );
    }
    try {
      sock = await forward(jumpClient, config.host, port, label);
    } catch (e) {
      jumpClient.end();
      throw e;
    }
  }

  let target: { client: Client; hostKey: string };
  try {
    const creds = await credentialsFor(ssh2, user, config.key, config.agent, opts.specDir, label);
    target = await handshake(ssh2, {
      host: config.host,
      port,
      user,
      credentials: creds,
      pinned,
      acceptHostKey,
      timeoutMs,
      label,
      role: 'the host',
      ...(sock ? { sock } : {}),
      io: opts.io,
    });
  } catch (e) {
    jumpClient?.end();
    throw e;
  }
  if (!pinned) {
    opts.io.notify(
      'info',
      `${label}: host key ${target.hostKey}; it will be pinned in the state, and a different key will be refused`,
    );
  }
  const description = `ssh ${where}${jumpWhere ? ` via ${jumpWhere}` : ''}${config.sudo ? ' (sudo)' : ''}`;
  const connection = new SshConnection(
    target.client,
    jumpClient,
    label,
    user,
    config.sudo === true,
    description,
  );
  const newBinding: TargetBinding = {
    host: config.host,
    port,
    user,
    host_key: target.hostKey,
    ...(jumpWhere ? { jump: jumpWhere, jump_host_key: jumpKey ?? 'unknown' } : {}),
  };
  return { connection, binding: newBinding, created: false };
}

function checkEndpoint(
  prefix: string,
  c: { host?: unknown; port?: unknown; user?: unknown; key?: unknown },
): string[] {
  const errors: string[] = [];
  if (typeof c.host !== 'string' || !HOST_RE.test(c.host) || c.host.startsWith('-')) {
    errors.push(`${prefix}host ${JSON.stringify(c.host)} is not a host name or IP address`);
  }
  if (
    c.port !== undefined &&
    (!Number.isInteger(c.port) || (c.port as number) < 1 || (c.port as number) > 65535)
  ) {
    errors.push(`${prefix}port ${JSON.stringify(c.port)} must be an integer from 1 to 65535`);
  }
  if (c.user !== undefined && (typeof c.user !== 'string' || !USER_RE.test(c.user))) {
    errors.push(`${prefix}user ${JSON.stringify(c.user)} is not a user name`);
  }
  if (c.key !== undefined && (typeof c.key !== 'string' || c.key === '')) {
    errors.push(`${prefix}key must be the path of a private key file`);
  }
  return errors;
}

export const sshProvider = {
  kind: 'ssh',

  check(config: SshConfig): string[] {
    const errors = checkEndpoint('ssh: ', config);
    if (config.jump !== undefined) errors.push(...checkEndpoint('ssh: jump: ', config.jump));
    if (
      config.connect_timeout !== undefined &&
      !(typeof config.connect_timeout === 'number' && config.connect_timeout > 0)
    ) {
      errors.push(`ssh: connect_timeout must be a positive number of seconds`);
    }
    if (config.agent === false && !config.key) {
      errors.push('ssh: agent is false and no key is given: there is no way to authenticate');
    }
    return errors;
  },

  describeCreate(config: SshConfig): string {
    return `nothing: repro cannot create an ssh host; ${endpoint(config.host, config.port ?? 22, config.user ?? 'root')} must exist and accept the connection`;
  },

  connect(config: SshConfig, opts: ConnectOptions): Promise<Connected> {
    return connectSsh(config, opts);
  },

  async destroy(): Promise<boolean> {
    // repro never creates an ssh host, so there is nothing of its own to remove: the engine
    // removes what repro installed, resource by resource.
    return false;
  },
} satisfies Provider<SshConfig>;

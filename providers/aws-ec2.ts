// The `aws-ec2` provider: an EC2 instance that repro launches, then reaches over ssh. It owns the
// instance's life (launch, start, stop, image, terminate) through @aws-sdk/client-ec2, loaded
// lazily (it takes ~0.4 s to load, which no other target should pay), and hands every command to
// the ssh provider's connection to the instance's public address.
// Invariants:
// - credentials come from the SDK's default chain (environment, profile, SSO, instance role) and
//   never enter state, plans or messages; AWS's encoded authorization messages are not printed;
// - the binding records the instance id, region, the image it booted, its current public address
//   and the ssh host key pinned at first contact; a reconnect verifies that key (the ssh provider
//   refuses a different one unless --accept-host-key);
// - a launch that fails after RunInstances (never running, no address, ssh unreachable) terminates
//   the instance before reporting, so a failed create leaves nothing behind to pay for;
// - everything launched is tagged `repro:target` and `repro:lineage` (the state's uuid), so an
//   instance can be traced back to the state that owns it.
import { randomUUID } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import type * as Ec2Sdk from '@aws-sdk/client-ec2';
import { ReproError } from '../src/core/errors.js';
import type { IoHost } from '../src/core/io.js';
import {
  architectureOf,
  defaultUser,
  imageSourceFor,
  knownReleases,
  newestImage,
  type Ec2Architecture,
} from './ec2-amis.js';
import type {
  AttachOptions,
  Connected,
  Connection,
  ConnectOptions,
  ExecOptions,
  ExecResult,
  Provider,
  SnapshotOptions,
  SnapshotRecord,
  TargetBinding,
} from './types.js';
import type { SshConfig } from './ssh.js';

export interface Ec2Config {
  /** AWS region the instance lives in (`eu-west-1`). Required: AMIs and instances are regional. */
  readonly region: string;
  /** Image to boot: an AMI id, e.g. one recorded by `repro snapshot`. Wins over distribution. */
  readonly ami?: string;
  /** With `release`, picks the newest official image of that release (see ec2-amis.ts). */
  readonly distribution?: string;
  readonly release?: string;
  /** Default: from the instance type (Graviton types are arm64, the rest x86_64). */
  readonly architecture?: Ec2Architecture;
  /** Default t3.small. */
  readonly instance_type?: string;
  /** Name of the EC2 key pair whose public key the instance gets. */
  readonly key_name?: string;
  /** Private key file for ssh (relative to the spec's directory); default: the ssh agent. */
  readonly key?: string;
  /** Login user; default from the distribution (admin for Debian, ubuntu for Ubuntu). */
  readonly user?: string;
  readonly security_group_ids?: readonly string[];
  readonly subnet_id?: string;
  /** Extra tags for the instance and its volumes. */
  readonly tags?: Readonly<Record<string, string>>;
  /** Run commands through sudo; default true unless the user is root. */
  readonly sudo?: boolean;
}

export const DEFAULT_INSTANCE_TYPE = 't3.small';
const SSH_PORT = 22;

export type ConnectSsh = (
  config: SshConfig,
  opts: ConnectOptions & { targetName?: string },
) => Promise<Connected>;

/** The ssh provider loads with the first hand-off (and ssh2 with it), not with this module. */
const connectSshLazily: ConnectSsh = async (config, opts) =>
  (await import('./ssh.js')).connectSsh(config, opts);

/**
 * What the provider needs beyond the EC2 API. Tests replace parts of it (shorter polls); nothing
 * else should. Times are in seconds.
 */
export const ec2Runtime = {
  connectSsh: connectSshLazily,
  waitForSsh: waitForSshBanner,
  timing: {
    /** First and longest pause between DescribeInstances polls (AWS's own waiters: 15–120 s). */
    minDelay: 5,
    maxDelay: 15,
    /** pending → running, stopping → stopped, shutting-down → terminated. */
    instanceTimeout: 600,
    /** running → a public address. */
    addressTimeout: 120,
    /** a public address → sshd answering with its banner (cloud-init boots it). */
    sshTimeout: 300,
    /** CreateImage → available (copies every volume). */
    imageTimeout: 3600,
  },
};

type Sdk = typeof Ec2Sdk;
type Instance = Ec2Sdk.Instance;

/** One target's EC2 session: the lazily loaded SDK, a client for the region, and names for messages. */
interface Ec2Session {
  readonly sdk: Sdk;
  readonly client: Ec2Sdk.EC2Client;
  readonly region: string;
  /** `target 'cloud'` or `instance i-…`, the prefix of every message. */
  readonly subject: string;
}

async function loadSdk(): Promise<Sdk> {
  try {
    return await import('@aws-sdk/client-ec2');
  } catch (e) {
    throw new ReproError('provider.unavailable', 'cannot load @aws-sdk/client-ec2', {
      hint: 'reinstall repro’s dependencies (npm ci)',
      cause: e,
    });
  }
}

/** The one place an EC2 client is made. Credentials: the SDK's default chain, never ours. */
async function openSession(region: string, subject: string): Promise<Ec2Session> {
  const sdk = await loadSdk();
  return { sdk, client: new sdk.EC2Client({ region }), region, subject };
}

// --- errors -------------------------------------------------------------------------------------

function errorName(e: unknown): string {
  const err = e as { name?: unknown; Code?: unknown; code?: unknown } | null;
  for (const v of [err?.name, err?.Code, err?.code]) {
    if (typeof v === 'string' && v && v !== 'Error') return v;
  }
  return 'Error';
}

function errorMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.replace(/\s+/g, ' ').trim().slice(0, 300);
}

/**
 * Turns an SDK error from `operation` (an EC2 API action such as `RunInstances`) into a ReproError
 * that names the target and says what to do. `details` fills in what the call was about.
 */
export function ec2Error(
  e: unknown,
  s: Pick<Ec2Session, 'subject' | 'region'>,
  operation: string,
  details: { ami?: string; keyName?: string; instanceType?: string; instanceId?: string } = {},
): ReproError {
  if (e instanceof ReproError) return e;
  const name = errorName(e);
  const who = s.subject;
  switch (name) {
    case 'CredentialsProviderError':
      return new ReproError(
        'ec2.credentials',
        `${who}: no AWS credentials found (for ${operation})`,
        {
          hint: 'set AWS_PROFILE to a profile in ~/.aws/config (or run `aws sso login`), or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; repro never stores credentials',
          cause: e,
        },
      );
    case 'AuthFailure':
    case 'InvalidClientTokenId':
    case 'SignatureDoesNotMatch':
    case 'ExpiredToken':
    case 'RequestExpired':
      return new ReproError(
        'ec2.credentials',
        `${who}: AWS rejected the credentials (${name} on ${operation})`,
        {
          hint: 'the access key is wrong, expired or for another partition; refresh it (aws sso login, or new keys) and check `aws sts get-caller-identity`',
          cause: e,
        },
      );
    case 'UnauthorizedOperation': {
      // The message carries an encoded authorization blob; only the action is worth showing.
      const action = /perform:\s*(ec2:[A-Za-z]+)/.exec(errorMessage(e))?.[1] ?? `ec2:${operation}`;
      return new ReproError(
        'ec2.unauthorized',
        `${who}: the AWS identity in use may not call ${action} (UnauthorizedOperation) in ${s.region}`,
        {
          hint: `grant ${action} to that IAM user or role (repro uses ec2:RunInstances, ec2:CreateTags, ec2:DescribeInstances, ec2:DescribeImages, ec2:StartInstances, ec2:StopInstances, ec2:TerminateInstances, ec2:CreateImage); \`aws sts decode-authorization-message\` explains the denial in full`,
          cause: e,
        },
      );
    }
    case 'InsufficientInstanceCapacity':
      return new ReproError(
        'ec2.capacity',
        `${who}: AWS has no capacity for ${details.instanceType ?? 'this instance type'} in ${s.region} right now (InsufficientInstanceCapacity)`,
        {
          hint: 'try another instance_type, or a subnet_id in another availability zone, or retry in a few minutes',
          cause: e,
        },
      );
    case 'InvalidKeyPair.NotFound':
      return new ReproError(
        'ec2.key-pair',
        `${who}: EC2 key pair '${details.keyName ?? '?'}' does not exist in ${s.region}`,
        {
          hint: 'key pairs are regional: import your public key there (aws ec2 import-key-pair --region …) or fix key_name',
          cause: e,
        },
      );
    case 'InvalidAMIID.NotFound':
    case 'InvalidAMIID.Malformed':
    case 'InvalidAMIID.Unavailable':
      return new ReproError(
        'ec2.ami',
        `${who}: AMI ${details.ami ?? '?'} does not exist or is not available to you in ${s.region} (${name})`,
        {
          hint: 'AMIs are regional: use an image id from this region (a snapshot’s id from `repro snapshot` in this region), or give distribution and release instead of ami',
          cause: e,
        },
      );
    case 'InvalidGroup.NotFound':
    case 'InvalidSecurityGroupID.NotFound':
      return new ReproError(
        'ec2.security-group',
        `${who}: a security group in security_group_ids does not exist in ${s.region} (${name})`,
        {
          hint: 'security groups belong to one VPC and region; list them with aws ec2 describe-security-groups',
          cause: e,
        },
      );
    case 'InvalidSubnetID.NotFound':
      return new ReproError('ec2.subnet', `${who}: subnet_id does not exist in ${s.region}`, {
        hint: 'list subnets with aws ec2 describe-subnets --region …',
        cause: e,
      });
    case 'InvalidParameterCombination':
    case 'InvalidParameterValue':
    case 'Unsupported':
      return new ReproError(
        'ec2.invalid',
        `${who}: EC2 refused ${operation}: ${errorMessage(e)} (${name})`,
        {
          hint: 'check instance_type against the image’s architecture and the region’s offerings',
          cause: e,
        },
      );
    case 'TimeoutError':
      return new ReproError('ec2.timeout', `${who}: timed out waiting for ${operation}`, {
        hint: 'look at the instance in the EC2 console (aws ec2 describe-instances); run the command again to resume waiting',
        cause: e,
      });
  }
  const sys = (e as { code?: unknown } | null)?.code;
  if (
    typeof sys === 'string' &&
    /^(ENOTFOUND|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN)$/.test(sys)
  ) {
    return new ReproError(
      'ec2.unreachable',
      `${who}: cannot reach the EC2 API in ${s.region} (${sys})`,
      {
        hint: 'check the network and the region name; a proxy needs HTTPS_PROXY',
        cause: e,
      },
    );
  }
  return new ReproError('ec2.api', `${who}: EC2 ${operation} failed: ${name}: ${errorMessage(e)}`, {
    cause: e,
  });
}

async function call<T>(
  s: Ec2Session,
  operation: string,
  run: () => Promise<T>,
  details?: Parameters<typeof ec2Error>[3],
): Promise<T> {
  try {
    return await run();
  } catch (e) {
    throw ec2Error(e, s, operation, details);
  }
}

// --- instances ----------------------------------------------------------------------------------

/** The instance, or undefined when EC2 no longer knows it (InvalidInstanceID.NotFound). */
async function describeInstance(s: Ec2Session, id: string): Promise<Instance | undefined> {
  try {
    const out = await s.client.send(new s.sdk.DescribeInstancesCommand({ InstanceIds: [id] }));
    return out.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === id);
  } catch (e) {
    if (errorName(e) === 'InvalidInstanceID.NotFound') return undefined;
    throw ec2Error(e, s, 'DescribeInstances', { instanceId: id });
  }
}

function stateOf(i: Instance | undefined): string {
  return i?.State?.Name ?? 'gone';
}

function isGone(i: Instance | undefined): boolean {
  const st = stateOf(i);
  return st === 'gone' || st === 'terminated' || st === 'shutting-down';
}

function waiterParams(s: Ec2Session, maxWaitTime: number) {
  const { minDelay, maxDelay } = ec2Runtime.timing;
  return { client: s.client, maxWaitTime, minDelay, maxDelay };
}

/**
 * Runs an SDK waiter; on failure, describes the instance to say which state it ended in and why
 * (the waiter's own error is a JSON dump of every response, not for users).
 */
async function waitFor(
  s: Ec2Session,
  id: string,
  wanted: 'running' | 'stopped' | 'terminated',
  timeout: number,
): Promise<void> {
  const waiter = {
    running: s.sdk.waitUntilInstanceRunning,
    stopped: s.sdk.waitUntilInstanceStopped,
    terminated: s.sdk.waitUntilInstanceTerminated,
  }[wanted];
  try {
    await waiter(waiterParams(s, timeout), { InstanceIds: [id] });
  } catch (e) {
    // The waiter retries through every API error until it times out, so describe once more: a
    // denied DescribeInstances surfaces as itself, not as a timeout.
    const inst = await describeInstance(s, id);
    if (errorName(e) === 'TimeoutError') {
      throw new ReproError(
        'ec2.timeout',
        `${s.subject}: instance ${id} did not become ${wanted} within ${timeout} s (it is ${stateOf(inst)})`,
        {
          hint: `look at it with aws ec2 describe-instances --region ${s.region} --instance-ids ${id}; run the command again to resume waiting`,
        },
      );
    }
    const reason = inst?.StateReason?.Message ? ` (${inst.StateReason.Message})` : '';
    throw new ReproError(
      'ec2.state',
      `${s.subject}: instance ${id} is ${stateOf(inst)}${reason}, not ${wanted}`,
      {
        hint:
          wanted === 'running'
            ? 'the instance failed to start; see its state reason and console output in the EC2 console'
            : undefined,
      },
    );
  }
}

/** Polls until the running instance has a public address (assigned shortly after launch). */
async function waitForAddress(s: Ec2Session, id: string): Promise<Instance> {
  const { minDelay, addressTimeout } = ec2Runtime.timing;
  const deadline = Date.now() + addressTimeout * 1000;
  for (;;) {
    const inst = await describeInstance(s, id);
    if (inst?.PublicIpAddress) return inst;
    if (isGone(inst)) {
      throw new ReproError('ec2.state', `${s.subject}: instance ${id} is ${stateOf(inst)}`);
    }
    if (Date.now() + minDelay * 1000 > deadline) {
      throw new ReproError(
        'ec2.no-address',
        `${s.subject}: instance ${id} has no public IP address after ${addressTimeout} s`,
        {
          hint: 'repro reaches the instance over ssh at its public address: use a subnet_id whose subnet assigns public IPv4 addresses (MapPublicIpOnLaunch)',
        },
      );
    }
    await sleep(minDelay * 1000);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until something on host:port speaks ssh (sends its `SSH-` banner): the instance is
 * running long before sshd is, and an ssh handshake against a closed port fails without retry.
 */
export async function waitForSshBanner(
  host: string,
  port: number,
  timeoutSeconds: number,
): Promise<void> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last = '';
  while (Date.now() < deadline) {
    const left = deadline - Date.now();
    last = await new Promise<string>((resolve) => {
      const sock = tcpConnect({ host, port });
      let buf = '';
      const done = (why: string) => {
        sock.destroy();
        resolve(why);
      };
      sock.setTimeout(Math.min(10_000, left), () => done('no answer'));
      sock.on('data', (b: Buffer) => {
        buf += b.toString('latin1');
        if (buf.startsWith('SSH-')) done('');
        else if (buf.length >= 4) done(`not an ssh server (${JSON.stringify(buf.slice(0, 20))})`);
      });
      sock.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
      sock.on('end', () => done('connection closed'));
    });
    if (last === '') return;
    await sleep(Math.min(2000, Math.max(0, deadline - Date.now())));
  }
  throw new ReproError(
    'ec2.ssh-unreachable',
    `ssh on ${host}:${port} did not answer within ${timeoutSeconds} s (${last})`,
    {
      hint: 'allow inbound tcp/22 from this machine in the instance’s security group (security_group_ids), and check that the image runs sshd',
    },
  );
}

function tagsFor(config: Ec2Config, targetName: string, lineage: string | undefined): Ec2Sdk.Tag[] {
  const tags: Record<string, string> = { Name: `repro-${targetName}`, ...config.tags };
  tags['repro:target'] = targetName;
  if (lineage) tags['repro:lineage'] = lineage;
  return Object.keys(tags)
    .sort()
    .map((Key) => ({ Key, Value: tags[Key] }));
}

function userOf(config: Ec2Config): string {
  return config.user ?? defaultUser(config.distribution) ?? 'root';
}

function architecture(config: Ec2Config): Ec2Architecture {
  return config.architecture ?? architectureOf(config.instance_type ?? DEFAULT_INSTANCE_TYPE);
}

/** The AMI to launch: `ami` as given, else the newest official image of distribution/release. */
async function resolveAmi(s: Ec2Session, config: Ec2Config, io: IoHost): Promise<string> {
  if (config.ami) return config.ami;
  const arch = architecture(config);
  const source = imageSourceFor(config.distribution ?? '', config.release ?? '', arch);
  if (!source) {
    // check() rejects this before anything runs; kept for callers that skip it.
    throw new ReproError(
      'ec2.ami',
      `${s.subject}: no image table entry for ${config.distribution}/${config.release}`,
    );
  }
  const out = await call(s, 'DescribeImages', () =>
    s.client.send(
      new s.sdk.DescribeImagesCommand({
        Owners: [source.owner],
        Filters: [
          { Name: 'name', Values: [source.namePattern] },
          { Name: 'architecture', Values: [arch] },
          { Name: 'state', Values: ['available'] },
          { Name: 'root-device-type', Values: ['ebs'] },
          { Name: 'virtualization-type', Values: ['hvm'] },
        ],
      }),
    ),
  );
  const image = newestImage(out.Images ?? []);
  if (!image?.ImageId) {
    throw new ReproError(
      'ec2.ami',
      `${s.subject}: no ${source.publisher} image named ${source.namePattern} (${arch}) in ${s.region}`,
      {
        hint: 'give an AMI id with `ami:`, or another release or architecture',
      },
    );
  }
  io.notify(
    'info',
    `${s.subject}: using ${source.publisher}'s image ${image.Name ?? ''} (${image.ImageId}) in ${s.region}`,
  );
  return image.ImageId;
}

async function launch(
  s: Ec2Session,
  config: Ec2Config,
  opts: ConnectOptions,
  targetName: string,
): Promise<{ id: string; ami: string }> {
  const ami = await resolveAmi(s, config, opts.io);
  const instanceType = config.instance_type ?? DEFAULT_INSTANCE_TYPE;
  const tags = tagsFor(config, targetName, opts.lineage);
  opts.io.notify(
    'progress',
    `${s.subject}: launching a ${instanceType} instance from ${ami} in ${s.region}`,
  );
  const out = await call(
    s,
    'RunInstances',
    () =>
      s.client.send(
        new s.sdk.RunInstancesCommand({
          ImageId: ami,
          InstanceType: instanceType as Ec2Sdk._InstanceType,
          MinCount: 1,
          MaxCount: 1,
          // Idempotency: the SDK retries a request whose answer was lost; the same token makes
          // EC2 return the first launch instead of starting a second instance.
          ClientToken: randomUUID(),
          ...(config.key_name ? { KeyName: config.key_name } : {}),
          ...(config.security_group_ids?.length
            ? { SecurityGroupIds: [...config.security_group_ids] }
            : {}),
          ...(config.subnet_id ? { SubnetId: config.subnet_id } : {}),
          TagSpecifications: [
            { ResourceType: 'instance', Tags: tags },
            { ResourceType: 'volume', Tags: tags },
          ],
        }),
      ),
    { ami, keyName: config.key_name, instanceType },
  );
  const id = out.Instances?.[0]?.InstanceId;
  if (!id) throw new ReproError('ec2.api', `${s.subject}: RunInstances returned no instance id`);
  return { id, ami };
}

/** Best-effort terminate after a failed launch; says what it did either way. */
async function terminateAfterFailure(s: Ec2Session, id: string, io: IoHost): Promise<void> {
  try {
    await s.client.send(new s.sdk.TerminateInstancesCommand({ InstanceIds: [id] }));
    io.notify(
      'warn',
      `${s.subject}: terminated instance ${id}, whose launch failed, so nothing is left running`,
    );
  } catch (e) {
    io.notify(
      'warn',
      `${s.subject}: could not terminate instance ${id} after the failed launch (${errorName(e)}); terminate it yourself: aws ec2 terminate-instances --region ${s.region} --instance-ids ${id}`,
    );
  }
}

/** The ssh connection, described as the instance it runs on. */
class Ec2Connection implements Connection {
  readonly description: string;
  constructor(
    private readonly inner: Connection,
    instanceId: string,
    address: string,
  ) {
    this.description = `aws-ec2 instance ${instanceId} (${inner.description || address})`;
  }
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return this.inner.exec(argv, opts);
  }
  get attach(): ((argv: readonly string[], opts: AttachOptions) => Promise<number>) | undefined {
    return this.inner.attach?.bind(this.inner);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

async function handOff(
  s: Ec2Session,
  config: Ec2Config,
  opts: ConnectOptions,
  targetName: string,
  inst: Instance,
  ami: string,
): Promise<Omit<Connected, 'created'>> {
  const id = inst.InstanceId!;
  const address = inst.PublicIpAddress!;
  const user = userOf(config);
  // A key pinned for this very instance; a replacement instance is a new machine, pinned anew.
  const pinned = recordedId(opts.binding) === id ? opts.binding?.['host_key'] : undefined;
  opts.io.notify('progress', `${s.subject}: waiting for ssh on ${address} (instance ${id})`);
  try {
    await ec2Runtime.waitForSsh(address, SSH_PORT, ec2Runtime.timing.sshTimeout);
  } catch (e) {
    if (!(e instanceof ReproError)) throw e;
    throw new ReproError(e.code, `${s.subject}: instance ${id}: ${e.message}`, {
      hint: e.hint,
      cause: e,
    });
  }
  const ssh = await ec2Runtime.connectSsh(
    {
      host: address,
      port: SSH_PORT,
      user,
      ...(config.key ? { key: config.key } : {}),
      sudo: config.sudo ?? user !== 'root',
    },
    {
      ...opts,
      binding:
        typeof pinned === 'string' && pinned
          ? { host: address, port: SSH_PORT, user, host_key: pinned }
          : undefined,
      targetName,
    },
  );
  const hostKey = ssh.binding['host_key'];
  return {
    connection: new Ec2Connection(ssh.connection, id, address),
    binding: {
      instance_id: id,
      region: s.region,
      ami,
      public_address: address,
      host_key: typeof hostKey === 'string' ? hostKey : null,
      created: true,
    },
  };
}

function recordedId(binding: TargetBinding | undefined): string | undefined {
  const id = binding?.['instance_id'];
  return typeof id === 'string' && id ? id : undefined;
}

/** The region the bound instance lives in: the binding's, which outlives an edit of the spec. */
function boundRegion(config: Ec2Config, binding: TargetBinding | undefined): string {
  const r = binding?.['region'];
  return typeof r === 'string' && r ? r : config.region;
}

const REGION = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d+$/;
const AMI_ID = /^ami-[0-9a-f]{8,17}$/;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
const SG_ID = /^sg-[0-9a-f]{8,17}$/;
const SUBNET_ID = /^subnet-[0-9a-f]{8,17}$/;
const USER = /^[a-z_][a-z0-9_-]*\$?$/;

export const ec2Provider = {
  kind: 'aws-ec2',

  check(config: Ec2Config): string[] {
    const errors: string[] = [];
    if (!REGION.test(config.region ?? '')) {
      errors.push(
        `aws-ec2: region ${JSON.stringify(config.region)} is not an AWS region name like eu-west-1`,
      );
    }
    if (config.ami !== undefined && !AMI_ID.test(config.ami)) {
      errors.push(
        `aws-ec2: ami ${JSON.stringify(config.ami)} is not an AMI id like ami-0123456789abcdef0`,
      );
    }
    if (config.ami === undefined) {
      if (config.distribution === undefined || config.release === undefined) {
        errors.push(
          'aws-ec2: give either ami, or distribution and release (e.g. debian + bookworm)',
        );
      } else if (!imageSourceFor(config.distribution, config.release, 'x86_64')) {
        errors.push(
          `aws-ec2: no official image known for ${config.distribution}/${config.release}; known: ${knownReleases().join(', ')}; or give ami`,
        );
      }
    }
    if (config.instance_type !== undefined && !INSTANCE_TYPE.test(config.instance_type)) {
      errors.push(
        `aws-ec2: instance_type ${JSON.stringify(config.instance_type)} is not an instance type like t3.small`,
      );
    }
    for (const sg of config.security_group_ids ?? []) {
      if (!SG_ID.test(sg))
        errors.push(`aws-ec2: ${JSON.stringify(sg)} is not a security group id like sg-0123abcd`);
    }
    if (config.subnet_id !== undefined && !SUBNET_ID.test(config.subnet_id)) {
      errors.push(
        `aws-ec2: subnet_id ${JSON.stringify(config.subnet_id)} is not a subnet id like subnet-0123abcd`,
      );
    }
    if (config.user !== undefined && !USER.test(config.user)) {
      errors.push(`aws-ec2: user ${JSON.stringify(config.user)} is not a user name`);
    }
    if (
      config.user === undefined &&
      config.ami !== undefined &&
      defaultUser(config.distribution) === undefined
    ) {
      errors.push(
        'aws-ec2: with an ami, give user (the image’s login user), or distribution to default it',
      );
    }
    for (const key of Object.keys(config.tags ?? {})) {
      if (key.startsWith('aws:') || key.startsWith('repro:')) {
        errors.push(`aws-ec2: tag ${JSON.stringify(key)} uses a reserved prefix (aws:, repro:)`);
      }
    }
    return errors;
  },

  describeCreate(config: Ec2Config): string {
    const type = config.instance_type ?? DEFAULT_INSTANCE_TYPE;
    if (config.ami) return `EC2 instance (${type}) in ${config.region} from ${config.ami}`;
    const source = imageSourceFor(
      config.distribution ?? '',
      config.release ?? '',
      architecture(config),
    );
    const image = source
      ? `the newest ${source.publisher} image named ${source.namePattern}`
      : `${config.distribution}/${config.release}`;
    return `EC2 instance (${type}) in ${config.region} from ${image}`;
  },

  async connect(config, opts): Promise<Connected | undefined> {
    const targetName = opts.targetName ?? 'aws-ec2';
    const id = recordedId(opts.binding);
    const region = boundRegion(config, opts.binding);
    if (id && region !== config.region) {
      throw new ReproError(
        'ec2.region-changed',
        `target '${targetName}': its instance ${id} is in ${region}, but the spec now says region ${config.region}`,
        {
          hint: `run \`repro destroy\` with the old region first, or restore region: ${region}`,
        },
      );
    }
    const s = await openSession(config.region, `target '${targetName}'`);
    if (id) {
      let inst = await describeInstance(s, id);
      if (isGone(inst)) {
        opts.io.notify(
          'warn',
          `target '${targetName}': instance gone: EC2 instance ${id} in ${region} is ${stateOf(inst)}`,
        );
        if (!opts.create) return undefined;
      } else {
        const st = stateOf(inst);
        if (st === 'pending') await waitFor(s, id, 'running', ec2Runtime.timing.instanceTimeout);
        if (st === 'stopping') await waitFor(s, id, 'stopped', ec2Runtime.timing.instanceTimeout);
        if (st === 'stopping' || st === 'stopped') {
          if (!opts.create) {
            throw new ReproError(
              'ec2.stopped',
              `target '${targetName}': EC2 instance ${id} is stopped`,
              {
                hint: `\`repro apply\` starts it (so does aws ec2 start-instances --region ${region} --instance-ids ${id})`,
              },
            );
          }
          opts.io.notify('progress', `target '${targetName}': starting stopped instance ${id}`);
          await call(s, 'StartInstances', () =>
            s.client.send(new s.sdk.StartInstancesCommand({ InstanceIds: [id] })),
          );
          await waitFor(s, id, 'running', ec2Runtime.timing.instanceTimeout);
        }
        inst = await waitForAddress(s, id);
        const ami = inst.ImageId ?? String(opts.binding?.['ami'] ?? '');
        return { ...(await handOff(s, config, opts, targetName, inst, ami)), created: false };
      }
    }
    if (!opts.create) return undefined;
    const { id: newId, ami } = await launch(s, config, opts, targetName);
    try {
      opts.io.notify('progress', `${s.subject}: instance ${newId} launched; waiting for it to run`);
      await waitFor(s, newId, 'running', ec2Runtime.timing.instanceTimeout);
      const inst = await waitForAddress(s, newId);
      return { ...(await handOff(s, config, opts, targetName, inst, ami)), created: true };
    } catch (e) {
      await terminateAfterFailure(s, newId, opts.io);
      throw e;
    }
  },

  async destroy(config, { binding, io }): Promise<boolean> {
    const id = recordedId(binding);
    if (!id || binding['created'] !== true) return false;
    const s = await openSession(boundRegion(config, binding), `instance ${id}`);
    io.notify('progress', `terminating EC2 instance ${id} in ${s.region}`);
    try {
      await s.client.send(new s.sdk.TerminateInstancesCommand({ InstanceIds: [id] }));
    } catch (e) {
      if (errorName(e) === 'InvalidInstanceID.NotFound') return true;
      throw ec2Error(e, s, 'TerminateInstances', { instanceId: id });
    }
    await waitFor(s, id, 'terminated', ec2Runtime.timing.instanceTimeout);
    return true;
  },

  async stop(config, { binding, io }): Promise<void> {
    const id = requireId(binding, 'stop');
    const s = await openSession(boundRegion(config, binding), `instance ${id}`);
    io.notify('progress', `stopping EC2 instance ${id}`);
    await call(
      s,
      'StopInstances',
      () => s.client.send(new s.sdk.StopInstancesCommand({ InstanceIds: [id] })),
      { instanceId: id },
    );
    await waitFor(s, id, 'stopped', ec2Runtime.timing.instanceTimeout);
  },

  async start(config, { binding, io }): Promise<void> {
    const id = requireId(binding, 'start');
    const s = await openSession(boundRegion(config, binding), `instance ${id}`);
    io.notify('progress', `starting EC2 instance ${id}`);
    await call(
      s,
      'StartInstances',
      () => s.client.send(new s.sdk.StartInstancesCommand({ InstanceIds: [id] })),
      { instanceId: id },
    );
    await waitFor(s, id, 'running', ec2Runtime.timing.instanceTimeout);
  },

  async snapshot(config, opts: SnapshotOptions): Promise<SnapshotRecord> {
    const id = requireId(opts.binding, 'snapshot');
    const s = await openSession(boundRegion(config, opts.binding), `instance ${id}`);
    const tags = Object.keys(opts.labels)
      .sort()
      .map((Key) => ({ Key, Value: opts.labels[Key] }));
    tags.push({ Key: 'repro:snapshot', Value: opts.name });
    opts.io.notify(
      'progress',
      `creating image ${opts.name} of EC2 instance ${id} (EC2 reboots it for a consistent disk)`,
    );
    const out = await call(
      s,
      'CreateImage',
      () =>
        s.client.send(
          new s.sdk.CreateImageCommand({
            InstanceId: id,
            Name: amiName(opts),
            Description: `repro snapshot ${opts.name} of ${id}`,
            TagSpecifications: [
              { ResourceType: 'image', Tags: tags },
              { ResourceType: 'snapshot', Tags: tags },
            ],
          }),
        ),
      { instanceId: id },
    );
    const imageId = out.ImageId;
    if (!imageId)
      throw new ReproError('ec2.api', `instance ${id}: CreateImage returned no image id`);
    opts.io.notify('progress', `waiting for image ${imageId} to become available`);
    try {
      await s.sdk.waitUntilImageAvailable(waiterParams(s, ec2Runtime.timing.imageTimeout), {
        ImageIds: [imageId],
      });
    } catch (e) {
      throw new ReproError(
        'ec2.image',
        errorName(e) === 'TimeoutError'
          ? `image ${imageId} of instance ${id} was not available within ${ec2Runtime.timing.imageTimeout} s`
          : `image ${imageId} of instance ${id} failed to build`,
        {
          hint: `look at it with aws ec2 describe-images --region ${s.region} --image-ids ${imageId}`,
        },
      );
    }
    return { name: opts.name, kind: 'ami', ref: imageId, tag: s.region };
  },
} satisfies Provider<Ec2Config>;

function requireId(binding: TargetBinding, what: string): string {
  const id = recordedId(binding);
  if (!id) {
    throw new ReproError(
      'ec2.unbound',
      `cannot ${what}: the state records no EC2 instance for this target`,
      {
        hint: 'run `repro apply` first',
      },
    );
  }
  return id;
}

/**
 * The AMI's name: EC2 wants 3–128 characters of letters, digits and ()[] ./-'@_, unique per
 * account and region, so the snapshot name alone (`s3`) is too short and would collide across
 * targets. Spec, target and lineage make it unique; the snapshot's own name is also a tag.
 */
export function amiName(o: {
  specName: string;
  target: string;
  name: string;
  labels: Readonly<Record<string, string>>;
}): string {
  const lineage = Object.entries(o.labels).find(([k]) => k.endsWith('lineage'))?.[1] ?? '';
  const raw = `repro-${o.specName}-${o.target}-${o.name}${lineage ? `-${lineage.slice(0, 8)}` : ''}`;
  return raw.replace(/[^A-Za-z0-9()[\] ./'@_-]/g, '-').slice(0, 128);
}

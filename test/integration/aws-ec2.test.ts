// The aws-ec2 provider against a mocked EC2 API (aws-sdk-client-mock: AWS is not reachable from
// these machines). Asserted: the exact API inputs (image lookup by publisher and name, launch
// parameters and tags including repro:lineage), the waiter paths (pending → running, stopping →
// stopped, pending → available), what a gone or stopped instance does to plan/apply/drift, the
// EC2 error codes as ReproErrors naming the target, and that a failed launch terminates what it
// launched. The ssh hand-off is replaced by a recorder in this file; the hand-off to a real sshd
// is in aws-ec2-ssh.test.ts. `repro drift` itself runs as a subprocess with the mock preloaded.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import {
  CreateImageCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  EC2ServiceException,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type DescribeInstancesCommandOutput,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import {
  ec2Provider,
  ec2Runtime,
  waitForSshBanner,
  type ConnectSsh,
  type Ec2Config,
} from '../../providers/aws-ec2.js';
import type { SshConfig } from '../../providers/ssh.js';
import type { Connection, ConnectOptions, TargetBinding } from '../../providers/types.js';
import { BufferIoHost } from '../../src/core/io.js';
import { ReproError } from '../../src/core/errors.js';
import { openWorkspace } from '../../src/engine/workspace.js';
import {
  applyTarget,
  destroyTarget,
  driftTarget,
  planTarget,
} from '../../src/engine/operations.js';
import type { Plan } from '../../src/plan/model.js';
import { newState, writeState } from '../../src/state/store.js';
import { CLI, run } from './cli.js';

const ec2 = mockClient(EC2Client);

const ID = 'i-0123456789abcdef0';
const IP = '203.0.113.10';
const IP2 = '203.0.113.77';
const PINNED = 'ssh-ed25519 SHA256:pinnedpinnedpinnedpinnedpinnedpinnedpinned0';
const NEWEST = 'ami-0000000000000000c';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const CONFIG: Ec2Config = {
  region: 'eu-west-1',
  distribution: 'debian',
  release: 'bookworm',
  key_name: 'repro-test',
  key: 'id_ed25519',
  security_group_ids: ['sg-0123456789abcdef0'],
  subnet_id: 'subnet-0123456789abcdef0',
  tags: { Project: 'bids' },
};

const IMAGES = {
  Images: [
    {
      ImageId: 'ami-0000000000000000a',
      Name: 'debian-12-amd64-20240102-1614',
      CreationDate: '2024-01-02T10:00:00.000Z',
      State: 'available' as const,
    },
    {
      ImageId: NEWEST,
      Name: 'debian-12-amd64-20250610-2140',
      CreationDate: '2025-06-10T21:40:00.000Z',
      State: 'available' as const,
    },
    {
      ImageId: 'ami-0000000000000000b',
      Name: 'debian-12-amd64-20241110-1928',
      CreationDate: '2024-11-10T19:28:00.000Z',
      State: 'available' as const,
    },
  ],
};

function described(
  state: string,
  ip?: string,
  extra: Record<string, unknown> = {},
): DescribeInstancesCommandOutput {
  return {
    $metadata: {},
    Reservations: [
      {
        Instances: [
          {
            InstanceId: ID,
            ImageId: NEWEST,
            State: { Name: state as 'running' },
            ...(ip ? { PublicIpAddress: ip } : {}),
            ...extra,
          },
        ],
      },
    ],
  };
}

function awsError(name: string, message: string): EC2ServiceException {
  return new EC2ServiceException({
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
    message,
  });
}

// --- the ssh hand-off, recorded -----------------------------------------------------------------

interface SshCall {
  config: SshConfig;
  opts: ConnectOptions & { targetName?: string };
}
let sshCalls: SshCall[] = [];
let bannerCalls: [string, number, number][] = [];
const closed: string[] = [];

const recordingSsh: ConnectSsh = async (config, opts) => {
  sshCalls.push({ config, opts });
  const connection: Connection = {
    description: `ssh ${config.user}@${config.host}`,
    exec: async () => {
      throw new Error('the recording ssh connection runs nothing');
    },
    close: async () => {
      closed.push(config.host);
    },
  };
  const pinned = opts.binding?.['host_key'];
  return {
    connection,
    binding: {
      host: config.host,
      port: 22,
      user: config.user ?? 'root',
      host_key: typeof pinned === 'string' ? pinned : PINNED,
    },
    created: false,
  };
};

const saved = { ...ec2Runtime, timing: { ...ec2Runtime.timing } };

function useRecordingSsh(): void {
  ec2Runtime.connectSsh = recordingSsh;
  ec2Runtime.waitForSsh = async (host, port, timeout) => {
    bannerCalls.push([host, port, timeout]);
  };
}

before(() => {
  // Polls every 20–50 ms instead of AWS's 15 s; bounded waits of a second or two.
  Object.assign(ec2Runtime.timing, {
    minDelay: 0.02,
    maxDelay: 0.05,
    instanceTimeout: 2,
    addressTimeout: 0.5,
    sshTimeout: 1,
    imageTimeout: 2,
  });
});

after(() => {
  Object.assign(ec2Runtime, { connectSsh: saved.connectSsh, waitForSsh: saved.waitForSsh });
  Object.assign(ec2Runtime.timing, saved.timing);
  ec2.restore();
});

beforeEach(() => {
  ec2.reset();
  sshCalls = [];
  bannerCalls = [];
  useRecordingSsh();
});

function connectOpts(extra: Partial<ConnectOptions> = {}): ConnectOptions & { io: BufferIoHost } {
  return {
    create: true,
    io: new BufferIoHost(),
    specDir: '/srv/spec',
    lineage: '6f1c1b4e-2d0c-4f57-9a57-0d1b7c0f7d11',
    targetName: 'cloud',
    ...extra,
  } as ConnectOptions & { io: BufferIoHost };
}

async function rejectsWith(
  p: Promise<unknown>,
  code: string,
  message: RegExp,
): Promise<ReproError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ReproError, `not a ReproError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe('aws-ec2 launch', () => {
  test('finds the image by owner and name, launches with exact inputs, waits pending → running, hands the address to ssh', async () => {
    ec2.on(DescribeImagesCommand).resolves(IMAGES);
    ec2.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: ID }] });
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce(described('pending'))
      .resolvesOnce(described('pending'))
      .resolves(described('running', IP));
    const opts = connectOpts();
    const c = await ec2Provider.connect(CONFIG, opts);
    assert.ok(c);

    assert.deepEqual(
      ec2.commandCalls(DescribeImagesCommand).map((x) => x.args[0].input),
      [
        {
          Owners: ['136693071363'],
          Filters: [
            { Name: 'name', Values: ['debian-12-amd64-*'] },
            { Name: 'architecture', Values: ['x86_64'] },
            { Name: 'state', Values: ['available'] },
            { Name: 'root-device-type', Values: ['ebs'] },
            { Name: 'virtualization-type', Values: ['hvm'] },
          ],
        },
      ],
    );
    const runs = ec2.commandCalls(RunInstancesCommand);
    assert.equal(runs.length, 1);
    const { ClientToken, ...input } = runs[0]!.args[0].input;
    assert.match(ClientToken ?? '', UUID);
    const tags = [
      { Key: 'Name', Value: 'repro-cloud' },
      { Key: 'Project', Value: 'bids' },
      { Key: 'repro:lineage', Value: '6f1c1b4e-2d0c-4f57-9a57-0d1b7c0f7d11' },
      { Key: 'repro:target', Value: 'cloud' },
    ];
    assert.deepEqual(input, {
      ImageId: NEWEST,
      InstanceType: 't3.small',
      MinCount: 1,
      MaxCount: 1,
      KeyName: 'repro-test',
      SecurityGroupIds: ['sg-0123456789abcdef0'],
      SubnetId: 'subnet-0123456789abcdef0',
      TagSpecifications: [
        { ResourceType: 'instance', Tags: tags },
        { ResourceType: 'volume', Tags: tags },
      ],
    });
    // Two pending answers, then running (the waiter), then the address poll.
    const describes = ec2.commandCalls(DescribeInstancesCommand);
    assert.equal(describes.length, 4);
    for (const d of describes) assert.deepEqual(d.args[0].input, { InstanceIds: [ID] });

    assert.deepEqual(bannerCalls, [[IP, 22, 1]]);
    assert.equal(sshCalls.length, 1);
    assert.deepEqual(sshCalls[0]!.config, {
      host: IP,
      port: 22,
      user: 'admin',
      key: 'id_ed25519',
      sudo: true,
    });
    assert.equal(sshCalls[0]!.opts.binding, undefined, 'a new instance has no pinned key yet');
    assert.equal(sshCalls[0]!.opts.targetName, 'cloud');
    assert.equal(sshCalls[0]!.opts.specDir, '/srv/spec');
    assert.deepEqual(c.binding, {
      instance_id: ID,
      region: 'eu-west-1',
      ami: NEWEST,
      public_address: IP,
      host_key: PINNED,
      created: true,
    });
    assert.equal(c.created, true);
    assert.equal(c.connection.description, `aws-ec2 instance ${ID} (ssh admin@${IP})`);
    assert.equal(ec2.commandCalls(TerminateInstancesCommand).length, 0);
    await c.connection.close();
    assert.ok(closed.includes(IP));
  });

  test('an ami, a Graviton type, ubuntu defaults and no optional fields', async () => {
    ec2.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: ID }] });
    ec2.on(DescribeInstancesCommand).resolves(described('running', IP));
    const c = await ec2Provider.connect(
      {
        region: 'us-east-2',
        ami: 'ami-0fedcba9876543210',
        distribution: 'ubuntu',
        instance_type: 't4g.small',
      },
      connectOpts({ lineage: undefined }),
    );
    assert.ok(c);
    assert.equal(ec2.commandCalls(DescribeImagesCommand).length, 0, 'an ami is used as given');
    const { ClientToken: _, ...input } = ec2.commandCalls(RunInstancesCommand)[0]!.args[0].input;
    const tags = [
      { Key: 'Name', Value: 'repro-cloud' },
      { Key: 'repro:target', Value: 'cloud' },
    ];
    assert.deepEqual(input, {
      ImageId: 'ami-0fedcba9876543210',
      InstanceType: 't4g.small',
      MinCount: 1,
      MaxCount: 1,
      TagSpecifications: [
        { ResourceType: 'instance', Tags: tags },
        { ResourceType: 'volume', Tags: tags },
      ],
    });
    assert.deepEqual(sshCalls[0]!.config, { host: IP, port: 22, user: 'ubuntu', sudo: true });
    assert.equal(c.binding['region'], 'us-east-2');
  });

  test('an arm64 instance type looks for arm64 images', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
    await rejectsWith(
      ec2Provider.connect({ ...CONFIG, instance_type: 'm7g.large' }, connectOpts()),
      'ec2.ami',
      /^target 'cloud': no Debian image named debian-12-arm64-\* \(arm64\) in eu-west-1$/,
    );
    const filters = ec2.commandCalls(DescribeImagesCommand)[0]!.args[0].input.Filters;
    assert.deepEqual(filters?.slice(0, 2), [
      { Name: 'name', Values: ['debian-12-arm64-*'] },
      { Name: 'architecture', Values: ['arm64'] },
    ]);
    assert.equal(ec2.commandCalls(RunInstancesCommand).length, 0);
  });
});

describe('aws-ec2 launch failures', () => {
  const cases: [string, string, string, RegExp, RegExp][] = [
    [
      'InsufficientInstanceCapacity',
      'We currently do not have sufficient t3.small capacity in the Availability Zone you requested (eu-west-1a).',
      'ec2.capacity',
      /^target 'cloud': AWS has no capacity for t3\.small in eu-west-1/,
      /another instance_type, or a subnet_id in another availability zone/,
    ],
    [
      'UnauthorizedOperation',
      'You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/alice is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:eu-west-1:123456789012:instance/* because no identity-based policy allows the ec2:RunInstances action. Encoded authorization failure message: 4QbZP3mIf2blobblobblob',
      'ec2.unauthorized',
      /^target 'cloud': the AWS identity in use may not call ec2:RunInstances \(UnauthorizedOperation\) in eu-west-1$/,
      /grant ec2:RunInstances/,
    ],
    [
      'InvalidKeyPair.NotFound',
      "The key pair 'repro-test' does not exist",
      'ec2.key-pair',
      /^target 'cloud': EC2 key pair 'repro-test' does not exist in eu-west-1$/,
      /import-key-pair/,
    ],
    [
      'InvalidAMIID.NotFound',
      "The image id '[ami-0000000000000000c]' does not exist",
      'ec2.ami',
      /^target 'cloud': AMI ami-0000000000000000c does not exist or is not available to you in eu-west-1/,
      /AMIs are regional/,
    ],
    [
      'CredentialsProviderError',
      'Could not load credentials from any providers',
      'ec2.credentials',
      /^target 'cloud': no AWS credentials found \(for RunInstances\)$/,
      /AWS_PROFILE/,
    ],
  ];
  for (const [name, message, code, re, hint] of cases) {
    test(`RunInstances ${name} → ${code}, nothing left to terminate`, async () => {
      ec2.on(DescribeImagesCommand).resolves(IMAGES);
      ec2.on(RunInstancesCommand).rejects(awsError(name, message));
      const e = await rejectsWith(ec2Provider.connect(CONFIG, connectOpts()), code, re);
      assert.match(e.hint ?? '', hint);
      assert.doesNotMatch(`${e.message}\n${e.hint}`, /Encoded|blob|arn:aws|123456789012/);
      assert.equal(ec2.commandCalls(TerminateInstancesCommand).length, 0);
      assert.equal(sshCalls.length, 0);
    });
  }

  test('DescribeImages denied → ec2.unauthorized naming ec2:DescribeImages', async () => {
    ec2
      .on(DescribeImagesCommand)
      .rejects(
        awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.'),
      );
    await rejectsWith(
      ec2Provider.connect(CONFIG, connectOpts()),
      'ec2.unauthorized',
      /may not call ec2:DescribeImages/,
    );
  });

  test('an instance that never runs: waiter timeout → ec2.timeout, and the instance is terminated', async () => {
    ec2.on(DescribeImagesCommand).resolves(IMAGES);
    ec2.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: ID }] });
    ec2.on(DescribeInstancesCommand).resolves(described('pending'));
    ec2.on(TerminateInstancesCommand).resolves({});
    const opts = connectOpts();
    await rejectsWith(
      ec2Provider.connect(CONFIG, opts),
      'ec2.timeout',
      new RegExp(
        `^target 'cloud': instance ${ID} did not become running within 2 s \\(it is pending\\)$`,
      ),
    );
    assert.ok(ec2.commandCalls(DescribeInstancesCommand).length >= 3, 'polled more than once');
    assert.deepEqual(
      ec2.commandCalls(TerminateInstancesCommand).map((c) => c.args[0].input),
      [{ InstanceIds: [ID] }],
    );
    assert.ok(
      opts.io.messages.some(
        (m) => m.level === 'warn' && m.text.includes(`terminated instance ${ID}`),
      ),
    );
  });

  test('DescribeInstances denied while waiting: the denial is reported, not a timeout', async () => {
    ec2.on(DescribeImagesCommand).resolves(IMAGES);
    ec2.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: ID }] });
    ec2
      .on(DescribeInstancesCommand)
      .rejects(
        awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.'),
      );
    ec2.on(TerminateInstancesCommand).resolves({});
    await rejectsWith(
      ec2Provider.connect(CONFIG, connectOpts()),
      'ec2.unauthorized',
      /may not call ec2:DescribeInstances/,
    );
    assert.equal(ec2.commandCalls(TerminateInstancesCommand).length, 1);
  });

  test('an instance that dies while booting → ec2.state with its state reason', async () => {
    ec2.on(DescribeImagesCommand).resolves(IMAGES);
    ec2.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: ID }] });
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce(described('pending'))
      .resolves(
        described('terminated', undefined, {
          StateReason: {
            Code: 'Server.InternalError',
            Message: 'Server.InternalError: Internal error on launch',
          },
        }),
      );
    ec2.on(TerminateInstancesCommand).resolves({});
    await rejectsWith(
      ec2Provider.connect(CONFIG, connectOpts()),
      'ec2.state',
      new RegExp(
        `instance ${ID} is terminated \\(Server.InternalError: Internal error on launch\\), not running`,
      ),
    );
  });

  test('no public address → ec2.no-address naming the subnet setting, and the instance is terminated', async () => {
    ec2.on(DescribeImagesCommand).resolves(IMAGES);
    ec2.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: ID }] });
    ec2.on(DescribeInstancesCommand).resolves(described('running'));
    ec2.on(TerminateInstancesCommand).resolves({});
    const e = await rejectsWith(
      ec2Provider.connect(CONFIG, connectOpts()),
      'ec2.no-address',
      /has no public IP address/,
    );
    assert.match(e.hint ?? '', /MapPublicIpOnLaunch/);
    assert.equal(ec2.commandCalls(TerminateInstancesCommand).length, 1);
  });

  test('sshd never answers (the real banner wait, on a closed port) → ec2.ssh-unreachable, instance terminated', async () => {
    ec2Runtime.waitForSsh = (host, _port, timeout) => saved.waitForSsh(host, closedPort, timeout);
    ec2.on(DescribeImagesCommand).resolves(IMAGES);
    ec2.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: ID }] });
    ec2.on(DescribeInstancesCommand).resolves(described('running', '127.0.0.1'));
    ec2.on(TerminateInstancesCommand).resolves({});
    const e = await rejectsWith(
      ec2Provider.connect(CONFIG, connectOpts()),
      'ec2.ssh-unreachable',
      new RegExp(
        `^target 'cloud': instance ${ID}: ssh on 127\\.0\\.0\\.1:\\d+ did not answer within 1 s \\(ECONNREFUSED\\)$`,
      ),
    );
    assert.match(e.hint ?? '', /security group/);
    assert.equal(ec2.commandCalls(TerminateInstancesCommand).length, 1);
    assert.equal(sshCalls.length, 0);
  });
});

let closedPort = 0;
let banner: Server | undefined;
let bannerPort = 0;
let notSsh: Server | undefined;
let notSshPort = 0;

before(async () => {
  const listen = (s: Server) =>
    new Promise<number>((resolve) =>
      s.listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port)),
    );
  const probe = createServer();
  closedPort = await listen(probe);
  await new Promise((r) => probe.close(r));
  banner = createServer((sock) => sock.end('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n'));
  bannerPort = await listen(banner);
  notSsh = createServer((sock) => sock.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  notSshPort = await listen(notSsh);
});

after(async () => {
  await new Promise((r) => (banner ? banner.close(r) : r(undefined)));
  await new Promise((r) => (notSsh ? notSsh.close(r) : r(undefined)));
});

describe('waitForSshBanner', () => {
  test('returns once the port speaks ssh', async () => {
    await waitForSshBanner('127.0.0.1', bannerPort, 2);
  });
  test('refuses a port that answers something else, and a closed one, within the bound', async () => {
    const t0 = Date.now();
    await rejectsWith(
      waitForSshBanner('127.0.0.1', notSshPort, 1),
      'ec2.ssh-unreachable',
      /not an ssh server \("HTTP/,
    );
    await rejectsWith(
      waitForSshBanner('127.0.0.1', closedPort, 1),
      'ec2.ssh-unreachable',
      /\(ECONNREFUSED\)/,
    );
    assert.ok(Date.now() - t0 < 6000);
  });
});

const BOUND: TargetBinding = {
  instance_id: ID,
  region: 'eu-west-1',
  ami: NEWEST,
  public_address: IP,
  host_key: PINNED,
  created: true,
};

describe('aws-ec2 bound instance', () => {
  test('reconnects to the recorded instance at its new address with the pinned key; launches nothing', async () => {
    ec2.on(DescribeInstancesCommand).resolves(described('running', IP2));
    const c = await ec2Provider.connect(CONFIG, connectOpts({ binding: BOUND, create: false }));
    assert.ok(c);
    assert.equal(c.created, false);
    assert.equal(ec2.commandCalls(RunInstancesCommand).length, 0);
    assert.equal(ec2.commandCalls(DescribeImagesCommand).length, 0);
    assert.deepEqual(sshCalls[0]!.opts.binding, {
      host: IP2,
      port: 22,
      user: 'admin',
      host_key: PINNED,
    });
    assert.deepEqual(c.binding, { ...BOUND, public_address: IP2 });
  });

  test('a pending instance is waited for', async () => {
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce(described('pending'))
      .resolves(described('running', IP));
    const c = await ec2Provider.connect(CONFIG, connectOpts({ binding: BOUND, create: false }));
    assert.ok(c);
    assert.equal(ec2.commandCalls(DescribeInstancesCommand).length, 3);
  });

  for (const [how, setup] of [
    ['terminated', () => ec2.on(DescribeInstancesCommand).resolves(described('terminated'))],
    ['shutting-down', () => ec2.on(DescribeInstancesCommand).resolves(described('shutting-down'))],
    [
      'unknown to EC2 (InvalidInstanceID.NotFound)',
      () =>
        ec2
          .on(DescribeInstancesCommand)
          .rejects(
            awsError('InvalidInstanceID.NotFound', `The instance ID '${ID}' does not exist`),
          ),
    ],
  ] as const) {
    test(`${how}: without create it is gone (undefined) with an "instance gone" warning`, async () => {
      setup();
      const opts = connectOpts({ binding: BOUND, create: false });
      assert.equal(await ec2Provider.connect(CONFIG, opts), undefined);
      const warn = opts.io.messages.find((m) => m.level === 'warn');
      assert.match(
        warn?.text ?? '',
        new RegExp(
          `^target 'cloud': instance gone: EC2 instance ${ID} in eu-west-1 is (terminated|shutting-down|gone)$`,
        ),
      );
      assert.equal(ec2.commandCalls(RunInstancesCommand).length, 0);
    });
  }

  test('terminated: with create a new instance is launched in its place', async () => {
    ec2.on(DescribeImagesCommand).resolves(IMAGES);
    ec2.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: 'i-0fffffffffffffff1' }] });
    ec2.on(DescribeInstancesCommand, { InstanceIds: [ID] }).resolves(described('terminated'));
    ec2.on(DescribeInstancesCommand, { InstanceIds: ['i-0fffffffffffffff1'] }).resolves({
      Reservations: [
        {
          Instances: [
            { InstanceId: 'i-0fffffffffffffff1', State: { Name: 'running' }, PublicIpAddress: IP2 },
          ],
        },
      ],
    });
    const c = await ec2Provider.connect(CONFIG, connectOpts({ binding: BOUND }));
    assert.ok(c);
    assert.equal(c.created, true);
    assert.equal(c.binding['instance_id'], 'i-0fffffffffffffff1');
    assert.equal(
      sshCalls[0]!.opts.binding,
      undefined,
      'the old pin does not carry over to a new machine',
    );
  });

  test('stopped: plan and drift say so clearly; apply starts it and waits for running', async () => {
    ec2.on(DescribeInstancesCommand).resolves(described('stopped'));
    const e = await rejectsWith(
      ec2Provider.connect(CONFIG, connectOpts({ binding: BOUND, create: false })),
      'ec2.stopped',
      new RegExp(`^target 'cloud': EC2 instance ${ID} is stopped$`),
    );
    assert.match(e.hint ?? '', /repro apply` starts it/);
    assert.equal(ec2.commandCalls(StartInstancesCommand).length, 0);

    ec2.reset();
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce(described('stopped'))
      .resolvesOnce(described('pending'))
      .resolves(described('running', IP2));
    ec2.on(StartInstancesCommand).resolves({});
    const c = await ec2Provider.connect(CONFIG, connectOpts({ binding: BOUND, create: true }));
    assert.ok(c);
    assert.deepEqual(
      ec2.commandCalls(StartInstancesCommand).map((x) => x.args[0].input),
      [{ InstanceIds: [ID] }],
    );
    assert.equal(c.binding['public_address'], IP2);
    assert.equal(c.created, false);
  });

  test('a binding from another region is refused instead of launching a second instance', async () => {
    await rejectsWith(
      ec2Provider.connect({ ...CONFIG, region: 'us-east-1' }, connectOpts({ binding: BOUND })),
      'ec2.region-changed',
      /instance i-0123456789abcdef0 is in eu-west-1, but the spec now says region us-east-1/,
    );
    assert.equal(ec2.calls().length, 0);
  });
});

describe('aws-ec2 destroy, stop, start, snapshot', () => {
  const dopts = () => ({ binding: BOUND, io: new BufferIoHost(), specDir: '/srv/spec' });

  test('destroy terminates the instance and waits for terminated', async () => {
    ec2.on(TerminateInstancesCommand).resolves({});
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce(described('shutting-down'))
      .resolves(described('terminated'));
    assert.equal(await ec2Provider.destroy(CONFIG, dopts()), true);
    assert.deepEqual(
      ec2.commandCalls(TerminateInstancesCommand).map((c) => c.args[0].input),
      [{ InstanceIds: [ID] }],
    );
    assert.equal(ec2.commandCalls(DescribeInstancesCommand).length, 2);
  });

  test('destroy of an instance EC2 no longer knows is done; of one not created by repro, refused', async () => {
    ec2.on(TerminateInstancesCommand).rejects(awsError('InvalidInstanceID.NotFound', 'gone'));
    assert.equal(await ec2Provider.destroy(CONFIG, dopts()), true);
    ec2.reset();
    assert.equal(
      await ec2Provider.destroy(CONFIG, { ...dopts(), binding: { ...BOUND, created: false } }),
      false,
    );
    assert.equal(ec2.calls().length, 0);
  });

  test('destroy denied → ec2.unauthorized naming ec2:TerminateInstances', async () => {
    ec2
      .on(TerminateInstancesCommand)
      .rejects(
        awsError(
          'UnauthorizedOperation',
          'You are not authorized to perform this operation. Encoded authorization failure message: zzz',
        ),
      );
    await rejectsWith(
      ec2Provider.destroy(CONFIG, dopts()),
      'ec2.unauthorized',
      new RegExp(`^instance ${ID}: the AWS identity in use may not call ec2:TerminateInstances`),
    );
  });

  test('stop waits stopping → stopped; start waits pending → running', async () => {
    ec2.on(StopInstancesCommand).resolves({});
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce(described('stopping'))
      .resolves(described('stopped'));
    await ec2Provider.stop(CONFIG, dopts());
    assert.deepEqual(
      ec2.commandCalls(StopInstancesCommand).map((c) => c.args[0].input),
      [{ InstanceIds: [ID] }],
    );
    assert.equal(ec2.commandCalls(DescribeInstancesCommand).length, 2);

    ec2.reset();
    ec2.on(StartInstancesCommand).resolves({});
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce(described('pending'))
      .resolves(described('running', IP2));
    await ec2Provider.start(CONFIG, dopts());
    assert.deepEqual(
      ec2.commandCalls(StartInstancesCommand).map((c) => c.args[0].input),
      [{ InstanceIds: [ID] }],
    );
    assert.equal(ec2.commandCalls(DescribeInstancesCommand).length, 2);
  });

  test('stop that never finishes → ec2.timeout', async () => {
    ec2.on(StopInstancesCommand).resolves({});
    ec2.on(DescribeInstancesCommand).resolves(described('stopping'));
    await rejectsWith(
      ec2Provider.stop(CONFIG, dopts()),
      'ec2.timeout',
      /did not become stopped within 2 s/,
    );
  });

  test('snapshot: CreateImage named and tagged, waits pending → available, returns an ami record', async () => {
    ec2.on(CreateImageCommand).resolves({ ImageId: 'ami-0aaaaaaaaaaaaaaa1' });
    ec2
      .on(DescribeImagesCommand)
      .resolvesOnce({ Images: [{ ImageId: 'ami-0aaaaaaaaaaaaaaa1', State: 'pending' }] })
      .resolves({ Images: [{ ImageId: 'ami-0aaaaaaaaaaaaaaa1', State: 'available' }] });
    const record = await ec2Provider.snapshot(CONFIG, {
      ...dopts(),
      name: 'after-setup',
      specName: 'demo',
      target: 'cloud',
      labels: { 'repro:target': 'cloud', 'repro:lineage': '6f1c1b4e-2d0c-4f57-9a57-0d1b7c0f7d11' },
    });
    assert.deepEqual(record, {
      name: 'after-setup',
      kind: 'ami',
      ref: 'ami-0aaaaaaaaaaaaaaa1',
      tag: 'eu-west-1',
    });
    const tags = [
      { Key: 'repro:lineage', Value: '6f1c1b4e-2d0c-4f57-9a57-0d1b7c0f7d11' },
      { Key: 'repro:target', Value: 'cloud' },
      { Key: 'repro:snapshot', Value: 'after-setup' },
    ];
    assert.deepEqual(
      ec2.commandCalls(CreateImageCommand).map((c) => c.args[0].input),
      [
        {
          InstanceId: ID,
          // Spec, target, snapshot name and lineage: EC2 wants 3+ characters, unique per region.
          Name: 'repro-demo-cloud-after-setup-6f1c1b4e',
          Description: `repro snapshot after-setup of ${ID}`,
          TagSpecifications: [
            { ResourceType: 'image', Tags: tags },
            { ResourceType: 'snapshot', Tags: tags },
          ],
        },
      ],
    );
    assert.deepEqual(
      ec2.commandCalls(DescribeImagesCommand).map((c) => c.args[0].input),
      [{ ImageIds: ['ami-0aaaaaaaaaaaaaaa1'] }, { ImageIds: ['ami-0aaaaaaaaaaaaaaa1'] }],
    );
  });

  test('snapshot that fails to build → ec2.image', async () => {
    ec2.on(CreateImageCommand).resolves({ ImageId: 'ami-0aaaaaaaaaaaaaaa1' });
    ec2
      .on(DescribeImagesCommand)
      .resolves({ Images: [{ ImageId: 'ami-0aaaaaaaaaaaaaaa1', State: 'failed' }] });
    await rejectsWith(
      ec2Provider.snapshot(CONFIG, {
        ...dopts(),
        name: 'x1',
        specName: 'demo',
        target: 'cloud',
        labels: {},
      }),
      'ec2.image',
      /^image ami-0aaaaaaaaaaaaaaa1 of instance i-0123456789abcdef0 failed to build$/,
    );
  });
});

// --- through the engine and the CLI ----------------------------------------------------------------

const SPEC = `version: 1
name: ec2-mock
targets:
  cloud:
    aws-ec2:
      region: eu-west-1
      distribution: debian
      release: bookworm
      key_name: repro-test
      key: id_ed25519
      security_group_ids: [sg-0123456789abcdef0]
      subnet_id: subnet-0123456789abcdef0
os:
  distribution: debian
  release: bookworm
  apt:
    packages: [tree]
`;

describe('aws-ec2 through the engine', () => {
  let dir = '';
  let statePath = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'repro-test-ec2-'));
    statePath = join(dir, 'state', 'cloud.json');
    await writeFile(join(dir, 'repro.yaml'), SPEC);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function recordState(binding: TargetBinding, withResources = true): Promise<void> {
    const ws = await openWorkspace({ specPath: join(dir, 'repro.yaml'), io: new BufferIoHost() });
    const base = newState('cloud', 'aws-ec2', ws.spec.digest);
    await writeState(statePath, undefined, {
      ...base,
      target: { ...base.target, binding },
      resources: withResources
        ? {
            'apt:tree': {
              kind: 'apt',
              attributes: { arch: 'amd64', name: 'tree', version: '2.1.0-1' },
            },
          }
        : {},
    });
  }

  test('drift on a terminated instance: target gone, every resource removed, "instance gone" said', async () => {
    await recordState(BOUND);
    ec2.on(DescribeInstancesCommand).resolves(described('terminated'));
    const io = new BufferIoHost();
    const ws = await openWorkspace({ specPath: join(dir, 'repro.yaml'), io });
    const r = await driftTarget(ws, false);
    assert.equal(r.targetGone, true);
    assert.deepEqual(
      r.drift.map((d) => d.address),
      ['apt:tree'],
    );
    assert.ok(
      io.messages.some(
        (m) =>
          m.text === `target 'cloud': instance gone: EC2 instance ${ID} in eu-west-1 is terminated`,
      ),
    );
    assert.equal(sshCalls.length, 0);
  });

  test('destroy of a stopped instance repro created terminates it without connecting', async () => {
    await recordState(BOUND);
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce(described('stopped'))
      .resolves(described('terminated'));
    ec2.on(TerminateInstancesCommand).resolves({});
    const io = new BufferIoHost();
    const ws = await openWorkspace({ specPath: join(dir, 'repro.yaml'), io });
    let shown: Plan | undefined;
    const r = await destroyTarget(ws, {
      onPlan: (p) => (shown = p),
      confirm: () => Promise.resolve(true),
    });
    assert.equal(r.aborted, false);
    assert.match(shown?.destroy_target ?? '', new RegExp(ID));
    assert.deepEqual(
      ec2.commandCalls(TerminateInstancesCommand).map((c) => c.args[0].input),
      [{ InstanceIds: [ID] }],
    );
    assert.ok(io.messages.some((m) => m.level === 'warn' && /is stopped/.test(m.text)));
    const after = JSON.parse(await readFile(statePath, 'utf8')) as {
      target: { binding: unknown };
      resources: object;
    };
    assert.equal(after.target.binding, null);
    assert.deepEqual(after.resources, {});
    assert.equal(sshCalls.length, 0);
  });

  test('destroy of an unreachable target repro did not create still fails', async () => {
    await recordState({ ...BOUND, created: false });
    ec2.on(DescribeInstancesCommand).resolves(described('stopped'));
    const ws = await openWorkspace({ specPath: join(dir, 'repro.yaml'), io: new BufferIoHost() });
    await assert.rejects(
      destroyTarget(ws, { onPlan: () => {}, confirm: () => Promise.resolve(true) }),
      (e: unknown) => e instanceof ReproError && e.code === 'ec2.stopped',
    );
    assert.equal(ec2.commandCalls(TerminateInstancesCommand).length, 0);
  });

  test('plan on a terminated instance proposes a new one', async () => {
    await recordState(BOUND);
    ec2.on(DescribeInstancesCommand).rejects(awsError('InvalidInstanceID.NotFound', 'gone'));
    const ws = await openWorkspace({ specPath: join(dir, 'repro.yaml'), io: new BufferIoHost() });
    const { plan } = await planTarget(ws, undefined);
    assert.equal(
      plan.create_target,
      'EC2 instance (t3.small) in eu-west-1 from the newest Debian image named debian-12-amd64-*',
    );
    assert.equal(ec2.commandCalls(RunInstancesCommand).length, 0, 'plan launches nothing');
  });

  test('apply whose launch fails: the error names the target, the lineage tag is the state’s, no state is written', async () => {
    ec2.on(DescribeImagesCommand).resolves(IMAGES);
    ec2.on(RunInstancesCommand).rejects(awsError('InsufficientInstanceCapacity', 'no capacity'));
    const ws = await openWorkspace({ specPath: join(dir, 'repro.yaml'), io: new BufferIoHost() });
    await rejectsWith(
      applyTarget(ws, { update: undefined, onPlan: () => {}, confirm: async () => true }),
      'ec2.capacity',
      /^target 'cloud': AWS has no capacity for t3\.small in eu-west-1/,
    );
    const tags =
      ec2.commandCalls(RunInstancesCommand)[0]!.args[0].input.TagSpecifications?.[0]?.Tags ?? [];
    assert.match(tags.find((t) => t.Key === 'repro:lineage')?.Value ?? '', UUID);
    assert.equal(tags.find((t) => t.Key === 'repro:target')?.Value, 'cloud');
    await assert.rejects(readFile(statePath, 'utf8'), /ENOENT/);
  });

  test('`repro drift` (the CLI, EC2 mocked in its process) says the instance is gone, exit 2', async () => {
    await recordState(BOUND);
    const mockFile = join(dir, 'ec2-mock.json');
    await writeFile(
      mockFile,
      JSON.stringify({ DescribeInstances: { output: described('terminated') } }),
    );
    const r = await run(
      [process.execPath, '--import', PRELOAD, CLI, 'drift', '--detailed-exitcode'],
      {
        cwd: dir,
        env: { NO_COLOR: '1', REPRO_TEST_EC2_MOCK: mockFile },
      },
    );
    assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(`target 'cloud': instance gone: EC2 instance ${ID} in eu-west-1 is terminated`),
    );
    assert.match(r.stdout, /^The target recorded in .*state\/cloud\.json no longer exists\.$/m);
    assert.match(r.stdout, /apt:tree +removed outside repro/);
    assert.doesNotMatch(r.stderr, /Error| {4}at /);

    await writeFile(
      mockFile,
      JSON.stringify({
        DescribeInstances: {
          error: {
            name: 'UnauthorizedOperation',
            message:
              'You are not authorized to perform this operation. Encoded authorization failure message: blob',
          },
        },
      }),
    );
    const denied = await run([process.execPath, '--import', PRELOAD, CLI, 'drift'], {
      cwd: dir,
      env: { NO_COLOR: '1', REPRO_TEST_EC2_MOCK: mockFile },
    });
    assert.equal(denied.code, 1);
    assert.match(
      denied.stderr,
      /^Error: target 'cloud': the AWS identity in use may not call ec2:DescribeInstances \(UnauthorizedOperation\) in eu-west-1$/m,
    );
    assert.doesNotMatch(denied.stderr, /blob| {4}at /);
  });

  test('`repro drift` on a gone instance whose state recorded no resources: still not "No drift."', async () => {
    await recordState(BOUND, false);
    const mockFile = join(dir, 'ec2-mock.json');
    await writeFile(
      mockFile,
      JSON.stringify({ DescribeInstances: { output: described('terminated') } }),
    );
    const r = await run(
      [process.execPath, '--import', PRELOAD, CLI, 'drift', '--detailed-exitcode'],
      {
        cwd: dir,
        env: { NO_COLOR: '1', REPRO_TEST_EC2_MOCK: mockFile },
      },
    );
    assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^The target recorded in .*state\/cloud\.json no longer exists\.$/m);
    assert.doesNotMatch(r.stdout, /No drift/);
    assert.match(r.stderr, /instance gone/);
  });
});

const PRELOAD = fileURLToPath(new URL('./ec2-mock-preload.js', import.meta.url));

// The aws-ec2 provider end to end through the engine: the EC2 API is mocked (aws-sdk-client-mock;
// AWS is not reachable here), everything after boot is real. The mocked API behaves like a small
// EC2: RunInstances makes a pending instance that runs on the next DescribeInstances, whose public
// address is the IP of a real sshd container (the ssh branch's test image, user alice with
// NOPASSWD sudo, as `admin` is on Debian's AMIs); StopInstances/StartInstances really stop and
// start that container, so the address is re-read and the pinned host key re-checked after a
// restart; TerminateInstances removes it. Assertions run on the container through `docker exec`,
// independently of repro's ssh connection.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  EC2ServiceException,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { ec2Provider, ec2Runtime, type Ec2Config } from '../../providers/aws-ec2.js';
import { runProcess } from '../../providers/process.js';
import { BufferIoHost } from '../../src/core/io.js';
import { ReproError } from '../../src/core/errors.js';
import { openWorkspace, readTargetState } from '../../src/engine/workspace.js';
import {
  applyTarget,
  destroyTarget,
  driftTarget,
  planTarget,
} from '../../src/engine/operations.js';
import { steps } from './cli.js';
import { requireOrSkip, TEST_LABEL, uniqueName } from './helpers.js';
import { ensureSshdImage, hostFingerprint, regenerateHostKeys } from './ssh-helpers.js';

const ID = 'i-0e2e0e2e0e2e0e2e0';
const AMI = 'ami-0b0b0b0b0b0b0b0b0';
const container = uniqueName('repro-test-ec2');
let dir = '';

async function docker(...args: string[]): Promise<string> {
  const r = await runProcess('docker', args);
  if (r.exitCode !== 0)
    throw new Error(`docker ${args.join(' ')}: exit ${r.exitCode}\n${r.stderr}`);
  return r.stdout.trim();
}

async function containerIp(): Promise<string> {
  return docker(
    'inspect',
    '-f',
    '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
    container,
  );
}

async function dpkgStatus(pkg: string): Promise<string> {
  const r = await runProcess('docker', [
    'exec',
    container,
    'dpkg-query',
    '-W',
    '-f=${Status}',
    pkg,
  ]);
  return r.exitCode === 0 ? r.stdout : 'not installed';
}

/** A one-instance EC2 whose instance is the sshd container. */
class FakeEc2 {
  state: 'none' | 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated' =
    'none';
  readonly ec2 = mockClient(EC2Client);

  constructor() {
    this.ec2.onAnyCommand().rejects(new Error('unexpected EC2 call'));
    this.ec2.on(DescribeImagesCommand).resolves({
      Images: [
        {
          ImageId: AMI,
          Name: 'debian-12-amd64-20250610-2140',
          CreationDate: '2025-06-10T21:40:00.000Z',
        },
      ],
    });
    this.ec2.on(RunInstancesCommand).callsFake(() => {
      this.state = 'pending';
      return { Instances: [{ InstanceId: ID, State: { Name: 'pending' } }] };
    });
    this.ec2.on(DescribeInstancesCommand).callsFake(async () => {
      if (this.state === 'none') {
        throw new EC2ServiceException({
          name: 'InvalidInstanceID.NotFound',
          $fault: 'client',
          $metadata: {},
          message: 'not found',
        });
      }
      const shown = this.state;
      // Transitional states last one poll, as a slow EC2 would show them.
      if (shown === 'pending') this.state = 'running';
      if (shown === 'stopping') this.state = 'stopped';
      if (shown === 'shutting-down') this.state = 'terminated';
      const ip = shown === 'running' ? await containerIp() : undefined;
      return {
        Reservations: [
          {
            Instances: [
              {
                InstanceId: ID,
                ImageId: AMI,
                State: { Name: shown },
                ...(ip ? { PublicIpAddress: ip } : {}),
              },
            ],
          },
        ],
      };
    });
    this.ec2.on(StopInstancesCommand).callsFake(async () => {
      await docker('stop', '-t', '2', container);
      this.state = 'stopping';
      return {};
    });
    this.ec2.on(StartInstancesCommand).callsFake(async () => {
      await docker('start', container);
      this.state = 'pending';
      return {};
    });
    this.ec2.on(TerminateInstancesCommand).callsFake(async () => {
      await docker('rm', '-f', container);
      this.state = 'shutting-down';
      return {};
    });
  }
}

const savedTiming = { ...ec2Runtime.timing };
let fake: FakeEc2 | undefined;

after(async () => {
  fake?.ec2.restore();
  Object.assign(ec2Runtime.timing, savedTiming);
  await runProcess('docker', ['rm', '-f', container]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('aws-ec2: mocked EC2 API, real ssh hand-off, real apt on the "instance"', async (t) => {
  if (!requireOrSkip(t, 'docker')) return;
  Object.assign(ec2Runtime.timing, {
    minDelay: 0.05,
    maxDelay: 0.2,
    instanceTimeout: 30,
    addressTimeout: 5,
    sshTimeout: 30,
  });
  dir = await mkdtemp(join(tmpdir(), 'repro-test-ec2-'));
  const key = join(dir, 'id_ed25519');
  const kg = await runProcess('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    'repro-test-ec2',
    '-f',
    key,
  ]);
  assert.equal(kg.exitCode, 0, kg.stderr);
  const pub = (await readFile(`${key}.pub`, 'utf8')).trim();
  const image = await ensureSshdImage();
  await docker(
    'run',
    '-d',
    '--init',
    '--name',
    container,
    '--label',
    `${TEST_LABEL}=true`,
    '-e',
    `AUTHORIZED_KEY=${pub}`,
    image,
  );
  await writeFile(
    join(dir, 'repro.yaml'),
    `version: 1
name: ec2-e2e
targets:
  cloud:
    aws-ec2:
      region: eu-west-1
      distribution: debian
      release: bookworm
      key_name: repro-test
      key: id_ed25519
      user: alice
      security_group_ids: [sg-0123456789abcdef0]
      tags: {Project: repro-test}
os:
  distribution: debian
  release: bookworm
  apt:
    packages: [tree]
`,
  );
  fake = new FakeEc2();
  const ec2 = fake.ec2;
  const io = new BufferIoHost();
  const open = (acceptHostKey = false) =>
    openWorkspace({ specPath: join(dir, 'repro.yaml'), io, acceptHostKey });
  const apply = async (acceptHostKey = false) =>
    applyTarget(await open(acceptHostKey), {
      update: undefined,
      onPlan: () => {},
      confirm: async () => true,
    });
  const statePath = join(dir, 'state', 'cloud.json');
  const step = steps(t);

  await step('apply launches the instance, waits for it, and installs over ssh', async () => {
    const out = await apply();
    assert.equal(out.result?.failures.length, 0);
    assert.match(await dpkgStatus('tree'), /^install ok installed$/);
    const state = JSON.parse(await readFile(statePath, 'utf8'));
    assert.deepEqual(state.target.binding, {
      instance_id: ID,
      region: 'eu-west-1',
      ami: AMI,
      public_address: await containerIp(),
      host_key: `ssh-ed25519 ${await hostFingerprint(container)}`,
      created: true,
    });
    const run = ec2.commandCalls(RunInstancesCommand);
    assert.equal(run.length, 1);
    const input = run[0]!.args[0].input;
    assert.equal(input.ImageId, AMI);
    assert.equal(input.KeyName, 'repro-test');
    assert.deepEqual(input.SecurityGroupIds, ['sg-0123456789abcdef0']);
    assert.deepEqual(input.TagSpecifications?.[0]?.Tags, [
      { Key: 'Name', Value: 'repro-cloud' },
      { Key: 'Project', Value: 'repro-test' },
      { Key: 'repro:lineage', Value: state.lineage },
      { Key: 'repro:target', Value: 'cloud' },
    ]);
    assert.equal(state.resources['apt:tree'].attributes.name, 'tree');
    // state/aws-ec2.json, the committed sample, is this file (REPRO_EC2_SAMPLE=state/aws-ec2.json).
    const sample = process.env['REPRO_EC2_SAMPLE'];
    if (sample) await copyFile(statePath, sample);
  });

  await step('a second plan changes nothing and launches nothing', async () => {
    const before = await readFile(statePath, 'utf8');
    const { plan } = await planTarget(await open(), undefined);
    assert.equal(plan.create_target, null);
    assert.ok(
      plan.changes.every((c) => c.action === 'noop'),
      JSON.stringify(plan.changes),
    );
    await apply();
    assert.equal(await readFile(statePath, 'utf8'), before, 'state byte-identical');
    assert.equal(ec2.commandCalls(RunInstancesCommand).length, 1);
  });

  await step('drift sees a package removed on the instance; apply restores it', async () => {
    await docker('exec', container, 'apt-get', 'remove', '-y', '-qq', 'tree');
    const d = await driftTarget(await open(), false);
    assert.equal(d.targetGone, false);
    assert.deepEqual(
      d.drift.map((x) => x.address),
      ['apt:tree'],
    );
    await apply();
    assert.match(await dpkgStatus('tree'), /^install ok installed$/);
  });

  await step(
    'stop and start: the instance really stops, its current address is recorded, the pin holds',
    async () => {
      const ws = await open();
      const config = ws.target.config as unknown as Ec2Config;
      const binding = (await readTargetState(ws))!.target.binding!;
      const hooks = { binding, io, specDir: dir };
      await ec2Provider.stop(config, hooks);
      assert.equal(await docker('inspect', '-f', '{{.State.Running}}', container), 'false');
      await assert.rejects(
        planTarget(await open(), undefined),
        (e: unknown) => e instanceof ReproError && e.code === 'ec2.stopped',
      );
      await ec2Provider.start(config, hooks);
      const { plan } = await planTarget(await open(), undefined);
      assert.ok(plan.changes.every((c) => c.action === 'noop'));
      // The address is whatever the restarted instance has now (docker may or may not reuse it).
      await apply();
      const state = JSON.parse(await readFile(statePath, 'utf8'));
      assert.equal(state.target.binding.public_address, await containerIp());
      assert.ok(
        ec2.commandCalls(StopInstancesCommand).length === 1 &&
          ec2.commandCalls(StartInstancesCommand).length === 1,
      );
    },
  );

  await step('a changed host key is refused; --accept-host-key pins the new one', async () => {
    await regenerateHostKeys(container);
    await assert.rejects(
      apply(),
      (e: unknown) => e instanceof ReproError && e.code === 'ssh.host-key-mismatch',
    );
    await apply(true);
    const state = JSON.parse(await readFile(statePath, 'utf8'));
    assert.equal(state.target.binding.host_key, `ssh-ed25519 ${await hostFingerprint(container)}`);
  });

  await step('destroy terminates the instance and forgets it', async () => {
    const out = await destroyTarget(await open(), { onPlan: () => {}, confirm: async () => true });
    assert.equal(out.aborted, false);
    assert.deepEqual(
      ec2.commandCalls(TerminateInstancesCommand).map((c) => c.args[0].input),
      [{ InstanceIds: [ID] }],
    );
    assert.notEqual(
      (await runProcess('docker', ['inspect', container])).exitCode,
      0,
      'container removed',
    );
    const state = JSON.parse(await readFile(statePath, 'utf8'));
    assert.equal(state.target.binding, null);
    assert.deepEqual(state.resources, {});
  });
});

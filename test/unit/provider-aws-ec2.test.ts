// The aws-ec2 provider's pure parts: the image table (owner + name pattern per release), the
// architecture of an instance type, the newest-image choice, config checks, the plan's create
// line, and how each EC2 error becomes a ReproError a user can act on. No SDK call is made here:
// the API paths are in test/integration/aws-ec2.test.ts, against aws-sdk-client-mock.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  architectureOf,
  defaultUser,
  imageSourceFor,
  knownReleases,
  newestImage,
} from '../../providers/ec2-amis.js';
import { ec2Error, ec2Provider, type Ec2Config } from '../../providers/aws-ec2.js';
import { ReproError } from '../../src/core/errors.js';

test('architectureOf: Graviton families are arm64, everything else x86_64', () => {
  const cases: [string, string][] = [
    ['t3.small', 'x86_64'],
    ['t4g.small', 'arm64'],
    ['m7g.large', 'arm64'],
    ['c7gn.xlarge', 'arm64'],
    ['x2gd.medium', 'arm64'],
    ['im4gn.large', 'arm64'],
    ['g5g.xlarge', 'arm64'],
    ['g4dn.xlarge', 'x86_64'],
    ['m7i-flex.large', 'x86_64'],
    ['c5.large', 'x86_64'],
    ['p5.48xlarge', 'x86_64'],
  ];
  for (const [type, arch] of cases) assert.equal(architectureOf(type), arch, type);
});

test('imageSourceFor: publisher accounts and name patterns per release and architecture', () => {
  assert.deepEqual(imageSourceFor('debian', 'bookworm', 'x86_64'), {
    owner: '136693071363',
    publisher: 'Debian',
    namePattern: 'debian-12-amd64-*',
    user: 'admin',
  });
  assert.equal(imageSourceFor('debian', 'trixie', 'arm64')?.namePattern, 'debian-13-arm64-*');
  assert.deepEqual(imageSourceFor('ubuntu', 'noble', 'x86_64'), {
    owner: '099720109477',
    publisher: 'Canonical',
    namePattern: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*',
    user: 'ubuntu',
  });
  assert.equal(
    imageSourceFor('ubuntu', 'jammy', 'arm64')?.namePattern,
    'ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-arm64-server-*',
  );
  assert.equal(imageSourceFor('debian', 'noble', 'x86_64'), undefined);
  assert.equal(imageSourceFor('fedora', '40', 'x86_64'), undefined);
  assert.deepEqual(knownReleases(), [
    'debian/bullseye',
    'debian/bookworm',
    'debian/trixie',
    'ubuntu/jammy',
    'ubuntu/noble',
  ]);
  assert.equal(defaultUser('debian'), 'admin');
  assert.equal(defaultUser('ubuntu'), 'ubuntu');
  assert.equal(defaultUser(undefined), undefined);
});

test('newestImage: latest CreationDate wins, whatever order EC2 answers in', () => {
  const images = [
    {
      ImageId: 'ami-0000000000000000a',
      Name: 'debian-12-amd64-20240102-1614',
      CreationDate: '2024-01-02T10:00:00.000Z',
    },
    {
      ImageId: 'ami-0000000000000000c',
      Name: 'debian-12-amd64-20250610-2140',
      CreationDate: '2025-06-10T21:40:00.000Z',
    },
    {
      ImageId: 'ami-0000000000000000b',
      Name: 'debian-12-amd64-20241110-1928',
      CreationDate: '2024-11-10T19:28:00.000Z',
    },
    { Name: 'no id', CreationDate: '2030-01-01T00:00:00.000Z' },
  ];
  assert.equal(newestImage(images)?.ImageId, 'ami-0000000000000000c');
  assert.equal(newestImage([...images].reverse())?.ImageId, 'ami-0000000000000000c');
  assert.equal(newestImage([]), undefined);
});

const BASE: Ec2Config = { region: 'eu-west-1', distribution: 'debian', release: 'bookworm' };

test('check: accepts a minimal config and reports every problem of a bad one', () => {
  assert.deepEqual(ec2Provider.check(BASE), []);
  assert.deepEqual(
    ec2Provider.check({ region: 'us-east-1', ami: 'ami-0123456789abcdef0', user: 'admin' }),
    [],
  );
  const problems = ec2Provider.check({
    region: 'Ireland',
    ami: 'ubuntu',
    instance_type: 'small',
    security_group_ids: ['default'],
    subnet_id: 'public',
    user: 'Admin User',
    tags: { 'repro:target': 'x', Project: 'ok' },
  });
  assert.equal(problems.length, 7, problems.join('\n'));
  for (const what of [
    'region',
    'ami',
    'instance_type',
    '"default"',
    'subnet_id',
    'user',
    'repro:target',
  ]) {
    assert.ok(
      problems.some((p) => p.includes(what)),
      `${what} in ${problems.join('\n')}`,
    );
  }
  assert.match(
    ec2Provider.check({ region: 'eu-west-1' })[0] ?? '',
    /either ami, or distribution and release/,
  );
  assert.match(
    ec2Provider.check({ region: 'eu-west-1', distribution: 'debian', release: 'noble' })[0] ?? '',
    /no official image known for debian\/noble; known: debian\/bullseye/,
  );
  assert.match(
    ec2Provider.check({ region: 'eu-west-1', ami: 'ami-0123456789abcdef0' })[0] ?? '',
    /give user/,
  );
});

test('describeCreate: names the instance type, region and image source', () => {
  assert.equal(
    ec2Provider.describeCreate(BASE),
    'EC2 instance (t3.small) in eu-west-1 from the newest Debian image named debian-12-amd64-*',
  );
  assert.equal(
    ec2Provider.describeCreate({ ...BASE, instance_type: 't4g.micro' }),
    'EC2 instance (t4g.micro) in eu-west-1 from the newest Debian image named debian-12-arm64-*',
  );
  assert.equal(
    ec2Provider.describeCreate({ region: 'us-east-2', ami: 'ami-0123456789abcdef0', user: 'x' }),
    'EC2 instance (t3.small) in us-east-2 from ami-0123456789abcdef0',
  );
});

function awsError(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

const S = { subject: "target 'cloud'", region: 'eu-west-1' };

test('ec2Error: each known failure says what happened and what to do', () => {
  const encoded =
    'You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/alice is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:eu-west-1:123456789012:instance/* because no identity-based policy allows the ec2:RunInstances action. Encoded authorization failure message: Xk2Zq0AbCdEf-very-long-blob';
  const cases: [Error, string, RegExp, RegExp][] = [
    [
      awsError('UnauthorizedOperation', encoded),
      'ec2.unauthorized',
      /^target 'cloud': the AWS identity in use may not call ec2:RunInstances \(UnauthorizedOperation\) in eu-west-1$/,
      /grant ec2:RunInstances .*decode-authorization-message/,
    ],
    [
      awsError(
        'InsufficientInstanceCapacity',
        'We currently do not have sufficient t3.small capacity',
      ),
      'ec2.capacity',
      /^target 'cloud': AWS has no capacity for t3\.small in eu-west-1/,
      /another instance_type, or a subnet_id in another availability zone/,
    ],
    [
      awsError('InvalidKeyPair.NotFound', "The key pair 'laptop' does not exist"),
      'ec2.key-pair',
      /^target 'cloud': EC2 key pair 'laptop' does not exist in eu-west-1$/,
      /import-key-pair/,
    ],
    [
      awsError('InvalidAMIID.NotFound', "The image id '[ami-0123456789abcdef0]' does not exist"),
      'ec2.ami',
      /^target 'cloud': AMI ami-0123456789abcdef0 does not exist or is not available to you in eu-west-1/,
      /AMIs are regional/,
    ],
    [
      awsError('CredentialsProviderError', 'Could not load credentials from any providers'),
      'ec2.credentials',
      /^target 'cloud': no AWS credentials found \(for RunInstances\)$/,
      /AWS_PROFILE.*never stores credentials/,
    ],
    [
      awsError('AuthFailure', 'AWS was not able to validate the provided access credentials'),
      'ec2.credentials',
      /AWS rejected the credentials \(AuthFailure on RunInstances\)/,
      /get-caller-identity/,
    ],
    [
      awsError('TimeoutError', '{"state":"TIMEOUT"}'),
      'ec2.timeout',
      /^target 'cloud': timed out waiting for RunInstances$/,
      /run the command again/,
    ],
  ];
  for (const [err, code, message, hint] of cases) {
    const r = ec2Error(err, S, 'RunInstances', {
      ami: 'ami-0123456789abcdef0',
      keyName: 'laptop',
      instanceType: 't3.small',
    });
    assert.ok(r instanceof ReproError);
    assert.equal(r.code, code, err.name);
    assert.match(r.message, message, err.name);
    assert.match(r.hint ?? '', hint, err.name);
    assert.equal(r.cause, err);
    // Neither the encoded blob nor the account's ARN reaches the message or hint.
    assert.doesNotMatch(`${r.message} ${r.hint}`, /Encoded|Xk2Zq0|arn:aws|123456789012/);
  }
  const generic = ec2Error(
    awsError('VcpuLimitExceeded', 'You have requested more vCPU capacity'),
    S,
    'RunInstances',
  );
  assert.equal(generic.code, 'ec2.api');
  assert.equal(
    generic.message,
    "target 'cloud': EC2 RunInstances failed: VcpuLimitExceeded: You have requested more vCPU capacity",
  );
  const net = Object.assign(new Error('getaddrinfo ENOTFOUND ec2.eu-west-1.amazonaws.com'), {
    code: 'ENOTFOUND',
  });
  assert.equal(ec2Error(net, S, 'DescribeInstances').code, 'ec2.unreachable');
  const already = new ReproError('x.y', 'kept');
  assert.equal(ec2Error(already, S, 'RunInstances'), already);
});

test('@aws-sdk/client-ec2 loads only when an EC2 call is made, and stays outside the CLI bundle', async () => {
  const dist = fileURLToPath(new URL('../../', import.meta.url));
  // In a fresh process: the SDK (CommonJS, so visible in require.cache) is not loaded by other
  // providers, nor by loading the aws-ec2 provider and checking a config; a positive control last.
  const script = `
    import { createRequire } from 'node:module';
    const require = createRequire(import.meta.url);
    const loaded = () => Object.keys(require.cache).some((k) => k.includes('client-ec2'));
    const { loadProvider } = await import(${JSON.stringify(join(dist, 'providers/index.js'))});
    const seen = [];
    for (const kind of ['local', 'chroot', 'docker', 'ssh']) { await loadProvider(kind); seen.push(loaded()); }
    const ec2 = await loadProvider('aws-ec2');
    ec2.check({ region: 'eu-west-1', distribution: 'debian', release: 'bookworm' });
    ec2.describeCreate({ region: 'eu-west-1', distribution: 'debian', release: 'bookworm' });
    seen.push(loaded());
    await import('@aws-sdk/client-ec2');
    seen.push(loaded());
    console.log(JSON.stringify(seen));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: dist,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [false, false, false, false, false, true]);

  // The chunks the built CLI reaches from repro.js (older builds leave unreferenced ones behind).
  const cli = join(dist, 'src', 'cli');
  const reached = new Set<string>();
  const queue = ['repro.js'];
  const importing: string[] = [];
  while (queue.length > 0) {
    const f = queue.pop()!;
    if (reached.has(f)) continue;
    reached.add(f);
    const text = await readFile(join(cli, f), 'utf8');
    for (const m of text.matchAll(/"\.\/(repro-[\w-]+\.js)"/g)) queue.push(m[1]!);
    if (text.includes('import("@aws-sdk/client-ec2")')) importing.push(f);
    // Inlined SDK code would carry its class names; only an import of the package may appear.
    assert.doesNotMatch(text, /class EC2Client|EC2ServiceException extends/, f);
  }
  assert.ok(reached.size > 1, `chunks reached: ${[...reached].join(', ')}`);
  assert.equal(importing.length, 1, `one chunk imports the SDK: ${importing.join(', ')}`);
  assert.match(importing[0]!, /^repro-aws-ec2-/);
});

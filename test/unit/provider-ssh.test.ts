// The ssh provider's pure parts: OpenSSH-compatible fingerprints (goldens from ssh-keygen -l -E
// sha256), the remote command line (quoting, LC_ALL, sudo -n), host key algorithm preference for a
// pinned key type, and config checks. The connection itself is tested on real sshd containers.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import {
  algorithmsFor,
  fingerprintOf,
  remoteCommand,
  sshProvider,
  type SshConfig,
} from '../../providers/ssh.js';
import { parseSshUrl, type DockerSshEndpoint } from '../../providers/docker-ssh.js';
import { dockerProvider } from '../../providers/docker.js';

const blob = (pub: string): Buffer => Buffer.from(pub.split(' ')[1]!, 'base64');

describe('ssh fingerprintOf', () => {
  // Made with ssh-keygen; the expected values are what `ssh-keygen -l -E sha256` printed.
  const cases: [string, string][] = [
    [
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJss1JxU4C3HOxj9b8sROt6RquBOvgkGKKdaJGkqWKKY',
      'ssh-ed25519 SHA256:JHivuFk5HloWCVEowiJL4KgnbhGuX+ek/+/HMCQgk48',
    ],
    [
      'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCimWG1mDWZh96kAgVHHekC6pltWERgohp9o0tUDyQNlmadCGW3+PavUzw28GdMFFkf+LbJEn539+7VPQNXjVkKSAJjcMLdODpOL43xqm3q2OMBIO5OFRneKhzpmY68vHYhT3SnxN+Y/gWXqExS+UwPT1hihEk1HHKun18yoycMow==',
      'ssh-rsa SHA256:PQIe+WyVc9/oWordgaomhQ5qwN9Ik5funDNmahhQs4Y',
    ],
  ];
  for (const [pub, expected] of cases) {
    it(`matches ssh-keygen for ${pub.split(' ')[0]}`, () => {
      assert.equal(fingerprintOf(blob(pub)), expected);
    });
  }
  it('never pads the base64 and survives a malformed blob', () => {
    assert.doesNotMatch(fingerprintOf(Buffer.from('x')), /=/);
    assert.match(fingerprintOf(Buffer.alloc(0)), /^unknown SHA256:/);
  });
});

describe('ssh remoteCommand', () => {
  it('quotes every word and sets LC_ALL=C', () => {
    assert.equal(remoteCommand(['/bin/sh', '-s'], false), 'env LC_ALL=C /bin/sh -s');
    assert.equal(
      remoteCommand(['echo', "it's; rm -rf /"], false),
      `env LC_ALL=C echo 'it'\\''s; rm -rf /'`,
    );
  });
  it('runs through non-interactive sudo when asked', () => {
    assert.equal(remoteCommand(['/bin/sh', '-s'], true), 'sudo -n -- env LC_ALL=C /bin/sh -s');
  });
  it('is parsed back by sh into exactly the argv', () => {
    const argv = ['printf', '%s|', 'a b', "c'd", '$(id)', '`id`', 'e\nf', ''];
    const r = spawnSync('sh', ['-c', remoteCommand(argv, false)], { encoding: 'utf8' });
    assert.equal(r.stdout, "a b|c'd|$(id)|`id`|e\nf||");
  });
});

describe('ssh algorithmsFor', () => {
  it('keeps the default order without a pin', () => {
    assert.equal(algorithmsFor(undefined)[0], 'ssh-ed25519');
  });
  it('asks for the pinned key type first, so the server presents the pinned key', () => {
    assert.deepEqual(algorithmsFor('ssh-rsa SHA256:x').slice(0, 3), [
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
    ]);
    assert.equal(algorithmsFor('ecdsa-sha2-nistp256 SHA256:x')[0], 'ecdsa-sha2-nistp256');
    assert.equal(algorithmsFor('ecdsa-sha2-nistp256 SHA256:x').length, 7);
  });
});

describe('ssh check', () => {
  const cases: [string, SshConfig, RegExp | undefined][] = [
    ['a plain host', { host: 'login.example.org' }, undefined],
    ['an IPv6 address', { host: '2001:db8::1', port: 2222, user: 'alice' }, undefined],
    ['an option-looking host', { host: '-oProxyCommand=x' }, /host .* is not a host name/],
    ['a host with spaces', { host: 'a b' }, /host .* is not a host name/],
    ['a port out of range', { host: 'h', port: 0 }, /port 0 must be an integer from 1 to 65535/],
    ['a bad user', { host: 'h', user: 'ro ot' }, /user "ro ot" is not a user name/],
    ['a bad timeout', { host: 'h', connect_timeout: 0 }, /connect_timeout must be a positive/],
    ['no way to authenticate', { host: 'h', agent: false }, /agent is false and no key/],
    ['a bad jump host', { host: 'h', jump: { host: '-x' } }, /^ssh: jump: host "-x"/],
  ];
  for (const [name, config, expected] of cases) {
    it(name, () => {
      const errors = sshProvider.check(config);
      if (expected === undefined) assert.deepEqual(errors, []);
      else
        assert.ok(
          errors.some((e) => expected.test(e)),
          errors.join('\n'),
        );
    });
  }
  it('never creates or destroys a host', async () => {
    assert.match(sshProvider.describeCreate({ host: 'h' }), /cannot create an ssh host/);
    assert.equal(await sshProvider.destroy(), false);
  });
});

describe('docker over ssh: host URLs', () => {
  const cases: [string, DockerSshEndpoint | undefined][] = [
    [
      'ssh://alice@build.example.org:2222',
      { user: 'alice', host: 'build.example.org', port: 2222 },
    ],
    ['ssh://192.0.2.7', { user: 'root', host: '192.0.2.7', port: 22 }],
    ['ssh://bob@[2001:db8::1]:22/', { user: 'bob', host: '2001:db8::1', port: 22 }],
    ['tcp://192.0.2.7:2375', undefined],
    ['ssh://-oProxyCommand=x', undefined],
    ['ssh://-oFoo', undefined],
    ['ssh://h:70000', undefined],
  ];
  for (const [url, expected] of cases) {
    it(url, () => assert.deepEqual(parseSshUrl(url), expected));
  }
  it('the docker provider checks host and key', () => {
    const base = { container: 'c1', image: 'debian:bookworm' };
    assert.deepEqual(dockerProvider.check({ ...base, host: 'ssh://a@h:22', key: 'k' }), []);
    assert.match(
      dockerProvider.check({ ...base, host: 'tcp://h:2375' }).join('\n'),
      /host "tcp:\/\/h:2375" must be ssh:\/\/user@host\[:port\]/,
    );
    assert.match(
      dockerProvider.check({ ...base, key: 'k' }).join('\n'),
      /key is only used with host: ssh:\/\//,
    );
  });
});

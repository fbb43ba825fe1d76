// Docker over ssh: the docker provider with `host: ssh://root@…` drives this machine's dockerd
// through an sshd container that has the daemon's socket and Debian's docker CLI (the host's own
// /usr/bin/docker, same bookworm, bind-mounted read-only) so `docker system dial-stdio` works
// there. The shared contract runs through it, then the host key pinning is checked: the binding
// holds the sshd's key, and a changed key is refused until --accept-host-key.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { expectCode, repro, run, steps } from './cli.js';
import { makeWorkdir, runContract, type TargetHarness } from './contract.js';
import { BASE_IMAGE, requireOrSkip, startTestContainer, uniqueName } from './helpers.js';
import {
  hostFingerprint,
  makeClientKey,
  regenerateHostKeys,
  startSshd,
  type SshContainer,
} from './ssh-helpers.js';

const prefix = uniqueName('repro-test-ssh-dock');
const cname = (name: string): string => `${prefix}-${name}`;
const sshdName = `${prefix}-sshd`;
let sshd: SshContainer | undefined;
let dir = '';
let keyDir = '';

const harness: TargetHarness = {
  provider: 'docker',
  targetYaml: (name) =>
    `{docker: {container: ${cname(name)}, image: "${BASE_IMAGE}", host: "ssh://root@${sshd?.ip ?? '192.0.2.1'}:22", key: id_ed25519}}`,
  async sh(name, cmd) {
    const r = await run(['docker', 'exec', cname(name), 'sh', '-c', cmd]);
    if (r.code !== 0)
      throw new Error(
        `docker exec ${cname(name)} sh -c ${JSON.stringify(cmd)}: exit ${r.code}\n${r.stderr}`,
      );
    return r.stdout;
  },
  async try(name, cmd) {
    return (await run(['docker', 'exec', cname(name), 'sh', '-c', cmd])).code;
  },
  async precreate(name) {
    await startTestContainer(cname(name));
  },
  async exists(name) {
    return (await run(['docker', 'inspect', cname(name)])).code === 0;
  },
};

after(async () => {
  await run(['docker', 'rm', '-f', cname('first'), cname('second'), sshdName]);
  if (dir) await rm(dir, { recursive: true, force: true });
  if (keyDir) await rm(keyDir, { recursive: true, force: true });
});

test('docker over ssh: the provider contract through a remote daemon, host key pinned', async (t) => {
  if (!requireOrSkip(t, 'docker')) return;
  const key = await makeClientKey();
  keyDir = key.dir;
  sshd = await startSshd(sshdName, key.pub, [
    '-v',
    '/var/run/docker.sock:/var/run/docker.sock',
    '-v',
    '/usr/bin/docker:/usr/bin/docker:ro',
  ]);
  dir = await makeWorkdir();
  await copyFile(key.key, join(dir, 'id_ed25519'));
  const step = steps(t);
  await runContract(harness, dir, step);
  const spec = ['-f', join(dir, 'repro.yaml'), '--target', 'second'];
  const statePath = join(dir, 'state', 'second.json');

  await step('the binding pins the sshd host key; the daemon was reached over ssh', async () => {
    const state = JSON.parse(await readFile(statePath, 'utf8'));
    assert.equal(state.target.binding.docker_host, `ssh://root@${sshd!.ip}:22`);
    assert.equal(state.target.binding.host_key, `ssh-ed25519 ${await hostFingerprint(sshdName)}`);
    const logs = await run(['docker', 'logs', sshdName]);
    assert.match(logs.stdout + logs.stderr, /Accepted publickey for root from/);
  });

  await step('a changed host key is refused; --accept-host-key pins the new one', async () => {
    const old = JSON.parse(await readFile(statePath, 'utf8')).target.binding.host_key;
    await regenerateHostKeys(sshdName);
    const fresh = `ssh-ed25519 ${await hostFingerprint(sshdName)}`;
    const r = expectCode(await repro(dir, [...spec, 'plan']), 1, 'plan with a changed key');
    assert.ok(r.stderr.includes(`pinned ${old}`), r.stderr);
    assert.ok(r.stderr.includes(`presented ${fresh}`), r.stderr);
    assert.match(
      r.stderr,
      /target 'second' \(ssh root@[\d.]+:22\): the host key of [\d.]+:22 does not match/,
    );
    expectCode(
      await repro(dir, [...spec, 'apply', '--auto-approve', '--accept-host-key']),
      0,
      'apply --accept-host-key',
    );
    const state = JSON.parse(await readFile(statePath, 'utf8'));
    assert.equal(state.target.binding.host_key, fresh);
  });
});

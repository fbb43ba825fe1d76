// The end-to-end provider contract over ssh: two sshd containers (repro cannot create an ssh
// host, so both exist before repro sees them), reached as root with a key made by the test and
// named relative to the spec's directory. Assertions run on the containers through `docker exec`,
// independently of repro's ssh connection.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run, steps } from './cli.js';
import { makeWorkdir, runContract, type TargetHarness } from './contract.js';
import { requireOrSkip, uniqueName } from './helpers.js';
import { hostFingerprint, makeClientKey, startSshd, type SshContainer } from './ssh-helpers.js';

const prefix = uniqueName('repro-test-ssh-e2e');
const cname = (name: string): string => `${prefix}-${name}`;
const hosts = new Map<string, SshContainer>();
let dir = '';
let keyDir = '';

const ssh: TargetHarness = {
  provider: 'ssh',
  targetYaml: (name) => `{ssh: {host: "${hosts.get(name)?.ip ?? '192.0.2.1'}", key: id_ed25519}}`,
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
  async precreate() {
    // Both hosts run from the start: an ssh target always exists before repro.
  },
  async exists(name) {
    return (await run(['docker', 'inspect', cname(name)])).code === 0;
  },
};

after(async () => {
  await run(['docker', 'rm', '-f', cname('first'), cname('second')]);
  if (dir) await rm(dir, { recursive: true, force: true });
  if (keyDir) await rm(keyDir, { recursive: true, force: true });
});

test('ssh: the provider contract end to end', async (t) => {
  if (!requireOrSkip(t, 'docker')) return;
  const key = await makeClientKey();
  keyDir = key.dir;
  for (const name of ['first', 'second']) hosts.set(name, await startSshd(cname(name), key.pub));
  dir = await makeWorkdir();
  await copyFile(key.key, join(dir, 'id_ed25519'));
  const step = steps(t);
  await runContract(ssh, dir, step);
  await step('the state pins the host key ssh-keygen shows on the host', async () => {
    const state = JSON.parse(await readFile(join(dir, 'state', 'first.json'), 'utf8'));
    assert.deepEqual(state.target.binding, {
      host: hosts.get('first')!.ip,
      port: 22,
      user: 'root',
      host_key: `ssh-ed25519 ${await hostFingerprint(cname('first'))}`,
    });
  });
});

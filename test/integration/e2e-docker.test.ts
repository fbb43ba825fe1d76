// The end-to-end contract on a real dockerd: repro creates the first container itself from the
// base image; the second exists before repro (adopted packages are left alone by destroy).
import { test, after } from 'node:test';
import { rm } from 'node:fs/promises';
import { run, steps } from './cli.js';
import { makeWorkdir, runContract, type TargetHarness } from './contract.js';
import { BASE_IMAGE, requireOrSkip, startTestContainer, uniqueName } from './helpers.js';

const prefix = uniqueName('repro-test-e2e');
const cname = (name: string): string => `${prefix}-${name}`;
let dir = '';

const docker: TargetHarness = {
  provider: 'docker',
  targetYaml: (name) => `{docker: {container: ${cname(name)}, image: "${BASE_IMAGE}"}}`,
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
  await run(['docker', 'rm', '-f', cname('first'), cname('second')]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('docker: the provider contract end to end', async (t) => {
  if (!requireOrSkip(t, 'docker')) return;
  dir = await makeWorkdir();
  await runContract(docker, dir, steps(t));
});

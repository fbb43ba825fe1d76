// Test infrastructure for the ssh provider: an sshd image built once from the base image (cached
// by a recipe label, like test/infra.sh does for the base image), containers of it named
// `repro-test-ssh-*` and labelled `repro-test=true`, and client keys made with ssh-keygen in a
// `/tmp/repro-test-ssh-*` directory. Users in the image: root (key auth), alice (NOPASSWD sudo),
// bob (sudo that wants a password). Every container generates its own host keys at start and
// authorizes the public key passed in $AUTHORIZED_KEY for all three users.
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProcess } from '../../providers/process.js';
import { BASE_IMAGE, TEST_LABEL } from './helpers.js';

export const SSHD_IMAGE_REPO = 'repro-test/sshd';

const DOCKERFILE = `FROM ${BASE_IMAGE}
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server sudo procps >/dev/null \\
 && rm -rf /var/lib/apt/lists/* /etc/ssh/ssh_host_* \\
 && mkdir -p /run/sshd \\
 && useradd -m -s /bin/sh alice && useradd -m -s /bin/sh bob \\
 && echo 'bob:bob-secret' | chpasswd \\
 && echo 'alice ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/alice \\
 && echo 'bob ALL=(ALL) ALL' > /etc/sudoers.d/bob \\
 && chmod 440 /etc/sudoers.d/alice /etc/sudoers.d/bob
COPY start.sh /usr/local/sbin/repro-test-sshd
RUN chmod 755 /usr/local/sbin/repro-test-sshd
CMD ["/usr/local/sbin/repro-test-sshd"]
`;

// sshd runs under docker-init (--init), so `kill -HUP` makes it re-exec and reread its host keys.
const START_SH = `#!/bin/sh
set -e
ssh-keygen -A >/dev/null
for u in root alice bob; do
  h=$(getent passwd "$u" | cut -d: -f6)
  mkdir -p "$h/.ssh"
  printf '%s\\n' "$AUTHORIZED_KEY" > "$h/.ssh/authorized_keys"
  chown -R "$u:" "$h/.ssh"
  chmod 700 "$h/.ssh"
  chmod 600 "$h/.ssh/authorized_keys"
done
/usr/sbin/sshd -D -e &
echo $! > /run/repro-test-sshd.pid
wait
`;

const RECIPE = createHash('sha256').update(DOCKERFILE).update(START_SH).digest('hex').slice(0, 16);
export const SSHD_IMAGE = `${SSHD_IMAGE_REPO}:${RECIPE}`;

async function docker(args: string[], input?: string): Promise<string> {
  const r = await runProcess('docker', args, input === undefined ? {} : { stdin: input });
  if (r.exitCode !== 0) {
    throw new Error(`docker ${args.join(' ')} failed (exit ${r.exitCode}): ${r.stderr}`);
  }
  return r.stdout.trim();
}

/** Builds the sshd image unless an image with this recipe exists (about a minute the first time). */
export async function ensureSshdImage(): Promise<string> {
  const have = await runProcess('docker', ['image', 'inspect', SSHD_IMAGE]);
  if (have.exitCode === 0) return SSHD_IMAGE;
  const ctx = await mkdtemp(join(tmpdir(), 'repro-test-ssh-image-'));
  await writeFile(join(ctx, 'Dockerfile'), DOCKERFILE);
  await writeFile(join(ctx, 'start.sh'), START_SH);
  await docker([
    'build',
    '-q',
    '--label',
    `${TEST_LABEL}=true`,
    '--label',
    `repro-test.recipe=${RECIPE}`,
    '-t',
    SSHD_IMAGE,
    ctx,
  ]);
  await runProcess('rm', ['-rf', ctx]);
  return SSHD_IMAGE;
}

export interface SshContainer {
  readonly name: string;
  readonly ip: string;
}

/**
 * Starts an sshd container (name must start with repro-test-ssh-) authorizing `publicKey`;
 * `dockerArgs` go to `docker run` (bind mounts).
 */
export async function startSshd(
  name: string,
  publicKey: string,
  dockerArgs: readonly string[] = [],
): Promise<SshContainer> {
  if (!name.startsWith('repro-test-ssh-')) throw new Error(`bad test container name ${name}`);
  await ensureSshdImage();
  await docker([
    'run',
    '-d',
    '--init',
    '--name',
    name,
    '--label',
    `${TEST_LABEL}=true`,
    '-e',
    `AUTHORIZED_KEY=${publicKey}`,
    ...dockerArgs,
    SSHD_IMAGE,
  ]);
  const ip = await docker([
    'inspect',
    '-f',
    '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
    name,
  ]);
  await waitForSshd(name);
  return { name, ip };
}

/** Waits until sshd listens (its pid file exists and port 22 answers inside the container). */
async function waitForSshd(name: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await runProcess('docker', [
      'exec',
      name,
      'sh',
      '-c',
      'test -s /run/sshd.pid && test -s /etc/ssh/ssh_host_ed25519_key.pub',
    ]);
    if (r.exitCode === 0) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`sshd in ${name} did not start`);
}

/** `sh -c cmd` in the container as root (not through ssh); throws on a non-zero exit. */
export async function dockerSh(name: string, cmd: string): Promise<string> {
  const r = await runProcess('docker', ['exec', name, 'sh', '-c', cmd]);
  if (r.exitCode !== 0) {
    throw new Error(
      `docker exec ${name} sh -c ${JSON.stringify(cmd)}: exit ${r.exitCode}\n${r.stderr}`,
    );
  }
  return r.stdout;
}

/** New host keys and a re-exec of sshd: what a reinstalled (or impostor) host looks like. */
export async function regenerateHostKeys(name: string): Promise<void> {
  await dockerSh(
    name,
    'rm -f /etc/ssh/ssh_host_* /run/sshd.pid && ssh-keygen -A >/dev/null && kill -HUP "$(cat /run/repro-test-sshd.pid)"',
  );
  await waitForSshd(name);
}

/** The OpenSSH SHA256 fingerprint of the container's host key of `type` (ed25519, rsa…). */
export async function hostFingerprint(name: string, type = 'ed25519'): Promise<string> {
  const out = await dockerSh(name, `ssh-keygen -l -E sha256 -f /etc/ssh/ssh_host_${type}_key.pub`);
  return out.split(' ')[1]!;
}

/** A fresh client key pair in /tmp/repro-test-ssh-*: {dir, key (private key path), pub}. */
export async function makeClientKey(): Promise<{ dir: string; key: string; pub: string }> {
  const dir = await mkdtemp('/tmp/repro-test-ssh-');
  const key = join(dir, 'id_ed25519');
  const r = await runProcess('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    'repro-test',
    '-f',
    key,
  ]);
  if (r.exitCode !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
  const pub = (await runProcess('cat', [`${key}.pub`])).stdout.trim();
  return { dir, key, pub };
}

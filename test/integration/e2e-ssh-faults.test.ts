// The ssh provider's promises beyond the shared contract, on real sshd containers: host keys are
// pinned and a changed key is refused until --accept-host-key; sudo for a NOPASSWD user works and
// a password-wanting sudo fails clearly; connection failures name the target; a connection lost
// mid-apply leaves a state from which the next apply resumes; a jump host works and is pinned too;
// files go through sftp; attach passes stdio and exit codes through. Every assertion on the
// target is made through `docker exec`, independently of repro's connection.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectCode, repro, run } from './cli.js';
import { requireOrSkip, uniqueName } from './helpers.js';
import {
  dockerSh,
  hostFingerprint,
  makeClientKey,
  regenerateHostKeys,
  startSshd,
  type SshContainer,
} from './ssh-helpers.js';
import { connectSsh } from '../../providers/ssh.js';
import { BufferIoHost } from '../../src/core/io.js';

const prefix = uniqueName('repro-test-ssh-faults');
const containers: string[] = [];
const tempDirs: string[] = [];
const SSH_MODULE = fileURLToPath(new URL('../../providers/ssh.js', import.meta.url));

interface Fixture {
  readonly key: { dir: string; key: string; pub: string };
  readonly main: SshContainer;
}
let fixture: Promise<Fixture> | undefined;

/** One sshd container shared by the tests of this file (each test has its own state). */
function setup(): Promise<Fixture> {
  fixture ??= (async () => {
    const key = await makeClientKey();
    tempDirs.push(key.dir);
    const name = `${prefix}-main`;
    containers.push(name);
    return { key, main: await startSshd(name, key.pub) };
  })();
  return fixture;
}

after(async () => {
  if (containers.length > 0) await run(['docker', 'rm', '-f', ...containers]);
  for (const d of tempDirs) await rm(d, { recursive: true, force: true });
});

/** A spec directory holding the client key as ./id_ed25519 (0600) and a one-target spec. */
async function workdir(f: Fixture, target: string, body: string): Promise<string> {
  const dir = await mkdtemp('/tmp/repro-test-ssh-');
  tempDirs.push(dir);
  await copyFile(f.key.key, join(dir, 'id_ed25519'));
  await chmod(join(dir, 'id_ed25519'), 0o600);
  await writeSpec(dir, target, body);
  return dir;
}

async function writeSpec(dir: string, target: string, body: string): Promise<void> {
  await writeFile(
    join(dir, 'repro.yaml'),
    `version: 1\nname: sshfaults\ntargets:\n  box: {ssh: ${target}}\n${body}`,
  );
}

async function readState(dir: string): Promise<{
  target: { binding: Record<string, unknown> };
  resources: Record<string, unknown>;
  pending?: string[];
}> {
  return JSON.parse(await readFile(join(dir, 'state', 'box.json'), 'utf8'));
}

async function exitOf(container: string, cmd: string): Promise<number> {
  return (await run(['docker', 'exec', container, 'sh', '-c', cmd])).code;
}

test('a changed host key is refused showing both fingerprints; --accept-host-key pins the new one', async (t) => {
  if (!requireOrSkip(t, 'docker')) return;
  const f = await setup();
  const target = `{host: "${f.main.ip}", key: id_ed25519}`;
  const dir = await workdir(
    f,
    target,
    'files:\n  - {path: /tmp/hostkey.conf, content: "one\\n"}\n',
  );
  const first = expectCode(await repro(dir, ['apply', '--auto-approve']), 0, 'first apply');
  const oldKey = `ssh-ed25519 ${await hostFingerprint(f.main.name)}`;
  assert.match(
    first.stderr,
    new RegExp(`host key ${oldKey.replace(/[+/]/g, '\\$&')}; it will be pinned`),
  );
  assert.equal((await readState(dir)).target.binding['host_key'], oldKey);

  await regenerateHostKeys(f.main.name);
  const newKey = `ssh-ed25519 ${await hostFingerprint(f.main.name)}`;
  assert.notEqual(newKey, oldKey);
  await writeSpec(dir, target, 'files:\n  - {path: /tmp/hostkey.conf, content: "two\\n"}\n');

  const refused = expectCode(await repro(dir, ['plan']), 1, 'plan against a changed key');
  assert.ok(refused.stderr.includes(`pinned ${oldKey}`), refused.stderr);
  assert.ok(refused.stderr.includes(`presented ${newKey}`), refused.stderr);
  assert.match(
    refused.stderr,
    /target 'box' \(ssh root@[\d.]+:22\): the host key of [\d.]+:22 does not match the one pinned in state/,
  );
  assert.match(refused.stderr, /hint: .*repro apply --accept-host-key/);
  expectCode(await repro(dir, ['apply', '--auto-approve']), 1, 'apply against a changed key');
  assert.equal(await dockerSh(f.main.name, 'cat /tmp/hostkey.conf'), 'one\n', 'nothing changed');
  assert.equal((await readState(dir)).target.binding['host_key'], oldKey);

  expectCode(
    await repro(dir, ['apply', '--auto-approve', '--accept-host-key']),
    0,
    'apply --accept-host-key',
  );
  assert.equal(await dockerSh(f.main.name, 'cat /tmp/hostkey.conf'), 'two\n');
  assert.equal((await readState(dir)).target.binding['host_key'], newKey);
  expectCode(await repro(dir, ['plan', '--detailed-exitcode']), 0, 'plan with the new pin');
});

test('sudo: alice (NOPASSWD) converges a package as root; bob (password) gets a clear error', async (t) => {
  if (!requireOrSkip(t, 'docker')) return;
  const f = await setup();
  const alice = await workdir(
    f,
    `{host: "${f.main.ip}", user: alice, key: id_ed25519, sudo: true}`,
    'os:\n  apt:\n    packages: [tree]\nfiles:\n  - {path: /etc/alice.conf, content: "by alice\\n", mode: "0600"}\n',
  );
  expectCode(await repro(alice, ['apply', '--auto-approve']), 0, 'apply as alice with sudo');
  assert.match(
    await dockerSh(f.main.name, "dpkg-query -W -f='${Status}' tree"),
    /install ok installed/,
  );
  assert.equal((await dockerSh(f.main.name, 'stat -c "%U %a" /etc/alice.conf')).trim(), 'root 600');
  expectCode(await repro(alice, ['plan', '--detailed-exitcode']), 0, 'alice converged');

  const bob = await workdir(
    f,
    `{host: "${f.main.ip}", user: bob, key: id_ed25519, sudo: true}`,
    'files:\n  - {path: /etc/bob.conf, content: "by bob\\n"}\n',
  );
  const r = expectCode(await repro(bob, ['apply', '--auto-approve']), 1, 'apply as bob');
  assert.match(
    r.stderr,
    /target 'box' \(ssh bob@[\d.]+:22\): sudo asks bob for a password, and repro runs sudo non-interactively/,
  );
  assert.match(r.stderr, /hint: allow bob password-less sudo .*NOPASSWD/);
  assert.notEqual(await exitOf(f.main.name, 'test -e /etc/bob.conf'), 0);
});

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as { port: number }).port;
  await new Promise((res) => server.close(res));
  return port;
}

test('connection failures name the target and say what to do', async (t) => {
  if (!requireOrSkip(t, 'docker')) return;
  const f = await setup();
  const body = 'files:\n  - {path: /tmp/never.conf, content: "x\\n"}\n';
  const fails = async (target: string, prep?: (dir: string) => Promise<void>): Promise<string> => {
    const dir = await workdir(f, target, body);
    await prep?.(dir);
    const r = expectCode(await repro(dir, ['plan']), 1, `plan with ${target}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    return r.stderr;
  };

  await t.test('closed port', async () => {
    const port = await closedPort();
    const err = await fails(`{host: 127.0.0.1, port: ${port}, key: id_ed25519}`);
    assert.match(
      err,
      new RegExp(
        `target 'box' \\(ssh root@127\\.0\\.0\\.1:${port}\\): cannot connect to the host 127\\.0\\.0\\.1:${port}: connection refused`,
      ),
    );
    assert.match(err, /hint: check that sshd runs on 127\.0\.0\.1 and listens on port/);
  });

  await t.test('no ssh banner within connect_timeout', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((res) => silent.listen(0, '127.0.0.1', res));
    const port = (silent.address() as { port: number }).port;
    try {
      const started = Date.now();
      const err = await fails(
        `{host: 127.0.0.1, port: ${port}, key: id_ed25519, connect_timeout: 1}`,
      );
      assert.match(
        err,
        /target 'box' .*: cannot connect to the host 127\.0\.0\.1:\d+: no answer within 1 s/,
      );
      assert.ok(Date.now() - started < 15_000, 'the timeout was honoured');
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((res) => silent.close(res));
    }
  });

  await t.test('a key the host does not accept', async () => {
    const other = await makeClientKey();
    tempDirs.push(other.dir);
    const err = await fails(`{host: "${f.main.ip}", key: wrong_key}`, async (dir) => {
      await copyFile(other.key, join(dir, 'wrong_key'));
      await chmod(join(dir, 'wrong_key'), 0o600);
    });
    assert.match(
      err,
      /target 'box' \(ssh root@[\d.]+:22\): the host refused authentication as root \(tried: publickey \(\/tmp\/repro-test-ssh-[^/]+\/wrong_key\); the server accepts: publickey/,
    );
    assert.match(err, /hint: .*authorized_keys/);
  });

  await t.test('a private key readable by others', async () => {
    const err = await fails(`{host: "${f.main.ip}", key: id_ed25519}`, (dir) =>
      chmod(join(dir, 'id_ed25519'), 0o644),
    );
    assert.match(
      err,
      /target 'box' .*: UNPROTECTED PRIVATE KEY FILE: permissions 0644 for \/tmp\/repro-test-ssh-[^/]+\/id_ed25519 are too open/,
    );
    assert.match(err, /hint: chmod 600 \/tmp\/repro-test-ssh-[^/]+\/id_ed25519/);
  });

  await t.test('a missing key file', async () => {
    const err = await fails(`{host: "${f.main.ip}", key: keys/nope}`);
    assert.match(
      err,
      /target 'box' .*: private key file \/tmp\/repro-test-ssh-[^/]+\/keys\/nope does not exist/,
    );
  });

  await t.test('no key and no agent', async () => {
    const err = await fails(`{host: "${f.main.ip}", agent: false}`);
    assert.match(err, /target 'box': ssh: agent is false and no key is given/);
  });
});

test('a connection lost mid-apply names the target; state keeps what finished; the next apply resumes', async (t) => {
  if (!requireOrSkip(t, 'docker')) return;
  const f = await setup();
  // The run step kills this connection's sshd processes the first time it runs.
  const dir = await workdir(
    f,
    `{host: "${f.main.ip}", key: id_ed25519}`,
    `files:
  - {path: /etc/before-drop.conf, content: "kept\\n"}
run:
  - name: drop
    command: 'if [ -e /root/dropped ]; then touch /root/ran; else touch /root/dropped; pkill -9 -f "sshd: root"; sleep 30; fi'
    creates: /root/ran
`,
  );
  await dockerSh(f.main.name, 'rm -f /root/dropped /root/ran /etc/before-drop.conf');
  const r = expectCode(
    await repro(dir, ['apply', '--auto-approve']),
    1,
    'apply that loses the connection',
  );
  assert.match(
    r.stderr,
    /target 'box' \(ssh root@[\d.]+:22\): the ssh connection was lost while running/,
  );
  assert.match(r.stderr, /hint: .*run `repro apply` again/);
  assert.equal(await dockerSh(f.main.name, 'cat /etc/before-drop.conf'), 'kept\n');
  assert.equal(await exitOf(f.main.name, 'test -e /root/dropped'), 0, 'the drop step started');
  assert.notEqual(await exitOf(f.main.name, 'test -e /root/ran'), 0);
  const broken = await readState(dir);
  assert.ok('file:/etc/before-drop.conf' in broken.resources, 'the finished batch is recorded');
  assert.ok(!('run:drop' in broken.resources));
  assert.deepEqual(broken.pending, ['run:drop']);

  const p = expectCode(await repro(dir, ['plan']), 0, 'plan after the drop');
  assert.match(p.stdout, /\+ run:drop/);
  assert.match(p.stdout, /Plan: 1 to add, 0 to change, 0 to destroy\./);
  expectCode(await repro(dir, ['apply', '--auto-approve']), 0, 'apply resumes');
  assert.equal(await exitOf(f.main.name, 'test -e /root/ran'), 0);
  const state = await readState(dir);
  assert.ok('run:drop' in state.resources);
  assert.equal(state.pending, undefined);
  expectCode(await repro(dir, ['plan', '--detailed-exitcode']), 0, 'converged');
});

test('a jump host: plan and apply go through it, and both host keys are pinned', async (t) => {
  if (!requireOrSkip(t, 'docker')) return;
  const f = await setup();
  const jumpName = `${prefix}-jump`;
  containers.push(jumpName);
  const jump = await startSshd(jumpName, f.key.pub);
  const dir = await workdir(
    f,
    `{host: "${f.main.ip}", key: id_ed25519, jump: {host: "${jump.ip}"}}`,
    'files:\n  - {path: /etc/via-jump.conf, content: "hop\\n"}\n',
  );
  const p = expectCode(await repro(dir, ['plan', '--detailed-exitcode']), 2, 'plan via jump');
  assert.match(p.stdout, /\+ file:\/etc\/via-jump\.conf/);
  assert.match(p.stderr, /jump host root@[\d.]+:22 has host key ssh-ed25519 SHA256:/);
  expectCode(await repro(dir, ['apply', '--auto-approve']), 0, 'apply via jump');
  assert.equal(await dockerSh(f.main.name, 'cat /etc/via-jump.conf'), 'hop\n');
  const logs = await run(['docker', 'logs', f.main.name]);
  assert.ok(
    (logs.stdout + logs.stderr).includes(`Accepted publickey for root from ${jump.ip}`),
    'the target saw the connection coming from the jump host',
  );
  assert.deepEqual((await readState(dir)).target.binding, {
    host: f.main.ip,
    port: 22,
    user: 'root',
    host_key: `ssh-ed25519 ${await hostFingerprint(f.main.name)}`,
    jump: `root@${jump.ip}:22`,
    jump_host_key: `ssh-ed25519 ${await hostFingerprint(jumpName)}`,
  });
  expectCode(await repro(dir, ['plan', '--detailed-exitcode']), 0, 'converged via jump');

  await regenerateHostKeys(jumpName);
  const refused = expectCode(await repro(dir, ['plan']), 1, 'plan via a changed jump host');
  assert.match(refused.stderr, /the host key of the jump host [\d.]+:22 does not match/);
});

test('putFile writes bytes and mode through sftp; attach passes stdio and exit codes through', async (t) => {
  if (!requireOrSkip(t, 'docker')) return;
  const f = await setup();
  const io = new BufferIoHost();
  const { connection } = await connectSsh(
    { host: f.main.ip, key: f.key.key },
    { create: false, io, specDir: '/' },
  );
  const fingerprint = await hostFingerprint(f.main.name);
  assert.ok(
    io.messages.some((m) => m.level === 'info' && m.text.includes(fingerprint)),
    'first contact prints the fingerprint it pins',
  );
  const ssh = connection as import('../../providers/ssh.js').SshConnection;
  try {
    const bytes = Buffer.concat([
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      Buffer.from('héllo\n'),
    ]);
    await ssh.putFile('/tmp/put.bin', bytes, 0o640);
    const sha = createHash('sha256').update(bytes).digest('hex');
    assert.equal((await dockerSh(f.main.name, 'sha256sum /tmp/put.bin')).split(' ')[0], sha);
    assert.equal((await dockerSh(f.main.name, 'stat -c %a /tmp/put.bin')).trim(), '640');
    await ssh.putFile('/tmp/put.bin', 'replaced\n', 0o600);
    assert.equal(await dockerSh(f.main.name, 'cat /tmp/put.bin'), 'replaced\n');
    assert.equal((await dockerSh(f.main.name, 'stat -c %a /tmp/put.bin')).trim(), '600');
    assert.equal(
      (await dockerSh(f.main.name, 'ls /tmp | grep -c repro- || true')).trim(),
      '0',
      'no temporary file left',
    );
  } finally {
    await connection.close();
  }

  // attach uses this process's stdio, so it runs in a child whose stdio the test controls.
  const script = join(f.key.dir, 'attach.mjs');
  await writeFile(
    script,
    `import { connectSsh } from ${JSON.stringify(SSH_MODULE)};
const [host, key, tty, ...argv] = process.argv.slice(2);
const { connection } = await connectSsh({ host, key }, { create: false, io: { notify() {} }, specDir: '/' });
const code = await connection.attach(argv, { tty: tty === 'tty' });
await connection.close();
process.exit(code);
`,
  );
  const attach = (tty: string, argv: string[], input: string) =>
    run([process.execPath, script, f.main.ip, f.key.key, tty, ...argv], { input });
  const piped = await attach('pipe', ['sh', '-c', 'cat; echo to-stderr >&2; exit 7'], 'hello\n');
  assert.equal(piped.code, 7);
  assert.equal(piped.stdout, 'hello\n');
  assert.equal(piped.stderr, 'to-stderr\n');
  const pty = await attach('tty', ['sh', '-c', 'tty; exit 3'], '');
  assert.equal(pty.code, 3);
  assert.match(pty.stdout, /^\/dev\/pts\/\d+\r?\n$/);
  // A reader that goes away (`| head`) ends the session with 141, as SIGPIPE would, no crash.
  const headed = await run([
    'bash',
    '-c',
    'set -o pipefail; "$0" "$@" | head -n 2; echo "rc=$?" >&2',
    process.execPath,
    script,
    f.main.ip,
    f.key.key,
    'pipe',
    'seq',
    '1',
    '10000000',
  ]);
  assert.equal(headed.stdout, '1\n2\n');
  assert.doesNotMatch(headed.stderr, /EPIPE|Unhandled|at /);
  assert.match(headed.stderr, /rc=141\n$/);
});

test('with no key, the ssh agent at $SSH_AUTH_SOCK authenticates', async (t) => {
  if (!requireOrSkip(t, 'docker')) return;
  const f = await setup();
  const sock = join(f.key.dir, 'agent.sock');
  const agent = await run(['ssh-agent', '-a', sock, '-s']);
  assert.equal(agent.code, 0, agent.stderr);
  const pid = /SSH_AGENT_PID=(\d+)/.exec(agent.stdout)?.[1];
  try {
    const env = { SSH_AUTH_SOCK: sock };
    const dir = await workdir(
      f,
      `{host: "${f.main.ip}"}`,
      'files:\n  - {path: /tmp/by-agent.conf, content: "agent\\n"}\n',
    );
    // The agent holds no key yet: refused, and the error says the agent was tried.
    const refused = expectCode(await repro(dir, ['plan'], env), 1, 'plan with an empty agent');
    assert.match(refused.stderr, /refused authentication as root \(tried: agent \(.*agent\.sock\)/);
    const add = await run(['ssh-add', f.key.key], { env });
    assert.equal(add.code, 0, add.stderr);
    expectCode(await repro(dir, ['apply', '--auto-approve'], env), 0, 'apply through the agent');
    assert.equal(await dockerSh(f.main.name, 'cat /tmp/by-agent.conf'), 'agent\n');
  } finally {
    if (pid) process.kill(Number(pid));
  }
});

test('a large file in the spec travels through sftp, not inside the batch script', async (t) => {
  if (!requireOrSkip(t, 'docker')) return;
  const f = await setup();
  const dir = await workdir(
    f,
    `{host: "${f.main.ip}", key: id_ed25519}`,
    `files:
  - {path: /opt/data/big.bin, source: big.bin, mode: "0640"}
  - {path: /opt/data/small.txt, content: "small\\n"}
`,
  );
  const bytes = Buffer.alloc(300 * 1024);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 251;
  await writeFile(join(dir, 'big.bin'), bytes);
  // sshd starts the sftp server per sftp session: a wrapper around it counts the sessions.
  await dockerSh(
    f.main.name,
    [
      'set -e',
      'cd /usr/lib/openssh',
      'if [ ! -e sftp-server.real ]; then mv sftp-server sftp-server.real; fi',
      `printf '#!/bin/sh\necho session >> /var/log/repro-test-sftp\nexec /usr/lib/openssh/sftp-server.real "$@"\n' > sftp-server`,
      'chmod 755 sftp-server',
    ].join('\n'),
  );
  const sftpRequests = async (): Promise<number> =>
    Number(await dockerSh(f.main.name, 'cat /var/log/repro-test-sftp 2>/dev/null | wc -l'));
  const before = await sftpRequests();
  expectCode(await repro(dir, ['apply', '--auto-approve']), 0, 'apply');
  const sha = createHash('sha256').update(bytes).digest('hex');
  assert.equal(
    (await dockerSh(f.main.name, 'sha256sum /opt/data/big.bin')).split(' ')[0],
    sha,
    'exact bytes on the target',
  );
  assert.equal(await dockerSh(f.main.name, 'stat -c %a /opt/data/big.bin'), '640\n');
  assert.equal(await dockerSh(f.main.name, 'cat /opt/data/small.txt'), 'small\n');
  assert.equal(await sftpRequests(), before + 1, 'one sftp session carried the large file');
  assert.equal(
    await dockerSh(f.main.name, 'ls -a /tmp | grep -c "^.repro-upload-" || true'),
    '0\n',
    'the upload is removed after the batch',
  );
  expectCode(await repro(dir, ['plan', '--detailed-exitcode']), 0, 'converged');
});

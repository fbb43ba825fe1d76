import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Attrs, Change } from '../../src/core/types.js';
import { file, UPLOAD_MIN_BYTES } from '../../src/managers/file.js';
import { stageUploads } from '../../src/apply/apply.js';
import { CTX, FILES, items, readOutput, res } from '../fixtures/outputs/scenarios.js';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

function fileRes(path: string, content: string, extra: Attrs = {}): ReturnType<typeof res> {
  const c = Buffer.from(content);
  return res('file', path, { path, sha256: sha(c), size: c.length, ...extra }, c);
}

function run(changes: Change[], resources: ReturnType<typeof res>[]): string[] {
  return file
    .commands({
      changes,
      resources: new Map(resources.map((r) => [r.address, r])),
      facts: {},
      changedKinds: new Set(),
      ctx: CTX,
    })
    .map((c) => c.script);
}

test('file check: normalized absolute paths, 4-digit modes, user[:group] owners', () => {
  for (const r of FILES) assert.deepEqual(file.check(r), [], r.address);
  const bad: [string, Attrs, string][] = [
    ['etc/x', {}, 'file.path'],
    ['/etc/../x', {}, 'file.path'],
    ['/etc//x', {}, 'file.path'],
    ['/etc/x/', {}, 'file.path'],
    ['/etc/x\ny', {}, 'file.path'],
    ['/', {}, 'file.path'],
    ['/x', { mode: '644' }, 'file.mode'],
    ['/x', { mode: '0999' }, 'file.mode'],
    ['/x', { owner: 'root;reboot' }, 'file.owner'],
    ['/x', { owner: '-R' }, 'file.owner'],
    ['/x', { owner: 'a:b:c' }, 'file.owner'],
  ];
  for (const [path, extra, code] of bad) {
    const ds = file.check(fileRes(path, 'x', extra));
    assert.deepEqual(
      ds.map((d) => d.code),
      [code],
      `${path} ${JSON.stringify(extra)}`,
    );
  }
  const lying = res('file', '/x', { path: '/x', sha256: sha('a'), size: 1 }, Buffer.from('b'));
  assert.equal(file.check(lying)[0]!.code, 'file.content');
});

test('file parses recorded probes: absent, directory in the way, written files converge', () => {
  const its = items(FILES);
  const absent = file.parseProbe(readOutput('file-absent.txt'), its, CTX);
  assert.deepEqual(
    [...absent.live],
    [['file:/var/in-the-way', { path: '/var/in-the-way', directory: true }]],
  );
  const present = file.parseProbe(readOutput('file-present.txt'), its, CTX);
  assert.deepEqual(present.live.get('file:/etc/pipeline.conf'), {
    path: '/etc/pipeline.conf',
    sha256: sha('threads=4\n'),
    size: 10,
    mode: '0640',
    owner: 'nobody:nogroup',
  });
  for (const r of FILES.slice(0, 3)) {
    const c = file.diff({
      resource: r,
      live: present.live.get(r.address),
      facts: {},
      update: false,
    });
    assert.equal(c.action, 'noop', r.address);
  }
  const blocked = file.diff({
    resource: FILES[3]!,
    live: present.live.get(FILES[3]!.address),
    facts: {},
    update: false,
  });
  assert.equal(blocked.action, 'update');
  assert.match(blocked.reason ?? '', /directory/);
  assert.equal(
    readOutput('file-directory-error.txt'),
    'repro: /var/in-the-way is a directory, not a file; remove it or choose another path\n',
  );
});

test('file diff table: content, mode and owner only when managed', () => {
  const live = { path: '/x', sha256: sha('a'), size: 1, mode: '0600', owner: 'root:root' };
  const d = (r: ReturnType<typeof res>, l?: Attrs): Change =>
    file.diff({ resource: r, live: l, facts: {}, update: false });
  const plain = fileRes('/x', 'a');
  assert.equal(d(plain, live).action, 'noop', 'mode/owner unmanaged: no diff');
  assert.deepEqual(d(plain).after, { path: '/x', sha256: sha('a'), size: 1, mode: '0644' });
  assert.equal(d(plain).action, 'create');
  const content = d(fileRes('/x', 'b'), live);
  assert.equal(content.action, 'update');
  assert.deepEqual(content.after, {
    path: '/x',
    sha256: sha('b'),
    size: 1,
    mode: '0600',
    owner: 'root:root',
  });
  const mode = d(fileRes('/x', 'a', { mode: '0644' }), live);
  assert.deepEqual([mode.action, mode.reason], ['update', 'mode differs from the spec']);
  const owner = d(fileRes('/x', 'a', { owner: 'nobody' }), live);
  assert.deepEqual([owner.action, owner.after?.['owner']], ['update', 'nobody:root']);
  const createOwned = d(fileRes('/x', 'a', { owner: 'nobody' }));
  assert.deepEqual(createOwned.afterUnknown, ['owner']);
  assert.equal(d(fileRes('/x', 'a', { owner: 'root:root', mode: '0600' }), live).action, 'noop');
  assert.equal(file.diff({ live, recorded: live, facts: {}, update: false }).action, 'delete');
  assert.equal(file.diff({ recorded: live, facts: {}, update: false }).action, 'noop');
  assert.deepEqual(file.lockEntry(plain, live), { sha256: sha('a') });
});

test('file commands: metadata-only changes do not rewrite; deletes rm -f; paths quoted', () => {
  const path = "/tmp/a b/it's $(reboot)";
  const r = fileRes(path, 'a', { mode: '0640', owner: 'nobody:nogroup' });
  const before = { path, sha256: sha('a'), size: 1, mode: '0600', owner: 'root:root' };
  const change: Change = {
    address: r.address,
    kind: 'file',
    action: 'update',
    before,
    after: { ...before, mode: '0640', owner: 'nobody:nogroup' },
  };
  assert.deepEqual(run([change], [r]), [
    `chmod 0640 '/tmp/a b/it'\\''s $(reboot)'`,
    `chown nobody:nogroup '/tmp/a b/it'\\''s $(reboot)'`,
  ]);
  assert.deepEqual(run([{ address: r.address, kind: 'file', action: 'delete', before }], []), [
    `rm -f '/tmp/a b/it'\\''s $(reboot)'`,
  ]);
  const [write] = file.commands({
    changes: [{ address: r.address, kind: 'file', action: 'create' }],
    resources: new Map([[r.address, r]]),
    facts: {},
    changedKinds: new Set(),
    ctx: CTX,
  });
  assert.equal(write!.display, `write ${path} (1 bytes)`);
  assert.equal(
    write!.script,
    [
      `if [ -d '/tmp/a b/it'\\''s $(reboot)' ]; then printf '%s\\n' 'repro: /tmp/a b/it'\\''s $(reboot) is a directory, not a file; remove it or choose another path' >&2; exit 1; fi`,
      `mkdir -p '/tmp/a b'`,
      `_r_tmp=$(mktemp '/tmp/a b/.repro-XXXXXX')`,
      `printf '%s' YQ== | base64 -d > "$_r_tmp"`,
      `chmod 0640 "$_r_tmp"`,
      `chown nobody:nogroup "$_r_tmp"`,
      `mv -f "$_r_tmp" '/tmp/a b/it'\\''s $(reboot)'`,
    ].join('\n'),
  );
});

test('file commands run for real with dash on hostile paths: atomic, exact bytes, modes kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'repro-file-'));
  try {
    const path = join(dir, `sub dir/it's $(touch pwned) ;x`);
    const bytes = Buffer.from([0, 1, 2, 255, 10, 39, 36]);
    const r = res(
      'file',
      path,
      { path, sha256: sha(bytes), size: bytes.length, mode: '0640' },
      bytes,
    );
    const script =
      'set -e\n' + run([{ address: r.address, kind: 'file', action: 'create' }], [r]).join('\n');
    const out = spawnSync('/bin/sh', ['-s'], { input: script, encoding: 'utf8', cwd: dir });
    assert.equal(out.status, 0, out.stderr);
    assert.deepEqual(readFileSync(path), bytes);
    assert.equal((statSync(path).mode & 0o7777).toString(8), '640');
    assert.equal(existsSync(join(dir, 'pwned')), false);
    assert.deepEqual(readdirSync(join(dir, 'sub dir')), [`it's $(touch pwned) ;x`]);
    // Rewrite with the mode unmanaged: the old mode is kept.
    const r2 = res('file', path, { path, sha256: sha('new'), size: 3 }, Buffer.from('new'));
    const s2 = run(
      [
        {
          address: r2.address,
          kind: 'file',
          action: 'update',
          before: { path, sha256: sha(bytes) },
        },
      ],
      [r2],
    );
    assert.equal(spawnSync('/bin/sh', ['-s'], { input: `set -e\n${s2.join('\n')}` }).status, 0);
    assert.equal(readFileSync(path, 'utf8'), 'new');
    assert.equal((statSync(path).mode & 0o7777).toString(8), '640');
    // A directory in the way stops the batch with the message.
    const blocker = join(dir, 'blocker');
    mkdirSync(blocker);
    const r3 = res('file', blocker, { path: blocker, sha256: sha('x'), size: 1 }, Buffer.from('x'));
    const s3 = run([{ address: r3.address, kind: 'file', action: 'create' }], [r3]);
    const failed = spawnSync('/bin/sh', ['-s'], {
      input: `set -e\n${s3.join('\n')}\necho after`,
      encoding: 'utf8',
    });
    assert.equal(failed.status, 1);
    assert.equal(failed.stdout, '');
    assert.match(failed.stderr, /is a directory, not a file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('large files are offered as uploads; staged uploads run for real and are removed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'repro-file-'));
  try {
    const path = join(dir, 'big.bin');
    const bytes = randomBytes(UPLOAD_MIN_BYTES + 1);
    const r = res(
      'file',
      path,
      { path, sha256: sha(bytes), size: bytes.length, mode: '0600' },
      bytes,
    );
    const small = fileRes(join(dir, 'small'), 'tiny');
    const commands = file.commands({
      changes: [r, small].map((x) => ({ address: x.address, kind: 'file', action: 'create' })),
      resources: new Map([r, small].map((x) => [x.address, x])),
      facts: {},
      changedKinds: new Set(),
      ctx: CTX,
    });
    assert.equal(commands[0]!.viaUpload?.uploads[0]!.data, bytes);
    assert.doesNotMatch(commands[0]!.viaUpload!.script, /base64/);
    assert.equal(commands[1]!.viaUpload, undefined);
    // A connection without putFile gets the inline scripts unchanged.
    const plain = {
      description: 'x',
      exec: () => Promise.reject(new Error('unused')),
      close: () => Promise.resolve(),
    };
    assert.equal(await stageUploads(plain, commands), commands.map((c) => c.script).join('\n'));
    // One with putFile gets the payload as a file, read from there and removed on exit.
    const put: string[] = [];
    const uploading = {
      ...plain,
      putFile: async (p: string, data: Buffer, mode: number): Promise<void> => {
        put.push(p);
        await writeFile(p, data, { mode });
      },
    };
    const body = await stageUploads(uploading, commands);
    assert.equal(put.length, 1);
    assert.equal(statSync(put[0]!).mode & 0o777, 0o600);
    const out = spawnSync('/bin/sh', ['-s'], { input: `(\nset -e\n${body}\n)`, encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    assert.deepEqual(readFileSync(path), bytes);
    assert.equal(readFileSync(join(dir, 'small'), 'utf8'), 'tiny');
    assert.equal(existsSync(put[0]!), false, 'the upload is removed when the batch ends');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

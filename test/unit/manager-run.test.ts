import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Attrs, Change } from '../../src/core/types.js';
import { commandDigest, run } from '../../src/managers/run.js';
import type { ManagerContext } from '../../src/managers/types.js';
import { CTX, RUN, items, readOutput, res } from '../fixtures/outputs/scenarios.js';

const step = (name: string, desired: Attrs): ReturnType<typeof res> =>
  res('run', name, { name, index: 0, ...desired });

test('run check: commands, creates and cwd paths', () => {
  for (const r of RUN) assert.deepEqual(run.check(r), [], r.address);
  const bad: [Attrs, string][] = [
    [{ command: '' }, 'run.command'],
    [{ command: 'a\0b' }, 'run.command'],
    [{ command: 'x', creates: 'relative' }, 'run.creates'],
    [{ command: 'x', cwd: '/a/../b' }, 'run.cwd'],
    [{ command: 'x', unless: ' ' }, 'run.unless'],
  ];
  for (const [desired, code] of bad) {
    assert.deepEqual(
      run.check(step('s', desired)).map((d) => d.code),
      [code],
      JSON.stringify(desired),
    );
  }
});

test('run parses recorded guard results; satisfied guards are never re-run', () => {
  const before = run.parseProbe(readOutput('run-before.txt'), items(RUN), CTX);
  assert.deepEqual(before.live.get('run:build'), { name: 'build', satisfied: false });
  assert.equal(before.live.has('run:always'), false, 'unguarded steps have no live state');
  const after = run.parseProbe(readOutput('run-after.txt'), items(RUN), CTX);
  for (const r of RUN.slice(0, 2)) {
    assert.equal(
      run.diff({ resource: r, live: before.live.get(r.address), facts: {}, update: false }).action,
      'create',
    );
    const live = after.live.get(r.address);
    assert.equal(run.diff({ resource: r, live, facts: {}, update: false }).action, 'noop');
    // Even when the command changed: the guard decides.
    const changed = { ...r, desired: { ...r.desired, command: 'other' } };
    assert.equal(run.diff({ resource: changed, live, facts: {}, update: false }).action, 'noop');
  }
});

test('run diff: unguarded steps re-run only when the command changed; delete forgets', () => {
  const r = step('s', { command: 'make install' });
  const recorded = run.record(r, undefined, undefined)!;
  assert.deepEqual(recorded, { name: 's', command_sha256: commandDigest('make install') });
  assert.equal(run.diff({ resource: r, facts: {}, update: false }).action, 'create');
  assert.equal(run.diff({ resource: r, recorded, facts: {}, update: false }).action, 'noop');
  const changed = step('s', { command: 'make install PREFIX=/opt' });
  const c = run.diff({ resource: changed, recorded, facts: {}, update: false });
  assert.deepEqual([c.action, c.reason], ['create', 'the command changed']);
  assert.equal(run.diff({ recorded, facts: {}, update: false }).action, 'delete');
  assert.equal(run.diff({ facts: {}, update: false, live: undefined }).action, 'noop');
  const del = run.commands({
    changes: [{ address: 'run:s', kind: 'run', action: 'delete' }],
    resources: new Map(),
    facts: {},
    changedKinds: new Set(),
    ctx: CTX,
  });
  assert.deepEqual(del, []);
  const guardedRecord = run.record(RUN[0]!, { name: 'build', satisfied: true }, undefined);
  assert.deepEqual(guardedRecord, {
    name: 'build',
    command_sha256: commandDigest(RUN[0]!.desired['command'] as string),
    satisfied: true,
  });
});

test('run commands: spec order, env sourced, cwd, stdin closed, every value quoted', () => {
  const a = step('a', {
    command: "echo 'it''s' $HOME; rm -rf \"$x\"",
    cwd: '/opt/my dir',
    index: 1,
  });
  const b = step('b', { command: 'true', index: 0 });
  const changes: Change[] = [a, b].map((r) => ({
    address: r.address,
    kind: 'run',
    action: 'create',
  }));
  const cmds = run.commands({
    changes,
    resources: new Map([a, b].map((r) => [r.address, r])),
    facts: {},
    changedKinds: new Set(),
    ctx: CTX,
  });
  assert.deepEqual(cmds, [
    {
      display: 'run b: true',
      script:
        '( if [ -f /etc/profile.d/repro.sh ]; then . /etc/profile.d/repro.sh; fi; exec sh -c true </dev/null )',
    },
    {
      display: `run a: echo 'it''s' $HOME; rm -rf "$x"`,
      script:
        "( if [ -f /etc/profile.d/repro.sh ]; then . /etc/profile.d/repro.sh; fi; cd '/opt/my dir'; exec sh -c 'echo '\\''it'\\'''\\''s'\\'' $HOME; rm -rf \"$x\"' </dev/null )",
    },
  ]);
});

test('run probe keeps a multi-line unless command byte for byte (heredoc)', () => {
  const r = step('h', { command: 'false', unless: "cat <<'EOF' | grep -qx 'ok'\nok\nEOF" });
  const out = spawnSync('/bin/sh', ['-s'], {
    input: run.probeScript(items([r]), CTX),
    encoding: 'utf8',
  });
  assert.equal(out.status, 0, out.stderr);
  assert.deepEqual(run.parseProbe(out.stdout, items([r]), CTX).live.get('run:h'), {
    name: 'h',
    satisfied: true,
  });
});

test('run probe and commands run for real with dash: guards, env file, cwd, failure stops', () => {
  const dir = mkdtempSync(join(tmpdir(), 'repro-run-'));
  try {
    const ctx: ManagerContext = { ...CTX, envFile: join(dir, "env it's.sh") };
    writeFileSync(ctx.envFile, "export GREETING='hi $there'\n");
    const out = join(dir, 'out file');
    const steps = [
      step('make', {
        command: `printf '%s' "$GREETING|$(pwd)" > '${out}'`,
        creates: out,
        cwd: dir,
        index: 0,
      }),
      step('check', {
        command: 'touch marker',
        unless: 'test -e marker && test -n "$GREETING"',
        cwd: dir,
        index: 1,
      }),
      step('stdin', { command: 'cat > stdin-was', cwd: dir, index: 2 }),
    ];
    const probe = (): Map<string, Attrs> => {
      const r = spawnSync('/bin/sh', ['-s'], {
        input: run.probeScript(items(steps), ctx),
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      return run.parseProbe(r.stdout, items(steps), ctx).live;
    };
    let live = probe();
    assert.deepEqual(
      [...live.values()].map((l) => l['satisfied']),
      [false, false],
    );
    const changes = steps
      .map((s) => run.diff({ resource: s, live: live.get(s.address), facts: {}, update: false }))
      .filter((c) => c.action !== 'noop');
    assert.equal(changes.length, 3);
    const script = run
      .commands({
        changes,
        resources: new Map(steps.map((s) => [s.address, s])),
        facts: {},
        changedKinds: new Set(),
        ctx,
      })
      .map((c) => c.script)
      .join('\n');
    const r = spawnSync('/bin/sh', ['-s'], {
      input: `set -e\n${script}\n`,
      encoding: 'utf8',
      cwd: '/',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(out, 'utf8'), `hi $there|${dir}`);
    assert.equal(
      readFileSync(join(dir, 'stdin-was'), 'utf8'),
      '',
      'stdin is /dev/null, not the script',
    );
    live = probe();
    assert.deepEqual(
      [...live.values()].map((l) => l['satisfied']),
      [true, true],
    );
    // A failing step stops the batch.
    const fail = step('fail', { command: 'exit 3', index: 0 });
    const after = step('after', { command: `touch '${join(dir, 'after')}'`, index: 1 });
    const s2 = run
      .commands({
        changes: [fail, after].map((x) => ({
          address: x.address,
          kind: 'run' as const,
          action: 'create' as const,
        })),
        resources: new Map([fail, after].map((x) => [x.address, x])),
        facts: {},
        changedKinds: new Set(),
        ctx,
      })
      .map((c) => c.script)
      .join('\n');
    assert.equal(spawnSync('/bin/sh', ['-s'], { input: `set -e\n${s2}\n` }).status, 3);
    assert.equal(existsSync(join(dir, 'after')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

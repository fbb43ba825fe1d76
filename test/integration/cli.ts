// Runs the built CLI as a user would, and shell commands on targets independently of repro's own
// providers, so integration tests assert on the target itself.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/repro.js', import.meta.url));

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  argv: string[],
  opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.stdin.on('error', () => {}); // the child may exit before reading its (empty) stdin
    child.on('close', (code, signal) =>
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }),
    );
    child.stdin.end(opts.input ?? '');
  });
}

/** `repro ARGS` in `cwd`, colour off, no TTY. */
export function repro(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return run([process.execPath, CLI, ...args], { cwd, env: { NO_COLOR: '1', ...env } });
}

/** Throws with the whole output when a command did not exit as expected. */
export function expectCode(r: Run, code: number, what: string): Run {
  if (r.code !== code) {
    throw new Error(
      `${what}: expected exit ${code}, got ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`,
    );
  }
  return r;
}

/**
 * Sequential subtests sharing one target: once a step fails, the later ones are skipped (they
 * would only fail for the same reason) instead of piling up errors.
 */
export function steps(
  t: import('node:test').TestContext,
): (name: string, fn: () => Promise<void>) => Promise<void> {
  let failed: string | undefined;
  return async (name, fn) => {
    if (failed) {
      await t.test(name, { skip: `an earlier step failed: ${failed}` }, () => {});
      return;
    }
    await t.test(name, async () => {
      try {
        await fn();
      } catch (e) {
        failed = name;
        throw e;
      }
    });
  };
}

// Running host processes for the providers that execute on this machine (local, chroot) and for
// host-side tools (mount, debootstrap, tar). Invariants: no shell is ever involved (argv goes to
// spawn as is); stdin is written whole then closed, so `sh -s` sees EOF; stdout and stderr are
// collected as bytes and decoded once at the end, so a multi-byte character split across chunks
// survives; a process killed by a signal reports 128 + signal number, as a shell would.
import { spawn, type SpawnOptions } from 'node:child_process';
import { constants } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import { CommandFailedError, ReproError } from '../src/core/errors.js';
import type { ExecOptions, ExecResult } from './types.js';

export interface RunOptions extends ExecOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Called with stdout text as it arrives (debootstrap progress). */
  readonly onStdout?: (chunk: string) => void;
}

/** The error spawn raises when the program itself cannot be started (ENOENT, EACCES). */
export class SpawnError extends Error {
  constructor(
    readonly program: string,
    readonly errno: string,
    cause: unknown,
  ) {
    super(`cannot run ${program}: ${errno}`, { cause });
  }
}

/**
 * Runs `program args…` and resolves with its exit code and output, whatever the exit code.
 * Rejects with SpawnError only when the program cannot be started at all.
 */
export function runProcess(
  program: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = { stdio: ['pipe', 'pipe', 'pipe'] };
    if (opts.env) spawnOpts.env = opts.env;
    if (opts.cwd) spawnOpts.cwd = opts.cwd;
    const child = spawn(program, [...args], spawnOpts);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const errDecoder = new StringDecoder('utf8');
    const outDecoder = new StringDecoder('utf8');
    let spawnFailed = false;

    child.stdout!.on('data', (b: Buffer) => {
      out.push(b);
      if (opts.onStdout) {
        const text = outDecoder.write(b);
        if (text) opts.onStdout(text);
      }
    });
    child.stderr!.on('data', (b: Buffer) => {
      err.push(b);
      if (opts.onStderr) {
        const text = errDecoder.write(b);
        if (text) opts.onStderr(text);
      }
    });
    // A command that exits without reading all of its stdin makes our write fail with EPIPE;
    // that is the command's business (its exit code says what happened), not an exec failure.
    child.stdin!.on('error', () => {});
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnFailed = true;
      reject(new SpawnError(program, e.code ?? e.message, e));
    });
    child.on('close', (code, signal) => {
      if (spawnFailed) return;
      const exitCode =
        code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : /* unreachable */ 1);
      resolve({
        exitCode,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin!.end(opts.stdin ?? '');
  });
}

/**
 * Runs a host tool that repro itself needs (mount, tar, debootstrap) and throws a ReproError when
 * it is missing or fails: these failures are about this machine, not about the target.
 */
export async function runHostTool(
  program: string,
  args: readonly string[],
  opts: RunOptions & { hint?: string } = {},
): Promise<ExecResult> {
  let result: ExecResult;
  try {
    result = await runProcess(program, args, opts);
  } catch (e) {
    if (e instanceof SpawnError) {
      throw new ReproError(
        'host.tool-missing',
        `cannot run ${program} on this machine (${e.errno})`,
        {
          hint: opts.hint ?? `install ${program} (e.g. apt-get install ${program})`,
          cause: e,
        },
      );
    }
    throw e;
  }
  if (result.exitCode !== 0) {
    throw new CommandFailedError(
      [program, ...args].join(' '),
      result.exitCode,
      result.stderr || result.stdout,
      opts.hint ? { hint: opts.hint } : {},
    );
  }
  return result;
}

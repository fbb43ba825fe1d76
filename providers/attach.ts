// This process's terminal on a command that runs elsewhere (`repro exec`, `repro shell`).
// Invariants: the terminal is put in raw mode only while a TTY session is attached and is always
// restored, even when the session ends by an error; stdin is released afterwards, so a finished
// session never keeps the process alive waiting for keystrokes.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Writable } from 'node:stream';
import { ReproError } from '../src/core/errors.js';

/**
 * Pipes this process's stdin into `sink` (raw mode when `tty` and stdin is a terminal); the end
 * of stdin half-closes the sink, so the remote command sees EOF. Returns the undo function.
 */
export function pipeAttachedStdio(sink: Writable, tty: boolean): () => void {
  const stdin = process.stdin;
  const raw = tty && stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  stdin.pipe(sink);
  return () => {
    stdin.unpipe(sink);
    if (raw) stdin.setRawMode(false);
    stdin.pause();
  };
}

/**
 * Runs a host program with this process's stdio inherited (a terminal stays a terminal, so no
 * pseudo-terminal is needed) and resolves to its exit code, 128 + signal when killed.
 */
export function spawnAttached(
  program: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, [...args], { stdio: 'inherit', env });
    // The child owns the terminal now: ^C and ^\ reach it (same process group) and repro, which
    // ignores them and waits for the child to decide.
    const ignore = () => {};
    process.on('SIGINT', ignore);
    process.on('SIGQUIT', ignore);
    const cleanup = () => {
      process.off('SIGINT', ignore);
      process.off('SIGQUIT', ignore);
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      cleanup();
      reject(
        new ReproError('host.tool-missing', `cannot run ${program}: ${e.code ?? e.message}`, {
          cause: e,
        }),
      );
    });
    child.on('close', (code, signal) => {
      cleanup();
      resolve(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1));
    });
  });
}

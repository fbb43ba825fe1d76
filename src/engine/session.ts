// `repro exec` and `repro shell`: a command or a login shell in the converged target, with the
// spec's environment (the profile file the env manager writes, when it exists) applied. Neither
// takes the state lock nor writes state: they only read the binding to find the target.
import { ReproError } from '../core/errors.js';
import { connectTarget } from './target.js';
import { notCreatedError } from './snapshots.js';
import { readTargetState, type Workspace } from './workspace.js';

// The env file's path travels as $0, never inside the script text: no quoting involved.
const SOURCE_ENV = 'if [ -r "$0" ]; then . "$0"; fi; ';

/** argv that sources `envFile` (when readable) and then execs `argv` itself. */
export function execArgv(envFile: string, argv: readonly string[]): string[] {
  return ['/bin/sh', '-c', `${SOURCE_ENV}exec "$@"`, envFile, ...argv];
}

/**
 * A login shell, bash when the target has it. A login shell reads /etc/profile, which on Debian
 * resets root's PATH and then sources /etc/profile.d/*.sh (where the env file lives by default),
 * so the spec's environment is what the user gets.
 */
export function shellArgv(envFile: string): string[] {
  return [
    '/bin/sh',
    '-c',
    `${SOURCE_ENV}if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi`,
    envFile,
  ];
}

export interface SessionOptions {
  /** The command to run; undefined for an interactive shell. */
  readonly argv?: readonly string[];
  readonly tty: boolean;
}

/** Runs the session and resolves to the remote command's exit code. */
export async function runSession(ws: Workspace, opts: SessionOptions): Promise<number> {
  if (opts.argv !== undefined && opts.argv.length === 0) {
    throw new ReproError('cli.usage', 'repro exec needs a command', {
      hint: 'e.g. repro exec -- python3 --version',
    });
  }
  const state = await readTargetState(ws);
  const connected = await connectTarget(ws, state?.target.binding, false);
  if (!connected) throw notCreatedError(ws);
  try {
    const { connection } = connected;
    if (!connection.attach) {
      throw new ReproError(
        'provider.unsupported',
        `${connection.description} cannot attach a terminal (the ${ws.target.provider} provider has no attach yet)`,
      );
    }
    const envFile = ws.spec.ctx.envFile;
    const argv = opts.argv ? execArgv(envFile, opts.argv) : shellArgv(envFile);
    return await connection.attach(argv, { tty: opts.tty });
  } finally {
    await connected.connection.close();
  }
}

// The `local` provider: the machine repro runs on. Nothing is ever created or destroyed; the
// binding records which machine the state describes (/etc/machine-id), and connecting with a state
// recorded on another machine is refused, because applying it here would plan against the wrong
// live system.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ReproError } from '../src/core/errors.js';
import { spawnAttached } from './attach.js';
import { runProcess, SpawnError } from './process.js';
import type {
  AttachOptions,
  Connected,
  Connection,
  ExecOptions,
  ExecResult,
  Provider,
} from './types.js';

/** `local` takes no settings; the type is open so future options do not break the contract. */
export type LocalConfig = Record<string, never>;

const MACHINE_ID_FILES = ['/etc/machine-id', '/var/lib/dbus/machine-id'];

/** This machine's id, or '' when the system has none (some minimal containers). */
export function readMachineId(): string {
  for (const f of MACHINE_ID_FILES) {
    try {
      const id = readFileSync(f, 'utf8').trim();
      if (id) return id;
    } catch {
      // Try the next location.
    }
  }
  return '';
}

class LocalConnection implements Connection {
  readonly description = 'local';
  private closed = false;

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.closed) throw new ReproError('connection.closed', 'exec on a closed local connection');
    const [program, ...args] = argv;
    if (program === undefined) throw new ReproError('exec.empty', 'exec called with an empty argv');
    try {
      // LC_ALL=C so that tools print the untranslated, parseable output the managers expect.
      return await runProcess(program, args, { ...opts, env: { ...process.env, LC_ALL: 'C' } });
    } catch (e) {
      // Same answer as a shell, chroot or docker exec would give for a missing program.
      if (e instanceof SpawnError) {
        return { exitCode: e.errno === 'ENOENT' ? 127 : 126, stdout: '', stderr: `${e.message}\n` };
      }
      throw e;
    }
  }

  /** The terminal is this process's own: stdio is inherited whether or not `tty` is asked. */
  async attach(argv: readonly string[], _opts: AttachOptions): Promise<number> {
    if (this.closed)
      throw new ReproError('connection.closed', 'attach on a closed local connection');
    const [program, ...args] = argv;
    if (program === undefined)
      throw new ReproError('exec.empty', 'attach called with an empty argv');
    return spawnAttached(program, args, process.env);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export const localProvider = {
  kind: 'local',
  check: () => [],
  describeCreate: () => 'use this machine (nothing to create)',

  async connect(_config, { binding }): Promise<Connected> {
    const machineId = readMachineId();
    const host = hostname();
    const recorded = binding?.['machine_id'];
    if (typeof recorded === 'string' && recorded && machineId && recorded !== machineId) {
      const recordedHost = typeof binding?.['hostname'] === 'string' ? binding['hostname'] : '?';
      throw new ReproError(
        'local.other-machine',
        `the state for this local target was recorded on another machine: ${recordedHost} (machine-id ${recorded}), this is ${host} (machine-id ${machineId})`,
        {
          hint: 'use a separate target (and state file) per machine, or remove the state file to start afresh here',
        },
      );
    }
    return {
      connection: new LocalConnection(),
      binding: { hostname: host, machine_id: machineId },
      created: false,
    };
  },

  async destroy(): Promise<boolean> {
    return false;
  },
} satisfies Provider<LocalConfig>;

// What every command handler gets: the global options, the host, confirmation policy, and the
// exit code it sets.
import { ReproError } from '../core/errors.js';
import type { WorkspaceOptions } from '../engine/workspace.js';
import type { CliHost, GlobalOptions } from './host.js';

export class CliContext {
  exitCode = 0;
  constructor(
    readonly host: CliHost,
    private readonly globals: () => GlobalOptions,
  ) {}

  get options(): GlobalOptions {
    return this.globals();
  }

  workspaceOptions(): WorkspaceOptions {
    const g = this.globals();
    return {
      specPath: g.spec,
      target: g.target,
      statePath: g.state,
      io: this.host,
      verbose: g.verbose,
      acceptHostKey: g.acceptHostKey === true,
    };
  }

  /** Interactive confirmation; without a TTY, only --auto-approve may proceed. */
  async confirm(autoApprove: boolean, question: string): Promise<boolean> {
    if (autoApprove) return true;
    if (!process.stdin.isTTY) {
      throw new ReproError(
        'cli.no-tty',
        'refusing to change the target without confirmation: stdin is not a terminal',
        {
          hint: 'review `repro plan`, then run again with --auto-approve (or apply a saved plan file)',
        },
      );
    }
    return this.host.confirm(question);
  }
}

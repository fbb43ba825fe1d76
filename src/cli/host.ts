// The CLI's IoHost and output helpers: results on stdout, progress and warnings on stderr,
// colour only on a TTY and never with NO_COLOR or --no-color.
import { createInterface } from 'node:readline/promises';
import { Chalk, type ChalkInstance } from 'chalk';
import type { IoHost, Level } from '../core/io.js';

export interface GlobalOptions {
  spec: string;
  target?: string;
  state?: string;
  debug?: boolean;
  verbose?: boolean;
  acceptHostKey?: boolean;
  color: boolean;
}

export function useColor(stream: NodeJS.WriteStream, flag: boolean): boolean {
  return (
    flag && stream.isTTY === true && !('NO_COLOR' in process.env && process.env['NO_COLOR'] !== '')
  );
}

export class CliHost implements IoHost {
  readonly out: ChalkInstance;
  readonly err: ChalkInstance;
  readonly colorOut: boolean;
  constructor(color: boolean) {
    this.colorOut = useColor(process.stdout, color);
    this.out = new Chalk({ level: this.colorOut ? 1 : 0 });
    this.err = new Chalk({ level: useColor(process.stderr, color) ? 1 : 0 });
  }
  notify(level: Level, text: string): void {
    const c = this.err;
    const line =
      level === 'warn' ? c.yellow(`Warning: ${text}`) : level === 'progress' ? c.dim(text) : text;
    process.stderr.write(line + '\n');
  }
  async confirm(question: string): Promise<boolean> {
    if (!process.stdin.isTTY) return false;
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      const answer = await rl.question(
        `${question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: `,
      );
      return answer.trim() === 'yes';
    } finally {
      rl.close();
    }
  }
  print(text: string): void {
    process.stdout.write(text.endsWith('\n') ? text : text + '\n');
  }
}

// The engine never prints. It reports through an IoHost; the CLI decides stdout versus stderr,
// colour and prompts.
export type Level = 'progress' | 'info' | 'warn';

export interface IoHost {
  /** Progress and warnings (stderr in the CLI). */
  notify(level: Level, text: string): void;
  /** Asks the user a yes/no question. Non-interactive hosts throw or answer per flags. */
  confirm(question: string): Promise<boolean>;
}

/** An IoHost that collects messages; for tests and library use. */
export class BufferIoHost implements IoHost {
  readonly messages: { level: Level; text: string }[] = [];
  constructor(private readonly answer = true) {}
  notify(level: Level, text: string): void {
    this.messages.push({ level, text });
  }
  async confirm(): Promise<boolean> {
    return this.answer;
  }
}

// Errors a user can act on. Every error repro raises on purpose is a ReproError with a stable
// code, a one-line message and, where known, the resource address, the spec position and a hint.
// The CLI prints `message` (plus location/hint); the stack only appears under --debug.

/** A position in a source file, 1-based line and column. */
export interface SourceRef {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

export function formatSourceRef(ref: SourceRef): string {
  return `${ref.file}:${ref.line}:${ref.col}`;
}

export type Severity = 'error' | 'warning';

/** One validation problem. Validation collects all of them instead of stopping at the first. */
export interface Diagnostic {
  readonly severity: Severity;
  readonly code: string;
  readonly message: string;
  readonly at?: SourceRef;
  readonly address?: string;
  readonly hint?: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.at ? `${formatSourceRef(d.at)}: ` : '';
  const addr = d.address ? ` [${d.address}]` : '';
  const hint = d.hint ? `\n  hint: ${d.hint}` : '';
  return `${where}${d.severity}: ${d.message}${addr}${hint}`;
}

/** Sorts diagnostics by file, line, column, then message, so output is stable. */
export function sortDiagnostics(ds: readonly Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => {
    const fa = a.at?.file ?? '';
    const fb = b.at?.file ?? '';
    if (fa !== fb) return fa < fb ? -1 : 1;
    const la = a.at?.line ?? 0;
    const lb = b.at?.line ?? 0;
    if (la !== lb) return la - lb;
    const ca = a.at?.col ?? 0;
    const cb = b.at?.col ?? 0;
    if (ca !== cb) return ca - cb;
    return a.message < b.message ? -1 : a.message > b.message ? 1 : 0;
  });
}

export interface ReproErrorOptions {
  hint?: string;
  address?: string;
  at?: SourceRef;
  cause?: unknown;
}

export class ReproError extends Error {
  readonly code: string;
  readonly hint?: string;
  readonly address?: string;
  readonly at?: SourceRef;

  constructor(code: string, message: string, opts: ReproErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = opts.hint;
    this.address = opts.address;
    this.at = opts.at;
  }
}

/** The spec (or another input file) has one or more problems; all are listed. */
export class SpecError extends ReproError {
  readonly diagnostics: readonly Diagnostic[];
  constructor(diagnostics: readonly Diagnostic[], message?: string) {
    const sorted = sortDiagnostics(diagnostics);
    const errors = sorted.filter((d) => d.severity === 'error');
    super(
      'spec.invalid',
      message ??
        (errors.length === 1
          ? formatDiagnostic(errors[0]!)
          : `${errors.length} problems in the spec:\n${errors.map(formatDiagnostic).join('\n')}`),
    );
    this.diagnostics = sorted;
  }
}

export class StateLockedError extends ReproError {
  constructor(statePath: string, holder: string) {
    super('state.locked', `state ${statePath} is locked by ${holder}`, {
      hint: 'another repro apply is running on this target; wait for it, or remove the stale lock directory if that process is gone',
    });
  }
}

export class StalePlanError extends ReproError {
  constructor(reason: string) {
    super('plan.stale', `saved plan is stale: ${reason}`, {
      hint: 'run `repro plan -out FILE` again and apply the new plan',
    });
  }
}

/** A command on the target exited non-zero. Carries argv/script summary, exit code and stderr tail. */
export class CommandFailedError extends ReproError {
  readonly command: string;
  readonly exitCode: number;
  readonly stderrTail: string;
  constructor(command: string, exitCode: number, stderr: string, opts: ReproErrorOptions = {}) {
    const tail = tailLines(stderr, 12);
    super(
      'command.failed',
      `command failed with exit code ${exitCode}: ${command}${tail ? `\n${indent(tail, '  | ')}` : ''}`,
      opts,
    );
    this.command = command;
    this.exitCode = exitCode;
    this.stderrTail = tail;
  }
}

export function tailLines(text: string, n: number): string {
  const lines = text.replace(/\s+$/, '').split('\n');
  return lines.slice(-n).join('\n');
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}

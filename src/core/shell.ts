// Shell safety in one place: commands are argv arrays until `shellJoin` quotes them for POSIX sh.
// Nothing else in repro builds shell strings from user values.

/** Quotes one word for POSIX sh. Safe for any byte string without NUL. */
export function shellQuote(word: string): string {
  if (word.includes('\0')) throw new Error('cannot quote a string containing NUL for the shell');
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Joins argv into one shell command line with every word quoted. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

/**
 * A fragment of shell script that repro itself wrote. Only constant text and `shellJoin`/`shellQuote`
 * output may go into `script`.
 */
export interface Command {
  /** Human description for progress and errors, e.g. `apt-get install -y jq curl`. */
  readonly display: string;
  /** The shell text to run. */
  readonly script: string;
  /**
   * A variant of `script` for connections that can put files (ssh, through sftp): large payloads
   * travel as files instead of base64 inside the script. Each upload's path on the target is in
   * the shell variable it names when `script` runs; apply removes the files afterwards.
   */
  readonly viaUpload?: {
    readonly script: string;
    readonly uploads: readonly { readonly variable: string; readonly data: Buffer }[];
  };
}

export function command(argv: readonly string[], display?: string): Command {
  const script = shellJoin(argv);
  return { display: display ?? script, script };
}

/**
 * A problem with what the user gave (a file, a column, a flag). Commands print its one-line message on stderr and
 * exit with code 2, unlike an internal failure. The message names the file and the column and says what to do next.
 */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** The error for a file that has a header but no data rows: nothing to compare, store or learn from. */
export function noDataRowsError(path: string): InputError {
  return new InputError(`${path}: the file has no data rows (only a header); give a file with at least one row`);
}

/** The error for a file DuckDB cannot read (bad format, broken quoting, unconvertible cells), naming the file. */
export function unreadableFileError(path: string, error: unknown): InputError {
  const message = error instanceof Error ? error.message : String(error);
  return new InputError(`${path}: cannot be read: ${message.split('\n')[0].trim()}`);
}

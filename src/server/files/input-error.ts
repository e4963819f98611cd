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

/**
 * What every `mlmon` sub-command module exports, and the one place where a command's failure becomes its
 * message and exit code.
 */
export interface Command {
  /** One line for `mlmon help`. */
  summary: string;
  /** Runs the command; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

/** A mistake in how the command was called (a bad or missing flag): exit code 2 and a pointer to --help. */
export class UsageError extends Error {}

/**
 * Wraps a command's body so that every failure ends as one line on stderr, `mlmon <name>: <message>`:
 * usage mistakes (UsageError, node:util parseArgs errors) exit 2 with a pointer to `--help`, anything else exits 1.
 */
export function handleErrors(name: string, run: (argv: string[]) => Promise<number>): Command['run'] {
  return async (argv) => {
    try {
      return await run(argv);
    } catch (error) {
      const usage =
        error instanceof UsageError || Boolean((error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS'));
      const hint = usage ? `\nRun 'mlmon ${name} --help' for the options.` : '';
      process.stderr.write(`mlmon ${name}: ${(error as Error).message}${hint}\n`);
      return usage ? 2 : 1;
    }
  };
}

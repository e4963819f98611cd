/**
 * What every `mlmon` sub-command module exports, and the one place where a command's failure becomes its
 * message and exit code. The rule, the same for every command:
 *
 *   0  done;
 *   1  the command ran but did not fully succeed: `report --fail-on` reached its level, `ingest` stored some rows
 *      and rejected others, or something outside the input failed (the store, the disk, a bug);
 *   2  usage or input error, nothing was done: a bad or missing flag, a missing, unreadable or empty file, a
 *      column that is not there or cannot be used, an invalid or unknown model name or version.
 */
import { InputError } from '../files/input-error';
import { InvalidIdentifierError } from '../store/identifiers';
import type { WriteResult } from '../store/types';

export { InputError };

export interface Command {
  /** One line for `mlmon help`. */
  summary: string;
  /** Runs the command; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

/** A mistake in how the command was called (a bad or missing flag): exit code 2 and a pointer to --help. */
export class UsageError extends InputError {}

/** Exit code of a usage or input error. */
export const EXIT_INPUT = 2;
/** Exit code of a command that ran but did not fully succeed, or failed for a reason outside its input. */
export const EXIT_FAILURE = 1;

/** True for node:util parseArgs's errors (unknown option, missing value): a usage mistake. */
function isParseArgsError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

/** True for errors about what the user gave (flags, files, columns, names), as opposed to failures. */
export function isInputError(error: unknown): boolean {
  return error instanceof InputError || error instanceof InvalidIdentifierError || isParseArgsError(error);
}

/** Messages quote user text (paths, cell values); a stray line break must not split the one-line error. */
export function oneLine(message: string): string {
  return message.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/**
 * Wraps a command's body so that every failure ends as one line on stderr, `mlmon <name>: <message>`:
 * usage mistakes (UsageError, node:util parseArgs errors) get a pointer to `--help`; input errors exit 2,
 * anything else exits 1 (see the module comment).
 */
export function handleErrors(name: string, run: (argv: string[]) => Promise<number>): Command['run'] {
  return async (argv) => {
    try {
      return await run(argv);
    } catch (error) {
      const usage = error instanceof UsageError || isParseArgsError(error);
      const hint = usage ? ` Run 'mlmon ${name} --help' for the options.` : '';
      process.stderr.write(`mlmon ${name}: ${oneLine((error as Error).message)}${hint}\n`);
      return isInputError(error) ? EXIT_INPUT : EXIT_FAILURE;
    }
  };
}

/** For writers whose records must all be taken (bulk loads, simulation): throws with the first refusal's reason. */
export function throwIfRejected(result: WriteResult, model: string): void {
  if (result.rejected.length > 0) {
    const [first] = result.rejected;
    throw new InputError(
      `model ${model}: the store refused ${result.rejected.length} record(s), e.g. id ${JSON.stringify(first.id)}: ${first.reason}`
    );
  }
}

/**
 * Logs for go-plugin: one JSON object per line on stderr, `@level` and `@message` plus any fields.
 * No `@timestamp`: go-plugin parses it with a 6-fractional-digit layout and degrades the whole line
 * when JS's 3-digit ISO string is given (Grafana adds its own time).
 * Every string of a line passes through `redactSecrets` (secrets.ts): no password leaves the process in a log.
 */
import { inspect } from 'node:util';
import { redactSecrets } from './secrets';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds these fields to every line. */
  with(fields: LogFields): Logger;
}

/**
 * One log line (with its trailing newline). Errors become their message; fields named @… are dropped; secrets are
 * redacted in every string, at any depth.
 */
export function formatLogLine(level: LogLevel, message: string, fields: LogFields = {}): string {
  const entry: Record<string, unknown> = { '@level': level, '@message': message };
  for (const [key, value] of Object.entries(fields)) {
    if (!key.startsWith('@') && value !== undefined) {
      entry[key] = value instanceof Error ? value.message : value;
    }
  }
  const plain = (_key: string, value: unknown) =>
    typeof value === 'string' ? redactSecrets(value) : typeof value === 'bigint' ? value.toString() : value;
  return `${JSON.stringify(entry, plain)}\n`;
}

export function createLogger(
  write: (line: string) => void = (line) => process.stderr.write(line),
  base: LogFields = {}
): Logger {
  const log = (level: LogLevel) => (message: string, fields?: LogFields) =>
    write(formatLogLine(level, message, { ...base, ...fields }));
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    with: (fields) => createLogger(write, { ...base, ...fields }),
  };
}

/**
 * Sends everything the `console` writes to the logger, so no library can write to stdout,
 * which belongs to the go-plugin handshake.
 */
export function redirectConsole(logger: Logger): void {
  const text = (args: unknown[]) => args.map((a) => (typeof a === 'string' ? a : inspect(a))).join(' ');
  console.log = (...args: unknown[]) => logger.info(text(args));
  console.info = (...args: unknown[]) => logger.info(text(args));
  // eslint-disable-next-line no-console -- replacing, not calling: nothing may reach stdout
  console.debug = (...args: unknown[]) => logger.debug(text(args));
  // eslint-disable-next-line no-console -- replacing, not calling: nothing may reach stdout
  console.trace = (...args: unknown[]) => logger.debug(text(args));
  console.warn = (...args: unknown[]) => logger.warn(text(args));
  console.error = (...args: unknown[]) => logger.error(text(args));
}

/**
 * The one gate for names that reach SQL (models, features, columns, tables) and for model versions that reach
 * file names. A name is accepted only when it matches `^[A-Za-z_][A-Za-z0-9_]{0,63}$`; everything else — spaces,
 * quotes, backticks, semicolons, dots — is rejected with an error naming the bad value, before any SQL is built.
 * Accepted names are still quoted per dialect (`quoteIdentifier`), so a reserved word such as `select` is safe too.
 */

export type SqlDialect = 'duckdb' | 'clickhouse';

/** Longest name that may reach SQL (models, features, columns, tables), ours rather than ClickHouse's or DuckDB's. */
export const MAX_IDENTIFIER_LENGTH = 64;
const IDENTIFIER = new RegExp(`^[A-Za-z_][A-Za-z0-9_]{0,${MAX_IDENTIFIER_LENGTH - 1}}$`);
const VERSION = /^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$/;

/** Thrown for a name or value that may not reach SQL or a file path. */
export class InvalidIdentifierError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidIdentifierError';
  }
}

/** True when `name` is a safe identifier (see the module comment). */
export function isIdentifier(name: unknown): name is string {
  return typeof name === 'string' && IDENTIFIER.test(name);
}

/**
 * Returns `name` when it is a safe identifier, else throws naming it. `what` says what the name is for
 * (e.g. "model name", "feature name") so the message tells the user which input to fix.
 */
export function validateIdentifier(name: unknown, what = 'identifier'): string {
  if (!isIdentifier(name)) {
    throw new InvalidIdentifierError(
      `Invalid ${what} ${JSON.stringify(name)}: use 1-${MAX_IDENTIFIER_LENGTH} characters from A-Z, a-z, 0-9 and _, not starting with a digit ` +
        `(for example rename "petal width (cm)" to "petal_width_cm").`
    );
  }
  return name;
}

/** Returns `version` when it is a safe model version (also used as a file name), else throws naming it. */
export function validateVersion(version: unknown): string {
  if (typeof version !== 'string' || !VERSION.test(version)) {
    throw new InvalidIdentifierError(
      `Invalid model version ${JSON.stringify(version)}: use 1-128 characters from A-Z, a-z, 0-9, _ . + -, ` +
        `starting with a letter, digit or _ (for example "v3" or "2024.06.1").`
    );
  }
  return version;
}

/**
 * Quotes a validated identifier for the dialect: "name" for DuckDB (SQL standard), `name` for ClickHouse.
 * Validation first guarantees no quote character needs escaping.
 */
export function quoteIdentifier(name: string, dialect: SqlDialect, what = 'identifier'): string {
  validateIdentifier(name, what);
  return dialect === 'duckdb' ? `"${name}"` : `\`${name}\``;
}

/** Prefix of feature columns, so feature names never collide with system columns such as `ts` or `id`. */
export const FEATURE_COLUMN_PREFIX = 'f_';

/** Longest feature name: its column `f_<name>` must stay within the 64 characters of an identifier. */
export const MAX_FEATURE_NAME_LENGTH = MAX_IDENTIFIER_LENGTH - FEATURE_COLUMN_PREFIX.length;
const FEATURE_NAME = new RegExp(`^[A-Za-z_][A-Za-z0-9_]{0,${MAX_FEATURE_NAME_LENGTH - 1}}$`);

/**
 * The one rule for feature names, checked by the collector at the door and by the stores: 1-62 characters from
 * A-Z, a-z, 0-9 and _, not starting with a digit (62, so that the stored column `f_<name>` is an identifier).
 * Names are compared without regard to case (`featureKey`): DuckDB's identifiers are case-insensitive, so a model
 * cannot have both `age` and `Age`.
 */
export function validateFeatureName(name: unknown): string {
  if (typeof name !== 'string' || !FEATURE_NAME.test(name)) {
    throw new InvalidIdentifierError(
      `Invalid feature name ${JSON.stringify(name)}: use 1-${MAX_FEATURE_NAME_LENGTH} characters from A-Z, a-z, 0-9 ` +
        `and _, not starting with a digit (for example rename "petal width (cm)" to "petal_width_cm").`
    );
  }
  return name;
}

/** The case-insensitive identity of a feature name: two names with the same key are the same feature. */
export function featureKey(name: string): string {
  return name.toLowerCase();
}

/** The stored column of a feature: `f_<name>` (validated). */
export function featureColumn(feature: string): string {
  return FEATURE_COLUMN_PREFIX + validateFeatureName(feature);
}

/** The feature name of a stored feature column, or undefined for a system column. */
export function featureFromColumn(column: string): string | undefined {
  return column.startsWith(FEATURE_COLUMN_PREFIX) ? column.slice(FEATURE_COLUMN_PREFIX.length) : undefined;
}

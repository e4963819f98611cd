/**
 * Names of the ClickHouse tables and views made for a model (`predictions_<model>`, `labels_<model>`,
 * `ingested_hours_<model>`, the Kafka tables, and a cluster's `<table>_local`). A model name may have 64 characters
 * (identifiers.ts) and so may every name the store sends (the same gate checks it), so a derived name that would be
 * longer keeps a readable prefix and ends with a short hash of the whole name: `fittedName`. Names that fit are
 * kept as they are, so the tables existing installations made for their models keep their names.
 *
 * ClickHouse itself takes longer names (26 up to 212 characters; 18.16 until its metadata file `<name>.sql.tmp` passes
 * the file system's 255 bytes): the 64 is our own identifier rule, which every name reaching SQL passes.
 */
import { createHash } from 'node:crypto';
import { MAX_IDENTIFIER_LENGTH, validateIdentifier } from './identifiers';

/** Hex digits of SHA-256 kept in a fitted name: 48 bits, so two long names of one database never meet by chance. */
const HASH_DIGITS = 12;

/**
 * `name + suffix` when that fits in an identifier; else the start of `name`, `_`, the first HASH_DIGITS hex digits
 * of SHA-256(name), and `suffix`: exactly 64 characters, the same for the same name, different for names that differ
 * anywhere (case included).
 */
export function fittedName(name: string, suffix = ''): string {
  if (name.length + suffix.length <= MAX_IDENTIFIER_LENGTH) {
    return name + suffix;
  }
  const hash = createHash('sha256').update(name).digest('hex').slice(0, HASH_DIGITS);
  return `${name.slice(0, MAX_IDENTIFIER_LENGTH - suffix.length - HASH_DIGITS - 1)}_${hash}${suffix}`;
}

/** The name of one of a model's tables or views: `<prefix><model>`, fitted (the model name validated). */
export function modelTableName(prefix: string, model: string): string {
  return fittedName(prefix + validateIdentifier(model, 'model name'));
}

/** The model's predictions table. */
export function predictionsTableName(model: string): string {
  return modelTableName('predictions_', model);
}

/** The model's labels table. */
export function labelsTableName(model: string): string {
  return modelTableName('labels_', model);
}

/** The materialized view feeding the model's rows per hour into mlmon_ingested_hours (ingestLedgerDDL). */
export function ingestLedgerViewName(model: string): string {
  return modelTableName('ingested_hours_', model);
}

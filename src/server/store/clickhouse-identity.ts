/**
 * A prediction's identity in ClickHouse: (model, version, id). A model's predictions table is a ReplacingMergeTree
 * sorted by `(ts, id, version)` (predictionsTableDDL), so FINAL and merges collapse the re-sent copies of one version's
 * prediction (same ts, id and version) and keep two versions' predictions of one request (a champion and its shadow
 * challenger). Tables created before were sorted by `(ts, id)`, which collapsed those into one; ClickHouse cannot
 * add an existing column to a sorting key (ALTER … MODIFY ORDER BY takes only columns added by the same ALTER), so
 * such a table is rebuilt, on each server that holds its rows (each shard's `_local` table in cluster mode, where
 * rows stay on their shard: the sharding key is still the id, so both versions of a request share a shard):
 *   1. RENAME TABLE predictions_<model> TO mlmon_redo_<model>   (atomic; a writer meanwhile
 *      creates the new table itself, or fails and is retried from the collector's write-ahead log)
 *   2. CREATE TABLE IF NOT EXISTS predictions_<model> AS <the renamed table> ENGINE = <the new engine and key>
 *   3. INSERT INTO predictions_<model> (<its columns>) SELECT <them> FROM <the renamed table>
 *   4. DROP TABLE <the renamed table>
 * A rebuild interrupted anywhere resumes at step 2 on the next open (the renamed table is still there); copying
 * again is harmless, the copies collapsing as re-sent ones do. Every row is copied, FINAL or not, so versions that
 * the old key had not merged away yet are kept. Two processes opening the store at once may both rebuild: the one
 * whose RENAME finds the table gone, or whose copy loses its source, fails to open (and opens on a retry); no row is
 * lost, since the renamed table is dropped only by a process whose copy of it completed.
 *
 * Prepared counts (src/server/counting/clickhouse-hours.ts) stay consistent through the ledger: the model's ledger
 * view is dropped before the rebuild and made again after it by ensureIngestLedger, which counts every row of the
 * rebuilt table into the ledger once more, so every prepared hour looks changed and is read from its rows until the
 * next maintenance prepares it again.
 */
import { modelTableName } from './clickhouse-names';
import { quoteIdentifier } from './identifiers';

/** The sorting key of a predictions table, as system.tables writes it. */
export const PREDICTIONS_SORTING_KEY = 'ts, id, version';

/**
 * Name of the table a model's predictions table is renamed to while it is rebuilt: `mlmon_` names are never a
 * model's (fitted to an identifier's length like every model table: clickhouse-names.ts).
 */
export function pendingRebuildName(model: string): string {
  return modelTableName('mlmon_redo_', model);
}

/** What a server must do for one predictions table: nothing, rename it first, or (resume and) copy it. */
export type IdentityStep = 'none' | 'rename' | 'copy';

/**
 * The step for a predictions table whose sorting key is `sortingKey` (undefined when the table is missing) and
 * whose renamed table exists or not: a renamed table means a rebuild under way (resume by copying it).
 */
export function identityStep(sortingKey: string | undefined, pendingExists: boolean): IdentityStep {
  if (pendingExists) {
    return 'copy';
  }
  return sortingKey === undefined || sortingKey === PREDICTIONS_SORTING_KEY ? 'none' : 'rename';
}

/**
 * Steps 2-4 of the module comment: the statements rebuilding `table` from `pending` (both `db`.`name` SQL) with the
 * engine clause of predictionsTableDDL, copying `columns` (the renamed table's).
 */
export function rebuildStatements(
  table: string,
  pending: string,
  engine: string,
  columns: readonly string[]
): string[] {
  const list = columns.map((name) => quoteIdentifier(name, 'clickhouse')).join(', ');
  return [
    `CREATE TABLE IF NOT EXISTS ${table} AS ${pending} ${engine}`,
    `INSERT INTO ${table} (${list}) SELECT ${list} FROM ${pending}`,
    `DROP TABLE IF EXISTS ${pending}`,
  ];
}

/**
 * Counts prepared in ClickHouse itself, the counterpart of the counts kept beside the embedded store's day files
 * (window-counts.ts): per model, counts key (window-counts.ts countsKey: the filter, the column and its bins) and
 * hour of ts, the cells of binned-counts.ts. Tables (migration 3 in store/clickhouse.ts):
 *
 *   mlmon_ingested_hours  the ingestion ledger: rows INSERTed per model and hour, added by a materialized view on the
 *                         model's predictions table (ingestLedgerDDL), so every writer feeds it; summed at read
 *   mlmon_count_hours     one row per prepared hour and key: the ledger's sum for that hour when it was counted
 *   mlmon_count_cells     the counted cells of a prepared hour, stamped with the preparation's `prepared_at`
 *
 * Exactness (de-duplication meets counting): an hour is prepared from the de-duplicated rows (the store's FINAL
 * relation) by `mlmon maintain` and the collector's maintenance, and only once it has ended. A query uses a prepared
 * hour only while the ledger still holds the sum recorded with it; every INSERT into the hour afterwards — a late
 * record or a re-sent id — raises the ledger, so the hour is read from its rows again (with FINAL, so a re-sent id
 * counts once) until the next maintenance prepares it anew. The ledger is read before the rows are counted, so a
 * record arriving during a preparation makes the hour look changed, never the counts look complete. Cells of an
 * earlier preparation are ignored by their `prepared_at`, so no read needs FINAL: the hot path reads counts for the
 * whole prepared hours and rows for the rest (the range's partial hours, the open hour, hours changed since).
 */
import type { PredictionStore, PreparedHours, TimeRange } from '../store/types';
import type { Params } from '../store/sql-params';
import { binnedCountsPlan } from './binned-counts';
import type { CellSink, CountedColumn } from './cells';
import { forEachSliced } from '../slices';
import { bucketStartSql, epochGrid, gridParams, type BucketGrid } from './window';

export const HOUR_MS = 3_600_000;

/** The counts keys `{keys}` as an IN set: a hash lookup per row (`has` compared every key with every row's). */
const KEY_CHOSEN = 'counts_key IN (SELECT arrayJoin({keys}))';

/** Most hours counted by one statement of a preparation (a day: bounded cells per statement and insert). */
const HOURS_PER_STATEMENT = 24;

/**
 * The hours in [{from}, {to}) whose counts are prepared for every key of `{keys}` ({key_count} distinct keys) by one
 * preparation (`prepared_at`) and whose ledger sum is still the one recorded with them (a missing ledger row is 0),
 * ascending: rows `hour, prepared_at`.
 */
export function freshHoursSql(): string {
  return (
    'SELECT hour, max(latest) AS prepared_at FROM (SELECT counts_key, hour, argMax(ingested, prepared_at) AS ' +
    'ingested, max(prepared_at) AS latest FROM mlmon_count_hours ' +
    `WHERE model = {model} AND ${KEY_CHOSEN} AND hour >= {from} AND hour < {to} GROUP BY counts_key, hour) AS prepared ` +
    'ANY LEFT JOIN (SELECT hour, sum(inserted) AS inserted FROM mlmon_ingested_hours ' +
    'WHERE model = {model} AND hour >= {from} AND hour < {to} GROUP BY hour) AS ledger USING hour ' +
    'GROUP BY hour HAVING count() = {key_count} AND min(ingested = inserted) = 1 AND min(latest) = max(latest) ' +
    'ORDER BY hour'
  );
}

/** A prepared hour: its start and the preparation whose cells it holds. */
export interface FreshHour {
  hour: number;
  preparedAt: number;
}

/**
 * The cells of prepared hours for the keys `{key_<i>}` (i < keyCount), each hour's of its own preparation only, all in
 * [{from}, {to}), added up per key and bucket of `grid` (its `{bucket_ms}`, `{bucket_origin}`): rows `counts_key,
 * bucket, bin, category, n, s`. The keys are a literal IN list, so the primary key narrows the read. The hours and
 * their preparations are the parallel arrays `{fresh_hours}` and `{fresh_prepared}`; `transform` looks a cell's hour
 * up in a hash table built once per statement (an hour not listed gives 0, which no preparation has), so the filter
 * costs the same per cell however many hours and preparations the range holds. (The former `(prepared_at = p AND
 * has(hours of p, hour)) OR …` scanned every preparation's hours for every cell: 7.1 M cells × 720 hours in the
 * two-shard benchmark, seconds per query.) An hour never straddles two buckets (window-counts.ts slotPlan).
 */
export function preparedCellsSql(grid: BucketGrid, keyCount: number): string {
  const keys = Array.from({ length: keyCount }, (_, i) => `{key_${i}}`).join(', ');
  const preparationOfHour =
    'transform(hour, CAST({fresh_hours} AS Array(Int64)), CAST({fresh_prepared} AS Array(UInt64)), toUInt64(0))';
  return (
    `SELECT counts_key, toInt64(${bucketStartSql(grid, 'hour')}) AS bucket, bin, category, sum(n) AS n, sum(s) AS s ` +
    `FROM mlmon_count_cells WHERE model = {model} AND counts_key IN (${keys}) AND hour >= {from} AND hour < {to} ` +
    `AND prepared_at = ${preparationOfHour} GROUP BY counts_key, bucket, bin, category`
  );
}

/** The bound values of preparedCellsSql for these keys and hours (ascending, as freshHours gives them). */
export function preparedCellsParams(model: string, keys: readonly string[], hours: readonly FreshHour[]): Params {
  const params: Params = {
    model,
    from: hours[0].hour,
    to: hours[hours.length - 1].hour + HOUR_MS,
    fresh_hours: hours.map(({ hour }) => hour),
    fresh_prepared: hours.map(({ preparedAt }) => preparedAt),
  };
  keys.forEach((key, i) => (params[`key_${i}`] = key));
  return params;
}

/**
 * A SELECT of the cells to prepare from a counts statement of clickhouse-counts.ts (rows `col, bucket, bin, category,
 * n, s` on an hourly grid), column i's counts named `{counts_keys}`[i]: what the store inserts into
 * mlmon_count_cells without the cells ever leaving the server.
 */
export function cellsToPrepareSql(statement: string): string {
  return (
    'SELECT arrayElement({counts_keys}, toUInt32(col + 1)) AS counts_key, toInt64(bucket) AS hour, toInt64(bin) AS bin, ' +
    `category, toFloat64(n) AS n, toFloat64(s) AS s FROM (${statement})`
  );
}

/** The ledger: rows inserted per hour of the model (all hours), and what each key's preparation of an hour saw. */
export const LEDGER_SQL =
  'SELECT hour, sum(inserted) AS inserted FROM mlmon_ingested_hours WHERE model = {model} GROUP BY hour ORDER BY hour';
export const PREPARED_HOURS_SQL =
  'SELECT counts_key, hour, argMax(ingested, prepared_at) AS ingested FROM mlmon_count_hours ' +
  `WHERE model = {model} AND ${KEY_CHOSEN} GROUP BY counts_key, hour`;

/** The hours range of a time range: from its first hour's start (so a cut first hour is looked up too). */
function hourSpan(range: TimeRange): Params {
  return { from: Math.floor(range.from / HOUR_MS) * HOUR_MS, to: range.to };
}

/** The hours of `range` whose counts for every key are prepared and unchanged (freshHoursSql), ascending. */
export async function freshHours(
  store: PredictionStore,
  model: string,
  keys: readonly string[],
  range: TimeRange,
  signal?: AbortSignal
): Promise<FreshHour[]> {
  const distinct = [...new Set(keys)];
  const rows = await store.query<{ hour: number; prepared_at: number }>(
    freshHoursSql(),
    { model, keys: distinct, key_count: distinct.length, ...hourSpan(range) },
    { signal }
  );
  return rows.map((row) => ({ hour: Number(row.hour), preparedAt: Number(row.prepared_at) }));
}

/**
 * Adds the prepared cells of the given hours to `add`, column i being the one whose counts `keys[i]` names (a key
 * asked for twice feeds both columns).
 */
export async function addPreparedHours(
  store: PredictionStore,
  model: string,
  keys: readonly string[],
  hours: readonly FreshHour[],
  grid: BucketGrid,
  add: CellSink,
  signal?: AbortSignal
): Promise<void> {
  if (hours.length === 0) {
    return;
  }
  const columnsOf = new Map<string, number[]>();
  keys.forEach((key, column) => columnsOf.set(key, [...(columnsOf.get(key) ?? []), column]));
  const distinct = [...columnsOf.keys()];
  const params = preparedCellsParams(model, distinct, hours);
  const rows = await store.query<{
    counts_key: string;
    bucket: number;
    bin: number;
    category: string;
    n: number;
    s: number;
  }>(preparedCellsSql(grid, distinct.length), { ...params, ...gridParams(grid) }, { signal });
  await forEachSliced(
    rows,
    (row) => {
      for (const column of columnsOf.get(row.counts_key) ?? []) {
        add(column, Number(row.bucket), Number(row.bin), row.category, Number(row.n), Number(row.s));
      }
    },
    signal
  );
}

/** Consecutive hours in runs of at most HOURS_PER_STATEMENT, as time ranges. */
export function hourRuns(hours: readonly number[]): TimeRange[] {
  const runs: TimeRange[] = [];
  for (const hour of hours) {
    const last = runs[runs.length - 1];
    if (last && last.to === hour && last.to - last.from < HOURS_PER_STATEMENT * HOUR_MS) {
      last.to = hour + HOUR_MS;
    } else {
      runs.push({ from: hour, to: hour + HOUR_MS });
    }
  }
  return runs;
}

/** What a preparation did: hours counted, and hours already prepared and unchanged. */
export interface HoursPrepared {
  counted: number;
  unchanged: number;
}

/**
 * Prepares the counts of `columns` (`keys[i]` naming `columns[i]`'s, distinct) for every ended hour of the model that
 * is not prepared yet or changed since (the module comment), unfiltered, `now` deciding which hours have ended.
 */
export async function prepareHours(
  store: PredictionStore,
  model: string,
  columns: readonly CountedColumn[],
  keys: readonly string[],
  now: number
): Promise<HoursPrepared> {
  if (!store.ensureIngestLedger || !store.writePreparedCounts) {
    throw new Error(`Internal error: the ${store.dialect} store keeps no prepared counts of its own`);
  }
  await store.ensureIngestLedger(model);
  const ledger = await store.query<{ hour: number; inserted: number }>(LEDGER_SQL, { model });
  const prepared = new Map<string, number>();
  for (const row of await store.query<{ counts_key: string; hour: number; ingested: number }>(PREPARED_HOURS_SQL, {
    model,
    keys: [...keys],
  })) {
    prepared.set(`${row.counts_key}|${Number(row.hour)}`, Number(row.ingested));
  }
  const inserted = new Map(ledger.map((row) => [Number(row.hour), Number(row.inserted)]));
  const ended = [...inserted.keys()].filter((hour) => hour + HOUR_MS <= now);
  const stale = ended.filter((hour) => keys.some((key) => prepared.get(`${key}|${hour}`) !== inserted.get(hour)));
  const grid = epochGrid(HOUR_MS);
  for (const run of hourRuns(stale)) {
    const hours: PreparedHours['hours'] = [];
    for (let hour = run.from; hour < run.to; hour += HOUR_MS) {
      for (const key of keys) {
        hours.push({ counts_key: key, hour, ingested: inserted.get(hour) ?? 0 });
      }
    }
    await store.writePreparedCounts(model, {
      preparedAt: Date.now(),
      range: run,
      hours,
      cellsOf: (relation) => {
        const plan = binnedCountsPlan(store.dialect, relation, [...columns], {
          where: { sql: '', params: gridParams(grid) },
          grid,
        });
        if (plan.statements.length !== 1) {
          throw new Error(`Internal error: ClickHouse counts in one statement, the plan has ${plan.statements.length}`);
        }
        const [statement] = plan.statements;
        return { sql: cellsToPrepareSql(statement.sql), params: { ...statement.params, counts_keys: [...keys] } };
      },
    });
  }
  return { counted: stale.length, unchanged: ended.length - stale.length };
}

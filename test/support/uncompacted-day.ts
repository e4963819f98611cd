/**
 * A day of the embedded store as the collector leaves it between two compactions, written directly by DuckDB (no
 * JS per row) so tests and bench/compaction can build millions of rows in seconds:
 *
 *   <storeDir>/models/<model>/predictions/day=YYYY-MM-DD/<file k>.parquet   k = 0 … files − 1, each sorted by ts
 *
 * Row i (0 ≤ i < rows) has id `r<firstId + i>` and a ts spread evenly over the day, in ts order. Layout `sequential` (what a
 * collector flushing records as they arrive writes) puts rows [k·rows/files, (k+1)·rows/files) in file k, so each
 * file covers its own stretch of the day; `interleaved` (a bulk load of an unsorted file) puts row i in file
 * i mod files, so every file spans the whole day. A share of the ids (`resentPercent`, chosen by hash) is sent
 * again in the next file: the same prediction (same id and version `v1`), marked by `prediction_cat` `resent` (the
 * first copies have none), with other feature values and a later `ingested_at` (file k is ingested at
 * `INGESTED_AT + k`), so after de-duplication no row carries `prediction_cat` `resent` nor a value shifted by 1000
 * ("the first ingested copy of a prediction wins"). The last file re-sends nothing. Features:
 * `numeric` Float64 features `x<k>` and `categorical` String features `c<k>`, 1 % missing; schema.json lists them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { duckdbStringLiteral } from '../../src/server/store/duckdb-sql';
import type { FeatureState } from '../../src/server/store/types';

export const DAY_MS = 86_400_000;
const INGESTED_AT = Date.UTC(2026, 0, 1);

export interface UncompactedDay {
  model: string;
  /** Start of the UTC day (epoch ms). */
  day: number;
  rows: number;
  files: number;
  numeric: number;
  categorical: number;
  /** Percent of the ids sent again in a later file (0–100). */
  resentPercent: number;
  layout: 'sequential' | 'interleaved';
  /** Row i gets id `r<firstId + i>` (default 0), so that several days can hold different ids. */
  firstId?: number;
}

/** A uniform value in [0, 1) from the row index and a stream number (DuckDB `hash`, so reruns give the same rows). */
const uniform = (stream: number) => `((hash(i * 131 + ${stream}) % 1000000)::DOUBLE / 1000000.0)`;

/** The feature columns of row i; `shift` moves the values of a re-sent copy. */
function featuresSql(spec: UncompactedDay, shift: string): string {
  const numeric = Array.from(
    { length: spec.numeric },
    (_, k) => `CASE WHEN ${uniform(1000 + k)} < 0.01 THEN NULL ELSE 100.0 * ${uniform(k)} + ${shift} END AS f_x${k}`
  );
  const categorical = Array.from(
    { length: spec.categorical },
    (_, k) =>
      `CASE WHEN ${uniform(3000 + k)} < 0.01 THEN NULL ELSE chr(97 + (hash(i + ${k}) % 8)::INTEGER) END AS f_c${k}`
  );
  return [...numeric, ...categorical].join(', ');
}

/** The row indexes of file k (see the module comment), as a DuckDB `range`. */
function rowsOfFile(spec: UncompactedDay, k: number): string {
  const first = (file: number) => Math.floor((file * spec.rows) / spec.files);
  return spec.layout === 'interleaved'
    ? `range(${k}, ${spec.rows}, ${spec.files})`
    : `range(${first(k)}, ${first(k + 1)})`;
}

/** Whether row i is re-sent: chosen by hash, and not in the last file. */
function resentSql(spec: UncompactedDay): string {
  const notLast =
    spec.layout === 'interleaved'
      ? `i % ${spec.files} < ${spec.files - 1}`
      : `i < ${Math.floor(((spec.files - 1) * spec.rows) / spec.files)}`;
  return `(hash(i * 7 + 3) % 100 < ${spec.resentPercent} AND ${notLast})`;
}

/** SQL of the rows of file k: its own rows, then the previous file's re-sent ones. */
function fileSql(spec: UncompactedDay, k: number): string {
  const columns = (mark: string, shift: string) =>
    `${spec.day} + (i * ${DAY_MS} // ${spec.rows})::BIGINT AS ts, 'r' || (i + ${spec.firstId ?? 0})::VARCHAR AS id, ` +
    `'v1' AS version, ` +
    `${uniform(7)} AS prediction_num, ${mark}::VARCHAR AS prediction_cat, ${uniform(8)} AS score, ` +
    `5.0 + 20.0 * ${uniform(9)} AS latency_ms, (${uniform(10)} < 0.001)::UTINYINT AS is_error, ` +
    `NULL::VARCHAR AS error_message, 1.0::DOUBLE AS sampling_rate, '' AS type_errors, ` +
    `${INGESTED_AT + k}::BIGINT AS ingested_at, ${featuresSql(spec, shift)}`;
  const own = `SELECT ${columns('NULL', '0.0')} FROM ${rowsOfFile(spec, k)} r(i)`;
  if (k === 0) {
    return `${own} ORDER BY ts`;
  }
  const resent = `SELECT ${columns("'resent'", '1000.0')} FROM ${rowsOfFile(spec, k - 1)} r(i) WHERE ${resentSql(spec)}`;
  return `${own} UNION ALL ${resent} ORDER BY ts`;
}

/** The day directory of a model in a store directory. */
export function dayDir(storeDir: string, spec: UncompactedDay): string {
  return join(storeDir, 'models', spec.model, 'predictions', `day=${new Date(spec.day).toISOString().slice(0, 10)}`);
}

/** SQL counting the ids `writeUncompactedDay` re-sends (column `n`), to check a merge against. */
export function resentIdsSql(spec: UncompactedDay): string {
  return `SELECT count(*) AS n FROM range(0, ${spec.rows}) r(i) WHERE ${resentSql(spec)}`;
}

/** Writes the day's files and the model's schema.json (see the module comment). */
export async function writeUncompactedDay(
  connection: DuckDBConnection,
  storeDir: string,
  spec: UncompactedDay
): Promise<string> {
  const dir = dayDir(storeDir, spec);
  await mkdir(dir, { recursive: true });
  for (let k = 0; k < spec.files; k++) {
    const file = join(dir, `${String(k).padStart(6, '0')}.parquet`);
    await connection.run(
      `COPY (${fileSql(spec, k)}) TO ${duckdbStringLiteral(file)} (FORMAT parquet, COMPRESSION snappy)`
    );
  }
  const seen = { active: true, firstSeen: spec.day, lastSeen: spec.day + DAY_MS - 1 };
  const features: FeatureState[] = [
    ...Array.from({ length: spec.numeric }, (_, k) => ({ name: `x${k}`, kind: 'numeric' as const, ...seen })),
    ...Array.from({ length: spec.categorical }, (_, k) => ({ name: `c${k}`, kind: 'categorical' as const, ...seen })),
  ];
  await writeFile(join(storeDir, 'models', spec.model, 'schema.json'), JSON.stringify({ features }, null, 1));
  return dir;
}

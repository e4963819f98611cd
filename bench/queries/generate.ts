/**
 * Data of the issue-5 query benchmark, generated directly by DuckDB (no JS per row):
 *
 * - `<dataDir>/store/models/bench/predictions/day=YYYY-MM-DD/*.parquet`: the embedded store's layout
 *   (src/server/store/README.md) with its system columns and `f_<feature>` columns, one file per day (as after
 *   compaction), plus `schema.json`; `rows` predictions spread evenly over `DAYS` UTC days from `START`.
 * - a baseline `v1` computed by src/server/baseline/compute.ts from a reference sample drawn from the undrifted
 *   distributions, saved through EmbeddedStore; the sample is also written to `<dataDir>/reference.parquet` for
 *   Evidently.
 *
 * Every value is a deterministic function of the row index (DuckDB `hash`), so reruns give the same rows. Shapes:
 * normal, log-normal, discrete with ties and uniform numerics, skewed categoricals, 1 % missing values; from day
 * `SHIFT_DAY` on, half the numeric and two categorical features drift a little more each day.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { computeBaseline } from '../../src/server/baseline/compute';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { duckdbStringLiteral } from '../../src/server/store/duckdb-sql';
import type { FeatureState } from '../../src/server/store/types';

export const MODEL = 'bench';
export const VERSION = 'v1';
export const DAY_MS = 86_400_000;
/** Days, numeric and categorical features: 10, 20 and 5 unless BENCH_DAYS, BENCH_NUMERIC, BENCH_CATEGORICAL say. */
export const DAYS = Number(process.env.BENCH_DAYS ?? 10);
/** The first day: BENCH_START (YYYY-MM-DD, UTC) or 2026-11-15. */
export const START = process.env.BENCH_START ? startOf(process.env.BENCH_START) : Date.UTC(2026, 10, 15);
export const END = START + DAYS * DAY_MS;
const SHIFT_DAY = 6;
export const NUMERIC_FEATURES = Array.from({ length: Number(process.env.BENCH_NUMERIC ?? 20) }, (_, k) => `x${k}`);
export const CATEGORICAL_FEATURES = Array.from(
  { length: Number(process.env.BENCH_CATEGORICAL ?? 5) },
  (_, k) => `c${k}`
);
const CATEGORIES = 8;
const REFERENCE_ROWS = 200_000;
/** When every row was ingested: at the end of the range (2026-11-25 with the default days). */
const INGESTED_AT = END;

/** The epoch ms of a UTC day given as YYYY-MM-DD; throws a message naming BENCH_START otherwise. */
function startOf(day: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(day) ? Date.parse(`${day}T00:00:00Z`) : NaN;
  if (!Number.isFinite(ms)) {
    throw new Error(`BENCH_START=${day} is not a day like 2026-11-15`);
  }
  return ms;
}

/** A uniform value in (0, 1) from the row index and a stream number. */
const uniform = (stream: number) => `((hash(i * 131 + ${stream}) % 1000000)::DOUBLE + 0.5) / 1000000.0`;
/** A standard normal value (Box–Muller on two uniform streams). */
const normal = (stream: number) => `(sqrt(-2.0 * ln(${uniform(stream)})) * cos(2.0 * pi() * ${uniform(stream + 1)}))`;

/** SQL of numeric feature k: its shape by k mod 4, shifted by `drift` (0 before SHIFT_DAY) when k < 10. */
function numericSql(k: number, drift: string): string {
  const d = k < 10 ? drift : '0.0';
  const shapes = [
    `50.0 + 10.0 * ${normal(2 * k)} + 3.0 * ${d}`,
    `exp(0.5 * ${normal(2 * k)}) * (1.0 + 0.2 * ${d})`,
    `round(20.0 * ${uniform(2 * k)} + 2.0 * ${d})`,
    `100.0 * ${uniform(2 * k)} * (1.0 + 0.1 * ${d})`,
  ];
  return `CASE WHEN ${uniform(100 + k)} < 0.01 THEN NULL ELSE ${shapes[k % 4]} END`;
}

/** SQL of categorical feature k: category 'a'..'h' with skewed odds, flattening with `drift` when k < 2. */
function categoricalSql(k: number, drift: string): string {
  const power = k < 2 ? `(2.0 / (1.0 + 0.25 * ${drift}))` : '2.0';
  const index = `least(${CATEGORIES - 1}, floor(${CATEGORIES}.0 * pow(${uniform(60 + k)}, ${power})))::INTEGER`;
  return `CASE WHEN ${uniform(120 + k)} < 0.01 THEN NULL ELSE chr(97 + ${index}) END`;
}

/**
 * SELECT of `count` prediction rows from row index `first`, spread over the benchmark's days; only the indices in
 * `[slice.from, slice.to)` when `slice` is given (the same rows, fewer of them).
 */
export function predictionsSql(
  first: number,
  count: number,
  drifting: boolean,
  slice = { from: first, to: first + count }
): string {
  const ts = `(${START} + (i - ${first}) * ${DAYS * DAY_MS} // ${count})::BIGINT`;
  const drift = drifting ? `greatest(0, (ts - ${START}) // ${DAY_MS} - ${SHIFT_DAY - 1})::DOUBLE` : '0.0';
  const features = [
    ...NUMERIC_FEATURES.map((name, k) => `${numericSql(k, drift)} AS f_${name}`),
    ...CATEGORICAL_FEATURES.map((name, k) => `${categoricalSql(k, drift)} AS f_${name}`),
  ];
  return (
    `SELECT ts, 'r' || i::VARCHAR AS id, '${VERSION}' AS version, ${uniform(200)} AS prediction_num, ` +
    `NULL::VARCHAR AS prediction_cat, ${uniform(200)} AS score, 5.0 + 20.0 * ${uniform(201)} AS latency_ms, ` +
    `(${uniform(202)} < 0.001)::UTINYINT AS is_error, NULL::VARCHAR AS error_message, 1.0::DOUBLE AS sampling_rate, ` +
    `'' AS type_errors, ${INGESTED_AT}::BIGINT AS ingested_at, ${features.join(', ')}, ` +
    `strftime(make_timestamp(ts * 1000), '%Y-%m-%d') AS day ` +
    `FROM (SELECT i, ${ts} AS ts FROM range(${slice.from}, ${slice.to}) AS r(i))`
  );
}

export function storeDir(dataDir: string): string {
  return join(dataDir, 'store');
}

export function referenceFile(dataDir: string): string {
  return join(dataDir, 'reference.parquet');
}

/**
 * The row indices of day `day` when `rows` rows spread over DAYS days: row i lies at START + i·DAYS·DAY_MS / rows
 * (rounded down), so day d holds the indices from ⌈d·rows / DAYS⌉ up to ⌈(d + 1)·rows / DAYS⌉.
 */
export function dayRows(day: number, rows: number): { from: number; to: number } {
  return { from: Math.ceil((day * rows) / DAYS), to: Math.ceil(((day + 1) * rows) / DAYS) };
}

/**
 * Writes the predictions (one COPY per day: DuckDB's buffers hold at most a day, and the progress shows), schema.json, the reference sample and the baseline under `dataDir` (which must be new). */
export async function generate(dataDir: string, rows: number): Promise<void> {
  const modelDir = join(storeDir(dataDir), 'models', MODEL);
  await mkdir(modelDir, { recursive: true });
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    for (let day = 0; day < DAYS; day++) {
      const slice = dayRows(day, rows);
      await connection.run(
        `COPY (${predictionsSql(0, rows, true, slice)}) TO ${duckdbStringLiteral(join(modelDir, 'predictions'))} ` +
          `(FORMAT parquet, COMPRESSION snappy, PARTITION_BY (day), FILENAME_PATTERN 'bench_{i}', OVERWRITE_OR_IGNORE)`
      );
      process.stderr.write(`generated day ${day + 1} of ${DAYS} (${slice.to - slice.from} rows)\n`);
    }
    const features: FeatureState[] = [
      ...NUMERIC_FEATURES.map((name) => ({ name, kind: 'numeric' as const })),
      ...CATEGORICAL_FEATURES.map((name) => ({ name, kind: 'categorical' as const })),
    ].map((f) => ({ ...f, active: true, firstSeen: START, lastSeen: END - 1 }));
    await writeFile(join(modelDir, 'schema.json'), JSON.stringify({ features }, null, 1));

    // The reference: other row indices, no drift.
    const reference = `SELECT * EXCLUDE (day) FROM (${predictionsSql(rows, REFERENCE_ROWS, false)})`;
    await connection.run(
      `COPY (${reference}) TO ${duckdbStringLiteral(referenceFile(dataDir))} (FORMAT parquet, COMPRESSION snappy)`
    );
    const reader = await connection.runAndReadAll(
      `SELECT * FROM read_parquet(${duckdbStringLiteral(referenceFile(dataDir))})`
    );
    const names = reader.columnNames();
    const columns = reader.getColumnsJS();
    const valuesOf = (feature: string) => columns[names.indexOf(`f_${feature}`)] as Array<number | string | null>;
    const baseline = computeBaseline({
      model: MODEL,
      version: VERSION,
      source: `bench reference sample (${REFERENCE_ROWS} rows)`,
      createdAt: START,
      columns: [
        ...NUMERIC_FEATURES.map((name) => ({ name, kind: 'numeric' as const, values: valuesOf(name) })),
        ...CATEGORICAL_FEATURES.map((name) => ({ name, kind: 'categorical' as const, values: valuesOf(name) })),
      ],
    });
    const store = await EmbeddedStore.open(storeDir(dataDir));
    await store.saveBaseline(baseline);
    await store.close();
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/**
 * The measuring side of the compaction benchmark (bench/compaction/run.js runs each command in a fresh process, so
 * every peak is its own). Each command prints one JSON object on stdout.
 *
 *   measure.ts generate-day <storeDir> <spec json>      one uncompacted day (test/support/uncompacted-day.ts)
 *   measure.ts previous-plan <storeDir>                 the compaction statement before issue 9 (a window)
 *   measure.ts copy <storeDir>                          baseline: the day's rows read and written once, no dedup
 *   measure.ts compact <storeDir>                       EmbeddedStore.compact, as `mlmon maintain` runs it
 *   measure.ts generate-range <storeDir> <spec json>    `days` uncompacted days and a baseline for drift
 *   measure.ts drift <storeDir> <from> <to>             the drift handler over [from, to), one bucket
 *
 * Memory: DuckDB runs at its default limit here (MLMON_DUCKDB_MEMORY_LIMIT, 256 MB unless set). `peakRssMB` is the
 * process's VmHWM (Node and DuckDB's native memory); `duckdbPeakMB` and `spilledPeakMB` are the largest totals of
 * `duckdb_memory()` (memory_usage_bytes, temporary_storage_bytes) seen by a second connection polling every 20 ms.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { parseQuery } from '../../src/core/query/queryTypes';
import { registerBuiltInHandlers } from '../../src/server/backend/datasource';
import { createInstance } from '../../src/server/backend/instances';
import { openStore } from '../../src/server/backend/openStore';
import { QueryHandlerRegistry } from '../../src/server/backend/registry';
import { localInstanceSettings, parseSettings } from '../../src/server/backend/settings';
import { computeBaseline } from '../../src/server/baseline/compute';
import { emptyRelation, type ColumnType } from '../../src/server/store/day-merge';
import { duckdbStringLiteral, openMemoryDuckDB } from '../../src/server/store/duckdb-sql';
import { EmbeddedStore } from '../../src/server/store/embedded';
import type { PredictionStore } from '../../src/server/store/types';
import { dayDir, DAY_MS, writeUncompactedDay, type UncompactedDay } from '../../test/support/uncompacted-day';

const MODEL = 'bench';

/** Peak resident set size of this process in MB (VmHWM), which includes DuckDB's native memory. */
function peakRssMB(): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) / 1024 : process.memoryUsage().rss / 2 ** 20;
}

/**
 * Polls a DuckDB's memory from a second connection until stopped; the stop waits for the poll in flight before it
 * closes the connection, and returns the peaks in MB.
 */
async function watchDuckDB(
  instance: DuckDBInstance
): Promise<() => Promise<{ duckdbPeakMB: number; spilledPeakMB: number }>> {
  const connection = await instance.connect();
  let memory = 0;
  let spilled = 0;
  let polling: Promise<void> | undefined;
  const poll = async () => {
    const reader = await connection.runAndReadAll(
      'SELECT sum(memory_usage_bytes)::BIGINT AS m, sum(temporary_storage_bytes)::BIGINT AS t FROM duckdb_memory()'
    );
    const [m, t] = reader.getRows()[0].map(Number);
    memory = Math.max(memory, m);
    spilled = Math.max(spilled, t);
  };
  const timer = setInterval(() => {
    polling ??= poll()
      .catch(() => undefined)
      .finally(() => (polling = undefined));
  }, 20);
  return async () => {
    clearInterval(timer);
    await polling;
    connection.closeSync();
    return { duckdbPeakMB: memory / 2 ** 20, spilledPeakMB: spilled / 2 ** 20 };
  };
}

/** A measured step: its wall-clock seconds, its error if it failed, and the memory peaks. */
interface Measured<T> {
  seconds: number;
  value?: T;
  error?: string;
  duckdbPeakMB: number;
  spilledPeakMB: number;
  peakRssMB: number;
}

/** Runs `work` while watching `instance`'s memory, catching its failure as a result. */
async function measured<T>(instance: DuckDBInstance, work: () => Promise<T>): Promise<Measured<T>> {
  const stop = await watchDuckDB(instance);
  const started = process.hrtime.bigint();
  const outcome = await work().then(
    (value) => ({ value }),
    (error: Error) => ({ error: error.message.split('\n')[0] })
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { seconds, ...outcome, ...(await stop()), peakRssMB: peakRssMB() };
}

/** The one day directory of the model in a store directory, and its Parquet files. */
function theDay(storeDir: string): { dir: string; files: string[] } {
  const predictions = join(storeDir, 'models', MODEL, 'predictions');
  const [day] = readdirSync(predictions);
  const dir = join(predictions, day);
  return {
    dir,
    files: readdirSync(dir)
      .filter((name) => name.endsWith('.parquet'))
      .sort()
      .map((name) => join(dir, name)),
  };
}

/** Runs one statement on the store's kind of DuckDB (openMemoryDuckDB) with the given threads, measured. */
async function measureStatement(sql: string, threads?: number) {
  const { instance, connection } = await openMemoryDuckDB();
  if (threads !== undefined) {
    await connection.run(`SET threads = ${threads}`);
  }
  const { value: _, ...result } = await measured(instance, () => connection.run(sql));
  connection.closeSync();
  instance.closeSync();
  return result;
}

const fileList = (files: string[]) => `[${files.map(duckdbStringLiteral).join(', ')}]`;

/**
 * The compaction statement the store ran before issue 9 (src/server/store/embedded.ts `mergeFiles` at 16fef97,
 * with the files' columns for the schema's): a window de-duplicating every column of the day at once, sorted by
 * ts, with the store's threads.
 */
async function previousPlan(storeDir: string) {
  const { dir, files } = theDay(storeDir);
  const target = join(dir, '.previous-plan.parquet.part');
  const instance = await DuckDBInstance.create(':memory:');
  const described = await (
    await instance.connect()
  ).runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${duckdbStringLiteral(files[0])}, hive_partitioning = false)`);
  const columns = described.getRows().map(([name, type]) => [String(name), String(type)] as [string, ColumnType]);
  instance.closeSync();
  const list = columns.map(([name]) => `"${name}"`).join(', ');
  const source = `SELECT * FROM read_parquet(${fileList(files)}, union_by_name = true) UNION ALL BY NAME ${emptyRelation(columns)}`;
  const sql =
    `COPY (SELECT ${list} FROM (${source}) QUALIFY row_number() OVER (PARTITION BY id ORDER BY ingested_at DESC) = 1 ` +
    `ORDER BY ts) TO ${duckdbStringLiteral(target)} (FORMAT parquet, COMPRESSION zstd)`;
  return measureStatement(sql).finally(() => rmSync(target, { force: true }));
}

/** The baseline: the same rows read and written once (zstd, one thread like the compaction), nothing removed. */
function plainCopy(storeDir: string) {
  const { dir, files } = theDay(storeDir);
  const target = join(dir, '.copy.parquet.part');
  const sql =
    `COPY (SELECT * FROM read_parquet(${fileList(files)}, union_by_name = true, hive_partitioning = false)) ` +
    `TO ${duckdbStringLiteral(target)} (FORMAT parquet, COMPRESSION zstd)`;
  return measureStatement(sql, 1).finally(() => rmSync(target, { force: true }));
}

/** The merged day: its row groups and their widest span in time (narrow = a query over part of the day skips). */
async function describeMerged(connection: DuckDBConnection, file: string) {
  const reader = await connection.runAndReadAll(
    `SELECT count(*) AS row_groups, max(stats_max::BIGINT - stats_min::BIGINT) / 60000.0 AS widest_minutes ` +
      `FROM parquet_metadata(${duckdbStringLiteral(file)}) WHERE path_in_schema = 'ts'`
  );
  const [rowGroups, widestMinutes] = reader.getRows()[0].map(Number);
  return { rowGroups, widestRowGroupMinutes: widestMinutes };
}

/** EmbeddedStore.compact on the model, with the merged days described. */
async function compact(storeDir: string) {
  const store = await EmbeddedStore.open(storeDir);
  const { value, ...result } = await measured(store['instance'], () => store.compact(MODEL));
  const predictions = join(storeDir, 'models', MODEL, 'predictions');
  const merged = [];
  for (const day of readdirSync(predictions).sort()) {
    const files = readdirSync(join(predictions, day)).filter((name) => name.endsWith('.parquet'));
    merged.push({
      day,
      files: files.length,
      ...(await describeMerged(store['connection'], join(predictions, day, files[0]))),
    });
  }
  await store.close();
  return {
    ...result,
    rowsKept: value?.rowsKept,
    days: merged.length,
    filesPerDayAfter: merged.reduce((most, day) => Math.max(most, day.files), 0),
    widestRowGroupMinutes: merged.reduce((most, day) => Math.max(most, day.widestRowGroupMinutes), 0),
    rowGroupsPerDay: merged[0]?.rowGroups,
  };
}

interface RangeSpec {
  start: number;
  days: number;
  rowsPerDay: number;
  filesPerDay: number;
  numeric: number;
  categorical: number;
  resentPercent: number;
}

/** `days` uncompacted days, then a baseline from 100 000 rows of the first day (what `mlmon baseline` would store). */
async function generateRange(storeDir: string, spec: RangeSpec) {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const day = (d: number): UncompactedDay => ({
    model: MODEL,
    day: spec.start + d * DAY_MS,
    rows: spec.rowsPerDay,
    files: spec.filesPerDay,
    numeric: spec.numeric,
    categorical: spec.categorical,
    resentPercent: spec.resentPercent,
    layout: 'sequential',
    firstId: d * spec.rowsPerDay,
  });
  for (let d = 0; d < spec.days; d++) {
    await writeUncompactedDay(connection, storeDir, day(d));
  }
  const names = [
    ...Array.from({ length: spec.numeric }, (_, k) => `x${k}`),
    ...Array.from({ length: spec.categorical }, (_, k) => `c${k}`),
  ];
  const reader = await connection.runAndReadAll(
    `SELECT ${names.map((name) => `f_${name}`).join(', ')} FROM read_parquet(${duckdbStringLiteral(join(dayDir(storeDir, day(0)), '*.parquet'))}) LIMIT 100000`
  );
  const values = reader.getColumnsJS() as Array<Array<number | string | null>>;
  const baseline = computeBaseline({
    model: MODEL,
    version: 'v1',
    source: 'bench/compaction reference sample (100 000 rows of the first day)',
    createdAt: spec.start,
    columns: names.map((name, k) => ({
      name,
      kind: k < spec.numeric ? ('numeric' as const) : ('categorical' as const),
      values: values[k],
    })),
  });
  const store = await EmbeddedStore.open(storeDir);
  await store.saveBaseline(baseline);
  await store.close();
  connection.closeSync();
  instance.closeSync();
  return { days: spec.days, rows: spec.days * spec.rowsPerDay };
}

/** The drift handler as the backend runs it, over [from, to) in one bucket, on a fresh datasource instance. */
async function drift(storeDir: string, from: number, to: number) {
  let opened: PredictionStore | undefined;
  const instance = createInstance(
    parseSettings(localInstanceSettings({ dataDirectory: storeDir }, {}, 'bench')),
    async (settings) => (opened = await openStore(settings))
  );
  const registry = new QueryHandlerRegistry();
  registerBuiltInHandlers(registry);
  const handler = registry.get('drift')!;
  await instance.store();
  const query = parseQuery({ refId: 'A', queryType: 'drift', model: MODEL, bucket: `${(to - from) / DAY_MS}d` });
  const { value, ...result } = await measured((opened as EmbeddedStore)['instance'], () =>
    handler({
      query: query as never,
      range: { from, to },
      intervalMs: 3_600_000,
      maxDataPoints: 1000,
      instance,
      signal: new AbortController().signal,
    })
  );
  await instance.dispose();
  return { ...result, frames: value?.length };
}

async function main([command, storeDir, ...rest]: string[]): Promise<unknown> {
  switch (command) {
    case 'generate-day': {
      const instance = await DuckDBInstance.create(':memory:');
      const connection = await instance.connect();
      await writeUncompactedDay(connection, storeDir, { model: MODEL, ...JSON.parse(rest[0]) });
      connection.closeSync();
      instance.closeSync();
      return { files: theDay(storeDir).files.length };
    }
    case 'previous-plan':
      return previousPlan(storeDir);
    case 'copy':
      return plainCopy(storeDir);
    case 'compact':
      return compact(storeDir);
    case 'generate-range':
      return generateRange(storeDir, JSON.parse(rest[0]));
    case 'drift':
      return drift(storeDir, Number(rest[0]), Number(rest[1]));
    default:
      throw new Error(`measure.ts: unknown command ${JSON.stringify(command)}`);
  }
}

main(process.argv.slice(2)).then(
  (result) => process.stdout.write(JSON.stringify(result) + '\n'),
  (error) => {
    console.error(error instanceof Error ? error.stack : String(error));
    process.exit(1);
  }
);

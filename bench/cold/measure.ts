/**
 * The cold-path measurements of bench/cold/run.js, each printing one JSON object on stdout:
 *
 *   node --import tsx bench/cold/measure.ts floor <dataDir> <from> <to>
 *     The read floor: a fresh DuckDB reads every feature column (and ts) of the day files of [from, to) once,
 *     summing each so that no column is answered from the Parquet statistics.
 *   node --import tsx bench/cold/measure.ts cold <dataDir> <from> <to>
 *     A datasource instance with its store open answers drift (all features, one bucket over the range) with
 *     nothing prepared: the data are cold, not the process.
 *   node --import tsx bench/cold/measure.ts after-new-data <dataDir>
 *     A prepared store (prepareCounts, as `mlmon maintain` leaves it) answers drift over the last 24 h; a new file of
 *     records lands in the last day as a collector flush writes it; the same query is timed right after, and again.
 *
 * The data come from bench/queries/generate.ts (BENCH_DAYS, BENCH_NUMERIC, BENCH_CATEGORICAL set by run.js).
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { parseQuery } from '../../src/core/query/queryTypes';
import { registerBuiltInHandlers } from '../../src/server/backend/datasource';
import { createInstance, type DatasourceInstance } from '../../src/server/backend/instances';
import { openStore } from '../../src/server/backend/openStore';
import { QueryHandlerRegistry } from '../../src/server/backend/registry';
import { localInstanceSettings, parseSettings } from '../../src/server/backend/settings';
import { prepareCounts } from '../../src/server/counting/prepare-counts';
import { duckdbStringLiteral } from '../../src/server/store/duckdb-sql';
import { newDataFileName } from '../../src/server/store/file-names';
import { CATEGORICAL_FEATURES, DAY_MS, END, MODEL, NUMERIC_FEATURES, storeDir } from '../queries/generate';

const HOUR_MS = 3_600_000;

/** The model's prediction day directories whose day overlaps [from, to). */
function dayDirs(dataDir: string, from: number, to: number): string[] {
  const root = join(storeDir(dataDir), 'models', MODEL, 'predictions');
  return readdirSync(root)
    .filter((name) => {
      const day = Date.parse(`${name.slice('day='.length)}T00:00:00Z`);
      return day + DAY_MS > from && day < to;
    })
    .sort()
    .map((name) => join(root, name));
}

/** Removes every prepared count beside the day files (`<file>.counts`), so that the next query is cold. */
function forgetCounts(dataDir: string): void {
  for (const dir of dayDirs(dataDir, 0, Number.MAX_SAFE_INTEGER)) {
    for (const name of readdirSync(dir).filter((entry) => entry.endsWith('.counts'))) {
      rmSync(join(dir, name), { recursive: true, force: true });
    }
  }
}

const elapsedMs = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e6;

/** Wall-clock and CPU milliseconds (this process, DuckDB's threads included) of `work`. */
async function timed(work: () => Promise<unknown>): Promise<{ ms: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await work();
  const used = process.cpuUsage(cpu);
  return { ms: elapsedMs(started), cpuMs: (used.user + used.system) / 1000 };
}

async function floor(dataDir: string, from: number, to: number) {
  const files = dayDirs(dataDir, from, to).map((dir) => join(dir, '*.parquet'));
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const sums = [
      ...NUMERIC_FEATURES.map((name) => `sum(f_${name})`),
      ...CATEGORICAL_FEATURES.map((name) => `sum(length(f_${name}))`),
      'sum(ts)',
    ];
    const read = await timed(() =>
      connection.runAndReadAll(
        `SELECT ${sums.join(', ')} FROM read_parquet([${files.map(duckdbStringLiteral).join(', ')}])`
      )
    );
    return { ...read, days: files.length };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

function benchInstance(dataDir: string): DatasourceInstance {
  return createInstance(
    parseSettings(localInstanceSettings({ dataDirectory: storeDir(dataDir) }, {}, 'bench')),
    openStore
  );
}

/** Answers drift over [from, to) in one bucket (all features) on the instance. */
async function drift(instance: DatasourceInstance, from: number, to: number): Promise<void> {
  const registry = new QueryHandlerRegistry();
  registerBuiltInHandlers(registry);
  const query = parseQuery({ refId: 'A', queryType: 'drift', model: MODEL, bucket: `${(to - from) / HOUR_MS}h` });
  const frames = await registry.get('drift')!({
    query: query as never,
    range: { from, to },
    intervalMs: HOUR_MS,
    maxDataPoints: 1000,
    instance,
    signal: new AbortController().signal,
  });
  if (frames.length !== NUMERIC_FEATURES.length + CATEGORICAL_FEATURES.length) {
    throw new Error(`drift answered ${frames.length} frames, expected one per feature`);
  }
}

async function cold(dataDir: string, from: number, to: number) {
  forgetCounts(dataDir);
  const instance = benchInstance(dataDir);
  try {
    await instance.store(); // a running backend: the store is open, the data are cold
    return await timed(() => drift(instance, from, to));
  } finally {
    await instance.dispose();
  }
}

async function afterNewData(dataDir: string) {
  const instance = benchInstance(dataDir);
  const [lastDay] = dayDirs(dataDir, END - 1, END);
  const added = join(lastDay, newDataFileName());
  try {
    await prepareCounts(await instance.store(), MODEL);
    const range = { from: END - DAY_MS, to: END };
    const prepared = await timed(() => drift(instance, range.from, range.to));
    // A flush of 10 000 records of the last hour, as the collector writes a segment into the day.
    const duck = await DuckDBInstance.create(':memory:');
    const connection = await duck.connect();
    await connection.run(
      `COPY (SELECT * REPLACE ('new-' || id AS id) FROM read_parquet(${duckdbStringLiteral(join(lastDay, '*.parquet'))}) ` +
        `WHERE ts >= ${END - HOUR_MS} LIMIT 10000) TO ${duckdbStringLiteral(added)} (FORMAT parquet)`
    );
    connection.closeSync();
    duck.closeSync();
    const firstAfter = await timed(() => drift(instance, range.from, range.to));
    const again = await timed(() => drift(instance, range.from, range.to));
    return { prepared, firstAfterNewData: firstAfter, again };
  } finally {
    await instance.dispose();
    rmSync(added, { force: true });
    forgetCounts(dataDir);
  }
}

async function main([command, dataDir, from, to]: string[]): Promise<void> {
  const result =
    command === 'floor'
      ? await floor(dataDir, Number(from), Number(to))
      : command === 'cold'
        ? await cold(dataDir, Number(from), Number(to))
        : command === 'after-new-data'
          ? await afterNewData(dataDir)
          : undefined;
  if (!result) {
    throw new Error(`measure.ts: unknown command ${JSON.stringify(command)}; use floor, cold or after-new-data`);
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error instanceof Error ? error.stack : String(error));
  process.exit(1);
});

/**
 * Times the query handlers in-process against one store, as the backend runs them (registerBuiltInHandlers, a
 * datasource instance opening the store from its settings), and reports the process's peak resident memory.
 *
 *   node --import tsx bench/queries/measure.ts generate <dataDir> <rows>
 *   node --import tsx bench/queries/measure.ts embedded <dataDir> <warmRuns>
 *   node --import tsx bench/queries/measure.ts embedded-cold <dataDir> <caseIndex>   (one case, first run only)
 *   node --import tsx bench/queries/measure.ts clickhouse <dataDir> <warmRuns>
 *   node --import tsx bench/queries/measure.ts clickhouse-prepared <dataDir> <warmRuns>   (rows, prepare, prepared)
 *
 * The measuring commands print one JSON object on stdout. Query types whose handler is not registered yet are
 * listed under `unavailable`. ClickHouse: a private server (test/support/clickhouse.ts) is started, loaded with
 * the same Parquet rows (one TabSeparated INSERT per day) and the same baseline, measured and removed.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { FrameLike } from '../../src/core/query/frames';
import { parseQuery } from '../../src/core/query/queryTypes';
import { registerBuiltInHandlers } from '../../src/server/backend/datasource';
import { createInstance, type DatasourceInstance } from '../../src/server/backend/instances';
import { openStore } from '../../src/server/backend/openStore';
import { QueryHandlerRegistry } from '../../src/server/backend/registry';
import { localInstanceSettings, parseSettings } from '../../src/server/backend/settings';
import { ClickHouseStore } from '../../src/server/store/clickhouse';
import { duckdbStringLiteral } from '../../src/server/store/duckdb-sql';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { PREDICTION_SYSTEM_COLUMNS } from '../../src/server/store/types';
import { startClickHouse } from '../../test/support/clickhouse';
import { CATEGORICAL_FEATURES, DAY_MS, MODEL, NUMERIC_FEATURES, START, VERSION, generate, storeDir } from './generate';
import { CASES, CLICKHOUSE_CASES, HOUR_MS, percentile, warmTimings } from './cases';
import { prepareCounts } from '../../src/server/counting/prepare-counts';

/** Peak resident set size of this process in MB (VmHWM), which includes DuckDB's native memory. */
function peakRssMB(): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) / 1024 : process.memoryUsage().rss / 2 ** 20;
}

function settings(jsonData: object) {
  return parseSettings(localInstanceSettings(jsonData, {}, 'bench'));
}

/**
 * A digest of a query's frames: frame and row counts and the sum of every finite number in them, so the two
 * stores' answers to the same query can be compared (equal up to floating-point summation order).
 */
function digest(frames: FrameLike[]): { frames: number; rows: number; numericSum: number } {
  let rows = 0;
  let numericSum = 0;
  for (const frame of frames) {
    const fields = (frame as { fields?: Array<{ values?: unknown[] }> }).fields ?? [];
    rows += fields[0]?.values?.length ?? 0;
    for (const value of fields.flatMap((field) => field.values ?? [])) {
      numericSum += typeof value === 'number' && Number.isFinite(value) ? value : 0;
    }
  }
  return { frames: frames.length, rows, numericSum };
}

async function measureCases(instance: DatasourceInstance, warmRuns: number, cases = CASES) {
  const registry = new QueryHandlerRegistry();
  registerBuiltInHandlers(registry);
  const results: Array<Record<string, unknown>> = [];
  const unavailable: string[] = [];
  for (const benchCase of cases) {
    const handler = registry.get(benchCase.queryType);
    if (!handler) {
      unavailable.push(benchCase.name);
      continue;
    }
    const query = parseQuery({ refId: 'A', queryType: benchCase.queryType, model: MODEL, ...benchCase.options });
    const run = async () => {
      const started = process.hrtime.bigint();
      const frames = await handler({
        query: query as never,
        range: benchCase.range,
        intervalMs: HOUR_MS,
        maxDataPoints: 1000,
        instance,
        signal: new AbortController().signal,
      });
      return { ms: Number(process.hrtime.bigint() - started) / 1e6, frames };
    };
    const started = process.hrtime.bigint();
    const first = await run().catch((error: Error) => error);
    if (first instanceof Error) {
      // A failed query (e.g. the ClickHouse client's request timeout) is a result too; the others still run.
      const afterMs = Number(process.hrtime.bigint() - started) / 1e6;
      results.push({ name: benchCase.name, queryType: benchCase.queryType, error: first.message, afterMs });
      console.error(`${benchCase.name}: failed after ${afterMs.toFixed(0)} ms: ${first.message}`);
      continue;
    }
    const warm = await warmTimings(benchCase, warmRuns, async () => (await run()).ms);
    const result = {
      name: benchCase.name,
      queryType: benchCase.queryType,
      range: benchCase.range,
      options: benchCase.options,
      firstMs: first.ms,
      warmMs: warm,
      warmMedianMs: percentile(warm, 50),
      warmP95Ms: percentile(warm, 95),
      output: digest(first.frames),
    };
    const p95 = result.warmP95Ms === undefined ? '' : `, warm p95 ${result.warmP95Ms.toFixed(0)} ms`;
    console.error(`${benchCase.name}: first ${first.ms.toFixed(0)} ms${p95}`);
    results.push(result);
  }
  return { cases: results, unavailable };
}

/** The embedded store in-process: every case, or only the case at index `only` (its first run: the cold phase). */
async function measureEmbedded(dataDir: string, warmRuns: number, only?: number) {
  const instance = createInstance(settings({ dataDirectory: storeDir(dataDir) }), openStore);
  try {
    const started = Date.now();
    const measured = await measureCases(instance, warmRuns, only === undefined ? CASES : CASES.slice(only, only + 1));
    return { store: 'embedded', ...measured, totalSeconds: (Date.now() - started) / 1000, peakRssMB: peakRssMB() };
  } finally {
    await instance.dispose();
  }
}

/** The ClickHouse column list in the order of the TabSeparated export. */
const CLICKHOUSE_COLUMNS = [
  ...PREDICTION_SYSTEM_COLUMNS,
  ...[...NUMERIC_FEATURES, ...CATEGORICAL_FEATURES].map((name) => `f_${name}`),
];

/** Creates the model's table and baseline through ClickHouseStore, then bulk-loads every day of the Parquet rows. */
async function loadClickHouse(
  dataDir: string,
  url: string,
  database: string
): Promise<{ rows: number; seconds: number }> {
  const started = Date.now();
  const embedded = await EmbeddedStore.open(storeDir(dataDir));
  const baseline = (await embedded.getBaseline(MODEL, VERSION))!;
  await embedded.close();
  const store = await ClickHouseStore.open({ url, database });
  // One record written through the store creates the table and registers every feature; it lies a month before
  // the benchmark's range, so no measured query reads it.
  const features = Object.fromEntries([
    ...NUMERIC_FEATURES.map((name) => [name, 1.5]),
    ...CATEGORICAL_FEATURES.map((name) => [name, 'a']),
  ]);
  await store.writePredictions(MODEL, [
    { id: 'schema-seed', ts: START - 30 * DAY_MS, version: VERSION, features, prediction: 0.5, samplingRate: 1 },
  ]);
  await store.saveBaseline(baseline);
  await store.close();

  const predictions = join(storeDir(dataDir), 'models', MODEL, 'predictions');
  const duck = await DuckDBInstance.create(':memory:');
  const connection = await duck.connect();
  try {
    for (const day of readdirSync(predictions).sort()) {
      const tsv = join(dataDir, `${day}.tsv`);
      const glob = duckdbStringLiteral(join(predictions, day, '*.parquet'));
      await connection.run(
        `COPY (SELECT ${CLICKHOUSE_COLUMNS.join(', ')} FROM read_parquet(${glob})) TO ${duckdbStringLiteral(tsv)} ` +
          `(FORMAT csv, DELIMITER '\t', HEADER false, QUOTE '', NULLSTR '\\N')`
      );
      const insert = `INSERT INTO ${database}.predictions_${MODEL} (${CLICKHOUSE_COLUMNS.join(', ')}) FORMAT TabSeparated`;
      const curl = spawnSync(
        'curl',
        ['-sS', '--fail-with-body', '--data-binary', `@${tsv}`, `${url}/?query=${encodeURIComponent(insert)}`],
        { encoding: 'utf8' }
      );
      rmSync(tsv);
      if (curl.status !== 0) {
        throw new Error(`loading ${day} into ClickHouse failed: ${curl.stdout} ${curl.stderr}`);
      }
      console.error(`loaded ${day}`);
    }
  } finally {
    connection.closeSync();
    duck.closeSync();
  }
  const counted = await fetch(url, {
    method: 'POST',
    body: `SELECT count() FROM ${database}.predictions_${MODEL} WHERE ts >= ${START}`,
  });
  const rows = Number((await counted.text()).trim());
  return { rows, seconds: (Date.now() - started) / 1000 };
}

/** A private ClickHouse server loaded with the benchmark's rows, and a datasource instance on it, for `measure`. */
async function withLoadedClickHouse<T>(
  dataDir: string,
  measure: (instance: DatasourceInstance, version: string) => Promise<T>
): Promise<T & { store: string; load: { rows: number; seconds: number }; clientPeakRssMB: number }> {
  const clickhouse = await startClickHouse({ database: 'mlmon_bench' });
  try {
    const load = await loadClickHouse(dataDir, clickhouse.url, clickhouse.database);
    const instance = createInstance(
      settings({ storeKind: 'clickhouse', clickhouseUrl: clickhouse.url, database: clickhouse.database }),
      openStore
    );
    try {
      const store = await instance.store();
      const [{ version }] = await store.query<{ version: string }>('SELECT version() AS version');
      const measured = await measure(instance, version);
      return { store: `ClickHouse ${version}`, load, ...measured, clientPeakRssMB: peakRssMB() };
    } finally {
      await instance.dispose();
    }
  } finally {
    await clickhouse.stop();
  }
}

async function measureClickHouse(dataDir: string, warmRuns: number) {
  return withLoadedClickHouse(dataDir, async (instance) => {
    const started = Date.now();
    const measured = await measureCases(instance, warmRuns);
    return { ...measured, totalSeconds: (Date.now() - started) / 1000 };
  });
}

/**
 * ClickHouse in one run: every case from the rows (nothing prepared yet), then prepareCounts (what `mlmon maintain`
 * runs after compaction) timed, then every case again from the prepared hours.
 */
async function measureClickHousePrepared(dataDir: string, warmRuns: number) {
  return withLoadedClickHouse(dataDir, async (instance) => {
    const rows = await measureCases(instance, warmRuns, CLICKHOUSE_CASES);
    const store = await instance.store();
    const started = Date.now();
    const prepared = await prepareCounts(store, MODEL);
    const prepareSeconds = (Date.now() - started) / 1000;
    const [cells] = await store.query<{ n: number }>('SELECT count() AS n FROM mlmon_count_cells');
    console.error(`prepared ${prepared.columns} columns in ${prepareSeconds.toFixed(1)} s (${cells.n} cells)`);
    const fromPrepared = await measureCases(instance, warmRuns, CLICKHOUSE_CASES);
    return {
      rows,
      prepare: { seconds: prepareSeconds, columns: prepared.columns, cells: Number(cells.n) },
      prepared: fromPrepared,
    };
  });
}

async function main(argv: string[]): Promise<void> {
  const [command, dataDir, count] = argv;
  if (command === 'generate') {
    await generate(dataDir, Number(count));
    return;
  }
  if (command === 'embedded-cold') {
    process.stdout.write(JSON.stringify(await measureEmbedded(dataDir, 0, Number(count))) + '\n');
    return;
  }
  const warmRuns = Number(count ?? 20);
  const measure = {
    embedded: measureEmbedded,
    clickhouse: measureClickHouse,
    'clickhouse-prepared': measureClickHousePrepared,
  }[command];
  if (!measure) {
    throw new Error(
      `measure.ts: unknown command ${JSON.stringify(command)}; use generate, embedded, clickhouse or clickhouse-prepared`
    );
  }
  process.stdout.write(JSON.stringify(await measure(dataDir, warmRuns)) + '\n');
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error instanceof Error ? error.stack : String(error));
  process.exit(1);
});

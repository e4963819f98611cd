/**
 * Times the query handlers in-process against one store, as the backend runs them (registerBuiltInHandlers, a
 * datasource instance opening the store from its settings), and reports the process's peak resident memory.
 *
 *   node --import tsx bench/queries/measure.ts generate <dataDir> <rows>
 *   node --import tsx bench/queries/measure.ts embedded <dataDir> <warmRuns>
 *   node --import tsx bench/queries/measure.ts embedded-cold <dataDir> <caseIndex>   (one case, first run only)
 *   node --import tsx bench/queries/measure.ts clickhouse <dataDir> <warmRuns>
 *   node --import tsx bench/queries/measure.ts clickhouse-prepared <dataDir> <warmRuns>   (rows, prepare, prepared)
 *   node --import tsx bench/queries/measure.ts cluster <dataDir> <warmRuns>   (two shards: load, maintain, prepared)
 *   node --import tsx bench/queries/measure.ts cluster-prepared <dataDir> <warmRuns>   (the same with the KS case)
 *
 * The measuring commands print one JSON object on stdout. Query types whose handler is not registered yet are
 * listed under `unavailable`. ClickHouse: a private server or two-shard cluster (test/support/clickhouse.ts) is
 * started, loaded with the same Parquet rows (one TabSeparated INSERT per day) and the same baseline, measured and
 * removed.
 */
import { spawn } from 'node:child_process';
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
import { startClickHouse, startClickHouseCluster } from '../../test/support/clickhouse';
import {
  CATEGORICAL_FEATURES,
  DAY_MS,
  END,
  MODEL,
  NUMERIC_FEATURES,
  START,
  VERSION,
  generate,
  storeDir,
} from './generate';
import { CASES, CLICKHOUSE_CASES, HOUR_MS, percentile, warmTimings } from './cases';
import { prepareCounts } from '../../src/server/counting/prepare-counts';

const ROOT = join(__dirname, '../..');

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
      const cpuBefore = process.cpuUsage();
      const frames = await handler({
        query: query as never,
        range: benchCase.range,
        intervalMs: HOUR_MS,
        maxDataPoints: 1000,
        instance,
        signal: new AbortController().signal,
      });
      const cpu = process.cpuUsage(cpuBefore);
      return { ms: Number(process.hrtime.bigint() - started) / 1e6, cpuMs: (cpu.user + cpu.system) / 1000, frames };
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
      // CPU time of this process (the handler: decoding, merging, statistics, frames) during the first run; the rest
      // of its wall time is waiting for the store.
      firstNodeCpuMs: first.cpuMs,
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

/** Hours of rows per INSERT of the bulk load. */
const INSERT_HOURS = 6;

/** Where the benchmark's ClickHouse rows live: one private server, or a private two-shard cluster. */
interface ClickHouseTarget {
  /** The server the store connects to (shard 1 of a cluster). */
  url: string;
  database: string;
  /** Cluster mode: the cluster's name in remote_servers and one URL per shard. */
  cluster?: { name: string; shardUrls: string[] };
  stop(): Promise<void>;
}

const BENCH_DATABASE = 'mlmon_bench';

/** Starts a private server, or with `cluster` two servers forming a two-shard cluster (test/support/clickhouse.ts). */
async function startTarget(cluster: boolean): Promise<ClickHouseTarget> {
  if (!cluster) {
    const server = await startClickHouse({ database: BENCH_DATABASE });
    return { url: server.url, database: server.database, stop: server.stop };
  }
  const shards = await startClickHouseCluster({ shards: 2, database: BENCH_DATABASE });
  const shardUrls = shards.shards.map((shard) => shard.url);
  return { url: shardUrls[0], database: BENCH_DATABASE, cluster: { name: shards.name, shardUrls }, stop: shards.stop };
}

/** The store's options for a target: on a cluster, its name and shard URLs (cluster mode). */
const storeOptions = (target: ClickHouseTarget) => ({
  url: target.url,
  database: target.database,
  ...(target.cluster ? { cluster: target.cluster.name, shardUrls: target.cluster.shardUrls } : {}),
});

/**
 * Creates the model's table and baseline through ClickHouseStore, then bulk-loads every day of the Parquet rows (or
 * the last `lastDays` days):
 * one TabSeparated INSERT per day into the store's `predictions_bench` — on a cluster its Distributed table, with
 * `insert_distributed_sync=1` as the store writes (shard 1 sends each row to the shard of its sharding key and
 * answers once every shard has its rows).
 */
async function loadClickHouse(
  dataDir: string,
  target: ClickHouseTarget,
  lastDays = Infinity
): Promise<{ rows: number; seconds: number; days: string[]; daySeconds: number[] }> {
  const started = Date.now();
  const embedded = await EmbeddedStore.open(storeDir(dataDir));
  const baseline = (await embedded.getBaseline(MODEL, VERSION))!;
  await embedded.close();
  const store = await ClickHouseStore.open(storeOptions(target));
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
  const { database, url } = target;
  const insert = `INSERT INTO ${database}.predictions_${MODEL} (${CLICKHOUSE_COLUMNS.join(', ')}) FORMAT TabSeparated`;
  const insertUrl = `${url}/?query=${encodeURIComponent(insert)}${target.cluster ? '&insert_distributed_sync=1' : ''}`;
  const daySeconds: number[] = [];
  const days = readdirSync(predictions).sort().slice(-lastDays);
  const duck = await DuckDBInstance.create(':memory:');
  const connection = await duck.connect();
  try {
    for (const day of days) {
      const dayStarted = Date.now();
      const glob = duckdbStringLiteral(join(predictions, day, '*.parquet'));
      const dayStart = Date.parse(`${day.slice('day='.length)}T00:00:00Z`);
      // A day in INSERTs of at most 6 hours (~830 000 rows at 100 M rows over 30 days): one INSERT of a 3.3 M-row
      // day through the Distributed table passed the servers' 2 GB per-query memory limit.
      for (let from = dayStart; from < dayStart + DAY_MS; from += INSERT_HOURS * HOUR_MS) {
        const tsv = join(dataDir, `${day}-${from}.tsv`);
        await connection.run(
          `COPY (SELECT ${CLICKHOUSE_COLUMNS.join(', ')} FROM read_parquet(${glob}) ` +
            `WHERE ts >= ${from} AND ts < ${from + INSERT_HOURS * HOUR_MS}) TO ${duckdbStringLiteral(tsv)} ` +
            `(FORMAT csv, DELIMITER '\t', HEADER false, QUOTE '', NULLSTR '\\N')`
        );
        // -T streams the file (`--data-binary @file` reads it into memory: out of memory at 3.3 M rows a day).
        const upload = ['-T', tsv, '-X', 'POST', '-H', 'Expect:'];
        const curl = await spawnAsync('curl', ['-sS', '--fail-with-body', ...upload, insertUrl]);
        rmSync(tsv);
        if (curl.code !== 0) {
          throw new Error(`loading ${day} into ClickHouse failed: ${curl.stdout} ${curl.stderr}`);
        }
      }
      daySeconds.push((Date.now() - dayStarted) / 1000);
      console.error(`loaded ${day} in ${daySeconds[daySeconds.length - 1].toFixed(1)} s`);
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
  return { rows, seconds: (Date.now() - started) / 1000, days, daySeconds };
}

/**
 * Runs a command to its end without blocking this process's event loop (the ClickHouse servers it started write
 * to pipes it reads); resolves with the exit code and the output.
 */
function spawnAsync(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A private ClickHouse server or cluster loaded with the benchmark's rows, and a datasource instance on it. */
async function withLoadedClickHouse<T>(
  dataDir: string,
  cluster: boolean,
  measure: (instance: DatasourceInstance, target: ClickHouseTarget) => Promise<T>,
  lastDays = Infinity
): Promise<T & { store: string; load: { rows: number; seconds: number }; clientPeakRssMB: number }> {
  const target = await startTarget(cluster);
  try {
    const load = await loadClickHouse(dataDir, target, lastDays);
    const instance = createInstance(
      settings({
        storeKind: 'clickhouse',
        clickhouseUrl: target.url,
        database: target.database,
        ...(target.cluster ? { cluster: target.cluster.name, shardUrls: target.cluster.shardUrls } : {}),
      }),
      openStore
    );
    try {
      const store = await instance.store();
      const [{ version }] = await store.query<{ version: string }>('SELECT version() AS version');
      const measured = await measure(instance, target);
      const layout = target.cluster ? `, ${target.cluster.shardUrls.length}-shard cluster` : '';
      return { store: `ClickHouse ${version}${layout}`, load, ...measured, clientPeakRssMB: peakRssMB() };
    } finally {
      await instance.dispose();
    }
  } finally {
    await target.stop();
  }
}

async function measureClickHouse(dataDir: string, warmRuns: number) {
  return withLoadedClickHouse(dataDir, false, async (instance) => {
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
  return withLoadedClickHouse(dataDir, false, async (instance) => {
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

/** The cluster flags of the mlmon commands for a target (none on a single server). */
const clusterFlags = (target: ClickHouseTarget) =>
  target.cluster
    ? [
        '--clickhouse-cluster',
        target.cluster.name,
        ...target.cluster.shardUrls.flatMap((url) => ['--clickhouse-shard', url]),
      ]
    : [];

/** `mlmon maintain` (compaction, then the prepared counts) on a ClickHouse target, timed, with its log. */
async function maintainClickHouse(target: ClickHouseTarget): Promise<{ seconds: number; log: string[] }> {
  const started = Date.now();
  const flags = ['--clickhouse', target.url, '--clickhouse-database', target.database, ...clusterFlags(target)];
  const run = await spawnAsync(process.execPath, [join(ROOT, 'bin', 'mlmon.js'), 'maintain', ...flags]);
  process.stderr.write(run.stderr);
  if (run.code !== 0) {
    throw new Error(`mlmon maintain failed (exit ${run.code})`);
  }
  return { seconds: (Date.now() - started) / 1000, log: run.stderr.trim().split('\n') };
}

/** Rows and bytes on disk of the active parts of each table of the target's database, summed over its shards. */
async function partsOnDisk(target: ClickHouseTarget): Promise<Array<{ table: string; rows: number; bytes: number }>> {
  const sums = new Map<string, { rows: number; bytes: number }>();
  for (const url of target.cluster?.shardUrls ?? [target.url]) {
    const response = await fetch(url, {
      method: 'POST',
      body:
        'SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS bytes FROM system.parts ' +
        `WHERE active AND database = '${target.database}' GROUP BY table FORMAT JSONEachRow`,
    });
    const text = await response.text();
    if (!response.ok) {
      throw new Error(`reading system.parts from ${url} failed: ${text}`);
    }
    for (const line of text.split('\n').filter(Boolean)) {
      const part = JSON.parse(line) as { table: string; rows: string; bytes: string };
      const sum = sums.get(part.table) ?? { rows: 0, bytes: 0 };
      sums.set(part.table, { rows: sum.rows + Number(part.rows), bytes: sum.bytes + Number(part.bytes) });
    }
  }
  return [...sums].map(([table, sum]) => ({ table, ...sum })).sort((a, b) => b.bytes - a.bytes);
}

/**
 * The 100 M-row benchmark's ClickHouse half (run-bigdata.js) on a two-shard cluster: load, `mlmon maintain`
 * (compaction and the prepared counts, on the shards), the parts on disk, then every case from the prepared hours
 * (the rows path at this size is minutes per query, measured at 10 M rows in RESULTS-clickhouse.md). With
 * BENCH_CLUSTER_DAYS=N only the last N days are loaded, and only the cases within them run. `cases`: those of
 * cases.ts CASES (run-bigdata.js), or CLICKHOUSE_CASES (run-clickhouse.js, with KS).
 */
async function measureCluster(dataDir: string, warmRuns: number, allCases = CASES) {
  const lastDays = Number(process.env.BENCH_CLUSTER_DAYS ?? Infinity);
  const cases = allCases.filter((c) => c.range.from >= END - lastDays * DAY_MS);
  const measure = async (instance: DatasourceInstance, target: ClickHouseTarget) => {
    const maintain = await maintainClickHouse(target);
    const disk = await partsOnDisk(target);
    const measured = await measureCases(instance, warmRuns, cases);
    return { maintain, disk, ...measured };
  };
  return withLoadedClickHouse(dataDir, true, measure, lastDays);
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
    cluster: measureCluster,
    'cluster-prepared': (dir: string, warm: number) => measureCluster(dir, warm, CLICKHOUSE_CASES),
  }[command];
  if (!measure) {
    throw new Error(
      `measure.ts: unknown command ${JSON.stringify(command)}; use generate, embedded, clickhouse, clickhouse-prepared, cluster or cluster-prepared`
    );
  }
  process.stdout.write(JSON.stringify(await measure(dataDir, warmRuns)) + '\n');
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error instanceof Error ? error.stack : String(error));
  process.exit(1);
});

/**
 * Ingest benchmark: the sustained rate of the collector with durable acknowledgements, as a ratio to a floor
 * measured in the same run.
 *
 *   node bench/ingest/run.js [--duration 300] [--stores embedded,clickhouse] [--connections 4] [--batch 1000]
 *                            [--collector-args "--max-backlog-bytes 1000000"] [--no-write]
 *
 * The load comes from an independent process, bench/ingest/loadgen (Go, standard library only; built here with
 * `go build`): NDJSON batches of `--batch` records with 20 numeric and 3 categorical features over `--connections`
 * keep-alive connections, each a closed loop, for `--duration` seconds. It runs first against the floor
 * (floor.js: parse every line, append, fdatasync with group commit — nothing else), then against `mlmon serve` on
 * each store. Every second this process samples the server's RSS and CPU time (/proc/<pid>) and, for the
 * collector, the write-ahead backlog (/healthz).
 *
 * Sustained: the acknowledged rate counts only when the backlog stays flat — its least-squares slope over the run
 * after the first 10 % (warm-up) is what the store falls behind by each second, so the rate quoted is
 * `acknowledged − max(0, slope)` records/s; "flat" means the slope is under 1 % of the acknowledged rate. After the
 * load, the collector is stopped (SIGTERM: it moves the rest of the log into the store) and the store is counted:
 * every acknowledged record must be there. Results go to results.json (keyed by store), a summary to stdout.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ClickHouseStore } from '../../src/server/store/clickhouse';
import { EmbeddedStore } from '../../src/server/store/embedded';
import type { PredictionStore } from '../../src/server/store/types';
import { LOAD_TOKEN, spawnCollector, stopCollector } from '../../test/collector/harness';
import { startClickHouse, type ClickHouseHandle } from '../../test/support/clickhouse';
import { cpuSeconds, leastSquaresSlope } from '../support/process-stats';

/** What the load generator prints (loadgen/main.go `result`). */
interface LoadResult {
  durationSeconds: number;
  ackedBatches: number;
  ackedRecords: number;
  ackedRecordsPerSecond: number;
  bytesPerRecord: number;
  refusals: Record<string, number>;
  errors: number;
  firstError?: string;
  ackLatencyMs: { p50: number; p99: number; max: number };
  ackedPerSecondSeries: number[];
}

/** One sample per second of the server under load. */
interface Sample {
  t: number;
  rssMB: number;
  cpuSeconds: number;
  backlogRecords?: number;
  backlogBytes?: number;
  load1: number;
}

interface ServerRun {
  ackedRecordsPerSecond: number;
  ackLatencyMs: { p50: number; p99: number; max: number };
  refusals: Record<string, number>;
  errors: number;
  bytesPerRecord: number;
  /** CPU seconds (user + system, all threads) of the server per 1 000 acknowledged records. */
  cpuSecondsPer1000: number;
  rssMB: { mean: number; max: number };
  samples: Sample[];
}

interface CollectorRun extends ServerRun {
  backlog: {
    /** Least-squares slope after the warm-up, records/s and bytes/s. */
    slopeRecordsPerSecond: number;
    slopeBytesPerSecond: number;
    maxRecords: number;
    maxBytes: number;
    endRecords: number;
    flat: boolean;
  };
  sustainedRecordsPerSecond: number;
  ratioToFloor: number;
  /** Seconds from SIGTERM to exit (moving the rest of the log into the store). */
  drainSeconds: number;
  storedRecords: number;
  exit: number | string;
}

const LOADGEN_DIR = path.join(__dirname, 'loadgen');
const MODEL = 'bench';
const WARMUP_FRACTION = 0.1;
const FLAT_FRACTION = 0.01;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '300' },
      stores: { type: 'string', default: 'embedded,clickhouse' },
      connections: { type: 'string', default: '4' },
      batch: { type: 'string', default: '1000' },
      'collector-args': { type: 'string', default: '' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const duration = Number(values.duration);
  const stores = values.stores.split(',').filter(Boolean);
  if (!(duration > 0) || stores.some((s) => s !== 'embedded' && s !== 'clickhouse')) {
    throw new Error('--duration must be seconds > 0 and --stores a list of embedded, clickhouse');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-bench-ingest-'));
  try {
    const loadgen = buildLoadgen(dir);
    const load = { loadgen, duration, connections: Number(values.connections), batch: Number(values.batch) };
    const loadAtStart = os.loadavg();
    log(`floor: ${duration} s`);
    const floor = await runFloor(dir, load);
    log(summary('floor', floor));
    const collectors: Record<string, CollectorRun> = {};
    for (const store of stores) {
      log(`collector on the ${store} store: ${duration} s`);
      const extra = values['collector-args'].split(/\s+/).filter(Boolean);
      collectors[store] = await runCollector(dir, store as 'embedded' | 'clickhouse', load, extra, floor);
      log(summary(store, collectors[store]));
    }
    const result = {
      date: new Date().toISOString(),
      durationSeconds: duration,
      connections: load.connections,
      batchRecords: load.batch,
      features: { numeric: 20, categorical: 3 },
      collectorArgs: values['collector-args'],
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        node: process.version,
        loadAverage: { start: loadAtStart, end: os.loadavg() },
      },
      floor: withoutSamples(floor),
      collectors: Object.fromEntries(Object.entries(collectors).map(([store, run]) => [store, withoutSamples(run)])),
      samples: {
        floor: floor.samples,
        ...Object.fromEntries(Object.entries(collectors).map(([s, r]) => [s, r.samples])),
      },
    };
    if (!values['no-write']) {
      fs.writeFileSync(path.join(__dirname, 'results.json'), JSON.stringify(result, null, 1) + '\n');
      log('wrote bench/ingest/results.json');
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function withoutSamples<T extends { samples: Sample[] }>(run: T): Omit<T, 'samples'> {
  const { samples: _samples, ...rest } = run;
  return rest;
}

function log(line: string): void {
  process.stderr.write(`bench ingest: ${line}\n`);
}

function summary(name: string, run: ServerRun | CollectorRun): string {
  const parts = [
    `${name}: ${Math.round(run.ackedRecordsPerSecond)} acked rec/s`,
    `p50 ${run.ackLatencyMs.p50} ms, p99 ${run.ackLatencyMs.p99} ms`,
    `RSS mean ${run.rssMB.mean} max ${run.rssMB.max} MB`,
    `${run.cpuSecondsPer1000} CPU s/1000 rec`,
    `refusals ${JSON.stringify(run.refusals)}, errors ${run.errors}`,
  ];
  if ('backlog' in run) {
    parts.push(
      `backlog slope ${run.backlog.slopeRecordsPerSecond} rec/s (max ${run.backlog.maxRecords} rec, ` +
        `${(run.backlog.maxBytes / 2 ** 20).toFixed(1)} MiB) ${run.backlog.flat ? 'flat' : 'GROWING'}`,
      `sustained ${run.sustainedRecordsPerSecond} rec/s = ${run.ratioToFloor} × floor`,
      `drain ${run.drainSeconds} s, stored ${run.storedRecords}, exit ${run.exit}`
    );
  }
  return parts.join('; ');
}

/** Builds the Go load generator into `dir`. */
function buildLoadgen(dir: string): string {
  const binary = path.join(dir, 'loadgen');
  const built = spawnSync('go', ['build', '-o', binary, '.'], { cwd: LOADGEN_DIR, encoding: 'utf8' });
  if (built.status !== 0) {
    throw new Error(`go build of bench/ingest/loadgen failed (is Go installed?):\n${built.stderr}`);
  }
  return binary;
}

interface LoadOptions {
  loadgen: string;
  duration: number;
  connections: number;
  batch: number;
}

/** Runs the load generator against `url` while sampling the server every second. */
async function runLoad(
  load: LoadOptions,
  url: string,
  pid: number,
  prefix: string,
  backlog?: () => Promise<{ records: number; bytes: number } | undefined>
): Promise<{ result: LoadResult; samples: Sample[] }> {
  const child = spawn(
    load.loadgen,
    [
      `-url=${url}`,
      `-token=${LOAD_TOKEN}`,
      `-connections=${load.connections}`,
      `-batch=${load.batch}`,
      `-duration=${load.duration}s`,
      `-prefix=${prefix}`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] }
  );
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const samples: Sample[] = [];
  const started = Date.now();
  const cpuAtStart = cpuSeconds(pid);
  let running = true;
  void exited.then(() => (running = false));
  while (running) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (!running) {
      break;
    }
    const held = backlog ? await backlog() : undefined;
    samples.push({
      t: (Date.now() - started) / 1000,
      rssMB: rssMB(pid),
      cpuSeconds: round(cpuSeconds(pid) - cpuAtStart),
      ...(held ? { backlogRecords: held.records, backlogBytes: held.bytes } : {}),
      load1: os.loadavg()[0],
    });
  }
  const code = await exited;
  if (code !== 0) {
    throw new Error(`the load generator exited with ${code}`);
  }
  return { result: JSON.parse(stdout) as LoadResult, samples };
}

function serverRun(result: LoadResult, samples: Sample[]): ServerRun {
  const cpu = samples.length ? samples[samples.length - 1].cpuSeconds : 0;
  const rss = samples.map((s) => s.rssMB);
  return {
    ackedRecordsPerSecond: Math.round(result.ackedRecordsPerSecond),
    ackLatencyMs: result.ackLatencyMs,
    refusals: result.refusals,
    errors: result.errors,
    bytesPerRecord: round(result.bytesPerRecord),
    cpuSecondsPer1000: round((cpu / Math.max(1, result.ackedRecords)) * 1000, 4),
    rssMB: { mean: round(mean(rss), 1), max: round(largest(rss), 1) },
    samples,
  };
}

async function runFloor(dir: string, load: LoadOptions): Promise<ServerRun> {
  const child = spawn(
    process.execPath,
    [path.join(__dirname, 'floor.js'), '--file', path.join(dir, 'floor.log'), '--listen', '127.0.0.1:0'],
    { stdio: ['ignore', 'ignore', 'pipe'] }
  );
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /floor listening on (http:\/\/\S+)/.exec(text);
      if (match) {
        resolve(match[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`the floor exited (${code}) before listening:\n${text}`)));
  });
  try {
    const { result, samples } = await runLoad(load, `${url}/api/v1/models/${MODEL}/predictions`, child.pid!, 'floor');
    return serverRun(result, samples);
  } finally {
    child.kill('SIGTERM');
    fs.rmSync(path.join(dir, 'floor.log'), { force: true });
  }
}

async function runCollector(
  dir: string,
  store: 'embedded' | 'clickhouse',
  load: LoadOptions,
  extraArgs: string[],
  floor: ServerRun
): Promise<CollectorRun> {
  const clickhouse = store === 'clickhouse' ? await startClickHouse() : undefined;
  const data = path.join(dir, `data-${store}`);
  const state = path.join(dir, `state-${store}`);
  try {
    const storeArgs = clickhouse
      ? ['--clickhouse', clickhouse.url, '--clickhouse-database', clickhouse.database]
      : ['--data-dir', data];
    const collector = await spawnCollector([...storeArgs, '--state-dir', state], extraArgs);
    const pid = collector.child.pid!;
    const backlog = async () => {
      try {
        const report = (await (await fetch(`${collector.url}/healthz`)).json()) as {
          backlog: { records: number; bytes: number };
        };
        return report.backlog;
      } catch {
        return undefined;
      }
    };
    const { result, samples } = await runLoad(
      load,
      `${collector.url}/api/v1/models/${MODEL}/predictions`,
      pid,
      `${store}-${Date.now()}`,
      backlog
    );
    const stopped = Date.now();
    const exit = await stopCollector(collector);
    const drainSeconds = (Date.now() - stopped) / 1000;
    if (exit !== 0) {
      log(`the collector exited with ${exit}:\n${collector.stderr().slice(-4000)}`);
    }
    const storedRecords = await countStored(store, data, clickhouse);
    const run = serverRun(result, samples);
    const trend = backlogTrend(samples, load.duration);
    const sustained = Math.round(run.ackedRecordsPerSecond - Math.max(0, trend.slopeRecordsPerSecond));
    return {
      ...run,
      backlog: { ...trend, flat: trend.slopeRecordsPerSecond < FLAT_FRACTION * run.ackedRecordsPerSecond },
      sustainedRecordsPerSecond: sustained,
      ratioToFloor: round(sustained / floor.ackedRecordsPerSecond, 3),
      drainSeconds: round(drainSeconds, 1),
      storedRecords,
      exit,
    };
  } finally {
    await clickhouse?.stop();
    fs.rmSync(data, { recursive: true, force: true });
    fs.rmSync(state, { recursive: true, force: true });
  }
}

/** Rows of the benchmark model in the store after the run (each id once). */
async function countStored(store: string, dataDir: string, clickhouse: ClickHouseHandle | undefined): Promise<number> {
  const opened: PredictionStore = clickhouse
    ? await ClickHouseStore.open({ url: clickhouse.url, database: clickhouse.database })
    : await EmbeddedStore.open(dataDir);
  try {
    const counts = await opened.countPredictions(MODEL, { from: 0, to: 8.64e15 });
    return Number(counts.rows);
  } catch (err) {
    log(`could not count the ${store} store: ${(err as Error).message}`);
    return -1;
  } finally {
    await opened.close();
  }
}

/**
 * The backlog's least-squares slope (records/s, bytes/s) over the samples after the warm-up, and its largest and
 * last values.
 */
function backlogTrend(samples: Sample[], duration: number) {
  const steady = samples.filter((s) => s.t >= duration * WARMUP_FRACTION && s.backlogRecords !== undefined);
  const records = steady.map((s): [number, number] => [s.t, s.backlogRecords!]);
  const bytes = steady.map((s): [number, number] => [s.t, s.backlogBytes!]);
  const all = samples.filter((s) => s.backlogRecords !== undefined);
  return {
    slopeRecordsPerSecond: round(leastSquaresSlope(records), 1),
    slopeBytesPerSecond: round(leastSquaresSlope(bytes), 0),
    maxRecords: largest(all.map((s) => s.backlogRecords!)),
    maxBytes: largest(all.map((s) => s.backlogBytes!)),
    endRecords: all.length ? all[all.length - 1].backlogRecords! : 0,
  };
}

function mean(values: number[]): number {
  let sum = 0;
  for (const v of values) {
    sum += v;
  }
  return values.length ? sum / values.length : 0;
}

function largest(values: number[]): number {
  let max = 0;
  for (const v of values) {
    max = Math.max(max, v);
  }
  return max;
}

/** Resident set size of a process in MB (VmRSS of /proc/<pid>/status), 0 once it is gone. */
function rssMB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? round(Number(match[1]) / 1024, 1) : 0;
  } catch {
    return 0;
  }
}

function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

main().catch((err) => {
  process.stderr.write(`bench ingest: ${err.stack ?? err}\n`);
  process.exit(1);
});

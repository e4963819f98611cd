/**
 * Produce-to-streamed-frame latency of live panels: records POSTed one at a time at a steady rate to a real
 * `mlmon serve` (embedded store, the collector's flush interval as given), and for each record the time from the
 * collector's acknowledgement to the first frame that counts it
 *
 *   - on a live channel (RunStream of an operational throughput query over the last 10 minutes, as Grafana Live runs
 *     it), and, in the same run on the same records,
 *   - on a plain QueryData poll of the same query every POLL_MS (the baseline: a dashboard refreshing as fast as the
 *     live channel looks for data).
 *
 *   node --import tsx bench/stream/measure.ts <records> <rate/s> <flushIntervalMs>
 *
 * Prints one JSON object on stdout.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { tableFromIPC } from 'apache-arrow';
import { liveChannelPath, parseLiveSubscription } from '../../src/core/query/live';
import { embeddedPluginContext, startExecutable, type RunningExecutable } from '../support/executable';

const [RECORDS, RATE, FLUSH_MS] = process.argv.slice(2).map(Number);
const MODEL = 'live_bench';
const POLL_MS = 1000;
const SEED = 20;
const WINDOW = { rangeMs: 10 * 60_000, intervalMs: 10_000, maxDataPoints: 200 };
const QUERY = { refId: 'A', queryType: 'operational', model: MODEL, metric: 'throughput' };
const ROOT = join(__dirname, '../..');

/** Starts `mlmon serve --demo` on the directory and resolves with its base URL once it listens. */
async function startCollector(dataDir: string) {
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
  return { url, stop: () => child.kill('SIGTERM') };
}

/** Posts records as NDJSON; resolves at the collector's acknowledgement (durable in its write-ahead log). */
async function post(url: string, ids: string[]): Promise<void> {
  const body = ids
    .map((id) =>
      JSON.stringify({ id, ts: Date.now(), version: 'v1', features: { x: 1 }, prediction: 1, latency_ms: 10 })
    )
    .join('\n');
  const response = await fetch(`${url}/api/v1/models/${MODEL}/predictions`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body,
  });
  if (!response.ok) {
    throw new Error(`the collector answered ${response.status}: ${await response.text()}`);
  }
}

/** The records a frame counts: the sum of its `count` field (column index from the schema). */
function countOf(values: unknown[][], countIndex: number): number {
  return (values[countIndex] as Array<number | null>).reduce<number>((sum, n) => sum + (n ?? 0), 0);
}

/** Times (ms) from each record's acknowledgement to the first observation counting it. */
class Arrivals {
  readonly latencies: number[] = [];
  private seen = 0;

  constructor(private readonly acknowledged: number[]) {}

  /** An observation at `at` counting `count` records (seed included). */
  observe(count: number, at: number): void {
    while (this.seen < count - SEED && this.seen < this.acknowledged.length && this.acknowledged[this.seen]) {
      this.latencies.push(at - this.acknowledged[this.seen]);
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
  const dataDir = mkdtempSync(join(tmpdir(), 'mlmon-bench-stream-'));
  const collector = await startCollector(dataDir);
  const backend = await startExecutable(undefined, true);
  try {
    await post(
      collector.url,
      Array.from({ length: SEED }, (_, i) => `seed-${i}`)
    );
    const pluginContext = embeddedPluginContext('bench', dataDir);
    // Wait for the seed to be stored, so that the channel starts on an existing model.
    let stored = 0;
    const stopSeedPoll = poll(backend, pluginContext, (count) => (stored = count));
    while (stored < SEED) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await stopSeedPoll();

    const acknowledged: number[] = [];
    const live = new Arrivals(acknowledged);
    const polled = new Arrivals(acknowledged);
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

    const started = Date.now();
    for (let i = 0; i < RECORDS; i++) {
      const due = started + (i * 1000) / RATE;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
      await post(collector.url, [`r-${i}`]);
      acknowledged.push(Date.now());
    }
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
        records: RECORDS,
        rate: RATE,
        flushIntervalMs: FLUSH_MS,
        pollMs: POLL_MS,
        sendSeconds: (acknowledged[acknowledged.length - 1] - started) / 1000,
        stream: summary(live.latencies),
        poll: summary(polled.latencies),
      })
    );
  } finally {
    backend.stop();
    collector.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

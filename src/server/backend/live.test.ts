/**
 * Live channels in-process, against a real embedded store written by a second store instance (as the collector does
 * from its own process): a subscription is checked like a query, a run streams the window's frame and then the open
 * bucket as records arrive, runs and channels on one model share one poll, and leaving stops the polling.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { liveChannelPath, parseLiveSubscription } from '../../core/query/live';
import { createLogger } from '../grafana/logger';
import { StreamStatus, type StreamRequest } from '../grafana/types';
import { EmbeddedStore } from '../store/embedded';
import type { PredictionRecord } from '../store/types';
import { createDatasource, registerBuiltInHandlers } from './datasource';
import { LIVE_WINDOW_REFRESH_MS } from './live';
import { openStore } from './openStore';
import { QueryHandlerRegistry } from './registry';
import { localPluginContext } from './settings';

const POLL_MS = 40;
const MINUTE = 60_000;
/** Half a minute into a minute, so that the open one-minute bucket holds the records written "now". */
const START = Date.UTC(2026, 10, 25, 12, 0, 30);
const WINDOW = { rangeMs: 10 * MINUTE, intervalMs: MINUTE, maxDataPoints: 100 };

let dir: string;
let clock = START;
const registry = new QueryHandlerRegistry();
registerBuiltInHandlers(registry);
const backend = createDatasource({
  registry,
  openStore,
  logger: createLogger(() => undefined),
  now: () => clock,
  livePollMs: POLL_MS,
});
const streams = backend.streams!;

function records(count: number, at: number, prefix: string, error = false): PredictionRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}${i}`,
    ts: at - i * 100,
    version: 'v1',
    features: { age: 30 + (i % 10), plan: i % 2 ? 'gold' : 'basic' },
    prediction: 1,
    score: 0.7,
    latencyMs: 20,
    error: error ? 'model timed out' : null,
    samplingRate: 1,
  }));
}

/** Writes through a store instance of its own, like the collector's process. */
async function ingest(batch: PredictionRecord[]): Promise<void> {
  const writer = await EmbeddedStore.open(dir);
  await writer.writePredictions('churn', batch);
  await writer.close();
}

function request(query: object, window: object = WINDOW, path?: string): StreamRequest {
  const data = { query, window };
  return {
    pluginContext: localPluginContext({ dataDirectory: dir }),
    path: path ?? liveChannelPath(parseLiveSubscription(data)),
    data: Buffer.from(JSON.stringify(data)),
    headers: {},
  };
}

const throughput = { refId: 'A', queryType: 'operational', model: 'churn', metric: 'throughput' };
const errorRate = { refId: 'B', queryType: 'operational', model: 'churn', metric: 'error_rate' };

interface Packet {
  schema?: { fields: Array<{ name: string; labels?: Record<string, string> }> };
  data: { values: unknown[][] };
}

/** A run collecting its packets, stopped by `leave()`. */
function subscribe(req: StreamRequest) {
  const packets: Packet[] = [];
  const controller = new AbortController();
  const done = streams.run(req, async (packet) => void packets.push(JSON.parse(packet)), controller.signal);
  return { packets, done, leave: () => controller.abort() };
}

async function waitFor(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A counter of the backend's metrics text. */
function metric(name: string): number {
  const line = backend.collectMetrics!()
    .split('\n')
    .find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1]);
}

/** The values of the field `name` in a packet, using the schema of the run's first packet. */
function column(packets: Packet[], packet: Packet, name: string): unknown[] {
  const index = packets[0].schema!.fields.findIndex((field) => field.name === name);
  return packet.data.values[index];
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlmon-live-'));
  await ingest(records(30, START - 5 * MINUTE, 'old'));
});

afterAll(async () => {
  await backend.dispose?.();
  await rm(dir, { recursive: true, force: true });
});

describe('live subscriptions', () => {
  it('accept a live query on its own path', async () => {
    expect(await streams.subscribe(request(throughput))).toEqual({ status: StreamStatus.OK });
  });

  it('answer NOT_FOUND for a path that is no channel, PERMISSION_DENIED for data that is not the path', async () => {
    expect((await streams.subscribe(request(throughput, WINDOW, 'tail/../etc'))).status).toBe(StreamStatus.NOT_FOUND);
    const other = liveChannelPath(parseLiveSubscription({ query: errorRate, window: WINDOW }));
    expect((await streams.subscribe(request(throughput, WINDOW, other))).status).toBe(StreamStatus.PERMISSION_DENIED);
  });

  it('refuse data that is no live query with a message saying what to fix', async () => {
    const bad = { ...request(throughput), data: Buffer.from('{"query": ') };
    await expect(streams.subscribe(bad)).rejects.toThrow(/not JSON/);
    const performance = { refId: 'A', queryType: 'performance', model: 'churn' };
    await expect(streams.subscribe(request(performance, WINDOW, 'performance/0123456789abcdef'))).rejects.toThrow(
      /does not stream/
    );
    await expect(
      streams.subscribe(request(throughput, { rangeMs: -1 }, 'operational/0123456789abcdef'))
    ).rejects.toThrow(/rangeMs/);
    await expect(
      streams.run(request(throughput, WINDOW, 'nope'), async () => {}, new AbortController().signal)
    ).rejects.toThrow(/not a live channel/);
  });
});

describe('live runs', () => {
  it('stream the window, then the open bucket as records arrive, and stop polling when left', async () => {
    const run = subscribe(request(throughput));
    await waitFor(() => run.packets.length >= 1, 'the first packet');
    const [first] = run.packets;
    expect(first.schema!.fields.map((f) => f.name)).toEqual(['time', 'value', 'count']);
    const counts = (packet: Packet) => (column(run.packets, packet, 'count') as number[]).reduce((a, b) => a + b, 0);
    expect(counts(first)).toBe(30);
    const times = column(run.packets, first, 'time') as number[];
    expect(times[times.length - 1]).toBe(START - 30_000); // the open bucket, 12:00:00

    clock += 2000;
    await ingest(records(7, clock - 500, 'new'));
    await waitFor(() => run.packets.length >= 2, 'the packet with the new records');
    expect(run.packets.length).toBe(2); // nothing was sent before the records arrived
    const second = run.packets[1];
    expect(second.schema).toBeUndefined(); // same series: data alone
    expect(counts(second)).toBe(37);
    expect((column(run.packets, second, 'count') as number[]).at(-1)).toBe(7);

    // Nothing new: polls go on, nothing is computed or sent.
    const computed = metric('mlmon_live_computations_total');
    const sent = run.packets.length;
    const polls = metric('mlmon_live_polls_total');
    await waitFor(() => metric('mlmon_live_polls_total') >= polls + 3, 'three polls');
    expect(metric('mlmon_live_computations_total')).toBe(computed);
    expect(run.packets.length).toBe(sent);

    run.leave();
    await run.done;
    expect(metric('mlmon_live_channels')).toBe(0);
    const stopped = metric('mlmon_live_polls_total');
    await new Promise((resolve) => setTimeout(resolve, 5 * POLL_MS));
    expect(metric('mlmon_live_polls_total')).toBe(stopped);
  });

  it('share one channel among runs of a path, and one poll among the channels of a model', async () => {
    const a = subscribe(request(throughput));
    const b = subscribe(request(throughput));
    const c = subscribe(request(errorRate));
    await waitFor(() => [a, b, c].every((run) => run.packets.length >= 1), 'the first packets');
    expect(metric('mlmon_live_channels')).toBe(2);
    expect(b.packets[0].schema).toBeDefined(); // a run joining a running channel gets the schema too

    const polls = metric('mlmon_live_polls_total');
    const since = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 10 * POLL_MS));
    const ticks = (Date.now() - since) / POLL_MS;
    const read = metric('mlmon_live_polls_total') - polls;
    // One read per tick for the model, not one per channel (2) or run (3): at most one more than the ticks elapsed.
    expect(read).toBeGreaterThanOrEqual(1);
    expect(read).toBeLessThanOrEqual(Math.floor(ticks) + 1);

    const computed = metric('mlmon_live_computations_total');
    clock += 2000;
    await ingest(records(3, clock - 500, 'err', true));
    await waitFor(() => a.packets.length >= 2 && b.packets.length >= 2 && c.packets.length >= 2, 'new packets');
    expect(metric('mlmon_live_computations_total') - computed).toBe(2); // one per channel, not per run
    const rates = column(c.packets, c.packets[c.packets.length - 1], 'value') as number[];
    expect(rates.at(-1)).toBeCloseTo(3 / 10); // 7 good and 3 failed predictions in the open bucket

    a.leave();
    await a.done;
    expect(metric('mlmon_live_channels')).toBe(2); // b still runs the throughput channel
    b.leave();
    c.leave();
    await Promise.all([b.done, c.done]);
    expect(metric('mlmon_live_channels')).toBe(0);
  });

  it('show a record that arrived late, for an older bucket, once the whole window is computed again', async () => {
    const run = subscribe(request(throughput));
    await waitFor(() => run.packets.length >= 1, 'the first packet');
    const lateAt = clock - 3 * MINUTE;
    const countAtLate = (packet: Packet) => {
      const times = column(run.packets, packet, 'time') as number[];
      return (column(run.packets, packet, 'count') as number[])[times.indexOf(Math.floor(lateAt / MINUTE) * MINUTE)];
    };
    const before = countAtLate(run.packets[0]);
    const computed = metric('mlmon_live_computations_total');
    await ingest(records(2, lateAt, 'late'));
    await waitFor(() => run.packets.length >= 2, 'the packet after the late records');
    expect(metric('mlmon_live_computations_total')).toBe(computed + 1);
    expect(countAtLate(run.packets[1])).toBe(before); // only the newest buckets were computed

    clock += LIVE_WINDOW_REFRESH_MS;
    await waitFor(() => run.packets.length >= 3, 'the packet of the whole window');
    expect(countAtLate(run.packets[2])).toBe(before + 2);
    run.leave();
    await run.done;
  });

  it('stream a query of one frame per feature as one wide frame', async () => {
    const quality = { refId: 'Q', queryType: 'quality', model: 'churn', metric: 'null_rate' };
    const run = subscribe(request(quality));
    await waitFor(() => run.packets.length >= 1, 'the first packet');
    const labelled = run.packets[0].schema!.fields.filter((f) => f.name === 'value').map((f) => f.labels?.feature);
    expect(labelled.sort()).toEqual(['age', 'plan']);
    run.leave();
    await run.done;
  });
});

/**
 * /healthz and /metrics tell the truth: a store that fails for one model makes the collector `degraded` with the
 * reason and the backlog (records, bytes, age of the oldest), while the other models flush; a backlog over its
 * limit makes it `failing` (503) and batches are refused; recovery returns it to `ok` by itself.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Collector, CollectorOptions } from '../../src/server/collector/collector';
import { EmbeddedStore } from '../../src/server/store/embedded';
import type { PredictionWriter } from '../../src/server/store/types';
import { predictions, send, startInDir } from './support';

let dir: string;
let store: EmbeddedStore;
let collector: Collector | undefined;
let failingModel: string | undefined;

/** The real store, except that writes of `failingModel` fail (a wedged table, a full disk for one model). */
function flakyStore(): PredictionWriter {
  return {
    writePredictions: async (model, records, options) => {
      if (model === failingModel) {
        throw new Error(`the table of ${model} is read-only`);
      }
      return store.writePredictions(model, records, options);
    },
    writeLabels: (model, records) => store.writeLabels(model, records),
    getFeatures: (model) => store.getFeatures(model),
    recentIds: (model, limit) => store.recentIds(model, limit),
  };
}

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-health-'));
  store = await EmbeddedStore.open(path.join(dir, 'data'));
});
afterEach(async () => {
  failingModel = undefined;
  await collector?.stop();
  collector = undefined;
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const start = (extra: Partial<CollectorOptions> = {}) =>
  startInDir(flakyStore(), dir, { flushIntervalMs: 3_600_000, ...extra });

const health = async () => send(collector!.url, { method: 'GET', path: '/healthz', token: null });
const metrics = async () => (await send(collector!.url, { method: 'GET', path: '/metrics' })).body as string;
const post = (model: string, n: number) =>
  send(collector!.url, { path: `/api/v1/models/${model}/predictions`, body: JSON.stringify(predictions(model, n)) });

async function storedCount(model: string): Promise<number> {
  const [row] = await store.query<{ n: number }>(`SELECT count(*) AS n FROM ${await store.predictionsRelation(model)}`);
  return Number(row.n);
}

test('a store failing for one model: degraded with reason and backlog, the others flush, recovery is automatic', async () => {
  collector = await start();
  expect((await health()).body).toMatchObject({ status: 'ok', problems: [], backlog: { records: 0, bytes: 0 } });
  failingModel = 'bad';
  expect((await post('bad', 30)).status).toBe(200);
  expect((await post('good', 20)).status).toBe(200);
  await expect(collector.flush()).rejects.toThrow(/read-only/);
  expect(await storedCount('good')).toBe(20);

  const degraded = await health();
  expect(degraded.status).toBe(200); // still accepting
  expect(degraded.body.status).toBe('degraded');
  expect(degraded.body.problems.join(' ')).toMatch(/predictions\/bad .*failing.*read-only/);
  expect(degraded.body.backlog.records).toBe(30);
  expect(degraded.body.backlog.bytes).toBeGreaterThan(1000);
  expect(degraded.body.flusher.failingTargets).toEqual(['predictions/bad']);
  const text = await metrics();
  expect(text).toContain('mlmon_collector_backlog_records 30');
  expect(text).toContain('mlmon_collector_health 1');
  expect(text).toContain('mlmon_collector_store_errors_total{model="bad",kind="predictions"} 1');
  expect(text).toMatch(/mlmon_collector_backlog_oldest_age_seconds \d/);

  // A stale backlog is reported too: seen here by waiting past the threshold is too slow, so read the age.
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect((await health()).body.backlog.oldestAgeSeconds).toBeGreaterThanOrEqual(0.2);

  failingModel = undefined;
  await collector.flush();
  expect(await storedCount('bad')).toBe(30);
  expect((await health()).body).toMatchObject({ status: 'ok', problems: [], backlog: { records: 0, bytes: 0 } });
});

test('a backlog over its limit is failing (503) and new batches are refused until the store catches up', async () => {
  collector = await start({ maxWalBytes: 4000 });
  failingModel = 'slow';
  expect((await post('slow', 40)).status).toBe(200);
  await expect(collector.flush()).rejects.toThrow();
  const failing = await health();
  expect(failing.status).toBe(503);
  expect(failing.body.status).toBe('failing');
  expect(failing.body.problems.join(' ')).toMatch(/backlog .* over its limit of 4000/);
  const refused = await post('other', 1);
  expect(refused.status).toBe(503);
  expect(refused.headers['retry-after']).toBe('5');
  failingModel = undefined;
  await collector.flush();
  expect((await health()).body.status).toBe('ok');
  expect((await post('other', 1)).status).toBe(200);
});

test('/metrics takes the bearer token unless metricsPublic is set', async () => {
  collector = await start();
  expect((await send(collector.url, { method: 'GET', path: '/metrics', token: null })).status).toBe(401);
  await collector.stop();
  collector = await start({ metricsPublic: true });
  const reply = await send(collector.url, { method: 'GET', path: '/metrics', token: null });
  expect(reply.status).toBe(200);
  expect(reply.body).toContain('mlmon_collector_health 0');
});

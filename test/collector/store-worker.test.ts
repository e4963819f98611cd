/**
 * The collector with its store writes in a worker thread (store-worker.ts), as `mlmon serve` runs it, with faults
 * injected into the worker's store (store-faults.ts): a store error and a worker that dies, before or after a write,
 * lose no acknowledged record, store none twice, and show in /healthz until the next round has written them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Collector, CollectorOptions } from '../../src/server/collector/collector';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { predictions, send, startInDir } from './support';

let dir: string;
let faults: string;
let store: EmbeddedStore;
let collector: Collector | undefined;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-store-worker-'));
  faults = path.join(dir, 'faults');
  fs.mkdirSync(faults);
  store = await EmbeddedStore.open(path.join(dir, 'data'));
});
afterEach(async () => {
  await collector?.stop();
  collector = undefined;
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const start = (extra: Partial<CollectorOptions> = {}) =>
  startInDir(store, dir, {
    storeWorker: {
      store: { kind: 'embedded', dataDir: path.join(dir, 'data') },
      storeWrapper: { module: path.join(__dirname, 'store-faults.ts'), options: { faults } },
    },
    flushIntervalMs: 3_600_000,
    ...extra,
  });

const inject = (fault: string) => fs.writeFileSync(path.join(faults, fault), '');
const clear = (fault: string) => fs.rmSync(path.join(faults, fault));
const health = async () => (await send(collector!.url, { method: 'GET', path: '/healthz', token: null })).body;
const metrics = async () => (await send(collector!.url, { method: 'GET', path: '/metrics' })).body as string;

async function post(prefix: string, n: number): Promise<void> {
  const reply = await send(collector!.url, {
    path: '/api/v1/models/m/predictions',
    body: JSON.stringify(predictions(prefix, n)),
  });
  expect(reply.status).toBe(200);
  expect(reply.body.accepted).toBe(n);
}

/** Rows of model m as readers see them (each id once), and the distinct ids. */
async function stored(): Promise<{ rows: number; ids: number }> {
  const [row] = await store.query<{ rows: number; ids: number }>(
    `SELECT count(*) AS rows, count(DISTINCT id) AS ids FROM ${await store.predictionsRelation('m')}`
  );
  return { rows: Number(row.rows), ids: Number(row.ids) };
}

test('records reach the store through the worker from memory, in columns, with their values', async () => {
  collector = await start();
  await post('a', 30);
  await post('b', 20);
  await collector.flush();
  expect(await stored()).toEqual({ rows: 50, ids: 50 });
  const [row] = await store.query<{ f0: number; f3: string; version: string }>(
    `SELECT f_f0 AS f0, f_f3 AS f3, version FROM ${await store.predictionsRelation('m')} WHERE id = 'a-7'`
  );
  const sent = predictions('a', 30)[7] as { version: string; features: Record<string, unknown> };
  expect(row).toEqual({ f0: sent.features.f0, f3: sent.features.f3, version: sent.version });
  expect(await metrics()).toMatch(/mlmon_collector_flushed_segments_total\{source="memory"\} [1-9]/);
  expect((await health()).status).toBe('ok');
});

test('a store error in the worker keeps the records and shows in /healthz until the store recovers', async () => {
  collector = await start();
  inject('fail-writes');
  await post('a', 40);
  await expect(collector.flush()).rejects.toThrow(/injected store failure/);
  const degraded = await health();
  expect(degraded.status).toBe('degraded');
  expect(degraded.problems.join(' ')).toMatch(/predictions\/m .*failing.*injected store failure/);
  expect(degraded.backlog.records).toBe(40);
  clear('fail-writes');
  await collector.flush();
  expect(await stored()).toEqual({ rows: 40, ids: 40 });
  expect(await health()).toMatchObject({ status: 'ok', backlog: { records: 0 } });
});

test('a worker that dies before writing loses nothing: /healthz names it and a new worker writes every record', async () => {
  collector = await start();
  inject('die-before-write');
  await post('a', 25);
  await expect(collector.flush()).rejects.toThrow(/store worker stopped \(exit code 70\)/);
  const degraded = await health();
  expect(degraded.status).toBe('degraded');
  expect(degraded.problems.join(' ')).toMatch(/store writer failed \(the store worker stopped/);
  expect(degraded.flusher.writerError).toMatch(/exit code 70/);
  expect(degraded.backlog.records).toBe(25);
  clear('die-before-write');
  // Delivered to the new worker: the start of this segment went to the dead one, so it is read from disk.
  await post('b', 15);
  await collector.flush();
  expect(await stored()).toEqual({ rows: 40, ids: 40 });
  expect(await metrics()).toMatch(/mlmon_collector_flushed_segments_total\{source="disk"\} [1-9]/);
  expect(await health()).toMatchObject({ status: 'ok', backlog: { records: 0 } });
});

test('a worker that dies after writing, before reporting, has the segment written again: each id counted once', async () => {
  collector = await start();
  inject('die-after-write');
  await post('a', 35);
  await expect(collector.flush()).rejects.toThrow(/exit code 71/);
  expect(await stored()).toEqual({ rows: 35, ids: 35 }); // written, but the segment is kept: not reported
  expect((await health()).backlog.records).toBe(35);
  clear('die-after-write');
  await collector.flush();
  expect(await stored()).toEqual({ rows: 35, ids: 35 });
  expect(await health()).toMatchObject({ status: 'ok', backlog: { records: 0 } });
});

test('a backlog within --max-backlog-bytes is written from memory: no segment is read back and parsed again', async () => {
  // 72 MiB of log (18 000 records of ~4 KB), over the worker's former fixed budget of 64 MiB and under the cap.
  const maxWalBytes = 72 * 1024 * 1024;
  collector = await start({ maxWalBytes, segmentBytes: 8 * 1024 * 1024 });
  const padding = 'p'.repeat(4000);
  for (let batch = 0; batch < 18; batch++) {
    const lines = predictions(`big${batch}`, 1000).map((record) =>
      JSON.stringify({ ...record, features: { ...(record.features as object), padding } })
    );
    const reply = await send(collector.url, {
      path: '/api/v1/models/m/predictions',
      headers: { 'Content-Type': 'application/x-ndjson' },
      body: lines.join('\n'),
    });
    expect(reply.status).toBe(200);
  }
  expect((await health()).backlog.bytes).toBeGreaterThan(64 * 1024 * 1024);
  await collector.flush();
  expect(await stored()).toEqual({ rows: 18_000, ids: 18_000 });
  const text = await metrics();
  expect(text).toMatch(/mlmon_collector_flushed_segments_total\{source="memory"\} [1-9]/);
  expect(text).not.toMatch(/mlmon_collector_flushed_segments_total\{source="disk"\} [1-9]/);
});

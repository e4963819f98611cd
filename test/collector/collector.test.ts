/**
 * The collector in-process against the real embedded store: response shapes, dead letters, sampling, duplicates,
 * limits, metrics, graceful shutdown and WAL replay.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Collector, CollectorOptions } from '../../src/server/collector/collector';
import { isSampled } from '../../src/server/collector/sampling';
import { WriteAheadLog } from '../../src/server/collector/wal';
import { encodeBatch } from '../../src/server/collector/wal-entry';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { TOKEN, predictions, prediction, readDeadLetters, send, startInDir } from './support';

let dir: string;
let store: EmbeddedStore;
let collector: Collector | undefined;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-collector-'));
  store = await EmbeddedStore.open(path.join(dir, 'data'));
});
afterEach(async () => {
  await collector?.stop();
  collector = undefined;
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function start(extra: Partial<CollectorOptions> = {}) {
  return startInDir(store, dir, extra);
}

async function storedIds(model: string): Promise<string[]> {
  const relation = await store.predictionsRelation(model);
  const rows = await store.query<{ id: string }>(`SELECT id FROM ${relation} ORDER BY id`);
  return rows.map((r) => r.id);
}

const deadLetters = (model: string) => readDeadLetters(dir, model);

test('a mixed batch is answered with counts and per-record reasons; refused records go to the dead-letter area', async () => {
  collector = await start();
  const batch = [prediction('a'), { ...prediction('b'), ts: 'yesterday' }, prediction('c'), { id: 'd' }, 42];
  const reply = await send(collector.url, {
    path: '/api/v1/models/credit_risk/predictions',
    body: JSON.stringify(batch),
  });
  expect(reply.status).toBe(200);
  expect(reply.body).toMatchObject({ accepted: 2, rejected: 3, duplicates: 0, sampledOut: 0, samplingRate: 1 });
  expect(reply.body.errors.map((e: any) => [e.index, e.code])).toEqual([
    [1, 'invalid_value'],
    [3, 'missing_field'],
    [4, 'not_an_object'],
  ]);
  expect(reply.body.errors[0].reason).toMatch(/ISO 8601/);
  const letters = deadLetters('credit_risk');
  expect(letters.map((l) => l.index)).toEqual([1, 3, 4]);
  expect(letters[0]).toMatchObject({ model: 'credit_risk', kind: 'predictions', code: 'invalid_value', raw: batch[1] });
  expect(letters[2].raw).toBe(42);
  expect(Date.parse(letters[0].time)).toBeGreaterThan(Date.now() - 60_000);
  await collector.flush();
  expect(await storedIds('credit_risk')).toEqual(['a', 'c']);
});

test('NDJSON: bad lines are refused one by one; labels are accepted and stored', async () => {
  collector = await start();
  const lines = [JSON.stringify(prediction('n1')), '{"id": "n2", ', '', JSON.stringify(prediction('n3'))].join('\n');
  const reply = await send(collector.url, {
    path: '/api/v1/models/m1/predictions',
    body: lines,
    headers: { 'Content-Type': 'application/x-ndjson' },
  });
  expect(reply.status).toBe(200);
  expect(reply.body).toMatchObject({ accepted: 2, rejected: 1 });
  expect(reply.body.errors).toEqual([
    { index: 1, code: 'invalid_json', reason: expect.stringMatching(/not valid JSON/) },
  ]);
  expect(deadLetters('m1')[0].raw).toBe('{"id": "n2",');
  const labels = await send(collector.url, {
    path: '/api/v1/models/m1/labels',
    body: JSON.stringify([
      { id: 'n1', label: 1, ts: '2026-03-04T00:00:00Z' },
      { id: 'n3', label: 'fraud' },
      { label: 0 },
    ]),
  });
  expect(labels.status).toBe(200);
  expect(labels.body).toMatchObject({ accepted: 2, rejected: 1 });
  await collector.flush();
  const relation = await store.labelsRelation('m1');
  const rows = await store.query<{ id: string; label_num: number | null; label_cat: string | null; ts: number }>(
    `SELECT id, label_num, label_cat, ts FROM ${relation} ORDER BY id`
  );
  expect(rows.map((r) => [r.id, r.label_num, r.label_cat])).toEqual([
    ['n1', 1, null],
    ['n3', null, 'fraud'],
  ]);
  expect(rows[0].ts).toBe(Date.UTC(2026, 2, 4));
});

test('re-sent records are answered as duplicates and stored once', async () => {
  collector = await start();
  const body = JSON.stringify(predictions('dup', 50));
  const first = await send(collector.url, { path: '/api/v1/models/m2/predictions', body });
  const again = await send(collector.url, { path: '/api/v1/models/m2/predictions', body });
  expect(first.body).toMatchObject({ accepted: 50, duplicates: 0 });
  expect(again.body).toMatchObject({ accepted: 0, duplicates: 50, rejected: 0 });
  // The same id twice in one batch: the second copy is a duplicate.
  const twice = await send(collector.url, {
    path: '/api/v1/models/m2/predictions',
    body: JSON.stringify([prediction('t1'), prediction('t1')]),
  });
  expect(twice.body).toMatchObject({ accepted: 1, duplicates: 1 });
  // Two concurrent copies of a batch: one is accepted, the other waits for its write and is answered as duplicates.
  const concurrentBody = JSON.stringify(predictions('cc', 200));
  const url = collector.url;
  const both = await Promise.all(
    [1, 2].map(() => send(url, { path: '/api/v1/models/m2/predictions', body: concurrentBody }))
  );
  expect(both.map((r) => r.body.accepted + r.body.duplicates)).toEqual([200, 200]);
  expect(both[0].body.accepted + both[1].body.accepted).toBe(200);
  await collector.flush();
  expect(await storedIds('m2')).toHaveLength(251);
});

test('sampling keeps the same ids every time and stores the rate with each record', async () => {
  collector = await start({ samplingRate: 0.25 });
  const batch = predictions('s', 2000);
  const reply = await send(collector.url, { path: '/api/v1/models/m3/predictions', body: JSON.stringify(batch) });
  const expected = batch.map((r) => r.id as string).filter((id) => isSampled(id, 0.25));
  expect(reply.body.accepted).toBe(expected.length);
  expect(reply.body.sampledOut).toBe(2000 - expected.length);
  expect(Math.abs(expected.length - 500)).toBeLessThan(100);
  await collector.flush();
  expect(await storedIds('m3')).toEqual([...expected].sort());
  const relation = await store.predictionsRelation('m3');
  const rates = await store.query<{ sampling_rate: number }>(`SELECT DISTINCT sampling_rate FROM ${relation}`);
  expect(rates).toEqual([{ sampling_rate: 0.25 }]);
});

test('authentication, routing, limits and model names are answered with JSON errors', async () => {
  collector = await start({ maxBodyBytes: 10_000, maxBatchRecords: 10, models: ['known'] });
  const body = JSON.stringify([prediction('x')]);
  const cases: Array<[Parameters<typeof send>[1], number, string]> = [
    [{ path: '/api/v1/models/known/predictions', body, token: null }, 401, 'unauthorized'],
    [{ path: '/api/v1/models/known/predictions', body, token: 'wrong' }, 401, 'unauthorized'],
    [{ path: '/api/v1/models/other/predictions', body }, 404, 'unknown_model'],
    [{ path: `/api/v1/models/${encodeURIComponent('x; DROP TABLE y')}/predictions`, body }, 400, 'invalid_model'],
    [{ path: '/api/v1/models/%E0%A4%A/predictions', body }, 400, 'invalid_model'],
    [
      { path: '/api/v1/models/known/predictions', body, headers: { 'Content-Type': 'text/csv' } },
      415,
      'unsupported_media_type',
    ],
    [{ path: '/api/v1/models/known/predictions', body: 'x'.repeat(20_000) }, 413, 'body_too_large'],
    [
      { path: '/api/v1/models/known/predictions', body: JSON.stringify(predictions('l', 11, 1)) },
      413,
      'batch_too_long',
    ],
    [{ path: '/api/v1/models/known/predictions', body: '{"id": 1' }, 400, 'invalid_json'],
    [{ path: '/api/v1/models/known/predictions', body: '{"id": "1"}' }, 400, 'not_an_array'],
    [{ path: '/api/v1/models/known/predictions', body: Buffer.from([0x5b, 0xff, 0xfe, 0x5d]) }, 400, 'invalid_utf8'],
    [{ path: '/api/v1/models/known/predictions', method: 'GET' }, 405, 'method_not_allowed'],
    [{ path: '/api/v2/anything', body }, 404, 'not_found'],
  ];
  for (const [request, status, code] of cases) {
    const reply = await send(collector.url, request);
    expect([request.path, reply.status, reply.body.error]).toEqual([request.path, status, code]);
    expect(typeof reply.body.message).toBe('string');
    expect(JSON.stringify(reply.body)).not.toContain(TOKEN);
  }
  const allBad = await send(collector.url, { path: '/api/v1/models/known/predictions', body: '[1, 2]' });
  expect(allBad.status).toBe(422);
  expect(allBad.body).toMatchObject({ accepted: 0, rejected: 2 });
  const health = await send(collector.url, { path: '/healthz', method: 'GET', token: null });
  expect(health).toMatchObject({ status: 200, body: { status: 'ok' } });
});

test('/metrics counts records by model, kind and outcome, and rejections by reason', async () => {
  collector = await start();
  await send(collector.url, {
    path: '/api/v1/models/m4/predictions',
    body: JSON.stringify([prediction('a'), { id: 'b' }]),
  });
  await collector.flush();
  // /metrics names every model, so it takes the bearer token like the API (unless metricsPublic).
  expect((await send(collector.url, { path: '/metrics', method: 'GET', token: null })).status).toBe(401);
  const reply = await send(collector.url, { path: '/metrics', method: 'GET' });
  expect(reply.status).toBe(200);
  const text: string = reply.body;
  expect(text).toContain('mlmon_collector_records_total{model="m4",kind="predictions",outcome="accepted"} 1');
  expect(text).toContain(
    'mlmon_collector_records_rejected_total{model="m4",kind="predictions",reason="missing_field"} 1'
  );
  expect(text).toContain('mlmon_collector_flushed_records_total{model="m4",kind="predictions"} 1');
  expect(text).toMatch(/mlmon_collector_ack_duration_seconds_count 1\n/);
  expect(text).toMatch(/mlmon_collector_wal_bytes 0\n/);
  expect(text).not.toContain(TOKEN);
});

test('graceful stop flushes acknowledged records that the flusher had not moved yet', async () => {
  collector = await start({ flushIntervalMs: 3_600_000 });
  const reply = await send(collector.url, {
    path: '/api/v1/models/m5/predictions',
    body: JSON.stringify(predictions('g', 300)),
  });
  expect(reply.body.accepted).toBe(300);
  expect(await storedIds('m5')).toEqual([]);
  await collector.stop();
  collector = undefined;
  expect(await storedIds('m5')).toHaveLength(300);
  expect(WriteAheadLog.listSegments(path.join(dir, 'state', 'wal'))).toEqual([]);
});

test('segments left by a crashed run are replayed into the store on start, torn tail ignored', async () => {
  const walDir = path.join(dir, 'state', 'wal');
  const crashed = WriteAheadLog.open(walDir);
  const records = predictions('r', 120).map((r) => ({ ...r, latencyMs: r.latency_ms, samplingRate: 1 }));
  await crashed.append(encodeBatch({ model: 'm6', kind: 'predictions', records: records as any }));
  // A torn write: the header of an entry whose bytes never reached the disk.
  const [segment] = WriteAheadLog.listSegments(walDir);
  fs.appendFileSync(segment, Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 9, 9]));
  collector = await start();
  expect(await storedIds('m6')).toHaveLength(120);
  expect(WriteAheadLog.listSegments(walDir).length).toBeLessThanOrEqual(1);
});

test('when the store fails, the WAL segment is kept, the error counted, and the next flush delivers', async () => {
  let failures = 1;
  const outage = {
    writePredictions: async (model: string, records: Parameters<EmbeddedStore['writePredictions']>[1]) => {
      if (failures-- > 0) {
        throw new Error('simulated store outage');
      }
      return store.writePredictions(model, records);
    },
    writeLabels: (model: string, records: Parameters<EmbeddedStore['writeLabels']>[1]) =>
      store.writeLabels(model, records),
    getFeatures: (model: string) => store.getFeatures(model),
    recentIds: (model: string, limit: number) => store.recentIds(model, limit),
  };
  const logged: string[] = [];
  collector = await start({ store: outage, flushIntervalMs: 3_600_000, log: (line) => logged.push(line) });
  const reply = await send(collector.url, {
    path: '/api/v1/models/m7/predictions',
    body: JSON.stringify(predictions('o', 40)),
  });
  expect(reply.body.accepted).toBe(40);
  await expect(collector.flush()).rejects.toThrow(/simulated store outage/);
  expect(collector.metrics.storeErrors.get({ model: 'm7', kind: 'predictions' })).toBe(1);
  expect(logged.join('\n')).toMatch(
    /could not write 40 predictions of model m7 .*keeping .* to retry: simulated store outage/
  );
  expect(WriteAheadLog.listSegments(path.join(dir, 'state', 'wal')).length).toBe(2); // the failed one + the open one
  await collector.flush();
  expect(await storedIds('m7')).toHaveLength(40);
  expect(WriteAheadLog.listSegments(path.join(dir, 'state', 'wal')).length).toBe(1);
});

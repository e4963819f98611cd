/**
 * Records that a careless or hostile client sends, on both stores, through the collector in this process: feature
 * names that differ only in case, names too long for a column, names of Object.prototype members, a request that
 * adds thousands of features, a record nested thousands of levels deep. Each is refused with a reason (and kept
 * as a dead letter) or stored correctly; none stops the flush of other records or other models, and none survives
 * a restart as a poison.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Collector, CollectorOptions } from '../../src/server/collector/collector';
import { encodeBatch } from '../../src/server/collector/wal-entry';
import { WriteAheadLog } from '../../src/server/collector/wal';
import { ClickHouseStore } from '../../src/server/store/clickhouse';
import { EmbeddedStore } from '../../src/server/store/embedded';
import type { PredictionStore } from '../../src/server/store/types';
import { startClickHouse, type ClickHouseHandle } from '../support/clickhouse';
import { prediction, readDeadLetters, send, startInDir } from './support';

let clickhouse: ClickHouseHandle;
beforeAll(async () => {
  clickhouse = await startClickHouse();
});
afterAll(async () => {
  await clickhouse?.stop();
});

const STORES: Array<[string, (dir: string) => Promise<PredictionStore>]> = [
  ['embedded', (dir) => EmbeddedStore.open(path.join(dir, 'data'))],
  ['clickhouse', () => ClickHouseStore.open({ url: clickhouse.url, database: clickhouse.database })],
];

describe.each(STORES)('%s store', (_name, openStore) => {
  let dir: string;
  let store: PredictionStore;
  let collector: Collector | undefined;
  let modelSeq = 0;
  let model: string;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-poison-'));
    store = await openStore(dir);
    model = `poison_${process.pid}_${modelSeq++}`;
  });
  afterEach(async () => {
    await collector?.stop();
    collector = undefined;
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const start = (extra: Partial<CollectorOptions> = {}) =>
    startInDir(store, dir, { flushIntervalMs: 3_600_000, ...extra });

  const post = (target: string, records: unknown[]) =>
    send(collector!.url, { path: `/api/v1/models/${target}/predictions`, body: JSON.stringify(records) });

  const withFeatures = (id: string, features: Record<string, unknown>) => ({ ...prediction(id), features });

  async function stored(target: string): Promise<Array<Record<string, unknown>>> {
    const relation = await store.predictionsRelation(target);
    return store.query(`SELECT * FROM ${relation} ORDER BY id`);
  }

  const deadLetters = (target: string): Array<{ code: string; reason: string }> => readDeadLetters(dir, target);

  test('names that differ only in case are refused at the door, in a record, across records and after a restart', async () => {
    collector = await start();
    const first = await post(model, [
      withFeatures('a', { age: 30, plan: 'pro' }),
      withFeatures('b', { age: 31, Age: 32 }),
      withFeatures('c', { AGE: 33, plan: 'free' }),
      withFeatures('d', { age: 34, Plan: 'x' }),
    ]);
    expect(first.status).toBe(200);
    expect(first.body.accepted).toBe(1);
    expect(first.body.errors.map((e: { index: number; code: string }) => [e.index, e.code])).toEqual([
      [1, 'invalid_feature_name'],
      [2, 'invalid_feature_name'],
      [3, 'invalid_feature_name'],
    ]);
    expect(first.body.errors[1].reason).toMatch(/"AGE" differs only in case from feature "age"/);
    await collector.flush();
    await collector.stop();
    // A new process learns the spellings from the store.
    collector = await start();
    const again = await post(model, [withFeatures('e', { Age: 1 }), withFeatures('f', { age: 2, plan: 'x' })]);
    expect(again.body.accepted).toBe(1);
    expect(again.body.errors[0]).toMatchObject({ index: 0, code: 'invalid_feature_name' });
    await collector.flush();
    expect((await stored(model)).map((r) => [r.id, r.f_age])).toEqual([
      ['a', 30],
      ['f', 2],
    ]);
    expect(deadLetters(model).filter((l) => l.code === 'invalid_feature_name')).toHaveLength(4);
  });

  test('a poison left in the log by an earlier version is refused by the store on replay; everything else flushes', async () => {
    // A write-ahead log written before the door compared names without case: both spellings, and another model.
    const record = (id: string, features: Record<string, number>) => ({
      ...(prediction(id) as object),
      ts: Date.UTC(2026, 2, 1),
      features,
      latencyMs: null,
      samplingRate: 1,
    });
    const wal = WriteAheadLog.open(path.join(dir, 'state', 'wal'));
    await wal.append(
      encodeBatch({
        model,
        kind: 'predictions',
        records: [record('x1', { score_a: 1 }), record('x2', { SCORE_A: 2 })] as never,
      })
    );
    await wal.append(
      encodeBatch({ model: `${model}_other`, kind: 'predictions', records: [record('y1', { b: 1 })] as never })
    );
    // No close: the earlier process died. The new one replays at start, twice in a row without trouble.
    collector = await start();
    expect(WriteAheadLog.listSegments(path.join(dir, 'state', 'wal')).length).toBeLessThanOrEqual(1);
    expect((await stored(model)).map((r) => r.id)).toEqual(['x1']);
    expect((await stored(`${model}_other`)).map((r) => r.id)).toEqual(['y1']);
    expect(deadLetters(model)).toEqual([
      expect.objectContaining({ code: 'invalid_feature_name', reason: expect.stringMatching(/refused by the store/) }),
    ]);
    await collector.stop();
    collector = await start();
    expect((await post(model, [withFeatures('x3', { score_a: 3 })])).body.accepted).toBe(1);
  });

  test('the longest name has 62 characters (its column f_<name> has 64); longer ones are refused with the rule', async () => {
    collector = await start();
    const ok = 'n'.repeat(62);
    const reply = await post(model, [
      withFeatures('ok', { [ok]: 1 }),
      withFeatures('long63', { ['n'.repeat(63)]: 1 }),
      withFeatures('long64', { ['n'.repeat(64)]: 1 }),
    ]);
    expect(reply.body.accepted).toBe(1);
    expect(reply.body.errors.map((e: { code: string }) => e.code)).toEqual([
      'invalid_feature_name',
      'invalid_feature_name',
    ]);
    expect(reply.body.errors[0].reason).toMatch(/1-62 characters/);
    await collector.flush();
    expect((await stored(model)).map((r) => r[`f_${ok}`])).toEqual([1]);
  });

  test('names of Object.prototype members are ordinary features with the right kinds and values', async () => {
    collector = await start();
    // JSON.parse keeps "__proto__" as an own key; an object literal would not, so the body is written by hand.
    const record = JSON.stringify(prediction('p1')).replace(
      /"features":\{[^}]*\}/,
      `"features":{"constructor":1.5,"toString":"text","__proto__":7,"hasOwnProperty":true,"valueOf":null}`
    );
    const reply = await send(collector.url, { path: `/api/v1/models/${model}/predictions`, body: `[${record}]` });
    expect(reply.body).toMatchObject({ accepted: 1, rejected: 0 });
    const second = await post(model, [withFeatures('p2', { toString: 'more' })]);
    expect(second.body.accepted).toBe(1);
    await collector.flush();
    // valueOf was only ever null, so it has no kind yet and no column.
    const kinds = (await store.getFeatures(model)).map((f) => `${f.name}:${f.kind}`).sort();
    expect(kinds).toEqual([
      '__proto__:numeric',
      'constructor:numeric',
      'hasOwnProperty:categorical',
      'toString:categorical',
    ]);
    const rows = await stored(model);
    expect(rows.map((r) => [r.id, r.f_constructor, r.f_toString, r.f___proto__, r.f_hasOwnProperty])).toEqual([
      ['p1', 1.5, 'text', 7, 'true'],
      ['p2', null, 'more', null, null],
    ]);
    // p2 lacks "constructor": it is missing (NULL), not a type error.
    expect(rows.map((r) => r.type_errors)).toEqual(['', '']);
  });

  test('a request adding thousands of features is refused with the cap; the model at its cap and other models flush', async () => {
    collector = await start({ maxFeaturesPerModel: 50 });
    const wide = (id: string, from: number, count: number) =>
      withFeatures(id, Object.fromEntries(Array.from({ length: count }, (_, i) => [`feature_${from + i}`, i])));
    // The 45 KB request of the report: 3 records × 1 000 new names.
    const explosion = await post(model, [wide('w1', 0, 1000), wide('w2', 1000, 1000), wide('w3', 2000, 1000)]);
    expect(explosion.status).toBe(422);
    expect(explosion.body.errors.every((e: { code: string }) => e.code === 'too_many_features')).toBe(true);
    expect(explosion.body.errors[0].reason).toMatch(/at most 50 features \(--max-features-per-model\)/);
    // Fill the model to its cap, then one more feature is refused, while records with known features flush.
    expect((await post(model, [wide('cap', 0, 50)])).body.accepted).toBe(1);
    const atCap = await post(model, [wide('known', 0, 50), wide('one-more', 0, 51)]);
    expect(atCap.body.accepted).toBe(1);
    expect(atCap.body.errors).toEqual([expect.objectContaining({ index: 1, code: 'too_many_features' })]);
    const other = `${model}_other`;
    expect((await post(other, [withFeatures('o1', { x: 1 })])).body.accepted).toBe(1);
    await collector.flush();
    expect((await stored(model)).map((r) => r.id)).toEqual(['cap', 'known']);
    expect((await stored(other)).map((r) => r.id)).toEqual(['o1']);
    expect(await store.getFeatures(model)).toHaveLength(50);
    expect(deadLetters(model).filter((l) => l.code === 'too_many_features')).toHaveLength(4);
  });

  test('a record nested 5 000 deep is refused before anything is written; its neighbours are stored', async () => {
    collector = await start();
    const deep = `{"id":"deep","features":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const alone = await send(collector.url, { path: `/api/v1/models/${model}/predictions`, body: `[${deep}]` });
    expect(alone.status).toBe(422);
    expect(alone.body.errors).toEqual([
      expect.objectContaining({ index: 0, code: 'too_deep', reason: expect.stringMatching(/nested more than/) }),
    ]);
    const mixed = await send(collector.url, {
      path: `/api/v1/models/${model}/predictions`,
      body: `[${JSON.stringify(prediction('ok-1'))},${deep},${JSON.stringify(prediction('ok-2'))}]`,
    });
    expect(mixed.status).toBe(200);
    expect(mixed.body).toMatchObject({ accepted: 2, rejected: 1 });
    // Retrying the same batch is answered the same way (the valid ones as duplicates), never 503.
    const retry = await send(collector.url, {
      path: `/api/v1/models/${model}/predictions`,
      body: `[${JSON.stringify(prediction('ok-1'))},${deep},${JSON.stringify(prediction('ok-2'))}]`,
    });
    expect(retry.body).toMatchObject({ accepted: 0, duplicates: 2, rejected: 1 });
    const ndjson = await send(collector.url, {
      path: `/api/v1/models/${model}/predictions`,
      body: `${deep}\n${JSON.stringify(prediction('ok-3'))}\n`,
      headers: { 'Content-Type': 'application/x-ndjson' },
    });
    expect(ndjson.body).toMatchObject({ accepted: 1, rejected: 1 });
    await collector.flush();
    expect((await stored(model)).map((r) => r.id)).toEqual(['ok-1', 'ok-2', 'ok-3']);
    const letters = deadLetters(model).filter((l) => l.code === 'too_deep') as unknown as Array<{ raw: unknown }>;
    expect(letters).toHaveLength(4);
    expect(typeof letters[0].raw).toBe('string');
  });
});

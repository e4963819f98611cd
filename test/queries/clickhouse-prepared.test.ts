/**
 * Counts prepared in ClickHouse (src/server/counting/clickhouse-hours.ts) on a real ClickHouse 18.16 server: the
 * drift family and distribution answer the same from prepared hours as from the rows, and the same as the embedded
 * store on the same records; a re-sent id into a prepared hour is counted once, a late record into a prepared hour is
 * counted, and the next preparation makes the hour prepared again. Whether the rows were read is seen in the SQL the
 * store ran (a read of the predictions table).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FrameLike } from '../../src/core/query/frames';
import type { QueryType } from '../../src/core/query/queryTypes';
import { createInstance, type DatasourceInstance } from '../../src/server/backend/instances';
import { openStore } from '../../src/server/backend/openStore';
import { localInstanceSettings, parseSettings } from '../../src/server/backend/settings';
import { prepareCounts } from '../../src/server/counting/prepare-counts';
import type { PredictionRecord, PredictionStore } from '../../src/server/store/types';
import { startClickHouse, type ClickHouseHandle } from '../support/clickhouse';
import { driftFixture, expectSameFrames, HOUR, MODEL, RANGE, runQuery } from '../support/drift-family';

let clickhouse: ClickHouseHandle;
let dir: string;
let onClickHouse: DatasourceInstance;
let embedded: DatasourceInstance;
const fixture = driftFixture();

const instanceOf = (jsonData: object) =>
  createInstance(parseSettings(localInstanceSettings(jsonData, {}, 'prepared')), openStore);

beforeAll(async () => {
  clickhouse = await startClickHouse();
  dir = await mkdtemp(join(tmpdir(), 'mlmon-prepared-'));
  onClickHouse = instanceOf({ storeKind: 'clickhouse', clickhouseUrl: clickhouse.url, database: clickhouse.database });
  embedded = instanceOf({ dataDirectory: dir });
  for (const instance of [onClickHouse, embedded]) {
    const store = await instance.store();
    await store.writePredictions(MODEL, fixture.records);
    await store.saveBaseline(fixture.baseline);
  }
}, 60_000);

afterAll(async () => {
  await onClickHouse?.dispose();
  await embedded?.dispose();
  await clickhouse?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The queries compared: every handler that counts, on whole hours, one bucket and a range cut inside an hour. */
const QUERIES: Array<[string, QueryType, object, { from: number; to: number }?]> = [
  ['drift, PSI per hour', 'drift', { bucket: '1h' }],
  ['drift, KS per hour', 'drift', { bucket: '1h', metric: 'ks' }],
  ['drift, Wasserstein over 2 h buckets', 'drift', { bucket: '2h', metric: 'wasserstein' }],
  ['severity per hour', 'severity', { bucket: '1h' }],
  ['distribution', 'distribution', {}],
  ['ranking', 'ranking', {}],
  ['prediction drift, one bucket', 'prediction_drift', { bucket: '6h' }],
  [
    'drift over a range cut inside its hours',
    'drift',
    { bucket: '1h' },
    { from: RANGE.from + HOUR / 2, to: RANGE.to - HOUR / 3 },
  ],
];

/** Runs a query and records whether it read the model's rows (SQL over `predictions_<model>`). */
async function answer(instance: DatasourceInstance, type: QueryType, raw: object, range = RANGE) {
  const store = await instance.store();
  const statements: string[] = [];
  const query = store.query;
  store.query = <T>(sql: string, ...rest: unknown[]) => {
    statements.push(sql);
    return (query as (...args: unknown[]) => Promise<T[]>).call(store, sql, ...rest);
  };
  try {
    const frames = await runQuery(instance, type, raw, range);
    return { frames, readRows: statements.some((sql) => sql.includes(`predictions_${MODEL}`)) };
  } finally {
    store.query = query;
  }
}

/** The answers of every query from the given instance. */
async function answers(instance: DatasourceInstance) {
  const all = [];
  for (const [, type, raw, range] of QUERIES) {
    all.push(await answer(instance, type, raw, range));
  }
  return all;
}

async function prepare(instance: DatasourceInstance): Promise<PredictionStore> {
  const store = await instance.store();
  await prepareCounts(store, MODEL);
  return store;
}

test('prepared hours answer like the rows and like the embedded store, without reading whole hours again', async () => {
  const fromRows = await answers(onClickHouse);
  expect(fromRows.every((a) => a.readRows)).toBe(true);
  await prepare(onClickHouse);
  await prepare(embedded);
  const prepared = await answers(onClickHouse);
  const onEmbedded = await answers(embedded);
  for (const [i, [name]] of QUERIES.entries()) {
    expectSameFrames(prepared[i].frames, fromRows[i].frames);
    expectSameFrames(prepared[i].frames, onEmbedded[i].frames);
    // Only the cut range has partial hours to read from the rows.
    expect({ name, readRows: prepared[i].readRows }).toEqual({ name, readRows: name.includes('cut') });
  }
});

test('a re-sent id into a prepared hour is counted once; a late record is counted; the next preparation catches up', async () => {
  const store = await prepare(onClickHouse);
  const before = await answer(onClickHouse, 'drift', { bucket: '1h' });
  expect(before.readRows).toBe(false);

  // Re-sent: the same record again (same id and time), into the second hour.
  const resent = fixture.records[250];
  await store.writePredictions(MODEL, [resent]);
  const afterResend = await answer(onClickHouse, 'drift', { bucket: '1h' });
  expect(afterResend.readRows).toBe(true);
  expectSameFrames(afterResend.frames, before.frames);
  await prepareCounts(store, MODEL);
  const reprepared = await answer(onClickHouse, 'drift', { bucket: '1h' });
  expect(reprepared.readRows).toBe(false);
  expectSameFrames(reprepared.frames, before.frames);

  // Late: a new record in the second hour, on both stores; ClickHouse counts it from the rows, then prepared again.
  const late: PredictionRecord = { ...resent, id: 'late-1', features: { amount: 99.5, region: 'b' } };
  await store.writePredictions(MODEL, [late]);
  await (await embedded.store()).writePredictions(MODEL, [late]);
  const afterLate = await answer(onClickHouse, 'drift', { bucket: '1h' });
  expect(afterLate.readRows).toBe(true);
  const count = (frames: FrameLike[]) => frames[0].fields.find((f) => f.name === 'count')!.values[1];
  expect(count(afterLate.frames)).toBe((count(before.frames) as number) + 1);
  const embeddedLate = await answer(embedded, 'drift', { bucket: '1h' });
  expectSameFrames(afterLate.frames, embeddedLate.frames);
  await prepareCounts(store, MODEL);
  const preparedLate = await answer(onClickHouse, 'drift', { bucket: '1h' });
  expect(preparedLate.readRows).toBe(false);
  expectSameFrames(preparedLate.frames, embeddedLate.frames);
});

test('a filtered query, which nothing prepared, reads the rows', async () => {
  await prepare(onClickHouse);
  const filtered = await answer(onClickHouse, 'drift', { bucket: '1h', version: 'v1' });
  expect(filtered.readRows).toBe(true);
  expectSameFrames(filtered.frames, (await answer(embedded, 'drift', { bucket: '1h', version: 'v1' })).frames);
});

test('retention and deleting the model take the prepared hours with them', async () => {
  const store = await prepare(onClickHouse);
  const prepared = async () =>
    Number(
      (
        await store.query<{ n: number }>('SELECT count() AS n FROM mlmon_count_hours WHERE model = {model}', {
          model: MODEL,
        })
      )[0].n
    );
  expect(await prepared()).toBeGreaterThan(0);
  await store.applyRetention(MODEL, RANGE.to + 86_400_000);
  expect(await prepared()).toBe(0);
  const afterRetention = await answer(onClickHouse, 'drift', { bucket: '1h' });
  expect(afterRetention.frames[0].fields.find((f) => f.name === 'count')!.values.every((n) => n === 0)).toBe(true);
  await store.writePredictions(MODEL, fixture.records);
  await prepareCounts(store, MODEL);
  expect(await prepared()).toBeGreaterThan(0);
  await store.deleteModel(MODEL);
  expect(await prepared()).toBe(0);
});

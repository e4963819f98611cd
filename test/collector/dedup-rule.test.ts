/**
 * One de-duplication rule (src/server/collector/recent-ids.ts): a prediction is identified by (model, version, id),
 * and the first acknowledged copy of a prediction is the record. It holds in one process, after a restart, across
 * days (a re-sent id with a `ts` on another day), on both stores; the embedded store keeps the first ingested copy
 * itself when copies reach it anyway. Two versions' predictions of one id (a champion and its shadow challenger) are
 * two predictions: both kept, counted and joined to the id's label.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startCollector, type Collector } from '../../src/server/collector/collector';
import { ClickHouseStore } from '../../src/server/store/clickhouse';
import { EmbeddedStore } from '../../src/server/store/embedded';
import type { PredictionRecord, PredictionStore } from '../../src/server/store/types';
import { startClickHouse, type ClickHouseHandle } from '../support/clickhouse';
import { TOKEN, prediction, send } from './support';

let clickhouse: ClickHouseHandle;
beforeAll(async () => {
  clickhouse = await startClickHouse();
});
afterAll(async () => {
  await clickhouse?.stop();
});

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 2, 1, 12);

describe.each([
  ['embedded', (dir: string) => EmbeddedStore.open(path.join(dir, 'data'))],
  ['clickhouse', () => ClickHouseStore.open({ url: clickhouse.url, database: clickhouse.database })],
] as Array<[string, (dir: string) => Promise<PredictionStore>]>)('%s store', (_name, openStore) => {
  let dir: string;
  let store: PredictionStore;
  let collector: Collector | undefined;
  const model = `dedup_${process.pid}_${_name}`;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-dedup-'));
    store = await openStore(dir);
  });
  afterAll(async () => {
    await collector?.stop();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const start = () =>
    startCollector({ store, stateDir: path.join(dir, 'state'), port: 0, tokens: [TOKEN], log: () => undefined });
  const post = (records: unknown[], to = model, kind = 'predictions') =>
    send(collector!.url, { path: `/api/v1/models/${to}/${kind}`, body: JSON.stringify(records) });
  /** A copy of prediction `id` by `version`, told from other copies by its `prediction` value. */
  const copy = (id: string, ts: number, value: number, version = 'v1') => ({
    ...prediction(id, ts),
    version,
    prediction: value,
  });

  test('the first copy wins: in one process, after a restart, and with a ts on another day', async () => {
    collector = await start();
    expect((await post([copy('r1', T0, 1), copy('r2', T0, 1)])).body.accepted).toBe(2);
    const resent = await post([copy('r1', T0, 2), copy('r2', T0 + 3 * DAY, 2)]);
    expect(resent.body).toMatchObject({ accepted: 0, duplicates: 2 });
    await collector.stop();

    collector = await start(); // a new process: the horizon comes from the store
    const afterRestart = await post([copy('r1', T0, 3), copy('r2', T0 + 5 * DAY, 3), copy('r3', T0, 1)]);
    expect(afterRestart.body).toMatchObject({ accepted: 1, duplicates: 2 });
    await collector.flush();

    const relation = await store.predictionsRelation(model);
    const rows = await store.query<{ id: string; prediction_num: number; ts: number }>(
      `SELECT id, prediction_num, ts FROM ${relation} ORDER BY id`
    );
    expect(rows.map((r) => [r.id, Number(r.prediction_num), Number(r.ts)])).toEqual([
      ['r1', 1, T0],
      ['r2', 1, T0],
      ['r3', 1, T0],
    ]);
  });

  test("two versions' predictions of one id are both kept, counted and joined to its label; re-sent copies once, after a restart too", async () => {
    const shadow = `${model}_shadow`;
    await collector?.stop();
    collector = await start();
    const first = await post(
      [copy('s1', T0, 1, 'champion'), copy('s1', T0, 2, 'challenger'), copy('s2', T0, 1, 'champion')],
      shadow
    );
    expect(first.body).toMatchObject({ accepted: 3, duplicates: 0 });
    const resent = await post([copy('s1', T0, 9, 'champion'), copy('s1', T0, 9, 'challenger')], shadow);
    expect(resent.body).toMatchObject({ accepted: 0, duplicates: 2 });
    await collector.stop();

    collector = await start(); // the horizon seeded from the store holds (version, id), not the id alone
    const afterRestart = await post(
      [copy('s1', T0, 9, 'challenger'), copy('s2', T0 + 2 * DAY, 9, 'champion'), copy('s2', T0, 2, 'challenger')],
      shadow
    );
    expect(afterRestart.body).toMatchObject({ accepted: 1, duplicates: 2 });
    const labels = await post(
      [
        { id: 's1', label: 1, ts: T0 + DAY },
        { id: 's2', label: 0, ts: T0 + DAY },
      ],
      shadow,
      'labels'
    );
    expect(labels.body).toMatchObject({ accepted: 2 });
    await collector.flush();

    const relation = await store.predictionsRelation(shadow);
    const rows = await store.query<{ id: string; version: string; prediction_num: number }>(
      `SELECT id, version, prediction_num FROM ${relation} ORDER BY id, version`
    );
    expect(rows.map((r) => [r.id, r.version, Number(r.prediction_num)])).toEqual([
      ['s1', 'challenger', 2],
      ['s1', 'champion', 1],
      ['s2', 'challenger', 2],
      ['s2', 'champion', 1],
    ]);
    const range = { from: T0 - DAY, to: T0 + 10 * DAY };
    expect((await store.countPredictions(shadow, range)).rows).toBe(4);
    expect((await store.countPredictions(shadow, range, 'challenger')).rows).toBe(2);
    const joined = await store.query<{ version: string; n: number; positives: number }>(
      `SELECT p.version AS version, count(*) AS n, sum(l.label_num) AS positives FROM ${relation} AS p ` +
        `JOIN ${await store.labelsRelation(shadow)} AS l ON p.id = l.id GROUP BY p.version ORDER BY p.version`
    );
    expect(joined.map((r) => [r.version, Number(r.n), Number(r.positives)])).toEqual([
      ['challenger', 2, 1],
      ['champion', 2, 1],
    ]);
  });
});

test("the embedded store keeps the first ingested copy of each version's prediction of an id, before and after compaction", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-dedup-store-'));
  const store = await EmbeddedStore.open(dir);
  try {
    const record = (value: number, version = 'v1'): PredictionRecord => ({
      id: 'same',
      ts: T0,
      version,
      features: { x: 1 },
      prediction: value,
      score: null,
      latencyMs: null,
      error: null,
      samplingRate: 1,
    });
    // Two copies in one batch, then a later batch (a bulk load that re-sends): the first copy of each version's
    // prediction is the record, and the challenger's prediction of the same id is kept beside the champion's.
    await store.writePredictions('m', [record(1), record(2), record(1, 'challenger')]);
    await new Promise((resolve) => setTimeout(resolve, 5)); // a later ingestion time
    await store.writePredictions('m', [record(3), record(3, 'challenger'), record(3, 'third')]);
    const read = async () =>
      (
        await store.query<{ version: string; prediction_num: number }>(
          `SELECT version, prediction_num FROM ${await store.predictionsRelation('m')} ORDER BY version`
        )
      ).map((r) => [r.version, Number(r.prediction_num)]);
    const expected = [
      ['challenger', 1],
      ['third', 3],
      ['v1', 1],
    ];
    expect(await read()).toEqual(expected);
    await store.compact('m');
    expect(await read()).toEqual(expected);
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * One de-duplication rule (src/server/collector/recent-ids.ts): the first acknowledged copy of a prediction id is
 * the record. It holds in one process, after a restart, across days (a re-sent id with a `ts` on another day), on
 * both stores; and the embedded store keeps the first ingested copy itself when copies reach it anyway.
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
  const post = (records: unknown[]) =>
    send(collector!.url, { path: `/api/v1/models/${model}/predictions`, body: JSON.stringify(records) });
  const copy = (id: string, ts: number, version: string) => ({ ...prediction(id, ts), version });

  test('the first copy wins: in one process, after a restart, and with a ts on another day', async () => {
    collector = await start();
    expect((await post([copy('r1', T0, 'first'), copy('r2', T0, 'first')])).body.accepted).toBe(2);
    const resent = await post([copy('r1', T0, 'second'), copy('r2', T0 + 3 * DAY, 'second')]);
    expect(resent.body).toMatchObject({ accepted: 0, duplicates: 2 });
    await collector.stop();

    collector = await start(); // a new process: the horizon comes from the store
    const afterRestart = await post([
      copy('r1', T0, 'third'),
      copy('r2', T0 + 5 * DAY, 'third'),
      copy('r3', T0, 'first'),
    ]);
    expect(afterRestart.body).toMatchObject({ accepted: 1, duplicates: 2 });
    await collector.flush();

    const relation = await store.predictionsRelation(model);
    const rows = await store.query<{ id: string; version: string; ts: number }>(
      `SELECT id, version, ts FROM ${relation} ORDER BY id`
    );
    expect(rows.map((r) => [r.id, r.version, Number(r.ts)])).toEqual([
      ['r1', 'first', T0],
      ['r2', 'first', T0],
      ['r3', 'first', T0],
    ]);
  });
});

test('the embedded store keeps the first ingested copy of an id, before and after compaction', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-dedup-store-'));
  const store = await EmbeddedStore.open(dir);
  try {
    const record = (version: string): PredictionRecord => ({
      id: 'same',
      ts: T0,
      version,
      features: { x: 1 },
      prediction: 1,
      score: null,
      latencyMs: null,
      error: null,
      samplingRate: 1,
    });
    // Two copies in one batch, then a later batch (a bulk load that re-sends): the first copy is the record.
    await store.writePredictions('m', [record('first'), record('same-batch')]);
    await new Promise((resolve) => setTimeout(resolve, 5)); // a later ingestion time
    await store.writePredictions('m', [record('later')]);
    const read = async () =>
      (await store.query<{ version: string }>(`SELECT version FROM ${await store.predictionsRelation('m')}`)).map(
        (r) => r.version
      );
    expect(await read()).toEqual(['first']);
    await store.compact('m');
    expect(await read()).toEqual(['first']);
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

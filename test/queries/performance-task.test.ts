/**
 * The task of a model without a baseline is read from its outputs and labels (performance.ts taskSql): rows with a
 * number other than 0/1 make a regressor, NULLs (an unlabelled row, a request without a prediction) say nothing.
 * ClickHouse 18.16 answers `NULL NOT IN (0, 1)` with 1 where current ClickHouse and DuckDB answer NULL, so the same
 * SQL called a 0/1 classifier with unlabelled rows a regressor there (seen replaying the store's statements on
 * ClickHouse 26, test/store/clickhouse-statements-current.test.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performanceQuery } from '../../src/server/queries/performance';
import { ClickHouseStore } from '../../src/server/store/clickhouse';
import { EmbeddedStore } from '../../src/server/store/embedded';
import type { PredictionRecord, PredictionStore } from '../../src/server/store/types';
import { startClickHouse, type ClickHouseHandle } from '../support/clickhouse';
import { column, HOUR, instanceFor, RANGE, runHandler } from './traffic-fixture';

let clickhouse: ClickHouseHandle;
let dir: string;
beforeAll(async () => {
  [clickhouse, dir] = await Promise.all([startClickHouse(), mkdtemp(join(tmpdir(), 'mlmon-task-'))]);
});
afterAll(async () => {
  await clickhouse?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** 180 rows of a 0/1 classifier without a baseline over the first hour: every third has no prediction, half labelled. */
const records: PredictionRecord[] = Array.from({ length: 180 }, (_, i) => ({
  id: `b${i}`,
  ts: RANGE.from + i * 20_000,
  version: 'v1',
  features: { x: i },
  prediction: i % 3 === 0 ? null : i % 2,
  samplingRate: 1,
}));
const labels = records.filter((_, i) => i % 2 === 0).map((r, i) => ({ id: r.id, label: i % 2, ts: RANGE.from + HOUR }));

describe.each([
  ['embedded', () => ({ store: EmbeddedStore.open(dir), settings: { dataDirectory: dir } })],
  [
    'clickhouse',
    () => ({
      store: ClickHouseStore.open({ url: clickhouse.url, database: clickhouse.database }),
      settings: { storeKind: 'clickhouse', clickhouseUrl: clickhouse.url, database: clickhouse.database },
    }),
  ],
] as Array<[string, () => { store: Promise<PredictionStore>; settings: object }]>)('%s store', (_name, open) => {
  it('takes a 0/1 classifier with unlabelled rows and missing predictions for a classifier', async () => {
    const { store: opening, settings } = open();
    const store = await opening;
    await store.writePredictions('binary', records);
    await store.writeLabels('binary', labels);
    await store.close();
    const instance = instanceFor(settings);
    try {
      const frames = await runHandler(performanceQuery, instance, {
        queryType: 'performance',
        model: 'binary',
        metric: 'accuracy',
      });
      const labelled = records.filter((r, i) => i % 2 === 0 && r.prediction !== null);
      const right = labelled.filter((r) => r.prediction === labels.find((l) => l.id === r.id)!.label).length;
      expect((frames[0].meta?.custom as { task?: string } | undefined)?.task).toBe('classification');
      expect(column(frames[0], 'value')[0]).toBeCloseTo(right / labelled.length, 12);
    } finally {
      await instance.dispose();
    }
  });
});

/**
 * The drift-family queries (drift, prediction_drift, severity, ranking) on a real ClickHouse 18.16 server started on
 * loopback, with data written by ClickHouseStore; the same checks as on the embedded store
 * (test/support/drift-family.ts), so both stores' SQL plans give the core's numbers.
 */
import { startClickHouse, type ClickHouseHandle } from '../support/clickhouse';
import { describeDriftFamily, driftFixture, MODEL, RANGE, type DriftFixture } from '../support/drift-family';
import { createInstance, type DatasourceInstance } from '../../src/server/backend/instances';
import { openStore } from '../../src/server/backend/openStore';
import { localInstanceSettings, parseSettings } from '../../src/server/backend/settings';
import { binIndex } from '../../src/core/stats';
import { binnedCountsPlan, runBinnedCounts } from '../../src/server/queries/binned-counts';
import { sketchGrid } from '../../src/server/queries/sketch-grid';
import type { NumericReference } from '../../src/server/store/types';

let clickhouse: ClickHouseHandle;
let instance: DatasourceInstance;
const fixture: DriftFixture = driftFixture();

beforeAll(async () => {
  clickhouse = await startClickHouse();
  instance = createInstance(
    parseSettings(
      localInstanceSettings(
        { storeKind: 'clickhouse', clickhouseUrl: clickhouse.url, database: clickhouse.database },
        {},
        'ch'
      )
    ),
    openStore
  );
  const store = await instance.store();
  await store.writePredictions(MODEL, fixture.records);
  await store.saveBaseline(fixture.baseline);
}, 60_000);

afterAll(async () => {
  await instance?.dispose();
  await clickhouse?.stop();
});

describeDriftFamily('ClickHouse 18.16', () => ({ instance, fixture }));

test('the plan bins a 1 000-edge sketch grid (blocked arrayCount) exactly like binIndex on ClickHouse 18.16', async () => {
  const store = await instance.store();
  const amount = fixture.baseline.features.amount as NumericReference;
  const knots = sketchGrid(amount.sketch);
  expect(knots.length).toBeGreaterThan(900);
  const plan = binnedCountsPlan(
    'clickhouse',
    await store.predictionsRelation(MODEL, RANGE),
    [{ column: '`f_amount`', kind: 'numeric', edges: knots }],
    { where: { sql: '', params: {} }, bucketMs: 0 }
  );
  expect(plan.params.c0_blocks).toHaveLength(Math.floor(knots.length / Math.ceil(Math.sqrt(knots.length))));
  const expected = new Map<number, number>();
  for (const record of fixture.records) {
    const value = record.features.amount as number | null;
    const bin = value === null ? -1 : binIndex(knots, value);
    expected.set(bin, (expected.get(bin) ?? 0) + 1);
  }
  const cells = await runBinnedCounts(store, plan);
  expect(new Map(cells.map((c) => [c.bin, c.n]))).toEqual(expected);
});

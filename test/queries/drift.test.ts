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
import { binnedCountsPlan } from '../../src/server/counting/binned-counts';
import { gridParams, wholeRangeGrid } from '../../src/server/counting/window';
import { collectCells } from '../support/counts';
import { sketchGrid } from '../../src/server/counting/sketch-grid';
import type { NumericReference, PredictionRecord } from '../../src/server/store/types';

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

/**
 * Records of model `edges` whose amounts sit exactly on the given edges (each twice), just beside them, and missing,
 * so that the right-closed rule x ≤ e_k (not x < e_k) decides their bins.
 */
function edgeRecords(edges: number[]): PredictionRecord[] {
  const amounts = [...edges, ...edges, ...edges.map((e) => e + 1e-9), ...edges.map((e) => e - 1e-9), null, null];
  return amounts.map((amount, i) => ({
    id: `e${i}`,
    ts: RANGE.from + i,
    version: 'v1',
    features: { amount, region: 'a' },
    prediction: 0.5,
    score: 0.5,
    samplingRate: 1,
  }));
}

test.each([
  ['the baseline edges', (reference: NumericReference) => reference.edges, 'c0_0'],
  ['a 1 000-knot sketch grid (in blocks)', (reference: NumericReference) => sketchGrid(reference.sketch), 'c0_b_0'],
])('the plan bins values on and beside %s exactly like binIndex on ClickHouse 18.16', async (_what, edgesOf, param) => {
  const store = await instance.store();
  const edges = edgesOf(fixture.baseline.features.amount as NumericReference);
  const model = param === 'c0_0' ? 'edges_flat' : 'edges_grid';
  const records = edgeRecords(edges);
  await store.writePredictions(model, records);
  const plan = binnedCountsPlan(
    'clickhouse',
    await store.predictionsRelation(model, RANGE),
    [{ column: '`f_amount`', kind: 'numeric', edges }],
    { where: { sql: '', params: gridParams(wholeRangeGrid(RANGE)) }, grid: wholeRangeGrid(RANGE) }
  );
  expect(plan.statements[0].params).toHaveProperty(param);
  // The bins of the values as stored: 18.16 parses a few inserted floats 1 ulp off (e.g. 1.39981322940439), which
  // would move a value from on an edge to just above it; the plan must bin exactly what the store holds.
  const stored = await store.query<{ amount: number | null }>(
    `SELECT f_amount AS amount FROM ${await store.predictionsRelation(model, RANGE)}`
  );
  expect(stored).toHaveLength(records.length);
  const expected = new Map<number, number>();
  for (const { amount } of stored) {
    const bin = amount === null ? -1 : binIndex(edges, amount);
    expected.set(bin, (expected.get(bin) ?? 0) + 1);
  }
  const cells = await collectCells(store, plan);
  expect(new Map(cells.map((c) => [c.bin, c.n]))).toEqual(expected);
});

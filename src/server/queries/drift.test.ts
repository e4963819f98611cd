/**
 * The drift-family queries (drift, prediction_drift, severity, ranking) on the embedded store (DuckDB over the
 * Parquet data directory), with data written by the store layer; the checks are shared with the ClickHouse run
 * (test/support/drift-family.ts). Also the pure parts: persistence and the single-scan SQL.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInstance, type DatasourceInstance } from '../backend/instances';
import { openStore } from '../backend/openStore';
import { localInstanceSettings, parseSettings } from '../backend/settings';
import { EmbeddedStore } from '../store/embedded';
import {
  describeDriftFamily,
  driftFixture,
  field,
  MODEL,
  numbers,
  runQuery,
  type DriftFixture,
} from '../../../test/support/drift-family';
import { binIndex, createRandom } from '../../core/stats';
import { binnedCountsPlan, runBinnedCounts } from './binned-counts';
import { applyPersistence } from './drift';
import { outputShift, shares } from './ranking';

let dir: string;
let instance: DatasourceInstance;
const fixture: DriftFixture = driftFixture();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlmon-drift-'));
  const store = await EmbeddedStore.open(dir);
  await store.writePredictions(MODEL, fixture.records);
  await store.saveBaseline(fixture.baseline);
  await store.close();
  instance = createInstance(parseSettings(localInstanceSettings({ dataDirectory: dir }, {}, 'd')), openStore);
});

afterAll(async () => {
  await instance?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describeDriftFamily('the embedded store', () => ({ instance, fixture }));

describe('thresholds per model', () => {
  it("rates PSI on the model's own thresholds when the settings override them", async () => {
    const strict = createInstance(
      parseSettings(
        localInstanceSettings(
          { dataDirectory: dir, modelThresholds: { [MODEL]: { psiWarning: 5, psiCritical: 9 } } },
          {},
          'm'
        )
      ),
      openStore
    );
    try {
      const [amount] = await runQuery(strict, 'drift', { bucket: '1h', features: ['amount'] });
      expect(field(amount, 'value').config.thresholds?.steps.map((s) => s.value)).toEqual([null, 5, 9]);
      // the shift is far above the noise floor but below PSI 5: info, not critical
      expect(numbers(amount, 'level').slice(3)).toEqual([1, 1, 1]);
    } finally {
      await strict.dispose();
    }
  });
});

describe('persistence', () => {
  it('keeps the lowest level of the last N buckets, counting buckets before the first as ok', () => {
    expect(applyPersistence([3, 3, 2, 3, null, 3, 3], 1)).toEqual([3, 3, 2, 3, null, 3, 3]);
    expect(applyPersistence([3, 3, 2, 3, null, 3, 3], 2)).toEqual([0, 3, 2, 2, null, 0, 3]);
    expect(applyPersistence([2, 3, 3, 3], 3)).toEqual([0, 0, 2, 3]);
  });
});

describe('binned-counts plan', () => {
  const where = { sql: 'WHERE "version" = {version}', params: { version: 'v1', bucket_ms: 60000 } };
  const columns = [
    { column: '"f_x"', kind: 'numeric' as const, edges: [1, 2] },
    { column: '"f_c"', kind: 'categorical' as const },
  ];

  it('unpivots every column in one scan of the relation, with bound edges', () => {
    const plan = binnedCountsPlan('duckdb', 'rel', columns, { where, bucketMs: 60000 });
    expect(plan.sql.match(/FROM rel/g)).toHaveLength(1);
    expect(plan.sql).toContain('UNNEST([');
    expect(plan.sql).toContain('WHEN "f_x" <= {c0_0} THEN 0 WHEN "f_x" <= {c0_1} THEN 1 ELSE 2');
    expect(plan.sql).toContain('(ts - ts % {bucket_ms})');
    expect(plan.params).toEqual({ version: 'v1', bucket_ms: 60000, c0_0: 1, c0_1: 2 });
    const clickhouse = binnedCountsPlan('clickhouse', 'rel', columns, { where, bucketMs: 0 });
    expect(clickhouse.sql.match(/FROM rel/g)).toHaveLength(1);
    expect(clickhouse.sql).toContain('arrayJoin([tuple(');
    expect(clickhouse.sql).toContain('arrayCount(e -> e < assumeNotNull("f_x"), {c0_edges})');
    expect(clickhouse.params.c0_edges).toEqual([1, 2]);
    expect(clickhouse.sql).toContain('SELECT 0 AS bucket');
  });

  it('bins like binIndex on DuckDB, flat and nested in blocks (a 1 000-edge sketch grid)', async () => {
    const random = createRandom(5);
    const values = Array.from({ length: 3000 }, () => Math.round(1000 * random()) / 10);
    const store = await EmbeddedStore.open(join(dir, 'binning'));
    try {
      for (const edges of [[10, 20.5, 50], [...new Set(values.slice(0, 1000))].sort((a, b) => a - b)]) {
        const checked = [...values, ...edges, null];
        const relation = `(SELECT * FROM (VALUES ${checked.map((v, i) => `(${i}, 'r${i}', ${v ?? 'NULL'})`).join(', ')}) AS t(ts, id, f_x))`;
        const plan = binnedCountsPlan('duckdb', relation, [{ column: 'f_x', kind: 'numeric', edges }], {
          where: { sql: '', params: {} },
          bucketMs: 0,
        });
        expect(plan.sql.includes('THEN CASE')).toBe(edges.length > 32);
        const cells = await runBinnedCounts(store, plan);
        const expected = new Map<number, number>();
        checked.forEach((v) => {
          const bin = v === null ? -1 : binIndex(edges, v);
          expected.set(bin, (expected.get(bin) ?? 0) + 1);
        });
        expect(new Map(cells.map((c) => [c.bin, c.n]))).toEqual(expected);
      }
    } finally {
      await store.close();
    }
  });

  it('refuses an empty column list', () => {
    expect(() => binnedCountsPlan('duckdb', 'rel', [], { where, bucketMs: 0 })).toThrow(/at least one column/);
  });
});

describe('ranking attribution', () => {
  it('is the reweighted shift of the mean output, shared by magnitude', () => {
    // Two bins, baseline 50/50, window 80/20; mean output 1 in bin 0 and 0 in bin 1: mean 0.8,
    // Δ = (0.8 − 0.5)(1 − 0.8) + (0.2 − 0.5)(0 − 0.8) = 0.06 + 0.24 = 0.3.
    expect(outputShift({ reference: [50, 50], current: [80, 20], sums: [80, 0] })).toBeCloseTo(0.3, 12);
    expect(outputShift({ reference: [50, 50], current: [50, 50], sums: [50, 0] })).toBe(0);
    expect(shares([3, -1, NaN])).toEqual([0.75, 0.25, null]);
    expect(shares([0, 0])).toEqual([null, null]);
  });
});

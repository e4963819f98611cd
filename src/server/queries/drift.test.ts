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
import { collectCells } from '../../../test/support/counts';
import { binnedCountsPlan } from '../counting/binned-counts';
import { type CountedColumn } from '../counting/cells';
import { epochGrid, gridParams, wholeRangeGrid } from '../counting/window';
import { applyPersistence } from './drift';
import { outputShift, shares } from './ranking';

/** A SQL string literal for test rows (NULL for null). */
const sqlText = (text: string | null) => (text === null ? 'NULL' : `'${text}'`);

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
  const where = { sql: 'WHERE "version" = {version}', params: { version: 'v1', bucket_ms: 60000, bucket_origin: 0 } };
  const columns: CountedColumn[] = [
    { column: '"f_x"', kind: 'numeric', edges: [1, 2] },
    { column: '"f_c"', kind: 'categorical' },
    { column: '"f_x"', kind: 'numeric', edges: [1, 2], sumOf: '"score"' },
  ];

  it('DuckDB: one histogram scan grouped by bucket, plus one unpivot scan for the columns summed in every cell', () => {
    const [histogram, unpivot, ...rest] = binnedCountsPlan('duckdb', 'rel', columns, {
      where,
      grid: epochGrid(60000),
    }).statements;
    expect(rest).toEqual([]);
    expect(histogram.sql.match(/FROM rel/g)).toHaveLength(1);
    expect(histogram.sql).toContain('histogram("f_x", {c0_edges}) AS histogram_0');
    expect(histogram.sql).toContain('histogram("f_c") AS histogram_1');
    expect(histogram.sql).toContain('map_values(histogram_0)::DOUBLE[] AS counts_0');
    expect(histogram.sql).toContain('(ts - (ts - {bucket_origin}) % {bucket_ms}) AS bucket');
    expect(histogram.sql).not.toContain('histogram_2');
    expect(histogram.params).toEqual({ version: 'v1', bucket_ms: 60000, bucket_origin: 0, c0_edges: [1, 2] });
    expect(unpivot.sql).toContain('UNNEST([');
    expect(unpivot.sql).toContain('WHEN "f_x" <= {c2_0} THEN 0 WHEN "f_x" <= {c2_1} THEN 1 ELSE 2');
    expect(unpivot.params).toEqual({ version: 'v1', bucket_ms: 60000, bucket_origin: 0, c2_0: 1, c2_1: 2 });
  });

  it('ClickHouse: one statement, a numeric and a categorical branch, bins as sums of comparisons with bound edges', () => {
    const [clickhouse, ...rest] = binnedCountsPlan('clickhouse', 'rel', columns, {
      where,
      grid: wholeRangeGrid({ from: 0, to: 1 }),
    }).statements;
    expect(rest).toEqual([]);
    expect(clickhouse.sql.match(/FROM rel AS current_window WHERE "version" = \{version\}/g)).toHaveLength(2);
    expect(clickhouse.sql.match(/ UNION ALL /g)).toHaveLength(1);
    expect(clickhouse.sql).toContain(
      'toInt64(1 + if(isNull("f_x"), -1, toInt64((assumeNotNull("f_x") > {c0_0}) + (assumeNotNull("f_x") > {c0_1}))))'
    );
    expect(clickhouse.sql).toContain(`toInt64(${2 * 2 ** 32 + 1} + if(isNull("f_x")`);
    expect(clickhouse.sql).toContain('tuple(toInt64(1), ifNull("f_c", \'\'), toFloat64(0))');
    expect(clickhouse.sql).toContain('toFloat64(ifNull("score", 0))');
    expect(clickhouse.sql).toContain(
      'SELECT intDiv(tupleElement(cell, 1), 4294967296) AS col, toInt64({bucket_origin}) AS bucket, '
    );
    expect(clickhouse.sql).not.toContain('GROUP BY bucket');
    expect(clickhouse.params).toEqual({
      version: 'v1',
      bucket_ms: 60000,
      bucket_origin: 0,
      c0_0: 1,
      c0_1: 2,
      c2_0: 1,
      c2_1: 2,
    });
  });

  it('counts like binIndex on DuckDB in both statements: flat, repeated and 1 000 edges, missing values, sums', async () => {
    const random = createRandom(5);
    const values = Array.from({ length: 3000 }, () => Math.round(1000 * random()) / 10);
    const categories = ['a', 'b', '', null];
    const store = await EmbeddedStore.open(join(dir, 'binning'));
    try {
      const grid = [...new Set(values.slice(0, 1000))].sort((a, b) => a - b);
      for (const edges of [[10, 20.5, 50], [5, 5, 5, 70], grid]) {
        const checked = [...values, ...edges, null];
        const rows = checked.map((v, i) => `(${i}, ${v ?? 'NULL'}, ${i % 7}, ${sqlText(categories[i % 4])})`);
        const relation = `(SELECT * FROM (VALUES ${rows.join(', ')}) AS t(ts, f_x, out, f_c))`;
        const plan = binnedCountsPlan(
          'duckdb',
          relation,
          [
            { column: 'f_x', kind: 'numeric', edges },
            { column: 'f_x', kind: 'numeric', edges, sumOf: 'out' },
            { column: 'f_x', kind: 'numeric', edges, sumOf: 'f_x', sumCells: 'outer' },
            { column: 'f_c', kind: 'categorical' },
            { column: 'f_c', kind: 'categorical', sumOf: 'out' },
          ],
          {
            where: { sql: '', params: gridParams(wholeRangeGrid({ from: 0, to: 1 })) },
            grid: wholeRangeGrid({ from: 0, to: 1 }),
          }
        );
        // the histogram, each sketch grid apart (the first and third column here), and the unpivot for the columns
        // summed in every cell (the second and the last)
        expect(plan.statements).toHaveLength(edges.length > 64 ? 4 : 2);
        expect(plan.statements[plan.statements.length - 1].sql.includes('THEN CASE')).toBe(edges.length > 32);
        const cells = await collectCells(store, plan);
        const expected = new Map<string, { n: number; sum: number }>();
        const add = (column: number, bin: number, category: string, sum: number) => {
          const key = `${column}|${bin}|${category}`;
          const cell = expected.get(key) ?? { n: 0, sum: 0 };
          expected.set(key, { n: cell.n + 1, sum: cell.sum + sum });
        };
        checked.forEach((v, i) => {
          const bin = v === null ? -1 : binIndex(edges, v);
          add(0, bin, '', 0);
          add(1, bin, '', i % 7);
          add(2, bin, '', v !== null && (bin === 0 || bin === edges.length) ? v : 0);
          const category = categories[i % 4];
          add(3, category ? 0 : -1, category ?? '', 0);
          add(4, category ? 0 : -1, category ?? '', i % 7);
        });
        const got = new Map(cells.map((c) => [`${c.column}|${c.bin}|${c.category}`, { n: c.n, sum: c.sum }]));
        expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
        for (const [key, cell] of expected) {
          expect(got.get(key)!.n).toBe(cell.n);
          expect(got.get(key)!.sum).toBeCloseTo(cell.sum, 6);
        }
      }
    } finally {
      await store.close();
    }
  });

  it('refuses an empty column list', () => {
    expect(() => binnedCountsPlan('duckdb', 'rel', [], { where, grid: epochGrid(60000) })).toThrow(
      /at least one column/
    );
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

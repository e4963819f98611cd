/**
 * The binned-counts plan (src/server/queries/binned-counts.ts) on a CURRENT ClickHouse engine (chdb), in both
 * value-binding modes, over the drift fixture stored as ClickHouseStore stores it: the cells equal the ones computed
 * here in JS from the records (right-closed bins by binIndex, categories, missing = bin −1, sums of the output).
 * test/queries/drift.test.ts runs the same plan on ClickHouse 18.16.
 */
import { binIndex } from '../../src/core/stats';
import { predictionsRelationSql, predictionsTableDDL } from '../../src/server/store/clickhouse';
import { featureColumns, toRowObjects, toStoredColumns } from '../../src/server/store/schema';
import type { BindMode } from '../../src/server/store/sql-params';
import type { NumericReference } from '../../src/server/store/types';
import { binnedCountsPlan, type CountedColumn } from '../../src/server/queries/binned-counts';
import { outputExpression } from '../../src/server/queries/ranking';
import { sketchGrid } from '../../src/server/queries/sketch-grid';
import { windowWhere } from '../../src/server/queries/window';
import { boundStep, chdbTest, insertSql, runSteps } from '../support/chdb';
import { driftFixture, HOUR, MODEL, RANGE } from '../support/drift-family';

const { python, testWithChdb } = chdbTest('binned-counts-current.test.ts');

type Cell = { col: number; bucket: number; bin: number; category: string; n: number; s: number };
const key = (c: Cell) => `${c.col}|${c.bucket}|${c.bin}|${c.category}`;

testWithChdb('the single-scan plan counts every column × bin × bucket on current ClickHouse', () => {
  const fixture = driftFixture();
  const features = [
    { name: 'amount', kind: 'numeric' as const },
    { name: 'region', kind: 'categorical' as const },
  ];
  const table = '`predictions_loan`';
  const rows = toRowObjects(toStoredColumns(fixture.records, featureColumns(features), 1000));
  const amount = fixture.baseline.features.amount as NumericReference;
  const knots = sketchGrid(amount.sketch);
  const output = outputExpression('clickhouse');
  const columns: CountedColumn[] = [
    { column: '`f_amount`', kind: 'numeric', edges: amount.edges, sumOf: output },
    { column: '`f_amount`', kind: 'numeric', edges: knots },
    { column: '`f_region`', kind: 'categorical', sumOf: output },
  ];
  const plan = binnedCountsPlan('clickhouse', predictionsRelationSql(table, features, RANGE), columns, {
    where: windowWhere('clickhouse', { model: MODEL, version: 'v1' }, HOUR),
    bucketMs: HOUR,
  });
  const modes: BindMode[] = ['clickhouse-params', 'clickhouse-literals'];
  const results = runSteps(python!, [
    { sql: predictionsTableDDL(table, features) },
    { sql: insertSql(table, rows) },
    ...modes.map((mode) => boundStep(plan.sql, plan.params, mode)),
  ]);
  expect(results.map((r) => r.error).filter(Boolean)).toEqual([]);

  const expected = new Map<string, Cell>();
  const add = (col: number, bucket: number, bin: number, category: string, s: number) => {
    const cell = { col, bucket, bin, category, n: 0, s: 0 };
    const found = expected.get(key(cell)) ?? cell;
    found.n += 1;
    found.s += s;
    expected.set(key(cell), found);
  };
  for (const record of fixture.records.filter((r) => r.version === 'v1')) {
    const bucket = record.ts - (record.ts % HOUR);
    const value = record.features.amount as number | null;
    const out = record.score ?? 0;
    add(0, bucket, value === null ? -1 : binIndex(amount.edges, value), '', out);
    add(1, bucket, value === null ? -1 : binIndex(knots, value), '', value ?? 0);
    add(2, bucket, 0, String(record.features.region), out);
  }
  for (const result of results.slice(2)) {
    const cells = result.rows!.map((row) =>
      Object.fromEntries(Object.entries(row).map(([k, v]) => [k, k === 'category' ? v : Number(v)]))
    ) as Cell[];
    expect(cells.map(key).sort()).toEqual([...expected.keys()].sort());
    for (const cell of cells) {
      const want = expected.get(key(cell))!;
      expect(cell.n).toBe(want.n);
      expect(cell.s).toBeCloseTo(want.s, 9);
    }
  }
});

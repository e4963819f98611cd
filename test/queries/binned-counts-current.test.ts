/**
 * The binned-counts plan (src/server/counting/binned-counts.ts → clickhouse-counts.ts) on a CURRENT ClickHouse engine
 * (chdb), in both value-binding modes, over the drift fixture stored as ClickHouseStore stores it: the cells equal the
 * ones computed here in JS from the records (right-closed bins by binIndex for baseline edges and a 1 000-knot grid,
 * categories, missing = bin −1, sums of the output or of the value), with sums, with counts only, and with more
 * columns than one branch of the statement holds.
 * test/queries/drift.test.ts runs the same plan on ClickHouse 18.16.
 */
import { binIndex } from '../../src/core/stats';
import { predictionsRelationSql, predictionsTableDDL } from '../../src/server/store/clickhouse';
import type { BindMode } from '../../src/server/store/sql-params';
import type { NumericReference } from '../../src/server/store/types';
import { binnedCountsPlan } from '../../src/server/counting/binned-counts';
import { type CountedColumn } from '../../src/server/counting/cells';
import { BRANCH_COLUMNS } from '../../src/server/counting/clickhouse-counts';
import { outputExpression } from '../../src/server/counting/targets';
import { sketchGrid } from '../../src/server/counting/sketch-grid';
import { epochGrid, windowWhere } from '../../src/server/counting/window';
import { boundStep, chdbTest, predictionsInsertStep, runSteps } from '../support/chdb';
import { driftFixture, HOUR, MODEL, RANGE, type DriftFixture } from '../support/drift-family';

const { python, testWithChdb } = chdbTest('binned-counts-current.test.ts');

type Cell = { col: number; bucket: number; bin: number; category: string; n: number; s: number };
const key = (c: Cell) => `${c.col}|${c.bucket}|${c.bin}|${c.category}`;

/** The cells a plan over `columns` must return, computed in JS from the v1 records (sums 0 where none is asked). */
function expectedCells(
  records: DriftFixture['records'],
  columns: Array<{ edges?: number[]; sum?: (record: DriftFixture['records'][number]) => number }>
): Map<string, Cell> {
  const expected = new Map<string, Cell>();
  for (const record of records.filter((r) => r.version === 'v1')) {
    const bucket = record.ts - (record.ts % HOUR);
    columns.forEach(({ edges, sum }, col) => {
      const amount = record.features.amount as number | null;
      const [bin, category] = edges
        ? [amount === null ? -1 : binIndex(edges, amount), '']
        : [0, String(record.features.region)];
      const cell = { col, bucket, bin, category, n: 0, s: 0 };
      const found = expected.get(key(cell)) ?? cell;
      found.n += 1;
      found.s += sum ? sum(record) : 0;
      expected.set(key(cell), found);
    });
  }
  return expected;
}

testWithChdb('the single-scan plan counts every column × bin × bucket on current ClickHouse', () => {
  const fixture = driftFixture();
  const features = [
    { name: 'amount', kind: 'numeric' as const },
    { name: 'region', kind: 'categorical' as const },
  ];
  const table = '`predictions_loan`';
  const amount = fixture.baseline.features.amount as NumericReference;
  const knots = sketchGrid(amount.sketch);
  // Amounts exactly on every edge and knot, so that the right-closed rule x ≤ e_k decides their bins.
  const onEdges = [...amount.edges, ...knots].map((value, i) => ({
    ...fixture.records[0],
    id: `edge${i}`,
    features: { amount: value, region: 'a' },
  }));
  const records = [...fixture.records, ...onEdges];
  const output = outputExpression('clickhouse');
  const score = (record: DriftFixture['records'][number]) => record.score ?? 0;
  const ownValue = (record: DriftFixture['records'][number]) => (record.features.amount as number | null) ?? 0;
  // With sums (cells carry a sum: the tuple form) and counts only (cells are bare keys).
  const cases: Array<{ columns: CountedColumn[]; expected: Map<string, Cell> }> = [
    {
      columns: [
        { column: '`f_amount`', kind: 'numeric', edges: amount.edges, sumOf: output },
        { column: '`f_amount`', kind: 'numeric', edges: knots, sumOf: '`f_amount`' },
        { column: '`f_region`', kind: 'categorical', sumOf: output },
      ],
      expected: expectedCells(records, [
        { edges: amount.edges, sum: score },
        { edges: knots, sum: ownValue },
        { sum: score },
      ]),
    },
    {
      columns: [
        { column: '`f_amount`', kind: 'numeric', edges: amount.edges },
        { column: '`f_amount`', kind: 'numeric', edges: knots },
        { column: '`f_region`', kind: 'categorical' },
      ],
      expected: expectedCells(records, [{ edges: amount.edges }, { edges: knots }, {}]),
    },
    {
      // More numeric columns than one branch holds: several UNION ALL branches, each column under its own index.
      columns: [
        ...Array.from({ length: BRANCH_COLUMNS + 1 }, (): CountedColumn => ({
          column: '`f_amount`',
          kind: 'numeric',
          edges: amount.edges,
        })),
        { column: '`f_region`', kind: 'categorical' },
      ],
      expected: expectedCells(records, [
        ...Array.from({ length: BRANCH_COLUMNS + 1 }, () => ({ edges: amount.edges })),
        {},
      ]),
    },
  ];
  const modes: BindMode[] = ['clickhouse-params', 'clickhouse-literals'];
  const statements = cases.map(({ columns }) => {
    const [statement, ...rest] = binnedCountsPlan(
      'clickhouse',
      predictionsRelationSql(table, features, RANGE),
      columns,
      { where: windowWhere('clickhouse', { model: MODEL, version: 'v1' }, epochGrid(HOUR)), grid: epochGrid(HOUR) }
    ).statements;
    expect(rest).toEqual([]);
    return statement;
  });
  const results = runSteps(python!, [
    { sql: predictionsTableDDL(table, features) },
    predictionsInsertStep(table, records, features, 1000),
    ...statements.flatMap((statement) => modes.map((mode) => boundStep(statement.sql, statement.params, mode))),
  ]);
  expect(results.map((r) => r.error).filter(Boolean)).toEqual([]);

  cases.forEach(({ expected }, c) => {
    for (const result of results.slice(2 + c * modes.length, 2 + (c + 1) * modes.length)) {
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
});

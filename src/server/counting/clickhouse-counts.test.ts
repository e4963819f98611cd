/**
 * The shape of ClickHouse's counting statement (clickhouse-counts.ts). Its cells are checked on real engines by
 * test/queries/binned-counts-current.test.ts (current ClickHouse) and test/queries/drift.test.ts (18.16).
 */
import {
  BRANCH_COLUMNS,
  clickHouseBinExpression,
  clickHouseCountsStatement,
  FLAT_EDGES_MAX,
} from './clickhouse-counts';
import type { CountedColumn } from './cells';
import { epochGrid, wholeRangeGrid } from './window';
import type { Params } from '../store/sql-params';

const where = { sql: '', params: { bucket_ms: 3_600_000 } };
const numeric = (i: number): [number, CountedColumn] => [i, { column: `\`f_x${i}\``, kind: 'numeric', edges: [1, 2] }];
const categorical = (i: number): [number, CountedColumn] => [i, { column: `\`f_c${i}\``, kind: 'categorical' }];

describe('clickHouseCountsStatement', () => {
  it('splits the columns into UNION ALL branches of at most BRANCH_COLUMNS columns of one kind', () => {
    const columns = [
      ...Array.from({ length: 2 * BRANCH_COLUMNS + 1 }, (_, i) => numeric(i)),
      ...Array.from({ length: 2 }, (_, i) => categorical(2 * BRANCH_COLUMNS + 1 + i)),
    ];
    const { sql } = clickHouseCountsStatement('rel', columns, { where, grid: epochGrid(3_600_000) });
    const branches = sql.split(' UNION ALL ');
    expect(branches).toHaveLength(4);
    expect(branches.map((branch) => branch.match(/assumeNotNull\(`f_x\d+`\) > \{c\d+_0\}/g)?.length ?? 0)).toEqual([
      BRANCH_COLUMNS,
      BRANCH_COLUMNS,
      1,
      0,
    ]);
    expect(branches[3]).toContain(
      `tuple(toInt64(${2 * BRANCH_COLUMNS + 2}), ifNull(\`f_c${2 * BRANCH_COLUMNS + 2}\`, '')`
    );
    for (const branch of branches) {
      expect(branch).toContain('(ts - (ts - {bucket_origin}) % {bucket_ms}) AS bucket');
      expect(branch).toMatch(/GROUP BY bucket, /);
    }
  });

  it('groups by the cell key alone when the whole range is one bucket', () => {
    const grid = wholeRangeGrid({ from: 1000, to: 2000 });
    const { sql } = clickHouseCountsStatement('rel', [numeric(0), categorical(1)], { where, grid });
    expect(sql).not.toContain('bucket_ms');
    expect(sql).toContain('GROUP BY cell');
    expect(sql).toContain('GROUP BY tupleElement(cell, 1), tupleElement(cell, 2)');
    expect(sql.match(/toInt64\(\{bucket_origin\}\) AS bucket/g)).toHaveLength(2);
  });
});

describe('clickHouseBinExpression', () => {
  it('binds up to FLAT_EDGES_MAX edges one by one and counts the edges below the value', () => {
    const params: Params = {};
    expect(clickHouseBinExpression('x', [0.5, 2], 'c3', params)).toBe(
      'if(isNull(x), -1, toInt64((assumeNotNull(x) > {c3_0}) + (assumeNotNull(x) > {c3_1})))'
    );
    expect(params).toEqual({ c3_0: 0.5, c3_1: 2 });
    expect(clickHouseBinExpression('x', [], 'c4', params)).toBe('if(isNull(x), -1, toInt64(0))');
  });

  it('searches longer edge lists in blocks of ⌈√K⌉: block ends bound one by one, the edges as one array', () => {
    const edges = Array.from({ length: FLAT_EDGES_MAX + 4 }, (_, k) => k); // 36 edges, blocks of 6
    const params: Params = {};
    const sql = clickHouseBinExpression('x', edges, 'c0', params);
    expect(params.c0_edges).toEqual(edges);
    expect(Object.keys(params).filter((name) => name.startsWith('c0_b_'))).toHaveLength(6);
    expect(params.c0_b_0).toBe(5);
    expect(params.c0_b_5).toBe(35);
    expect(sql).toContain('arrayCount(e -> e < assumeNotNull(x), arraySlice({c0_edges}, (');
    expect(sql).toContain(') * 6 + 1, 6))');
  });
});

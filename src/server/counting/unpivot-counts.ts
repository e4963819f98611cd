/**
 * DuckDB's unpivot counting statement (binned-counts.ts), for the columns that need a sum in every cell: each row of
 * the window becomes one cell per column (`UNNEST` of structs) and the cells are grouped by column × bucket × bin ×
 * category, with the row count and the sum of the column's `sumOf` per cell. The other columns are counted by the
 * histogram statement (histogram-counts.ts), which is faster; ClickHouse has its own statement (clickhouse-counts.ts).
 */
import type { Params } from '../store/sql-params';
import { type CountedColumn, type CountsStatement, type ScanOptions, integerLiteral, readCellRow } from './cells';
import { bucketStartSql } from './window';

/** Edge counts above which bins are found block by block (binExpression). */
export const FLAT_CASE_MAX_EDGES = 32;

/**
 * DuckDB: `CASE` giving the right-closed bin of `column` (the first k with x ≤ e_k, else the edge count) for edges
 * bound as `{<prefix>_k}`; -1 when missing. DuckDB drops matched rows from later WHENs, so a flat CASE costs about
 * k comparisons for bin k; above FLAT_CASE_MAX_EDGES edges (a sketch grid has ~1 000) the edges are split into
 * blocks of ⌈√K⌉ and an outer CASE on each block's last edge picks the inner CASE: about 2√K comparisons a row.
 */
export function binExpression(column: string, edgeCount: number, prefix: string): string {
  const edge = (k: number) => `{${prefix}_${k}}`;
  const when = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => `WHEN ${column} <= ${edge(from + i)} THEN ${from + i}`).join(' ');
  if (edgeCount <= FLAT_CASE_MAX_EDGES) {
    return `CASE WHEN ${column} IS NULL THEN -1 ${when(0, edgeCount)} ELSE ${edgeCount} END`;
  }
  const size = Math.ceil(Math.sqrt(edgeCount));
  const blocks: string[] = [];
  for (let start = 0; start + size < edgeCount; start += size) {
    const last = start + size - 1;
    blocks.push(`WHEN ${column} <= ${edge(last)} THEN CASE ${when(start, last)} ELSE ${last} END`);
  }
  const tail = blocks.length * size;
  return `CASE WHEN ${column} IS NULL THEN -1 ${blocks.join(' ')} ELSE CASE ${when(tail, edgeCount)} ELSE ${edgeCount} END END`;
}

function cellOf(index: number, column: CountedColumn, params: Params): string[] {
  const sum = column.sumOf ? `CAST(coalesce(${column.sumOf}, 0) AS DOUBLE)` : 'CAST(0 AS DOUBLE)';
  if (column.kind === 'numeric') {
    const edges = column.edges ?? [];
    edges.forEach((edge, k) => (params[`c${index}_${k}`] = edge));
    return [
      `CAST(${integerLiteral(index, 'column index')} AS BIGINT)`,
      `CAST(${binExpression(column.column, edges.length, `c${index}`)} AS BIGINT)`,
      `CAST('' AS VARCHAR)`,
      sum,
    ];
  }
  return [
    `CAST(${integerLiteral(index, 'column index')} AS BIGINT)`,
    `CAST(CASE WHEN ${column.column} IS NULL OR ${column.column} = '' THEN -1 ELSE 0 END AS BIGINT)`,
    `CAST(coalesce(${column.column}, '') AS VARCHAR)`,
    sum,
  ];
}

/**
 * The single-scan statement counting every given column × bin × bucket of `relation`, each column under its index
 * in the whole plan. Returns rows `col, bucket, bin, category, n, s` (see CountCell).
 */
export function unpivotCountsStatement(
  relation: string,
  columns: Array<[number, CountedColumn]>,
  options: ScanOptions
): CountsStatement {
  const params: Params = { ...options.where.params };
  const cells = columns.map(([index, column]) => cellOf(index, column, params));
  const where = options.where.sql;
  const bucket = bucketStartSql(options.grid);
  const structs = cells
    .map(([col, bin, category, sum]) => `{'col': ${col}, 'bin': ${bin}, 'category': ${category}, 's': ${sum}}`)
    .join(', ');
  return {
    sql:
      `SELECT cell.col AS col, bucket, cell.bin AS bin, cell.category AS category, count(*) AS n, sum(cell.s) AS s ` +
      `FROM (SELECT ${bucket} AS bucket, UNNEST([${structs}]) AS cell FROM ${relation} AS current_window ${where}) ` +
      `GROUP BY ALL`,
    params,
    read: readCellRow,
  };
}

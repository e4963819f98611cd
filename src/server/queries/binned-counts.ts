/**
 * The shared counting plan of `distribution` and the drift family (drift, prediction_drift, severity, ranking): ONE
 * SQL statement that reads the current window once and returns, for every requested column × bin (or category) ×
 * time bucket, the row count and the sum of one expression. Rows never leave the store; only these cells do.
 *
 * The scan is an unpivot: each row of the window is turned into one cell per column (ClickHouse `arrayJoin` of
 * tuples, DuckDB `UNNEST` of structs) and the cells are grouped. Numeric columns are binned right-closed against
 * bound edges (METRICS.md: e_{k-1} < x ≤ e_k, outer bins open); categorical columns keep their value. Bin -1 marks a
 * missing value (NULL, or an empty string for categories).
 */
import { alignCategories, binLabels } from '../../core/stats';
import type { SqlDialect } from '../store/identifiers';
import type { ColumnReference } from '../store/types';
import type { Params } from '../store/sql-params';
import type { WhereClause } from './scope';
import { BUCKET_START_SQL } from './window';

/** One column to count: a quoted column (or trusted expression) with its kind and, for numbers, its inner edges. */
export interface CountedColumn {
  /** Quoted column name, e.g. `"f_amount"`. */
  column: string;
  kind: 'numeric' | 'categorical';
  /** Inner bin edges, ascending (numeric only). */
  edges?: number[];
  /** Quoted column (or trusted expression) summed per cell; the column itself when omitted for numbers. */
  sumOf?: string;
}

export interface BinnedCountsPlan {
  sql: string;
  params: Params;
}

/** One returned cell: column index into the plan's columns, bucket start (ms), bin, category, count and sum. */
export interface CountCell {
  column: number;
  bucket: number;
  bin: number;
  category: string;
  n: number;
  sum: number;
}

/**
 * Options of the scan: the WHERE of the window (window.ts `windowWhere`: version, segment, sample, and the
 * `{bucket_ms}` parameter) and the bucket size in ms (0 = the whole range as one bucket, reported as bucket 0).
 */
export interface ScanOptions {
  where: WhereClause;
  bucketMs: number;
}

const TYPES = {
  duckdb: { int: 'BIGINT', float: 'DOUBLE', text: 'VARCHAR', ifNull: 'coalesce' },
  clickhouse: { int: 'Int64', float: 'Float64', text: 'String', ifNull: 'ifNull' },
} as const;

/** A non-negative safe integer written into SQL (column indexes): never user text. */
function integerLiteral(value: number, what: string): string {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Error(`${what} must be a non-negative integer, got ${value}`);
  }
  return String(value);
}

/** Edge counts above which bins are found block by block (binExpression, arrayBinExpression). */
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

/**
 * ClickHouse: the right-closed bin of `column` as the number of edges below the value (x is in bin k when
 * e_{k−1} < x ≤ e_k, i.e. when exactly k edges are < x); -1 when missing. The edges travel as one array parameter
 * `{<prefix>_edges}` (a `multiIf` of 1 000 edges makes a huge statement). Above FLAT_CASE_MAX_EDGES edges they are
 * split into blocks of ⌈√K⌉: b = the number of block-last edges below x (`{<prefix>_blocks}`) finds the block, and
 * the bin is b·size plus the edges below x inside block b — about 2√K comparisons a row instead of K.
 */
export function arrayBinExpression(column: string, edges: number[], prefix: string, params: Params): string {
  const value = `assumeNotNull(${column})`;
  if (edges.length === 0) {
    return `if(isNull(${column}), -1, 0)`;
  }
  params[`${prefix}_edges`] = edges;
  if (edges.length <= FLAT_CASE_MAX_EDGES) {
    return `if(isNull(${column}), -1, arrayCount(e -> e < ${value}, {${prefix}_edges}))`;
  }
  const size = Math.ceil(Math.sqrt(edges.length));
  params[`${prefix}_blocks`] = edges.filter((_, k) => (k + 1) % size === 0);
  const block = `arrayCount(e -> e < ${value}, {${prefix}_blocks})`;
  const within = `arrayCount(e -> e < ${value}, arraySlice({${prefix}_edges}, ${block} * ${size} + 1, ${size}))`;
  return `if(isNull(${column}), -1, toInt64(${block} * ${size} + ${within}))`;
}

function cellOf(dialect: SqlDialect, index: number, column: CountedColumn, params: Params): string[] {
  const t = TYPES[dialect];
  const sumOf = column.sumOf ?? (column.kind === 'numeric' ? column.column : undefined);
  const sum = sumOf ? `CAST(${t.ifNull}(${sumOf}, 0) AS ${t.float})` : `CAST(0 AS ${t.float})`;
  if (column.kind === 'numeric') {
    const edges = column.edges ?? [];
    let bin: string;
    if (dialect === 'clickhouse') {
      bin = arrayBinExpression(column.column, edges, `c${index}`, params);
    } else {
      edges.forEach((edge, k) => (params[`c${index}_${k}`] = edge));
      bin = binExpression(column.column, edges.length, `c${index}`);
    }
    return [
      `CAST(${integerLiteral(index, 'column index')} AS ${t.int})`,
      `CAST(${bin} AS ${t.int})`,
      `CAST('' AS ${t.text})`,
      sum,
    ];
  }
  return [
    `CAST(${integerLiteral(index, 'column index')} AS ${t.int})`,
    `CAST(CASE WHEN ${column.column} IS NULL OR ${column.column} = '' THEN -1 ELSE 0 END AS ${t.int})`,
    `CAST(${t.ifNull}(${column.column}, '') AS ${t.text})`,
    sum,
  ];
}

/**
 * The single-scan SQL counting every column × bin × bucket of `relation`. Returns columns
 * `col, bucket, bin, category, n, s` (see CountCell).
 */
export function binnedCountsPlan(
  dialect: SqlDialect,
  relation: string,
  columns: CountedColumn[],
  options: ScanOptions
): BinnedCountsPlan {
  if (columns.length === 0) {
    throw new Error('binnedCountsPlan needs at least one column to count');
  }
  const params: Params = { ...options.where.params };
  const cells = columns.map((column, index) => cellOf(dialect, index, column, params));
  const where = options.where.sql;
  const bucket = options.bucketMs > 0 ? BUCKET_START_SQL : '0';
  if (dialect === 'clickhouse') {
    const tuples = cells.map((cell) => `tuple(${cell.join(', ')})`).join(', ');
    return {
      sql:
        `SELECT tupleElement(cell, 1) AS col, bucket, tupleElement(cell, 2) AS bin, tupleElement(cell, 3) AS category, ` +
        `count() AS n, sum(tupleElement(cell, 4)) AS s ` +
        `FROM (SELECT ${bucket} AS bucket, arrayJoin([${tuples}]) AS cell FROM ${relation} AS current_window ${where}) ` +
        `GROUP BY col, bucket, bin, category`,
      params,
    };
  }
  const structs = cells
    .map(([col, bin, category, sum]) => `{'col': ${col}, 'bin': ${bin}, 'category': ${category}, 's': ${sum}}`)
    .join(', ');
  return {
    sql:
      `SELECT cell.col AS col, bucket, cell.bin AS bin, cell.category AS category, count(*) AS n, sum(cell.s) AS s ` +
      `FROM (SELECT ${bucket} AS bucket, UNNEST([${structs}]) AS cell FROM ${relation} AS current_window ${where}) ` +
      `GROUP BY ALL`,
    params,
  };
}

/** Runs a plan and returns its cells as numbers. */
export async function runBinnedCounts(
  store: { query<T>(sql: string, params?: Params): Promise<T[]> },
  plan: BinnedCountsPlan
): Promise<CountCell[]> {
  const rows = await store.query<Record<string, unknown>>(plan.sql, plan.params);
  return rows.map((row) => ({
    column: Number(row.col),
    bucket: Number(row.bucket),
    bin: Number(row.bin),
    category: String(row.category ?? ''),
    n: Number(row.n),
    sum: Number(row.s),
  }));
}

/** Key of the missing-value cell (no category can be an empty string, so none collides with it). */
const MISSING = '';

/** Cells of one column in one bucket, keyed by `#bin` (numeric), category (categorical) or MISSING. */
export type CellsByKey = Map<string, CountCell>;

/** The cells grouped by `<column index>@<bucket start>`. */
export function groupCells(cells: CountCell[]): Map<string, CellsByKey> {
  const grouped = new Map<string, CellsByKey>();
  for (const cell of cells) {
    const key = `${cell.column}@${cell.bucket}`;
    const group = grouped.get(key) ?? new Map<string, CountCell>();
    group.set(cell.bin < 0 ? MISSING : cell.bin > 0 || cell.category === '' ? `#${cell.bin}` : cell.category, cell);
    grouped.set(key, group);
  }
  return grouped;
}

/** A column's window counts aligned with its baseline reference. */
export interface AlignedCells {
  /** Bin labels (numeric, binLabels of the edges) or categories over both sides (categorical). */
  labels: string[];
  reference: number[];
  current: number[];
  /** Sum per bin or category, aligned with `current`. */
  sums: number[];
  /** Missing values in the window. */
  missing: number;
}

/** Current counts and sums per reference bin (numeric) or category of the union of both sides (categorical). */
export function alignedCells(reference: ColumnReference, cells: CellsByKey | undefined): AlignedCells {
  const missing = cells?.get(MISSING)?.n ?? 0;
  if (reference.kind === 'numeric') {
    const current = reference.counts.map((_, k) => cells?.get(`#${k}`)?.n ?? 0);
    const sums = reference.counts.map((_, k) => cells?.get(`#${k}`)?.sum ?? 0);
    return { labels: binLabels(reference.edges), reference: [...reference.counts], current, sums, missing };
  }
  const currentCounts = new Map<string, number>();
  for (const [key, cell] of cells ?? []) {
    if (key !== MISSING) {
      currentCounts.set(cell.category, cell.n);
    }
  }
  const aligned = alignCategories(reference.counts, currentCounts);
  const sums = aligned.labels.map((label) => cells?.get(label)?.sum ?? 0);
  return { labels: aligned.labels, reference: aligned.reference, current: aligned.current, sums, missing };
}

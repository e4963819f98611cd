/**
 * The shared counting plan of `distribution` and the drift family (drift, prediction_drift, severity, ranking): the
 * current window is read once and the store returns, for every requested column × bin (or category) × time bucket,
 * the row count (and, where asked, the sum of one expression). Rows never leave the store; only these cells do.
 *
 * Numeric columns are binned right-closed against bound edges (METRICS.md: e_{k-1} < x ≤ e_k, outer bins open);
 * categorical columns keep their value. Bin -1 marks a missing value (NULL, or an empty string for categories).
 * One SQL plan per store: DuckDB runs one `histogram` aggregate per column (histogram-counts.ts), plus an unpivot
 * for the columns that need a sum in every cell; ClickHouse counts every column in one statement (clickhouse-counts.ts).
 */
import { alignCategories, binLabels } from '../../core/stats';
import type { SqlDialect } from '../store/identifiers';
import type { ColumnReference, PredictionStore } from '../store/types';
import type { Params } from '../store/sql-params';
import type { WhereClause } from './scope';
import { clickHouseCountsStatement } from './clickhouse-counts';
import { histogramCountsStatement } from './histogram-counts';
import { unpivotCountsStatement } from './unpivot-counts';

/** One column to count: a quoted column (or trusted expression) with its kind and, for numbers, its inner edges. */
export interface CountedColumn {
  /** Quoted column name, e.g. `"f_amount"`. */
  column: string;
  kind: 'numeric' | 'categorical';
  /** Inner bin edges, ascending (numeric only). */
  edges?: number[];
  /** Quoted column (or trusted expression) summed per cell; no sums when omitted. */
  sumOf?: string;
  /** Which cells get the sum: every one (default) or only the two outer bins of a numeric column. */
  sumCells?: 'every' | 'outer';
}

/** One statement of a plan: its SQL, bound values, and how its rows turn into cells. */
export interface CountsStatement {
  sql: string;
  params: Params;
  cells(rows: Array<Record<string, unknown>>): CountCell[];
}

export interface BinnedCountsPlan {
  statements: CountsStatement[];
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

/** A non-negative safe integer written into SQL (column indexes): never user text. */
export function integerLiteral(value: number, what: string): string {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Error(`${what} must be a non-negative integer, got ${value}`);
  }
  return String(value);
}

/** Cells from rows `col, bucket, bin, category, n, s` (the unpivot statement's shape). */
export function cellsOfRows(rows: Array<Record<string, unknown>>): CountCell[] {
  return rows.map((row) => ({
    column: Number(row.col),
    bucket: Number(row.bucket),
    bin: Number(row.bin),
    category: String(row.category ?? ''),
    n: Number(row.n),
    sum: Number(row.s),
  }));
}

/** Whether a column needs the sum of its `sumOf` in every cell (only the unpivot statement gives that). */
const sumsEveryCell = (column: CountedColumn) => column.sumOf !== undefined && column.sumCells !== 'outer';

/** The plan counting every column × bin × bucket of `relation` (a store relation; see the module comment). */
export function binnedCountsPlan(
  dialect: SqlDialect,
  relation: string,
  columns: CountedColumn[],
  options: ScanOptions
): BinnedCountsPlan {
  if (columns.length === 0) {
    throw new Error('binnedCountsPlan needs at least one column to count');
  }
  const indexed = columns.map((column, index): [number, CountedColumn] => [index, column]);
  if (dialect === 'clickhouse') {
    return { statements: [clickHouseCountsStatement(relation, indexed, options)] };
  }
  const histogram = indexed.filter(([, column]) => !sumsEveryCell(column));
  const unpivot = indexed.filter(([, column]) => sumsEveryCell(column));
  return {
    statements: [
      ...(histogram.length > 0 ? [histogramCountsStatement(relation, histogram, options)] : []),
      ...(unpivot.length > 0 ? [unpivotCountsStatement(relation, unpivot, options)] : []),
    ],
  };
}

/** Runs a plan's statements one after the other and returns all their cells; the signal stops the store's work. */
export async function runBinnedCounts(
  store: Pick<PredictionStore, 'query'>,
  plan: BinnedCountsPlan,
  signal?: AbortSignal
): Promise<CountCell[]> {
  const cells: CountCell[] = [];
  for (const statement of plan.statements) {
    const rows = await store.query<Record<string, unknown>>(statement.sql, statement.params, { signal });
    cells.push(...statement.cells(rows));
  }
  return cells;
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

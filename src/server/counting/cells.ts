/**
 * The vocabulary of the counting engine's SQL plans (binned-counts.ts): a counted column, a counted cell, the sink
 * cells are handed to, and one statement of a plan. The per-store statements (histogram-counts.ts, unpivot-counts.ts,
 * clickhouse-counts.ts) and the plan that picks them import it from here, so none of them imports another.
 */
import type { Params } from '../store/sql-params';
import type { WhereClause } from './scope';
import type { BucketGrid } from './window';

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

/** Receives one counted cell (see CountCell for the arguments). */
export type CellSink = (column: number, bucket: number, bin: number, category: string, n: number, sum: number) => void;

/** One statement of a plan: its SQL, bound values, and how one of its rows turns into cells. */
export interface CountsStatement {
  sql: string;
  params: Params;
  read(row: Record<string, unknown>, add: CellSink): void;
}

/**
 * One counted cell: column index into the plan's columns, bucket start (ms; window.ts bucketStartSql), bin (−1 =
 * missing), category ('' for numeric bins and missing values), rows and the sum of the column's `sumOf`.
 */
export interface CountCell {
  column: number;
  bucket: number;
  bin: number;
  category: string;
  n: number;
  sum: number;
}

/**
 * Options of the scan: the WHERE of the window (window.ts `windowWhere`: version, segment, sample, and the grid's
 * `{bucket_ms}` and `{bucket_origin}` parameters) and the bucket grid.
 */
export interface ScanOptions {
  where: WhereClause;
  grid: BucketGrid;
}

/** A non-negative safe integer written into SQL (column indexes): never user text. */
export function integerLiteral(value: number, what: string): string {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Error(`${what} must be a non-negative integer, got ${value}`);
  }
  return String(value);
}

/** The cell of a row `col, bucket, bin, category, n, s` (the unpivot and ClickHouse statements' shape). */
export function readCellRow(row: Record<string, unknown>, add: CellSink): void {
  add(Number(row.col), Number(row.bucket), Number(row.bin), String(row.category ?? ''), Number(row.n), Number(row.s));
}

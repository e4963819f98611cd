/**
 * The shared counting plan of `distribution` and the drift family (drift, prediction_drift, severity, ranking): the
 * current window is read once and the store returns, for every requested column × bin (or category) × time bucket,
 * the row count (and, where asked, the sum of one expression). Rows never leave the store; only these cells do.
 *
 * Numeric columns are binned right-closed against bound edges (METRICS.md: e_{k-1} < x ≤ e_k, outer bins open);
 * categorical columns keep their value. Bin -1 marks a missing value (NULL, or an empty string for categories).
 * One SQL plan per store: DuckDB runs one `histogram` aggregate per column (histogram-counts.ts) — each sketch grid in
 * a statement of its own (WIDE_COLUMN_EDGES) —, plus an unpivot for the columns that need a sum in every cell;
 * ClickHouse counts every column in one statement (clickhouse-counts.ts).
 *
 * Cells are handed one by one to a sink (CellSink) that adds them up where they belong (window-counts.ts tallies): a
 * day counted per minute on a KS grid is millions of cells, which are never held as objects or spread into a call.
 */
import { alignCategories, binLabels } from '../../core/stats';
import type { SqlDialect } from '../store/identifiers';
import type { ColumnReference, PredictionStore } from '../store/types';
import type { CellSink, CountedColumn, CountsStatement, ScanOptions } from './cells';
import { clickHouseCountsStatement } from './clickhouse-counts';
import { histogramCountsStatement } from './histogram-counts';
import { unpivotCountsStatement } from './unpivot-counts';
import { forEachSliced } from '../slices';

export interface BinnedCountsPlan {
  statements: CountsStatement[];
}

/**
 * Edges above which a DuckDB column (a KS sketch grid, ~1 000 knots) is counted by a statement of its own: DuckDB's
 * result is turned into JS objects in one synchronous step, which for a whole day of hourly slots of several grids at
 * once holds the event loop for hundreds of ms; one grid per statement keeps each step short (a Parquet file is read
 * column by column, so the extra scans read little).
 */
const WIDE_COLUMN_EDGES = 64;

/** Whether a column needs the sum of its `sumOf` in every cell (only the unpivot statement gives that). */
const unpivoted = (column: CountedColumn) => column.sumOf !== undefined && column.sumCells !== 'outer';

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
  const histogram = indexed.filter(([, column]) => !unpivoted(column));
  const unpivot = indexed.filter(([, column]) => unpivoted(column));
  const wide = histogram.filter(([, column]) => (column.edges?.length ?? 0) > WIDE_COLUMN_EDGES);
  const narrow = histogram.filter((entry) => !wide.includes(entry));
  return {
    statements: [
      ...(narrow.length > 0 ? [histogramCountsStatement(relation, narrow, options)] : []),
      ...wide.map((entry) => histogramCountsStatement(relation, [entry], options)),
      ...(unpivot.length > 0 ? [unpivotCountsStatement(relation, unpivot, options)] : []),
    ],
  };
}

/**
 * Runs a plan's statements one after the other and hands every cell to `add`, reading the rows in slices that let
 * other requests run (slices.ts); the signal stops the store's work and the reading.
 */
export async function runBinnedCounts(
  store: Pick<PredictionStore, 'query'>,
  plan: BinnedCountsPlan,
  add: CellSink,
  signal?: AbortSignal
): Promise<void> {
  for (const statement of plan.statements) {
    const rows = await store.query<Record<string, unknown>>(statement.sql, statement.params, { signal });
    await forEachSliced(rows, (row) => statement.read(row, add), signal);
  }
}

/**
 * Counts of one column in one bucket (or time slot): per bin at index bin + 1 (index 0 = missing values; a
 * categorical column has only that index), the sums of the column's `sumOf` alike, and the categories by name.
 */
export interface Tally {
  bins: Float64Array;
  binSums: Float64Array;
  categories: Map<string, { n: number; sum: number }>;
}

/** An empty tally for a column: edges + 2 bin slots for numbers (missing, then every bin), 1 for categories. */
export function emptyTally(column: CountedColumn): Tally {
  const size = column.kind === 'numeric' ? (column.edges?.length ?? 0) + 2 : 1;
  return { bins: new Float64Array(size), binSums: new Float64Array(size), categories: new Map() };
}

/** Adds one cell to a tally. */
export function addToTally(tally: Tally, bin: number, category: string, n: number, sum: number): void {
  if (bin === -1 || category === '') {
    tally.bins[bin + 1] += n;
    tally.binSums[bin + 1] += sum;
    return;
  }
  const found = tally.categories.get(category);
  if (found) {
    found.n += n;
    found.sum += sum;
  } else {
    tally.categories.set(category, { n, sum });
  }
}

/** Adds every cell of `from` to `into` (same column). */
export function addTally(into: Tally, from: Tally): void {
  for (let k = 0; k < from.bins.length; k++) {
    into.bins[k] += from.bins[k];
    into.binSums[k] += from.binSums[k];
  }
  for (const [category, cell] of from.categories) {
    addToTally(into, 0, category, cell.n, cell.sum);
  }
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

/** The bin labels of each numeric reference's edges, made once (every bucket of a query aligns on them). */
const labelsOfEdges = new WeakMap<number[], string[]>();

function edgeLabels(edges: number[]): string[] {
  let labels = labelsOfEdges.get(edges);
  if (!labels) {
    labels = binLabels(edges);
    labelsOfEdges.set(edges, labels);
  }
  return labels;
}

/**
 * Current counts and sums per reference bin (numeric) or category of the union of both sides (categorical). The
 * reference counts and numeric labels are the reference's own arrays: read them, never change them.
 */
export function alignedCells(reference: ColumnReference, tally: Tally | undefined): AlignedCells {
  const missing = tally?.bins[0] ?? 0;
  if (reference.kind === 'numeric') {
    const current = reference.counts.map((_, k) => tally?.bins[k + 1] ?? 0);
    const sums = reference.counts.map((_, k) => tally?.binSums[k + 1] ?? 0);
    return { labels: edgeLabels(reference.edges), reference: reference.counts, current, sums, missing };
  }
  const currentCounts = new Map<string, number>();
  for (const [category, cell] of tally?.categories ?? []) {
    currentCounts.set(category, cell.n);
  }
  const aligned = alignCategories(reference.counts, currentCounts);
  const sums = aligned.labels.map((label) => tally?.categories.get(label)?.sum ?? 0);
  return { labels: aligned.labels, reference: aligned.reference, current: aligned.current, sums, missing };
}

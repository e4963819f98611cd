/**
 * DuckDB's counting statement (binned-counts.ts): ONE scan of the window, grouped by time bucket only, with one
 * `histogram` aggregate per column. `histogram(x, boundaries)` puts x in the first boundary ≥ x (a binary search:
 * the right-closed bins e_{k−1} < x ≤ e_k of METRICS.md) and values above the last boundary under the key +∞;
 * `histogram(x)` counts each distinct value (categories). NULLs are not counted, so the missing count is
 * `count(*) − count(x)` (plus the empty string for categories). On 10 M rows × 25 columns this runs about 25× faster
 * than the unpivot (bench/queries/RESULTS.md), because no row is multiplied into cells before grouping.
 *
 * Sums of a numeric column's `sumOf`: cumulative filtered sums S_j = Σ sumOf over x ≤ d_j at its distinct edges d_j and
 * the total over x present, so that bin j sums S_j − S_{j−1} and the last bin the total − S_last — in every bin
 * (ranking's output per bin), or in the two outer bins only (`sumCells: 'outer'`, what the Wasserstein tails need: S at
 * the first and last edge). The sum over missing values is one more filtered sum. A categorical column needing sums
 * is counted by the unpivot statement instead (unpivot-counts.ts).
 */
import type { Params } from '../store/sql-params';
import {
  integerLiteral,
  type CellSink,
  type CountedColumn,
  type CountsStatement,
  type ScanOptions,
} from './binned-counts';
import { bucketStartSql } from './window';

/**
 * The bin of a histogram key: the first k with e_k = key (repeated edges leave the bins between them empty); the
 * overflow key +∞ (stored values are finite, so never an edge) is the last bin.
 */
function binOfKey(edges: readonly number[]): (key: number | null) => number {
  const first = new Map<number, number>();
  edges.forEach((edge, k) => {
    if (!first.has(edge)) {
      first.set(edge, k);
    }
  });
  return (key) => (key === null ? edges.length : (first.get(key) ?? (key === Infinity ? edges.length : -2)));
}

/** One histogram entry as DuckDB's node API returns a MAP: `{ key, value }`. */
interface HistogramEntry {
  key: number | string | null;
  value: bigint | number;
}

/** Hands the cells of one column, from its aggregates in one bucket row, to the sink. */
type ColumnDecoder = (row: Record<string, unknown>, bucket: number, add: CellSink) => void;

/** The edges at which a numeric column's cumulative sums are taken (see the module comment). */
function cumulatedEdges(column: CountedColumn, distinct: readonly number[]): number[] {
  if (column.sumOf === undefined || distinct.length === 0) {
    return [];
  }
  if (column.sumCells === 'outer') {
    return distinct.length === 1 ? [distinct[0]] : [distinct[0], distinct[distinct.length - 1]];
  }
  return [...distinct];
}

function numericColumn(index: number, column: CountedColumn, aggregates: string[], params: Params): ColumnDecoder {
  const edges = column.edges ?? [];
  const distinct = [...new Set(edges)];
  const at = integerLiteral(index, 'column index');
  aggregates.push(`count(${column.column}) AS present_${at}`);
  if (edges.length > 0) {
    params[`c${at}_edges`] = distinct;
    aggregates.push(`histogram(${column.column}, {c${at}_edges}) AS histogram_${at}`);
  }
  const cumulated = cumulatedEdges(column, distinct);
  const sumWhere = (condition: string, name: string) =>
    aggregates.push(`coalesce(sum(${column.sumOf}) FILTER (WHERE ${condition}), 0) AS ${name}`);
  cumulated.forEach((edge, j) => {
    params[`c${at}_s${j}`] = edge;
    sumWhere(`${column.column} <= {c${at}_s${j}}`, `cum_${at}_${j}`);
  });
  const everyCell = column.sumOf !== undefined && column.sumCells !== 'outer';
  if (column.sumOf !== undefined) {
    sumWhere(`${column.column} IS NOT NULL`, `total_${at}`);
  }
  if (everyCell) {
    sumWhere(`${column.column} IS NULL`, `missing_sum_${at}`);
  }
  const binOf = binOfKey(edges);
  const distinctIndex = new Map(distinct.map((edge, j) => [edge, j]));
  /** The sum in bin `bin` of a row: the difference of the cumulative sums around it (module comment). */
  const sumOfBin = (row: Record<string, unknown>, bin: number): number => {
    const cum = (j: number) => (j < 0 ? 0 : Number(row[`cum_${at}_${j}`]));
    if (column.sumOf === undefined) {
      return 0;
    }
    if (bin === edges.length) {
      return Number(row[`total_${at}`]) - cum(cumulated.length - 1);
    }
    const j = distinctIndex.get(edges[bin])!;
    return everyCell ? cum(j) - cum(j - 1) : j === 0 ? cum(0) : 0;
  };
  return (row, bucket, add) => {
    const present = Number(row[`present_${at}`]);
    const entries: HistogramEntry[] =
      edges.length > 0 ? ((row[`histogram_${at}`] as HistogramEntry[] | null) ?? []) : [{ key: null, value: present }];
    const missing = Number(row.rows) - present;
    if (missing > 0) {
      add(index, bucket, -1, '', missing, everyCell ? Number(row[`missing_sum_${at}`]) : 0);
    }
    for (const entry of entries) {
      const bin = binOf(entry.key as number | null);
      if (bin < 0) {
        throw new Error(
          `Internal error: DuckDB's histogram returned ${entry.key}, which is not an edge of column ${at}`
        );
      }
      const n = Number(entry.value);
      if (n > 0) {
        add(index, bucket, bin, '', n, sumOfBin(row, bin));
      }
    }
  };
}

function categoricalColumn(index: number, column: CountedColumn, aggregates: string[]): ColumnDecoder {
  const at = integerLiteral(index, 'column index');
  aggregates.push(`count(${column.column}) AS present_${at}`, `histogram(${column.column}) AS histogram_${at}`);
  return (row, bucket, add) => {
    let missing = Number(row.rows) - Number(row[`present_${at}`]);
    for (const entry of (row[`histogram_${at}`] as HistogramEntry[] | null) ?? []) {
      if (entry.key === '') {
        missing += Number(entry.value);
      } else {
        add(index, bucket, 0, String(entry.key), Number(entry.value), 0);
      }
    }
    if (missing > 0) {
      add(index, bucket, -1, '', missing, 0);
    }
  };
}

/**
 * The histogram statement over `relation` for the given columns (each under its index in the whole plan). A
 * categorical column may not ask for sums (see the module comment).
 */
export function histogramCountsStatement(
  relation: string,
  columns: Array<[number, CountedColumn]>,
  options: ScanOptions
): CountsStatement {
  const params: Params = { ...options.where.params };
  const aggregates = ['count(*) AS "rows"'];
  const decoders = columns.map(([index, column]) => {
    if (column.kind === 'categorical' && column.sumOf !== undefined) {
      throw new Error(`Internal error: column ${index} needs sums per category; count it with the unpivot statement`);
    }
    return column.kind === 'numeric'
      ? numericColumn(index, column, aggregates, params)
      : categoricalColumn(index, column, aggregates);
  });
  return {
    sql: `SELECT ${bucketStartSql(options.grid)} AS bucket, ${aggregates.join(', ')} FROM ${relation} AS current_window ${options.where.sql} GROUP BY 1`,
    params,
    read: (row, add) => {
      const start = Number(row.bucket);
      for (const decode of decoders) {
        decode(row, start, add);
      }
    },
  };
}

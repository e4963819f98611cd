/**
 * DuckDB's counting statement (binned-counts.ts): ONE scan of the window, grouped by time bucket only, with one
 * `histogram` aggregate per column. `histogram(x, boundaries)` puts x in the first boundary ≥ x (a binary search:
 * the right-closed bins e_{k−1} < x ≤ e_k of METRICS.md) and values above the last boundary under the key +∞;
 * `histogram(x)` counts each distinct value (categories). NULLs are not counted, so the missing count is
 * `count(*) − count(x)` (plus the empty string for categories). On 10 M rows × 25 columns this runs about 25× faster
 * than the unpivot (bench/queries/RESULTS.md), because no row is multiplied into cells before grouping.
 *
 * Sums: a column may ask for the sum of its `sumOf` in its two outer bins only (`sumCells: 'outer'`, what the
 * Wasserstein tails need), done here with two filtered sums; a column needing a sum in every cell is counted by the
 * unpivot statement instead (unpivot-counts.ts).
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

function numericColumn(index: number, column: CountedColumn, aggregates: string[], params: Params): ColumnDecoder {
  const edges = column.edges ?? [];
  const at = integerLiteral(index, 'column index');
  aggregates.push(`count(${column.column}) AS present_${at}`);
  if (edges.length > 0) {
    params[`c${at}_edges`] = [...new Set(edges)];
    aggregates.push(`histogram(${column.column}, {c${at}_edges}) AS histogram_${at}`);
  }
  const outerSums = column.sumOf !== undefined;
  if (outerSums) {
    if (edges.length > 0) {
      params[`c${at}_first`] = edges[0];
      params[`c${at}_last`] = edges[edges.length - 1];
      aggregates.push(
        `coalesce(sum(${column.sumOf}) FILTER (WHERE ${column.column} <= {c${at}_first}), 0) AS low_sum_${at}`,
        `coalesce(sum(${column.sumOf}) FILTER (WHERE ${column.column} > {c${at}_last}), 0) AS high_sum_${at}`
      );
    } else {
      aggregates.push(`coalesce(sum(${column.sumOf}) FILTER (WHERE ${column.column} IS NOT NULL), 0) AS low_sum_${at}`);
    }
  }
  const binOf = binOfKey(edges);
  return (row, bucket, add) => {
    const present = Number(row[`present_${at}`]);
    const entries: HistogramEntry[] =
      edges.length > 0 ? ((row[`histogram_${at}`] as HistogramEntry[] | null) ?? []) : [{ key: null, value: present }];
    const missing = Number(row.rows) - present;
    if (missing > 0) {
      add(index, bucket, -1, '', missing, 0);
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
        const sum = !outerSums
          ? 0
          : bin === 0
            ? Number(row[`low_sum_${at}`])
            : bin === edges.length
              ? Number(row[`high_sum_${at}`])
              : 0;
        add(index, bucket, bin, '', n, sum);
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
 * The histogram statement over `relation` for the given columns (each under its index in the whole plan). A column
 * may not ask for sums in every cell (see the module comment).
 */
export function histogramCountsStatement(
  relation: string,
  columns: Array<[number, CountedColumn]>,
  options: ScanOptions
): CountsStatement {
  const params: Params = { ...options.where.params };
  const aggregates = ['count(*) AS "rows"'];
  const decoders = columns.map(([index, column]) => {
    if (column.sumOf !== undefined && column.sumCells !== 'outer') {
      throw new Error(`Internal error: column ${index} needs sums in every cell; count it with the unpivot statement`);
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

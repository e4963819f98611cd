/**
 * DuckDB's counting statement (binned-counts.ts): ONE scan of the window, grouped by time bucket only, with one
 * `histogram` aggregate per column. `histogram(x, boundaries)` puts x in the first boundary ≥ x (a binary search:
 * the right-closed bins e_{k−1} < x ≤ e_k of METRICS.md) and values above the last boundary under the key +∞;
 * `histogram(x)` counts each distinct value (categories). NULLs are not counted, so the missing count is
 * `count(*)` less the histogram's total (plus the empty string for categories); a separate `count(x)` per column
 * cost a sixth of the statement's time (bench/cold). On 10 M rows × 25 columns this runs about 25× faster
 * than the unpivot (bench/queries/RESULTS.md), because no row is multiplied into cells before grouping.
 *
 * Sums: a column may ask for the sum of its `sumOf` in its two outer bins only (`sumCells: 'outer'`, what the
 * Wasserstein tails need), done here with two filtered sums; a column needing a sum in every cell is counted by the
 * unpivot statement instead (unpivot-counts.ts: a filtered sum per bin edge measured several times slower).
 */
import type { Params } from '../store/sql-params';
import { integerLiteral, type CellSink, type CountedColumn, type CountsStatement, type ScanOptions } from './cells';
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

/**
 * A column's histogram as two lists read from one row, its keys and their counts (`keys_<i>`, `counts_<i>`). DuckDB's
 * node API would turn the MAP into one `{ key, value: BigInt }` object per entry — a thousand per row and bucket of a
 * sketch grid, garbage that outlives the young generation while the rows are read in slices; two lists of numbers
 * are two objects.
 */
interface HistogramColumns {
  /** SELECT of the outer query turning `histogram_<i>` into `keys_<i>` and `counts_<i>`. */
  unpacked: string[];
  /** The `histogram_<i>` columns the outer query drops. */
  packed: string[];
}

/** Asks for a column's histogram as lists (HistogramColumns); `numericKeys` casts the keys to DOUBLE. */
function histogramLists(at: string, numericKeys: boolean, lists: HistogramColumns): void {
  lists.packed.push(`histogram_${at}`);
  lists.unpacked.push(
    `map_keys(histogram_${at})${numericKeys ? '::DOUBLE[]' : ''} AS keys_${at}`,
    `map_values(histogram_${at})::DOUBLE[] AS counts_${at}`
  );
}

/** The keys and counts of a column's histogram in a row ([] for none). */
function histogramOf(row: Record<string, unknown>, at: string): { keys: unknown[]; counts: number[] } {
  return {
    keys: (row[`keys_${at}`] as unknown[] | null) ?? [],
    counts: (row[`counts_${at}`] as number[] | null) ?? [],
  };
}

/** The sum of a histogram's counts: the column's values present (a histogram skips NULLs only). */
function sumOf(counts: readonly number[]): number {
  let total = 0;
  for (const n of counts) {
    total += n;
  }
  return total;
}

/** Hands the cells of one column, from its aggregates in one bucket row, to the sink. */
type ColumnDecoder = (row: Record<string, unknown>, bucket: number, add: CellSink) => void;

function numericColumn(
  index: number,
  column: CountedColumn,
  aggregates: string[],
  params: Params,
  lists: HistogramColumns
): ColumnDecoder {
  const edges = column.edges ?? [];
  const distinct = [...new Set(edges)];
  const at = integerLiteral(index, 'column index');
  if (edges.length === 0) {
    aggregates.push(`count(${column.column}) AS present_${at}`);
  } else {
    params[`c${at}_edges`] = distinct;
    aggregates.push(`histogram(${column.column}, {c${at}_edges}) AS histogram_${at}`);
    histogramLists(at, true, lists);
  }
  const outerSums = column.sumOf !== undefined;
  const sumWhere = (condition: string, name: string) =>
    aggregates.push(`coalesce(sum(${column.sumOf}) FILTER (WHERE ${condition}), 0) AS ${name}`);
  if (outerSums && edges.length > 0) {
    params[`c${at}_first`] = edges[0];
    params[`c${at}_last`] = edges[edges.length - 1];
    sumWhere(`${column.column} <= {c${at}_first}`, `low_sum_${at}`);
    sumWhere(`${column.column} > {c${at}_last}`, `high_sum_${at}`);
  } else if (outerSums) {
    sumWhere(`${column.column} IS NOT NULL`, `low_sum_${at}`);
  }
  const binOf = binOfKey(edges);
  /** The sum of a bin in a row: the outer bins' filtered sums, 0 inside. */
  const sumOfBin = (row: Record<string, unknown>, bin: number): number =>
    !outerSums
      ? 0
      : bin === 0
        ? Number(row[`low_sum_${at}`])
        : bin === edges.length
          ? Number(row[`high_sum_${at}`])
          : 0;
  return (row, bucket, add) => {
    const { keys, counts } =
      edges.length > 0 ? histogramOf(row, at) : { keys: [null], counts: [Number(row[`present_${at}`])] };
    const missing = Number(row.rows) - sumOf(counts);
    if (missing > 0) {
      add(index, bucket, -1, '', missing, 0);
    }
    for (let k = 0; k < keys.length; k++) {
      const bin = binOf(keys[k] as number | null);
      if (bin < 0) {
        throw new Error(`Internal error: DuckDB's histogram returned ${keys[k]}, which is not an edge of column ${at}`);
      }
      if (counts[k] > 0) {
        add(index, bucket, bin, '', counts[k], sumOfBin(row, bin));
      }
    }
  };
}

function categoricalColumn(
  index: number,
  column: CountedColumn,
  aggregates: string[],
  lists: HistogramColumns
): ColumnDecoder {
  const at = integerLiteral(index, 'column index');
  aggregates.push(`histogram(${column.column}) AS histogram_${at}`);
  histogramLists(at, false, lists);
  return (row, bucket, add) => {
    const { keys, counts } = histogramOf(row, at);
    let missing = Number(row.rows) - sumOf(counts);
    for (let k = 0; k < keys.length; k++) {
      if (keys[k] === '') {
        missing += counts[k];
      } else {
        add(index, bucket, 0, String(keys[k]), counts[k], 0);
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
  const lists: HistogramColumns = { unpacked: [], packed: [] };
  const decoders = columns.map(([index, column]) => {
    if (column.sumOf !== undefined && column.sumCells !== 'outer') {
      throw new Error(`Internal error: column ${index} needs sums in every cell; count it with the unpivot statement`);
    }
    return column.kind === 'numeric'
      ? numericColumn(index, column, aggregates, params, lists)
      : categoricalColumn(index, column, aggregates, lists);
  });
  const counted =
    `SELECT ${bucketStartSql(options.grid)} AS bucket, ${aggregates.join(', ')} ` +
    `FROM ${relation} AS current_window ${options.where.sql} GROUP BY 1`;
  return {
    sql:
      lists.packed.length === 0
        ? counted
        : `SELECT * EXCLUDE (${lists.packed.join(', ')}), ${lists.unpacked.join(', ')} FROM (${counted}) AS counted`,
    params,
    read: (row, add) => {
      const start = Number(row.bucket);
      for (const decode of decoders) {
        decode(row, start, add);
      }
    },
  };
}

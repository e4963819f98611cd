import { quantileSorted } from './quantile';

/** Default number of numeric bins of the `reference-deciles` convention (METRICS.md). */
export const DEFAULT_BINS = 10;
/** The only binning convention implemented: reference quantile edges at k/B, outer bins open. */
export const BINNING_CONVENTION = 'reference-deciles';

/** A numeric sample with missing values removed and counted. */
export interface NumericSample {
  /** Ascending, finite or infinite numbers; no NaN. */
  sorted: Float64Array;
  /** Number of values removed as missing (null, undefined, NaN, empty string). */
  missing: number;
}

/** Category counts of a categorical sample with missing values removed and counted. */
export interface CategoricalSample {
  counts: Map<string, number>;
  missing: number;
}

/** Counts per category, as a plain object (JSON) or a Map. */
export type CategoryCounts = ReadonlyMap<string, number> | Readonly<Record<string, number>>;

/** Two count vectors over the same bins or categories. */
export interface AlignedCounts {
  /** Bin or category labels, in the order of the count vectors. */
  labels: string[];
  reference: number[];
  current: number[];
}

function isMissing(value: unknown): boolean {
  return value === null || value === undefined || value === '' || (typeof value === 'number' && Number.isNaN(value));
}

/**
 * Removes missing values (null, undefined, NaN, empty string) and sorts the rest ascending.
 * Non-numeric strings are an error (the caller decides the feature kind before this point).
 */
export function prepareNumeric(
  values:
    ArrayLike<number | string | boolean | null | undefined> | Iterable<number | string | boolean | null | undefined>
): NumericSample {
  const list = isArrayLike(values) ? values : Array.from(values);
  const kept = new Float64Array(list.length);
  let size = 0;
  for (let i = 0; i < list.length; i++) {
    const value = list[i];
    if (isMissing(value)) {
      continue;
    }
    const x = typeof value === 'number' ? value : Number(value);
    if (Number.isNaN(x)) {
      throw new Error(
        `prepareNumeric: value ${JSON.stringify(value)} is not a number; treat the feature as categorical`
      );
    }
    kept[size++] = x;
  }
  const sorted = kept.slice(0, size);
  sorted.sort();
  return { sorted, missing: list.length - size };
}

function isArrayLike<T>(values: ArrayLike<T> | Iterable<T>): values is ArrayLike<T> {
  return typeof (values as ArrayLike<T>).length === 'number';
}

/** Counts the categories of a sample; booleans and numbers become their string form, missing values are counted apart. */
export function prepareCategorical(values: Iterable<string | number | boolean | null | undefined>): CategoricalSample {
  const counts = new Map<string, number>();
  let missing = 0;
  for (const value of values) {
    if (isMissing(value)) {
      missing++;
      continue;
    }
    const key = String(value);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return { counts, missing };
}

/**
 * Inner bin edges of the `reference-deciles` convention: the reference quantiles at k/B, k = 1 … B−1
 * (type 7, see quantileSorted), with equal edges merged. The bins are (−∞, e_1], (e_1, e_2], …, (e_last, +∞),
 * so there are edges.length + 1 bins. Source: METRICS.md "Numeric bins".
 */
export function referenceEdges(referenceSorted: ArrayLike<number>, bins: number = DEFAULT_BINS): number[] {
  if (!Number.isInteger(bins) || bins < 2 || bins > 100) {
    throw new Error(`referenceEdges: bins must be an integer from 2 to 100, got ${bins}`);
  }
  if (referenceSorted.length === 0) {
    throw new Error('referenceEdges: the reference sample is empty; bin edges need at least one reference value');
  }
  const edges: number[] = [];
  for (let k = 1; k < bins; k++) {
    const edge = quantileSorted(referenceSorted, k / bins);
    if (edges.length === 0 || edge !== edges[edges.length - 1]) {
      edges.push(edge);
    }
  }
  return edges;
}

/** Number of elements of an ascending array strictly below x (binary search; `numpy.searchsorted(a, x, 'left')`). */
export function countBelow(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < x) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

/** Number of elements of an ascending array at or below x (`numpy.searchsorted(a, x, 'right')`). */
export function countAtOrBelow(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= x) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

/**
 * Right-closed bin of x: the k with e_{k−1} < x ≤ e_k (0-based; 0 is (−∞, e_1], edges.length is (e_last, +∞)),
 * i.e. the number of edges strictly below x.
 */
export function binIndex(edges: ArrayLike<number>, x: number): number {
  return countBelow(edges, x);
}

/** Counts per bin of any (unsorted) values; NaN values are skipped (they are missing, counted elsewhere). */
export function binCounts(edges: ArrayLike<number>, values: ArrayLike<number>): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (!Number.isNaN(x)) {
      counts[countBelow(edges, x)]++;
    }
  }
  return counts;
}

/** Counts per bin of an ascending sample, by one binary search per edge: O(B·log n). */
export function binCountsSorted(edges: ArrayLike<number>, sorted: ArrayLike<number>): number[] {
  const counts: number[] = [];
  let previous = 0;
  for (let k = 0; k < edges.length; k++) {
    const atOrBelow = countAtOrBelow(sorted, edges[k]);
    counts.push(atOrBelow - previous);
    previous = atOrBelow;
  }
  counts.push(sorted.length - previous);
  return counts;
}

/** Proportions c_k / Σc; all zeros when the total is 0. */
export function proportions(counts: ArrayLike<number>): number[] {
  let total = 0;
  for (let k = 0; k < counts.length; k++) {
    total += counts[k];
  }
  return Array.from(counts, (c) => (total > 0 ? c / total : 0));
}

/** Labels of the numeric bins, e.g. ["(-inf, 1.5]", "(1.5, 3]", "(3, +inf)"]. */
export function binLabels(edges: ArrayLike<number>): string[] {
  const bounds = ['-inf', ...Array.from(edges, String), '+inf'];
  return bounds.slice(1).map((upper, k) => (upper === '+inf' ? `(${bounds[k]}, +inf)` : `(${bounds[k]}, ${upper}]`));
}

function categoryEntries(counts: CategoryCounts): Array<[string, number]> {
  return counts instanceof Map ? Array.from(counts.entries()) : Object.entries(counts as Record<string, number>);
}

/**
 * Aligns two category count tables over the union of their categories (sorted by name): a category new in
 * current has reference count 0, one missing from current has current count 0. Categories with count 0 on
 * both sides are dropped. Source: METRICS.md "Feature kinds".
 */
export function alignCategories(reference: CategoryCounts, current: CategoryCounts): AlignedCounts {
  const ref = new Map(categoryEntries(reference));
  const cur = new Map(categoryEntries(current));
  const labels = Array.from(new Set([...ref.keys(), ...cur.keys()]))
    .filter((label) => (ref.get(label) ?? 0) + (cur.get(label) ?? 0) > 0)
    .sort();
  return {
    labels,
    reference: labels.map((label) => ref.get(label) ?? 0),
    current: labels.map((label) => cur.get(label) ?? 0),
  };
}

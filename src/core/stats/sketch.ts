import { quantileSorted } from './quantile';

/** Math functions bound once: global lookups are slow inside sandboxed runtimes such as Jest's VM context. */
const { max, min } = Math;

/** Default number of intervals of a stored reference quantile sketch (1 001 quantiles). */
export const DEFAULT_SKETCH_SIZE = 1000;

/**
 * A reference distribution kept as its quantiles at j/K, j = 0 … K (type 7, so the first is the minimum and the
 * last the maximum), for stored baselines. Its CDF G is the piecewise-linear interpolation through (q_j, j/K);
 * for every x, |G(x) − F_R(x)| ≤ 1/K + 1/n (F_R the reference's empirical CDF): within [q_j, q_j+1) F_R lies in
 * [j/K − 1/n, (j+1)/K + 1/n] because a type-7 quantile at p has between (n−1)p and (n−1)p + 1 values below it.
 */
export interface QuantileSketch {
  /** Quantiles at j/K, j = 0 … K (length K + 1, ascending). */
  quantiles: number[];
  /** Reference sample size n. */
  count: number;
}

/** Builds the quantile sketch of an ascending, non-empty sample. */
export function buildQuantileSketch(sorted: ArrayLike<number>, size: number = DEFAULT_SKETCH_SIZE): QuantileSketch {
  if (sorted.length === 0) {
    throw new Error('buildQuantileSketch: the reference sample is empty');
  }
  if (!Number.isInteger(size) || size < 1) {
    throw new Error(`buildQuantileSketch: size must be a positive integer, got ${size}`);
  }
  const quantiles: number[] = [];
  for (let j = 0; j <= size; j++) {
    quantiles.push(quantileSorted(sorted, j / size));
  }
  return { quantiles, count: sorted.length };
}

/** Upper bound on |G(x) − F_R(x)| of a sketch: 1/K + 1/n (see QuantileSketch). */
export function sketchCdfErrorBound(sketch: QuantileSketch): number {
  return 1 / (sketch.quantiles.length - 1) + 1 / sketch.count;
}

/**
 * Upper bound on |W1(G, F_C) − W1(F_R, F_C)| for any current sample: by the triangle inequality it is at most
 * W1(G, F_R) = ∫|G − F_R|dx ≤ (1/K + 1/n)·(max − min), since G and F_R agree outside [min, max].
 */
export function sketchWassersteinErrorBound(sketch: QuantileSketch): number {
  const q = sketch.quantiles;
  return sketchCdfErrorBound(sketch) * (q[q.length - 1] - q[0]);
}

/**
 * The sketch CDF G(x) (right-continuous) and its left limit G(x−): linear interpolation between the knots
 * (q_j, j/K); equal knots (an atom of the reference) make G jump.
 */
export function sketchCdf(sketch: QuantileSketch, x: number): { at: number; before: number } {
  return { at: interpolate(sketch.quantiles, x, true), before: interpolate(sketch.quantiles, x, false) };
}

function interpolate(q: number[], x: number, inclusive: boolean): number {
  // j = last knot with q_j ≤ x (inclusive) or q_j < x (left limit)
  let lo = 0;
  let hi = q.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (inclusive ? q[mid] <= x : q[mid] < x) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return interpolateFrom(q, lo - 1, x);
}

/** G(x) given j, the last knot at or below x (inclusive) or strictly below it (left limit). */
function interpolateFrom(q: number[], j: number, x: number): number {
  const size = q.length - 1;
  if (j < 0) {
    return 0;
  }
  if (j >= size) {
    return 1;
  }
  const fraction = q[j + 1] > q[j] ? (x - q[j]) / (q[j + 1] - q[j]) : 0;
  return (j + min(1, max(0, fraction))) / size;
}

/** One event point of a sketch against an ascending sample: the CDFs at x and just before x. */
export interface SketchEvent {
  x: number;
  /** Sketch CDF G(x) and G(x−). */
  sketchAt: number;
  sketchBefore: number;
  /** Sample's empirical CDF F_C(x) and F_C(x−). */
  sampleAt: number;
  sampleBefore: number;
}

/**
 * Visits, in ascending order, every distinct event point (sample values and sketch knots) with both CDFs and their
 * left limits, by one merge of the two ascending sequences: O(m + K).
 */
export function forEachSketchEvent(
  sketch: QuantileSketch,
  sorted: ArrayLike<number>,
  visit: (event: SketchEvent) => void
): void {
  const q = sketch.quantiles;
  const m = sorted.length;
  let i = 0; // sample values < x
  let j = 0; // knots < x
  while (i < m || j < q.length) {
    const x = j >= q.length || (i < m && sorted[i] < q[j]) ? sorted[i] : q[j];
    const sampleBelow = i;
    const knotsBelow = j;
    while (i < m && sorted[i] <= x) {
      i++;
    }
    while (j < q.length && q[j] <= x) {
      j++;
    }
    visit({
      x,
      sketchAt: interpolateFrom(q, j - 1, x),
      sketchBefore: interpolateFrom(q, knotsBelow - 1, x),
      sampleAt: m > 0 ? i / m : 0,
      sampleBefore: m > 0 ? sampleBelow / m : 0,
    });
  }
}

/**
 * Kolmogorov–Smirnov and Wasserstein-1 of a current window against a stored baseline's quantile sketch, from
 * counts only: the window is counted on the sketch's grid (its distinct knots u_0 < … < u_L used as right-closed
 * bin edges), with the sum of the values per cell, so the store returns L + 2 cells instead of the rows.
 *
 * Cell 0 is (−∞, u_0], cell k is (u_{k−1}, u_k], cell L + 1 is (u_L, ∞). The current CDF F_C is then known exactly
 * at every knot; the sketch CDF G (src/core/stats/sketch.ts) is known everywhere. Both results carry a bound on
 * their difference from the exact statistic against the raw reference rows (what `mlmon report` computes).
 */
import {
  ksCriticalValue,
  ksPValue,
  normalizeWasserstein,
  sketchCdf,
  sketchCdfErrorBound,
  sketchWassersteinErrorBound,
  wassersteinNoiseFloor,
  type QuantileSketch,
} from '../../core/stats';

const { abs, max, sqrt } = Math;

/** The distinct knots of a sketch, ascending: the bin edges of the grid. */
export function sketchGrid(sketch: QuantileSketch): number[] {
  return sketch.quantiles.filter((q, j) => j === 0 || q > sketch.quantiles[j - 1]);
}

/** G(u) and G(u⁻) at every knot, computed once per grid (knots array) and query: every bucket reuses them. */
const cdfAtKnots = new WeakMap<number[], { at: number[]; before: number[] }>();

function sketchCdfAtKnots(sketch: QuantileSketch, knots: number[]): { at: number[]; before: number[] } {
  let found = cdfAtKnots.get(knots);
  if (!found) {
    const cdfs = knots.map((u) => sketchCdf(sketch, u));
    found = { at: cdfs.map((cdf) => cdf.at), before: cdfs.map((cdf) => cdf.before) };
    cdfAtKnots.set(knots, found);
  }
  return found;
}

/** Counts and value sums of the current window per grid cell (length knots + 1). */
export interface GridCounts {
  counts: ArrayLike<number>;
  sums: ArrayLike<number>;
}

function total(values: ArrayLike<number>): number {
  let sum = 0;
  for (let k = 0; k < values.length; k++) {
    sum += values[k];
  }
  return sum;
}

/** F_C at each knot: the share of the window at or below u_k. */
function currentCdfAtKnots(counts: ArrayLike<number>, knots: number[]): number[] {
  const m = total(counts);
  let below = 0;
  return knots.map((_, k) => (below += counts[k]) / m);
}

export interface GridKs {
  statistic: number;
  pValue: number;
  /** Knot where the gap is largest, with both CDFs there. */
  location: number;
  baselineCdf: number;
  currentCdf: number;
  approximate: true;
  /** |statistic − D_exact| ≤ maxError, D_exact against the raw reference: grid step of G plus the sketch's CDF error. */
  maxError: number;
  noiseFloor: number;
}

/**
 * KS on the grid: D_grid = max_k |G(u_k) − F_C(u_k)|. Between two knots u < v both CDFs are monotone, so the sup over
 * (u, v) exceeds D_grid by at most G(v) − G(u); below u_0 by at most G(u_0); above u_L not at all. So
 * D_grid ≤ D_sketch ≤ D_grid + step with step = the largest rise of G between neighbouring knots (1/K without ties),
 * and |D_sketch − D_exact| ≤ 1/K + 1/n (sketchCdfErrorBound). p-value from ksPValue at the sketch's n.
 */
export function ksOnGrid(sketch: QuantileSketch, knots: number[], grid: GridCounts, alpha: number): GridKs {
  const m = total(grid.counts);
  const n = sketch.count;
  const currentCdf = currentCdfAtKnots(grid.counts, knots);
  const sketchAt = sketchCdfAtKnots(sketch, knots).at;
  let best = 0;
  let step = sketchAt[0];
  knots.forEach((_, k) => {
    if (abs(sketchAt[k] - currentCdf[k]) > abs(sketchAt[best] - currentCdf[best])) {
      best = k;
    }
    if (k > 0) {
      step = max(step, sketchAt[k] - sketchAt[k - 1]);
    }
  });
  const statistic = m > 0 ? abs(sketchAt[best] - currentCdf[best]) : NaN;
  return {
    statistic,
    pValue: ksPValue(statistic, n, m),
    location: knots[best],
    baselineCdf: sketchAt[best],
    currentCdf: m > 0 ? currentCdf[best] : NaN,
    approximate: true,
    maxError: step + sketchCdfErrorBound(sketch),
    noiseFloor: m > 0 ? ksCriticalValue(n, m, alpha) : NaN,
  };
}

/** ∫₀¹ |a + (b − a)t| dt: the mean magnitude of a linear function over a cell. */
function meanAbsLinear(a: number, b: number): number {
  if (a * b >= 0) {
    return (abs(a) + abs(b)) / 2;
  }
  return (a * a + b * b) / (2 * (abs(a) + abs(b)));
}

export interface GridWasserstein {
  /** W1(G, F̂_C) / σ_R (raw distance when σ_R = 0). */
  normalized: number;
  /** Bound on |normalized − exact normalised W1 against the raw reference|. */
  maxError: number;
  noiseFloor: number;
}

/**
 * Normalised W1 = ∫|G − F_C| dx / σ_R on the grid. Tails are exact from the cell sums: ∫_{x<u_0} F_C = Σ(u_0 − x)/m
 * and ∫_{x>u_L} (1 − F_C) = Σ(x − u_L)/m. Inside a cell (u, v] G is linear and F_C is replaced by F̂_C, linear from
 * F_C(u) to F_C(v) (the cell's mass spread evenly), which moves the integral by at most (v − u)·c/m for c rows in the
 * cell. Adding the sketch's own bound (sketchWassersteinErrorBound) gives `maxError`. The noise floor uses the pooled
 * spread J = ∫√(H(1 − H)), H = (nG + mF̂_C)/(n + m), at each cell's midpoint (tails: at half their mass).
 */
export function wassersteinOnGrid(
  sketch: QuantileSketch,
  knots: number[],
  grid: GridCounts,
  std: number,
  alpha: number
): GridWasserstein {
  const m = total(grid.counts);
  const n = sketch.count;
  if (m === 0) {
    return { normalized: NaN, maxError: NaN, noiseFloor: NaN };
  }
  const last = knots.length - 1;
  const belowCount = grid.counts[0];
  const aboveCount = grid.counts[last + 1];
  const belowGap = belowCount * knots[0] - grid.sums[0];
  const aboveGap = grid.sums[last + 1] - aboveCount * knots[last];
  let distance = (belowGap + aboveGap) / m;
  let interpolationError = 0;
  const spreadAt = (h: number) => sqrt(max(0, h * (1 - h)));
  let spread =
    (belowCount > 0 ? (belowGap / belowCount) * spreadAt((m * belowCount) / (2 * m * (n + m))) : 0) +
    (aboveCount > 0 ? (aboveGap / aboveCount) * spreadAt(1 - (m * aboveCount) / (2 * m * (n + m))) : 0);
  let fu = belowCount / m;
  const cdf = sketchCdfAtKnots(sketch, knots);
  for (let k = 1; k <= last; k++) {
    const width = knots[k] - knots[k - 1];
    const fv = fu + grid.counts[k] / m;
    const gu = cdf.at[k - 1];
    const gvBefore = cdf.before[k];
    distance += width * meanAbsLinear(gu - fu, gvBefore - fv);
    interpolationError += (width * grid.counts[k]) / m;
    spread += width * spreadAt((n * (gu + gvBefore) + m * (fu + fv)) / (2 * (n + m)));
    fu = fv;
  }
  return {
    normalized: normalizeWasserstein(distance, std),
    maxError: normalizeWasserstein(interpolationError + sketchWassersteinErrorBound(sketch), std),
    noiseFloor: wassersteinNoiseFloor(n, m, spread, std, alpha),
  };
}

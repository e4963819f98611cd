import { forEachSketchEvent, QuantileSketch, SketchEvent } from './sketch';

/** Math functions bound once: global lookups are slow inside sandboxed runtimes such as Jest's VM context. */
const { abs, min, sqrt } = Math;
const { POSITIVE_INFINITY } = Number;

/** Mean and population standard deviation (ddof = 0, two-pass) of a sample; NaN when empty. */
export function meanAndStd(values: ArrayLike<number>): { mean: number; std: number } {
  const n = values.length;
  if (n === 0) {
    return { mean: NaN, std: NaN };
  }
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += values[i];
  }
  const mean = sum / n;
  let squares = 0;
  for (let i = 0; i < n; i++) {
    squares += (values[i] - mean) * (values[i] - mean);
  }
  return { mean, std: sqrt(squares / n) };
}

/**
 * Wasserstein-1 (earth mover's) distance between two samples, W1 = ∫ |F_R(x) − F_C(x)| dx, summed over the gaps
 * between consecutive distinct pooled values (Vallender 1973); equal to `scipy.stats.wasserstein_distance(R, C)`.
 * Both inputs ascending, without NaN.
 */
export function wassersteinDistance(referenceSorted: ArrayLike<number>, currentSorted: ArrayLike<number>): number {
  const n = referenceSorted.length;
  const m = currentSorted.length;
  if (n === 0 || m === 0) {
    return NaN;
  }
  let i = 0;
  let j = 0;
  let sum = 0;
  let x = min(referenceSorted[0], currentSorted[0]);
  while (i < n || j < m) {
    while (i < n && referenceSorted[i] <= x) {
      i++;
    }
    while (j < m && currentSorted[j] <= x) {
      j++;
    }
    if (i === n && j === m) {
      break;
    }
    const next = min(i < n ? referenceSorted[i] : POSITIVE_INFINITY, j < m ? currentSorted[j] : POSITIVE_INFINITY);
    sum += abs(i / n - j / m) * (next - x);
    x = next;
  }
  return sum;
}

/** W1 divided by the reference population std (ddof 0); the raw distance when that std is 0 (METRICS.md). */
export function normalizeWasserstein(distance: number, referenceStd: number): number {
  return referenceStd > 0 ? distance / referenceStd : distance;
}

/** Normalised Wasserstein-1 on raw samples: `wasserstein_distance(R, C) / std(R)` (Evidently's `wasserstein`). */
export function normalizedWasserstein(referenceSorted: ArrayLike<number>, currentSorted: ArrayLike<number>): number {
  return normalizeWasserstein(wassersteinDistance(referenceSorted, currentSorted), meanAndStd(referenceSorted).std);
}

/** ∫ |a + (b − a)t| dt over [0, 1] times the width: the area between a linear and a constant function. */
function absoluteLinearArea(startGap: number, endGap: number, width: number): number {
  if (startGap * endGap >= 0) {
    return ((abs(startGap) + abs(endGap)) / 2) * width;
  }
  return ((startGap * startGap + endGap * endGap) / (2 * (abs(startGap) + abs(endGap)))) * width;
}

/**
 * W1 between a reference quantile sketch (CDF G, piecewise linear) and a raw current sample: ∫ |G(x) − F_C(x)| dx,
 * integrated exactly between consecutive event points (current values and knots), where F_C is constant and G
 * linear. Approximate: G stands for the reference's empirical CDF.
 */
export function wassersteinAgainstSketch(sketch: QuantileSketch, currentSorted: ArrayLike<number>): number {
  if (currentSorted.length === 0) {
    return NaN;
  }
  let sum = 0;
  let previous: SketchEvent | undefined;
  forEachSketchEvent(sketch, currentSorted, (event) => {
    if (previous) {
      const current = previous.sampleAt;
      sum += absoluteLinearArea(previous.sketchAt - current, event.sketchBefore - current, event.x - previous.x);
    }
    previous = event;
  });
  return sum;
}

/**
 * Spread J = ∫ √(H(x)(1 − H(x))) dx of the pooled sample's empirical CDF H = (n·F_R + m·F_C)/(n + m), summed over
 * the gaps between consecutive pooled values. Under H0, √(nm/(n+m))·(F_R − F_C) tends to a Brownian bridge
 * B(F(x)), so W1 ≈ √(1/n + 1/m)·∫|B(F(x))|dx, whose scale is J (del Barrio, Giné & Matrán 1999, "Central limit
 * theorems for the Wasserstein distance between the empirical and the true distributions").
 */
export function pooledSpread(referenceSorted: ArrayLike<number>, currentSorted: ArrayLike<number>): number {
  const n = referenceSorted.length;
  const m = currentSorted.length;
  let i = 0;
  let j = 0;
  let sum = 0;
  let previous = NaN;
  while (i < n || j < m) {
    const x = j >= m || (i < n && referenceSorted[i] <= currentSorted[j]) ? referenceSorted[i++] : currentSorted[j++];
    if (i + j > 1) {
      const h = (i + j - 1) / (n + m);
      sum += sqrt(h * (1 - h)) * (x - previous);
    }
    previous = x;
  }
  return sum;
}

/**
 * Pooled spread J (see pooledSpread) with the reference held as a quantile sketch: H = (n·G + m·F_C)/(n + m),
 * integrated between consecutive event points with H at the interval's midpoint (G linear, F_C constant there).
 */
export function pooledSpreadAgainstSketch(sketch: QuantileSketch, currentSorted: ArrayLike<number>): number {
  const n = sketch.count;
  const m = currentSorted.length;
  let sum = 0;
  let previous: SketchEvent | undefined;
  forEachSketchEvent(sketch, currentSorted, (event) => {
    if (previous) {
      const h = (n * ((previous.sketchAt + event.sketchBefore) / 2) + m * previous.sampleAt) / (n + m);
      sum += sqrt(h * (1 - h)) * (event.x - previous.x);
    }
    previous = event;
  });
  return sum;
}

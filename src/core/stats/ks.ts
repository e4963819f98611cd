import { kolmogorovIsf, kolmogorovSf } from './kolmogorov';
import { forEachSketchEvent, QuantileSketch, sketchCdfErrorBound } from './sketch';

/** Math functions bound once: global lookups are slow inside sandboxed runtimes such as Jest's VM context. */
const { abs, ceil, floor, max, min, round } = Math;

/** Above this larger sample size ks_2samp(method='auto') switches from the exact to the asymptotic p-value (scipy's MAX_AUTO_N). */
export const KS_EXACT_MAX_SIZE = 10000;

export interface KsResult {
  /** D = sup_x |F_R(x) − F_C(x)|. */
  statistic: number;
  pValue: number;
}

/**
 * Two-sample Kolmogorov–Smirnov statistic D = sup_x |F_R(x) − F_C(x)| with right-continuous empirical CDFs,
 * evaluated at every distinct value of the pooled sample (ties advance both CDFs together), computed as
 * |i/n − j/m| exactly like `scipy.stats.ks_2samp`. Both inputs ascending, without NaN.
 */
export function ksStatistic(referenceSorted: ArrayLike<number>, currentSorted: ArrayLike<number>): number {
  const n = referenceSorted.length;
  const m = currentSorted.length;
  if (n === 0 || m === 0) {
    return NaN;
  }
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    const x = min(referenceSorted[i], currentSorted[j]);
    while (i < n && referenceSorted[i] <= x) {
      i++;
    }
    while (j < m && currentSorted[j] <= x) {
      j++;
    }
    d = max(d, abs(i / n - j / m));
  }
  return d;
}

function greatestCommonDivisor(a: number, b: number): number {
  while (b !== 0) {
    [a, b] = [b, a % b];
  }
  return a;
}

/**
 * Exact P(D ≥ d) under H0 for sample sizes n and m. D takes values h/L on the lattice L = lcm(n, m), so d is
 * rounded to it; the sample paths of the merged order form lattice walks from (0,0) to (n,m), each of the
 * C(n+m, n) orders equally likely, and D < h/L exactly when every visited (i, j) has |i·m − j·n| < h·gcd(n,m).
 * The probability of staying inside that band is propagated row by row with the step probabilities of a uniformly
 * random order ((n−i)/(n+m−i−j) for a reference step), which never overflows. Source: the lattice-path
 * formulation of Hodges (1957), "The significance probability of the Smirnov two-sample test".
 */
export function ksExactPValue(n: number, m: number, d: number): number {
  const g = greatestCommonDivisor(n, m);
  const lcm = (n / g) * m;
  const h = round(d * lcm);
  if (h <= 0) {
    return 1;
  }
  const bound = h * g;
  const total = n + m;
  const inside = new Float64Array(m + 1);
  inside[0] = 1;
  for (let j = 1; j <= m && j * n < bound; j++) {
    inside[j] = (inside[j - 1] * (m - j + 1)) / (total - j + 1);
  }
  for (let i = 1; i <= n; i++) {
    const low = max(0, floor((i * m - bound) / n) + 1);
    const high = min(m, ceil((i * m + bound) / n) - 1);
    if (low > 0) {
      inside[low - 1] = 0;
    }
    for (let j = low; j <= high; j++) {
      const remaining = total - i - j + 1;
      let probability = (inside[j] * (n - i + 1)) / remaining;
      if (j > 0) {
        probability += (inside[j - 1] * (m - j + 1)) / remaining;
      }
      inside[j] = probability;
    }
  }
  return min(1, max(0, 1 - inside[m]));
}

/** Effective sample size of the asymptotic two-sample p-value, rounded as scipy does: round(n·m/(n+m)). */
export function ksEffectiveSize(n: number, m: number): number {
  return max(1, round((n * m) / (n + m)));
}

/**
 * p-value of D as `scipy.stats.ks_2samp(method='auto')`: exact (ksExactPValue) when max(n, m) ≤ 10 000,
 * otherwise the one-sample Kolmogorov distribution at the effective size round(n·m/(n+m)) (`kstwo.sf`).
 */
export function ksPValue(d: number, n: number, m: number): number {
  if (n === 0 || m === 0 || Number.isNaN(d)) {
    return NaN;
  }
  return max(n, m) <= KS_EXACT_MAX_SIZE ? ksExactPValue(n, m, d) : kolmogorovSf(ksEffectiveSize(n, m), d);
}

/** Two-sample KS test on raw values (both ascending, no NaN): statistic and p-value as `scipy.stats.ks_2samp`. */
export function ksTwoSample(referenceSorted: ArrayLike<number>, currentSorted: ArrayLike<number>): KsResult {
  const statistic = ksStatistic(referenceSorted, currentSorted);
  return { statistic, pValue: ksPValue(statistic, referenceSorted.length, currentSorted.length) };
}

/**
 * Critical value of D at level alpha: the value D exceeds with probability alpha under H0, from the Kolmogorov
 * distribution at the effective size n·m/(n+m) (Smirnov 1939). With ties the test is conservative, so the rate
 * of exceedance is at most about alpha.
 */
export function ksCriticalValue(n: number, m: number, alpha: number): number {
  return kolmogorovIsf(ksEffectiveSize(n, m), alpha);
}

/** KS result against a reference held as a quantile sketch: approximate, with a bound on the error of D. */
export interface ApproximateKsResult extends KsResult {
  /** |D − D_exact| ≤ maxError, where D_exact is the statistic against the raw reference. */
  approximation: { source: 'quantile-sketch'; maxError: number };
}

/**
 * KS statistic of a raw current sample against a reference quantile sketch: sup_x |G(x) − F_C(x)| with G the
 * sketch CDF. Between consecutive event points (current values and knots) F_C is constant and G monotone, so the
 * supremum is reached at an event point, from the right or as a left limit. Since |G − F_R| ≤ 1/K + 1/n, D is
 * within that bound of the exact statistic; the p-value is ksPValue at the sketch's reference size.
 */
export function ksAgainstSketch(sketch: QuantileSketch, currentSorted: ArrayLike<number>): ApproximateKsResult {
  const m = currentSorted.length;
  const maxError = sketchCdfErrorBound(sketch);
  if (m === 0) {
    return { statistic: NaN, pValue: NaN, approximation: { source: 'quantile-sketch', maxError } };
  }
  let d = 0;
  forEachSketchEvent(sketch, currentSorted, (event) => {
    d = max(d, abs(event.sketchAt - event.sampleAt), abs(event.sketchBefore - event.sampleBefore));
  });
  return {
    statistic: d,
    pValue: ksPValue(d, sketch.count, m),
    approximation: { source: 'quantile-sketch', maxError },
  };
}

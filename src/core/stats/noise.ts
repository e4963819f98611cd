/**
 * Noise floors: for each metric, the value it exceeds with probability about alpha when reference and current
 * come from the same distribution, for the actual sample sizes n, m and number of bins (METRICS.md "Noise floor").
 * The binned floors rest on one expansion: with π_k the pooled proportions, Pearson's statistic of the 2×K table
 * is X² = (nm/(n+m))·Σ (p_k − q_k)²/π_k ~ χ²_{K−1} under H0, and to second order in p − q
 *   PSI ≈ Σ (p−q)²/π,  JSD (nats) ≈ Hellinger² ≈ Σ (p−q)²/(8π).
 * So each floor is the χ²_{K−1} critical value scaled by s = 1/n + 1/m (Yurdakul 2018 for PSI; Kullback 1959,
 * §5, for the divergences), times a small-count factor (SMALL_COUNT_FACTORS), plus the contribution of bins
 * likely to be empty (likelyEmptyBins). K counts the bins or categories that are non-empty in the pooled sample.
 */

import { ksCriticalValue } from './ks';
import { PSI_FLOOR } from './distances';
import { chiSquareIsf, inverseSurvival, normalIsf, normalSf } from './special';

/** Math functions bound once: global lookups are slow inside sandboxed runtimes such as Jest's VM context. */
const { abs, log, max, min, pow, sqrt } = Math;

/** Default probability of a false alarm per feature and window. */
export const DEFAULT_ALPHA = 0.01;

export interface BinnedNoiseFloors {
  psi: number;
  jsDistance: number;
  hellinger: number;
  lInf: number;
  /** Critical value of the chi-square statistic, dof = K − 1. */
  chiSquare: number;
}

/**
 * Calibrated small-count factors 1 + a/e + b/e² applied to the χ² scale, e the harmonic mean over the bins of the
 * expected count min(n, m)·π_k of the smaller sample. The χ² approximation is a second-order one; with few rows
 * per bin the higher-order terms fatten the upper tail. The coefficients cover the 99 % quantile ratio
 * (simulated metric / plain χ² floor) measured on no-drift normal data with B = 5, 10, 20 bins and n, m from 50
 * to 10 000: PSI 1.0–1.9, Hellinger 1.0–1.3, JS 1.0–1.12 for e from 50 down to 2.5; with them, exceedance rates
 * measured over 2 000 windows per cell (normal, lognormal, exponential, Poisson, categorical; n/m = 100/100,
 * 1 000/1 000, 10 000/100, 10 000/30) were 0–1.6 %. The no-drift tests in noise.test.ts keep them honest.
 */
export const SMALL_COUNT_FACTORS = {
  psi: { a: 2, b: 10 },
  hellinger: { a: 1.5, b: 2 },
  jsDistance: { a: 1.5, b: 1 },
} as const;

function smallCountFactor(coefficients: { a: number; b: number }, harmonicExpectedCount: number): number {
  const e = harmonicExpectedCount;
  return e > 0 && Number.isFinite(e) ? 1 + coefficients.a / e + coefficients.b / (e * e) : 1;
}

/**
 * Harmonic mean of the expected counts min(n, m)·π_k over the bins, K / Σ_k 1/(min(n, m)·π_k), where π_k
 * estimates the probability of bin k.
 */
export function harmonicExpectedCount(binProbabilities: ArrayLike<number>, n: number, m: number): number {
  let inverseSum = 0;
  let bins = 0;
  for (let k = 0; k < binProbabilities.length; k++) {
    if (binProbabilities[k] > 0) {
      inverseSum += 1 / (min(n, m) * binProbabilities[k]);
      bins++;
    }
  }
  return bins === 0 ? Infinity : bins / inverseSum;
}

/** The χ² scale s·χ²_{K−1, 1−α} shared by the binned floors. */
function chiSquareScale(n: number, m: number, bins: number, alpha: number): number {
  return (1 / n + 1 / m) * chiSquareIsf(alpha, max(0, bins - 1));
}

/**
 * The probabilities π_k of the bins likely to be empty on one side: P(empty) = (1−π_k)ⁿ + (1−π_k)ᵐ ≥ α/4.
 * An empty bin is where the second-order expansion fails worst (PSI's 1e-4 floor turns it into π·ln(π/1e-4)),
 * and when it happens in more than a fraction of α of the windows, its whole contribution belongs in the floor.
 */
export function likelyEmptyBins(
  binProbabilities: ArrayLike<number>,
  n: number,
  m: number,
  alpha: number = DEFAULT_ALPHA
): number[] {
  return Array.from(binProbabilities).filter((pi) => pi > 0 && pow(1 - pi, n) + pow(1 - pi, m) >= alpha / 4);
}

/** Σ π/2 over the likely empty bins: what an empty bin adds to JSD (bits) and to Hellinger², ½·π·log₂ 2 = π/2. */
function emptyBinDivergence(terms: SmallSampleTerms): number {
  return (terms.likelyEmpty ?? []).reduce((acc, pi) => acc + pi / 2, 0);
}

/** Extra small-sample information for the binned floors; the defaults give the plain χ² approximations. */
export interface SmallSampleTerms {
  /** harmonicExpectedCount of the bins (Infinity: no small-count factor). */
  expectedCount?: number;
  /** likelyEmptyBins: their empty-bin contributions are added to the floor. */
  likelyEmpty?: readonly number[];
}

/**
 * PSI floor f_psi(e)·s·χ²_{K−1, 1−α} + Σ_{likely empty} (π − 1e-4)·ln(π/1e-4): the textbook approximation
 * (METRICS.md) with the small-count factor and the contribution of bins likely to be empty.
 */
export function psiNoiseFloor(
  n: number,
  m: number,
  bins: number,
  alpha: number = DEFAULT_ALPHA,
  terms: SmallSampleTerms = {}
): number {
  const emptyTerm = (terms.likelyEmpty ?? []).reduce(
    (acc, pi) => acc + max(0, (pi - PSI_FLOOR) * log(pi / PSI_FLOOR)),
    0
  );
  return (
    smallCountFactor(SMALL_COUNT_FACTORS.psi, terms.expectedCount ?? Infinity) * chiSquareScale(n, m, bins, alpha) +
    emptyTerm
  );
}

/** Jensen–Shannon distance (base 2) floor √(f_js(e)·s·χ²_{K−1, 1−α}/(8 ln 2) + Σ_{likely empty} π/2). */
export function jsDistanceNoiseFloor(
  n: number,
  m: number,
  bins: number,
  alpha: number = DEFAULT_ALPHA,
  terms: SmallSampleTerms = {}
): number {
  const factor = smallCountFactor(SMALL_COUNT_FACTORS.jsDistance, terms.expectedCount ?? Infinity);
  return sqrt((factor * chiSquareScale(n, m, bins, alpha)) / (8 * Math.LN2) + emptyBinDivergence(terms));
}

/** Hellinger floor √(f_h(e)·s·χ²_{K−1, 1−α}/8 + Σ_{likely empty} π/2). */
export function hellingerNoiseFloor(
  n: number,
  m: number,
  bins: number,
  alpha: number = DEFAULT_ALPHA,
  terms: SmallSampleTerms = {}
): number {
  const factor = smallCountFactor(SMALL_COUNT_FACTORS.hellinger, terms.expectedCount ?? Infinity);
  return sqrt((factor * chiSquareScale(n, m, bins, alpha)) / 8 + emptyBinDivergence(terms));
}

/**
 * L∞ floor: t + c with Σ_k 2·P(|p_k − q_k| ≥ t) = α — a union (Bonferroni) bound over the bins — where
 * p_k − q_k has variance σ_k² = π_k(1−π_k)·s and skewness γ_k = |1−2π_k|·π_k(1−π_k)(1/n² + 1/m²)/σ_k³ (the
 * binomial cumulants), its tail taken from the Cornish–Fisher expansion u = z + (z² − 1)·γ/6 (Cornish & Fisher
 * 1938) so that few rows per bin (skewed counts) stay covered, and c = (1/n + 1/m)/2 is the continuity correction
 * for the lattice of count differences (Yates 1934).
 */
export function lInfNoiseFloor(
  pooledProportions: ArrayLike<number>,
  n: number,
  m: number,
  alpha: number = DEFAULT_ALPHA
): number {
  const bins = Array.from(pooledProportions)
    .filter((pi) => pi > 0 && pi < 1)
    .map((pi) => {
      const variance = pi * (1 - pi) * (1 / n + 1 / m);
      const sigma = sqrt(variance);
      const skew = (abs(1 - 2 * pi) * pi * (1 - pi) * (1 / (n * n) + 1 / (m * m))) / (variance * sigma);
      return { sigma, skew };
    });
  if (bins.length === 0) {
    return 0;
  }
  const exceedance = (t: number) =>
    min(
      1,
      bins.reduce((acc, { sigma, skew }) => acc + 2 * normalSf(cornishFisherZ(t / sigma, skew)), 0)
    );
  return inverseSurvival(exceedance, alpha, 0, 0.5) + (1 / n + 1 / m) / 2;
}

/** The standard normal z whose Cornish–Fisher quantile z + (z² − 1)·γ/6 equals u (positive root; u itself when γ = 0). */
function cornishFisherZ(u: number, skew: number): number {
  const g = skew / 6;
  if (g < 1e-12) {
    return u;
  }
  return (-1 + sqrt(1 + 4 * g * (g + u))) / (2 * g);
}

/**
 * Floors of the binned metrics from two aligned count vectors (numeric bins or categories). The small-sample
 * terms use the larger side's proportion max(p_k, q_k) of each bin — an estimate of π_k under H0 that an empty
 * bin on one side does not shrink (so a deviation does not raise its own floor); the L∞ variances use the pooled π_k.
 * The L∞ floor, a root search that costs more than the others together, is computed when first read (a caller rating
 * another metric never pays for it).
 */
export function binnedNoiseFloors(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
  alpha: number = DEFAULT_ALPHA
): BinnedNoiseFloors {
  let n = 0;
  let m = 0;
  for (let k = 0; k < referenceCounts.length; k++) {
    n += referenceCounts[k];
    m += currentCounts[k];
  }
  const pooled: number[] = [];
  const larger: number[] = [];
  for (let k = 0; k < referenceCounts.length; k++) {
    if (referenceCounts[k] + currentCounts[k] > 0) {
      pooled.push((referenceCounts[k] + currentCounts[k]) / (n + m));
      larger.push(max(referenceCounts[k] / n, currentCounts[k] / m));
    }
  }
  const bins = pooled.length;
  const terms = {
    expectedCount: harmonicExpectedCount(larger, n, m),
    likelyEmpty: likelyEmptyBins(larger, n, m, alpha),
  };
  let lInf: number | undefined;
  return {
    psi: psiNoiseFloor(n, m, bins, alpha, terms),
    jsDistance: jsDistanceNoiseFloor(n, m, bins, alpha, terms),
    hellinger: hellingerNoiseFloor(n, m, bins, alpha, terms),
    get lInf() {
      return (lInf ??= lInfNoiseFloor(pooled, n, m, alpha));
    },
    chiSquare: chiSquareIsf(alpha, max(0, bins - 1)),
  };
}

/** KS floor: the critical value of D at level alpha for sizes n, m (see ksCriticalValue). */
export function ksNoiseFloor(n: number, m: number, alpha: number = DEFAULT_ALPHA): number {
  return ksCriticalValue(n, m, alpha);
}

/**
 * Normalised Wasserstein floor z_{1−α/2}·√(1/n + 1/m)·J/σ_R, with J = ∫√(H(1−H))dx the spread of the pooled
 * sample's CDF H (pooledSpread) and σ_R the reference std. Under H0, W1·√(nm/(n+m)) → ∫|B(F(x))|dx = J·E_w|Z_x|,
 * a weighted average of standard normal magnitudes (weights √(F(1−F))/J), which is below one |Z| in convex order,
 * so its upper α-quantile is taken as that of |Z| (del Barrio, Giné & Matrán 1999). The pooled spread (rather than
 * the reference's) keeps heavy tails in check: a current sample that reaches far out widens J with W1. Measured
 * 99 % quantiles of W1/(√s·J) on no-drift data were 1.4–1.9 (normal, exponential, t₃, lognormal σ = 1.5,
 * Poisson; n = m = 100 and 1 000) against 2.576. When σ_R = 0 the floor is for the raw distance.
 */
export function wassersteinNoiseFloor(
  n: number,
  m: number,
  pooledSpread: number,
  referenceStd: number,
  alpha: number = DEFAULT_ALPHA
): number {
  const raw = normalIsf(alpha / 2) * sqrt(1 / n + 1 / m) * pooledSpread;
  return referenceStd > 0 ? raw / referenceStd : raw;
}

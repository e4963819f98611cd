import { inverseSurvival, logGamma } from './special';

/** Math functions bound once: global lookups are slow inside sandboxed runtimes such as Jest's VM context. */
const { abs, ceil, exp, floor, log, max, min, pow, sqrt } = Math;

/**
 * Distribution of the one-sample two-sided Kolmogorov–Smirnov statistic D_n (scipy's `kstwo`), used for the
 * asymptotic two-sample p-value with effective size round(n·m/(n+m)) as `scipy.stats.ks_2samp` does.
 * Methods, after Simard & L'Ecuyer (2011), "Computing the two-sided Kolmogorov–Smirnov distribution", JSS 39(11):
 * - nx ≤ 1 and nx ≥ n − 1: Ruben & Gambino's closed forms;
 * - n ≤ 140: Durbin's matrix formula (Marsaglia, Tsang & Wang 2003) in the body, twice the exact one-sided
 *   Smirnov tail (Birnbaum & Tingey 1951) when n·x² > 4 or x ≥ ½ (where the two-sided tail is that sum to 1e-10);
 * - n > 140: the Pelz–Good (1976) expansion to order n^(−3/2).
 */

/** ln(n!/nⁿ). */
function logFactorialOverPower(n: number): number {
  return logGamma(n + 1) - n * log(n);
}

/**
 * Exact one-sided Smirnov tail P(D⁺_n ≥ x) = x Σ_{j=0}^{⌊n(1−x)⌋} C(n,j) (1 − x − j/n)^{n−j} (x + j/n)^{j−1}
 * (Birnbaum & Tingey 1951), summed in log space.
 */
export function smirnovSf(n: number, x: number): number {
  if (x <= 0) {
    return 1;
  }
  if (x >= 1) {
    return 0;
  }
  const last = floor(n * (1 - x) + 1e-12);
  const logNFactorial = logGamma(n + 1);
  let sum = 0;
  for (let j = 0; j <= last; j++) {
    const rest = 1 - x - j / n;
    if (rest <= 0 && n - j > 0) {
      continue;
    }
    const logTerm =
      logNFactorial - logGamma(j + 1) - logGamma(n - j + 1) + (n - j) * log(max(rest, 0)) + (j - 1) * log(x + j / n);
    sum += exp(logTerm);
  }
  return min(1, x * sum);
}

/** C = A·B for square matrices stored row-major in Float64Array. */
function multiply(a: Float64Array, b: Float64Array, size: number): Float64Array {
  const c = new Float64Array(size * size);
  for (let i = 0; i < size; i++) {
    for (let k = 0; k < size; k++) {
      const aik = a[i * size + k];
      if (aik === 0) {
        continue;
      }
      for (let j = 0; j < size; j++) {
        c[i * size + j] += aik * b[k * size + j];
      }
    }
  }
  return c;
}

const SCALE = 1e140;
const LOG_SCALE = log(SCALE);

/**
 * Durbin's matrix formula: P(D_n < d) = n!/nⁿ · (Hⁿ)_{kk}, with k = ⌊nd⌋ + 1, m = 2k − 1, h = k − nd and
 * H_{ij} = [i − j + 1 ≥ 0]/(i − j + 1)!, corrected in the first column and last row by hⁱ, h^(m−j) and (2h−1)^m.
 * The power is taken by squaring with rescaling (Marsaglia, Tsang & Wang 2003, "Evaluating Kolmogorov's distribution").
 */
export function durbinCdf(n: number, d: number): number {
  const k = floor(n * d) + 1;
  const size = 2 * k - 1;
  const h = k - n * d;
  const matrix = new Float64Array(size * size);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      matrix[i * size + j] = i - j + 1 >= 0 ? 1 : 0;
    }
  }
  for (let i = 0; i < size; i++) {
    matrix[i * size] -= pow(h, i + 1);
    matrix[(size - 1) * size + i] -= pow(h, size - i);
  }
  matrix[(size - 1) * size] += 2 * h - 1 > 0 ? pow(2 * h - 1, size) : 0;
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      const order = i - j + 1;
      if (order > 0) {
        matrix[i * size + j] /= exp(logGamma(order + 1));
      }
    }
  }
  let result: Float64Array | null = null;
  let resultLogScale = 0;
  let power: Float64Array = matrix;
  let powerLogScale = 0;
  for (let e = n; e > 0; e >>= 1) {
    if (e & 1) {
      if (result === null) {
        result = power;
        resultLogScale = powerLogScale;
      } else {
        result = multiply(result, power, size);
        resultLogScale += powerLogScale;
        resultLogScale += rescale(result);
      }
    }
    if (e > 1) {
      power = multiply(power, power, size);
      powerLogScale *= 2;
      powerLogScale += rescale(power);
    }
  }
  const center = result![(k - 1) * size + (k - 1)];
  if (center <= 0) {
    return 0;
  }
  return min(1, exp(log(center) + resultLogScale + logFactorialOverPower(n)));
}

/** Divides the matrix by 1e140 while its centre-relevant entries are huge; returns the log of the factor taken out. */
function rescale(matrix: Float64Array): number {
  let largest = 0;
  for (let i = 0; i < matrix.length; i++) {
    largest = max(largest, abs(matrix[i]));
  }
  if (largest <= SCALE) {
    return 0;
  }
  for (let i = 0; i < matrix.length; i++) {
    matrix[i] /= SCALE;
  }
  return LOG_SCALE;
}

/**
 * Pelz–Good expansion of P(D_n ≤ x), z = x√n:
 *   K0 = √(2π)/z Σ e^(−u),  u = (2k−1)²π²/(8z²)
 *   K1 = √(2π)/(6z⁴) Σ (π²m²/4 − z²) e^(−u),  m = 2k − 1
 *   K2 = √(2π)/(72z⁷) Σ [6z⁶ + 2z⁴ + (2z⁴ − 5z²)π²m²/4 + (1 − 2z²)π⁴m⁴/16] e^(−u) − π²√(2π)/(36z³) Σ k² e^(−π²k²/(2z²))
 *   K3 = √(2π)/(6480z¹⁰) Σ [−90z⁸ − 30z⁶ + (135z⁴ − 96z⁶)π²m²/4 + (212z⁴ − 60z²)π⁴m⁴/16 + (5 − 30z²)π⁶m⁶/64] e^(−u)
 *        + π²√(2π)/(216z⁶) Σ (3z² − π²k²) k² e^(−π²k²/(2z²))
 *   P ≈ K0 + K1/√n + K2/n + K3/n^(3/2).
 * Source: Pelz & Good (1976), JRSS B 38(2), as restated by Simard & L'Ecuyer (2011), §2.
 */
export function pelzGoodCdf(n: number, x: number): number {
  const z = x * sqrt(n);
  if (z < 0.04) {
    return 0;
  }
  const pi2 = Math.PI * Math.PI;
  const z2 = z * z;
  const z4 = z2 * z2;
  const z6 = z4 * z2;
  const z8 = z4 * z4;
  const sqrt2pi = sqrt(2 * Math.PI);
  const terms = ceil((16 * z) / Math.PI) + 2;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let e2 = 0;
  let e3 = 0;
  for (let k = 1; k <= terms; k++) {
    const m2 = (2 * k - 1) * (2 * k - 1);
    const w = exp((-pi2 * m2) / (8 * z2));
    const a = (pi2 * m2) / 4;
    s0 += w;
    s1 += (a - z2) * w;
    s2 += (6 * z6 + 2 * z4 + (2 * z4 - 5 * z2) * a + (1 - 2 * z2) * a * a) * w;
    s3 +=
      (-90 * z8 - 30 * z6 + (135 * z4 - 96 * z6) * a + (212 * z4 - 60 * z2) * a * a + (5 - 30 * z2) * a * a * a) * w;
    const k2 = k * k;
    const v = exp((-pi2 * k2) / (2 * z2));
    e2 += k2 * v;
    e3 += (3 * z2 - pi2 * k2) * k2 * v;
  }
  const k0 = (sqrt2pi / z) * s0;
  const k1 = (sqrt2pi / (6 * z4)) * s1;
  const k2 = (sqrt2pi / (72 * z6 * z)) * s2 - ((pi2 * sqrt2pi) / (36 * z2 * z)) * e2;
  const k3 = (sqrt2pi / (6480 * z8 * z2)) * s3 + ((pi2 * sqrt2pi) / (216 * z6)) * e3;
  const rootN = sqrt(n);
  const cdf = k0 + k1 / rootN + k2 / n + k3 / (n * rootN);
  return min(1, max(0, cdf));
}

/** P(D_n ≥ x) for the one-sample two-sided statistic with n observations (`scipy.stats.kstwo.sf(x, n)`). */
export function kolmogorovSf(n: number, x: number): number {
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`kolmogorovSf: n must be a positive integer, got ${n}`);
  }
  if (x >= 1) {
    return 0;
  }
  const t = n * x;
  if (t <= 0.5) {
    return 1;
  }
  if (t <= 1) {
    return 1 - exp(logFactorialOverPower(n) + n * log(2 * t - 1));
  }
  if (t >= n - 1) {
    return 2 * pow(1 - x, n);
  }
  if (n <= 140) {
    if (x >= 0.5 || t * x > 4) {
      return min(1, 2 * smirnovSf(n, x));
    }
    return min(1, max(0, 1 - durbinCdf(n, x)));
  }
  if (t * x >= 370) {
    return 0;
  }
  return 1 - pelzGoodCdf(n, x);
}

const criticalValues = new Map<string, number>();
const MAX_CACHED_CRITICAL_VALUES = 10000;

/**
 * Critical value of D_n: the x with P(D_n ≥ x) = alpha (bisection on kolmogorovSf). Memoised per (n, alpha),
 * because noise floors ask for the same few sizes for every feature and time bucket.
 */
export function kolmogorovIsf(n: number, alpha: number): number {
  const key = `${n}:${alpha}`;
  let value = criticalValues.get(key);
  if (value === undefined) {
    value = inverseSurvival((x) => kolmogorovSf(n, min(x, 1)), alpha, 0, min(1, 2 / sqrt(n)));
    if (criticalValues.size >= MAX_CACHED_CRITICAL_VALUES) {
      criticalValues.clear();
    }
    criticalValues.set(key, value);
  }
  return value;
}

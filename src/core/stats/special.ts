import { gammaln } from 'simple-statistics';

/** Math functions bound once: global lookups are slow inside sandboxed runtimes such as Jest's VM context. */
const { abs, exp, log, max } = Math;

/**
 * Special functions behind the p-values and noise floors: regularized incomplete gamma, chi-square and
 * normal tails and their inverses. Algorithms: Press et al., "Numerical Recipes", 3rd ed., §6.2 (series for
 * P(a, x) when x < a + 1, Lentz continued fraction for Q(a, x) otherwise).
 */

const EPSILON = 1e-16;
const TINY = 1e-300;
const MAX_ITERATIONS = 10000;

/** ln Γ(a) (Lanczos approximation from simple-statistics). */
export function logGamma(a: number): number {
  return gammaln(a);
}

function lowerGammaSeries(a: number, x: number): number {
  let term = 1 / a;
  let sum = term;
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    term *= x / (a + i);
    sum += term;
    if (abs(term) < abs(sum) * EPSILON) {
      break;
    }
  }
  return sum * exp(-x + a * log(x) - logGamma(a));
}

function upperGammaContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    d = abs(d) < TINY ? TINY : d;
    c = b + an / c;
    c = abs(c) < TINY ? TINY : c;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (abs(delta - 1) < EPSILON) {
      break;
    }
  }
  return exp(-x + a * log(x) - logGamma(a)) * h;
}

/** Regularized upper incomplete gamma Q(a, x) = Γ(a, x)/Γ(a), a > 0, x ≥ 0. */
export function regularizedGammaQ(a: number, x: number): number {
  if (x <= 0) {
    return 1;
  }
  return x < a + 1 ? 1 - lowerGammaSeries(a, x) : upperGammaContinuedFraction(a, x);
}

/** Chi-square survival function P(X ≥ x) for k degrees of freedom: Q(k/2, x/2). k = 0 is the point mass at 0. */
export function chiSquareSf(x: number, dof: number): number {
  if (dof === 0) {
    return x > 0 ? 0 : 1;
  }
  return regularizedGammaQ(dof / 2, x / 2);
}

/** Complementary error function erfc(x) = Q(½, x²) for x ≥ 0, 2 − erfc(−x) otherwise. */
export function erfc(x: number): number {
  return x >= 0 ? regularizedGammaQ(0.5, x * x) : 2 - regularizedGammaQ(0.5, x * x);
}

/** Standard normal survival function P(Z > z) = ½·erfc(z/√2). */
export function normalSf(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/**
 * Inverse of a decreasing survival function on [lo, ∞): the x with sf(x) = alpha, by bracketing then bisection
 * to relative precision 1e-12. Shared by the chi-square, normal and Kolmogorov inverses.
 */
export function inverseSurvival(sf: (x: number) => number, alpha: number, lo: number, initialHi: number): number {
  if (!(alpha > 0 && alpha < 1)) {
    throw new Error(`inverseSurvival: alpha must be in (0, 1), got ${alpha}`);
  }
  let low = lo;
  let high = initialHi;
  while (sf(high) > alpha) {
    low = high;
    high *= 2;
  }
  for (let i = 0; i < 200 && high - low > 1e-12 * max(1, abs(high)); i++) {
    const mid = (low + high) / 2;
    if (sf(mid) > alpha) {
      low = mid;
    } else {
      high = mid;
    }
  }
  return (low + high) / 2;
}

const chiSquareCriticalValues = new Map<string, number>();

/**
 * Chi-square critical value: the x with P(X ≥ x) = alpha for k degrees of freedom (0 when k = 0). Memoised per
 * (alpha, k): noise floors ask for the same few values for every feature and time bucket.
 */
export function chiSquareIsf(alpha: number, dof: number): number {
  if (dof === 0) {
    return 0;
  }
  const key = `${alpha}:${dof}`;
  let value = chiSquareCriticalValues.get(key);
  if (value === undefined) {
    value = inverseSurvival((x) => chiSquareSf(x, dof), alpha, 0, dof + 10);
    if (chiSquareCriticalValues.size >= 10000) {
      chiSquareCriticalValues.clear();
    }
    chiSquareCriticalValues.set(key, value);
  }
  return value;
}

/** Standard normal upper quantile: the z with P(Z > z) = alpha (alpha < ½). */
export function normalIsf(alpha: number): number {
  return inverseSurvival(normalSf, alpha, 0, 8);
}

/**
 * Distances between two distributions given as proportions over the same bins or categories
 * (p = reference, q = current; each sums to 1). Definitions: METRICS.md "Distances on proportions".
 */

/** Math functions bound once: global lookups are slow inside sandboxed runtimes such as Jest's VM context. */
const { abs, log, max, min, sqrt } = Math;

/** Floor applied to each proportion inside PSI (METRICS.md; Evidently's patch), not renormalised. */
export const PSI_FLOOR = 1e-4;

function assertSameLength(p: ArrayLike<number>, q: ArrayLike<number>, name: string): void {
  if (p.length !== q.length) {
    throw new Error(`${name}: the proportion vectors have ${p.length} and ${q.length} entries; align them first`);
  }
}

/**
 * Population Stability Index: PSI = Σ_k (q'_k − p'_k)·ln(q'_k / p'_k), p'_k = max(p_k, 1e-4), q'_k = max(q_k, 1e-4).
 * Source: Yurdakul (2018), "Statistical properties of population stability index"; floor as in METRICS.md.
 */
export function psi(p: ArrayLike<number>, q: ArrayLike<number>): number {
  assertSameLength(p, q, 'psi');
  let sum = 0;
  for (let k = 0; k < p.length; k++) {
    const pk = max(p[k], PSI_FLOOR);
    const qk = max(q[k], PSI_FLOOR);
    sum += (qk - pk) * log(qk / pk);
  }
  return sum;
}

/**
 * Jensen–Shannon distance, base 2: √JSD with JSD = ½ Σ p log₂(p/M) + ½ Σ q log₂(q/M), M = (p+q)/2, 0·log 0 = 0.
 * Range [0, 1]. Equal to `scipy.spatial.distance.jensenshannon(p, q, base=2)` (Lin 1991).
 */
export function jensenShannonDistance(p: ArrayLike<number>, q: ArrayLike<number>): number {
  assertSameLength(p, q, 'jensenShannonDistance');
  let sum = 0;
  for (let k = 0; k < p.length; k++) {
    const m = (p[k] + q[k]) / 2;
    if (p[k] > 0) {
      sum += p[k] * log(p[k] / m);
    }
    if (q[k] > 0) {
      sum += q[k] * log(q[k] / m);
    }
  }
  return sqrt(max(0, sum / 2 / Math.LN2));
}

/**
 * Hellinger distance H = √(1 − Σ_k √(p_k·q_k)). Range [0, 1]. Evaluated as √(½ Σ_k (√p_k − √q_k)²), equal when
 * Σp = Σq = 1, which avoids the cancellation of 1 − Σ√(pq) near 0 (Le Cam & Yang 2000, §3.2).
 */
export function hellinger(p: ArrayLike<number>, q: ArrayLike<number>): number {
  assertSameLength(p, q, 'hellinger');
  let squares = 0;
  for (let k = 0; k < p.length; k++) {
    squares += (sqrt(p[k]) - sqrt(q[k])) ** 2;
  }
  return min(1, sqrt(squares / 2));
}

/** L∞ (Chebyshev) distance max_k |p_k − q_k|: the largest change in one bin or category. */
export function lInfinity(p: ArrayLike<number>, q: ArrayLike<number>): number {
  assertSameLength(p, q, 'lInfinity');
  let largest = 0;
  for (let k = 0; k < p.length; k++) {
    largest = max(largest, abs(p[k] - q[k]));
  }
  return largest;
}

/**
 * Seeded pseudo-random numbers for simulations (no-drift calibration tests, `mlmon simulate`): reproducible across
 * platforms, not for cryptography.
 */

/** Math functions bound once: global lookups are slow inside sandboxed runtimes such as Jest's VM context. */
const { cos, exp, imul, log, sqrt } = Math;

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/**
 * Mulberry32 (Tommy Ettinger, 2017): a 32-bit state advanced by the Weyl constant 0x6D2B79F5 and mixed by two
 * multiply–xorshift rounds; period 2³², passes PractRand to 2³² outputs — plenty for tests and demo data.
 */
export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draw by the Box–Muller transform: √(−2 ln u₁)·cos(2πu₂). */
export function normalDraw(random: Random): number {
  const u1 = 1 - random();
  const u2 = random();
  return sqrt(-2 * log(u1)) * cos(2 * Math.PI * u2);
}

/** Exponential draw with the given rate by inversion: −ln(1 − u)/rate. */
export function exponentialDraw(random: Random, rate = 1): number {
  return -log(1 - random()) / rate;
}

/** Poisson draw by Knuth's multiplication method (fine for mean ≲ 30). */
export function poissonDraw(random: Random, mean: number): number {
  const limit = exp(-mean);
  let k = 0;
  let product = random();
  while (product > limit) {
    k++;
    product *= random();
  }
  return k;
}

/** n independent draws of a generator into a Float64Array. */
export function sample(n: number, draw: () => number): Float64Array {
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    values[i] = draw();
  }
  return values;
}

/** Multinomial counts of n draws over the given probabilities (inversion on the cumulative sums). */
export function multinomialCounts(random: Random, n: number, probabilities: readonly number[]): number[] {
  const cumulative: number[] = [];
  let total = 0;
  for (const p of probabilities) {
    total += p;
    cumulative.push(total);
  }
  const counts = new Array<number>(probabilities.length).fill(0);
  for (let i = 0; i < n; i++) {
    const u = random() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid] > u) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    counts[lo]++;
  }
  return counts;
}

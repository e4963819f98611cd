/** Property tests (fast-check): ranges, symmetry, identity and order invariance of the metrics. */
import fc from 'fast-check';

import {
  alignCategories,
  chiSquareHomogeneity,
  compareCategorical,
  compareNumeric,
  hellinger,
  jensenShannonDistance,
  ksStatistic,
  ksTwoSample,
  lInfinity,
  prepareCategorical,
  prepareNumeric,
  proportions,
  psi,
  wassersteinDistance,
} from './index';

const counts = (length: number) =>
  fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: length, maxLength: length });
/** Two count vectors over the same 2–12 bins, each with a positive total. */
const countPairs = fc
  .integer({ min: 2, max: 12 })
  .chain((k) => fc.tuple(counts(k), counts(k)))
  .filter(([a, b]) => a.some((x) => x > 0) && b.some((x) => x > 0));
/** Samples with ties (small integer grid) or continuous values. */
const values = fc.oneof(
  fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 1, maxLength: 60 }),
  fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 60 })
);

function sorted(xs: number[]): Float64Array {
  return prepareNumeric(xs).sorted;
}

describe('distances on proportions', () => {
  it('JS distance and Hellinger lie in [0, 1], L∞ in [0, 1], PSI ≥ 0', () => {
    fc.assert(
      fc.property(countPairs, ([a, b]) => {
        const p = proportions(a);
        const q = proportions(b);
        for (const value of [jensenShannonDistance(p, q), hellinger(p, q), lInfinity(p, q)]) {
          expect(value).toBeGreaterThanOrEqual(0);
          expect(value).toBeLessThanOrEqual(1 + 1e-12);
        }
        expect(psi(p, q)).toBeGreaterThanOrEqual(0);
      })
    );
  });

  it('JS, Hellinger, L∞ and PSI are symmetric in p and q; the chi-square test too', () => {
    // PSI's floor applies to both sides alike, so it stays symmetric: (q'−p')ln(q'/p') = (p'−q')ln(p'/q').
    fc.assert(
      fc.property(countPairs, ([a, b]) => {
        const p = proportions(a);
        const q = proportions(b);
        expect(jensenShannonDistance(p, q)).toBeCloseTo(jensenShannonDistance(q, p), 12);
        expect(hellinger(p, q)).toBeCloseTo(hellinger(q, p), 12);
        expect(lInfinity(p, q)).toBe(lInfinity(q, p));
        expect(psi(p, q)).toBeCloseTo(psi(q, p), 12);
        const forward = chiSquareHomogeneity(a, b);
        const backward = chiSquareHomogeneity(b, a);
        expect(forward.statistic).toBeCloseTo(backward.statistic, 8);
        expect(forward.dof).toBe(backward.dof);
      })
    );
  });

  it('identical distributions give 0 (and chi-square p = 1)', () => {
    fc.assert(
      fc.property(
        counts(8).filter((a) => a.some((x) => x > 0)),
        fc.integer({ min: 1, max: 5 }),
        (a, factor) => {
          const p = proportions(a);
          const q = proportions(a.map((x) => x * factor));
          expect(psi(p, q)).toBeCloseTo(0, 12);
          expect(jensenShannonDistance(p, q)).toBeCloseTo(0, 6);
          expect(hellinger(p, q)).toBeCloseTo(0, 7);
          expect(lInfinity(p, q)).toBeCloseTo(0, 12);
          expect(chiSquareHomogeneity(a, a).pValue).toBeCloseTo(1, 12);
        }
      )
    );
  });

  it('disjoint distributions reach the maxima: JS 1, Hellinger 1, L∞ 1', () => {
    const p = [1, 0, 0];
    const q = [0, 0.5, 0.5];
    expect(jensenShannonDistance(p, q)).toBeCloseTo(1, 12);
    expect(hellinger(p, q)).toBeCloseTo(1, 12);
    expect(lInfinity(p, q)).toBe(1);
  });
});

describe('raw-value numeric metrics', () => {
  it('KS statistic and Wasserstein-1 are symmetric and ≥ 0; KS ≤ 1; p-value in [0, 1]', () => {
    fc.assert(
      fc.property(values, values, (a, b) => {
        const x = sorted(a);
        const y = sorted(b);
        const d = ksStatistic(x, y);
        expect(d).toBe(ksStatistic(y, x));
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(1);
        const w = wassersteinDistance(x, y);
        expect(w).toBeGreaterThanOrEqual(0);
        expect(w).toBeCloseTo(wassersteinDistance(y, x), 6);
        const { pValue } = ksTwoSample(x, y);
        expect(pValue).toBeGreaterThanOrEqual(0);
        expect(pValue).toBeLessThanOrEqual(1);
      })
    );
  });

  it('identical samples give KS 0 with p 1 and Wasserstein 0', () => {
    fc.assert(
      fc.property(values, (a) => {
        const x = sorted(a);
        expect(ksTwoSample(x, x)).toEqual({ statistic: 0, pValue: 1 });
        expect(wassersteinDistance(x, x)).toBe(0);
      })
    );
  });

  it('Wasserstein-1 of a shift by c is |c|', () => {
    fc.assert(
      fc.property(values, fc.double({ min: -100, max: 100, noNaN: true }), (a, c) => {
        const x = sorted(a.map(Number));
        const y = x.map((v) => v + c);
        expect(wassersteinDistance(x, y)).toBeCloseTo(Math.abs(c), 6 - Math.log10(1 + Math.max(...x.map(Math.abs))));
      })
    );
  });
});

describe('feature comparisons do not depend on row order', () => {
  const shuffled = <T>(xs: T[], seed: number): T[] => {
    const out = xs.slice();
    let state = seed;
    for (let i = out.length - 1; i > 0; i--) {
      state = (state * 1103515245 + 12345) % 2147483648;
      const j = state % (i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  };

  it('numeric', () => {
    fc.assert(
      fc.property(values, values, fc.nat(), (a, b, seed) => {
        const original = compareNumeric(prepareNumeric(a), prepareNumeric(b), { minCount: 1 });
        const permuted = compareNumeric(prepareNumeric(shuffled(a, seed)), prepareNumeric(shuffled(b, seed + 1)), {
          minCount: 1,
        });
        expect(permuted).toEqual(original);
      }),
      { numRuns: 50 }
    );
  });

  it('categorical (category union, order of rows and of categories)', () => {
    const category = fc.constantFrom('a', 'b', 'c', 'd', 'e', null, '');
    fc.assert(
      fc.property(
        fc.array(category, { minLength: 1, maxLength: 80 }),
        fc.array(category, { minLength: 1, maxLength: 80 }),
        fc.nat(),
        (a, b, seed) => {
          const original = compareCategorical(prepareCategorical(a), prepareCategorical(b), { minCount: 1 });
          const permuted = compareCategorical(
            prepareCategorical(shuffled(a, seed)),
            prepareCategorical(shuffled(b, seed + 7)),
            { minCount: 1 }
          );
          expect(permuted).toEqual(original);
          const aligned = alignCategories(prepareCategorical(a).counts, prepareCategorical(b).counts);
          expect(new Set(aligned.labels)).toEqual(new Set([...a, ...b].filter((x) => x !== null && x !== '')));
        }
      ),
      { numRuns: 100 }
    );
  });
});

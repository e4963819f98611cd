/**
 * Parity with numpy/scipy: scripts/reference_values.py generates seeded data and the expected numbers into a
 * temporary directory; every case is recomputed here and compared (METRICS.md tolerances).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import {
  binCounts,
  binCountsSorted,
  buildNumericBaseline,
  chiSquareHomogeneity,
  chiSquareIsf,
  chiSquareSf,
  compareCategorical,
  compareCounts,
  compareNumeric,
  compareNumericToBaseline,
  hellinger,
  jensenShannonDistance,
  kolmogorovIsf,
  kolmogorovSf,
  ksTwoSample,
  lInfinity,
  prepareCategorical,
  prepareNumeric,
  proportions,
  psi,
  referenceEdges,
  wassersteinDistance,
} from './index';
import * as python from '../../../test/support/python';

interface DistanceExpectation {
  psi: number;
  jsDistance: number;
  jsDistanceScipy: number;
  hellinger: number;
  hellingerBhattacharyya: number;
  lInf: number;
}
interface NumericCase {
  name: string;
  bins: number;
  reference: Array<number | null>;
  current: Array<number | null>;
  expected: DistanceExpectation & {
    edges: number[];
    referenceCounts: number[];
    currentCounts: number[];
    reference: { count: number; missing: number };
    current: { count: number; missing: number };
    ks: { statistic: number; pValue: number };
    wasserstein: { distance: number; normalized: number; referenceStd: number };
  };
}
interface CategoricalCase {
  name: string;
  reference: Array<string | null>;
  current: Array<string | null>;
  expected: DistanceExpectation & {
    categories: string[];
    referenceCounts: number[];
    currentCounts: number[];
    reference: { count: number; missing: number };
    current: { count: number; missing: number };
    chiSquare: { statistic: number; pValue: number; dof: number };
  };
}
interface CountsCase {
  name: string;
  referenceCounts: number[];
  currentCounts: number[];
  expected: DistanceExpectation & { chiSquare: { statistic: number; pValue: number; dof: number } };
}
interface Reference {
  numeric: NumericCase[];
  categorical: CategoricalCase[];
  counts: CountsCase[];
  kolmogorov: Array<{ n: number; x?: number; sf?: number; isf01?: number; isf05?: number }>;
  chiSquare: Array<{ dof: number; x?: number; sf?: number; alpha?: number; isf?: number }>;
}

let reference: Reference;
let directory: string;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'mlmon-stats-'));
  const script = resolve(__dirname, '../../../scripts/reference_values.py');
  python.runPython(python.findPythonWithScipy(), script, [directory]);
  reference = JSON.parse(readFileSync(join(directory, 'reference.json'), 'utf8'));
}, 120000);

afterAll(() => {
  if (directory) {
    rmSync(directory, { recursive: true, force: true });
  }
});

/** |actual − expected| ≤ absolute + relative·|expected|. */
function expectClose(actual: number, expected: number, relative = 1e-12, absolute = 1e-12): void {
  if (Number.isNaN(expected)) {
    expect(actual).toBeNaN();
    return;
  }
  const tolerance = absolute + relative * Math.abs(expected);
  if (!(Math.abs(actual - expected) <= tolerance)) {
    throw new Error(`expected ${actual} to be within ${tolerance} of ${expected}`);
  }
}

function expectDistances(
  actual: { psi: number; jsDistance: number; hellinger: number; lInf: number },
  expected: DistanceExpectation
): void {
  expectClose(actual.psi, expected.psi, 1e-12, 1e-14);
  expectClose(actual.jsDistance, expected.jsDistance, 1e-10, 1e-12);
  expectClose(actual.jsDistance, expected.jsDistanceScipy, 1e-10, 1e-12);
  expectClose(actual.hellinger, expected.hellinger, 1e-10, 1e-12);
  // the 1 − Σ√(pq) form loses ~1e-8 to cancellation near 0
  expectClose(actual.hellinger, expected.hellingerBhattacharyya, 1e-7, 1e-7);
  expectClose(actual.lInf, expected.lInf, 1e-12, 1e-15);
}

/** METRICS.md: a KS p-value within 0.002 + 5 % of scipy's. */
function expectKsPValue(actual: number, expected: number): void {
  expectClose(actual, expected, 0.05, 0.002);
}

describe('numeric cases against numpy/scipy', () => {
  it('has the generated cases', () => {
    expect(reference.numeric.length).toBeGreaterThanOrEqual(20);
  });

  it('bins like numpy.quantile + searchsorted', () => {
    for (const c of reference.numeric) {
      const ref = prepareNumeric(c.reference);
      const cur = prepareNumeric(c.current);
      const edges = referenceEdges(ref.sorted, c.bins);
      expect(edges.length).toBe(c.expected.edges.length);
      edges.forEach((edge, k) => expectClose(edge, c.expected.edges[k], 1e-12, 1e-12));
      expect(binCountsSorted(c.expected.edges, ref.sorted)).toEqual(c.expected.referenceCounts);
      expect(binCountsSorted(c.expected.edges, cur.sorted)).toEqual(c.expected.currentCounts);
      expect(binCounts(c.expected.edges, Float64Array.from(cur.sorted).reverse())).toEqual(c.expected.currentCounts);
      expect({ count: ref.sorted.length, missing: ref.missing }).toEqual(c.expected.reference);
      expect({ count: cur.sorted.length, missing: cur.missing }).toEqual(c.expected.current);
    }
  });

  it('psi, jensenShannonDistance, hellinger and lInfinity match on the bin proportions', () => {
    for (const c of reference.numeric) {
      const p = proportions(c.expected.referenceCounts);
      const q = proportions(c.expected.currentCounts);
      expectDistances(
        { psi: psi(p, q), jsDistance: jensenShannonDistance(p, q), hellinger: hellinger(p, q), lInf: lInfinity(p, q) },
        c.expected
      );
    }
  });

  it('KS statistic matches ks_2samp to 1e-12 and the p-value within 0.002 + 5 %', () => {
    for (const c of reference.numeric) {
      const result = ksTwoSample(prepareNumeric(c.reference).sorted, prepareNumeric(c.current).sorted);
      try {
        expectClose(result.statistic, c.expected.ks.statistic, 0, 1e-12);
        expectKsPValue(result.pValue, c.expected.ks.pValue);
      } catch (error) {
        throw new Error(`${c.name}: ${(error as Error).message}`);
      }
    }
  });

  it('Wasserstein-1 matches wasserstein_distance, normalised by std(ddof 0)', () => {
    for (const c of reference.numeric) {
      const ref = prepareNumeric(c.reference).sorted;
      const cur = prepareNumeric(c.current).sorted;
      expectClose(wassersteinDistance(ref, cur), c.expected.wasserstein.distance, 1e-9, 1e-12);
      const compared = compareNumeric(prepareNumeric(c.reference), prepareNumeric(c.current), { bins: c.bins });
      expectClose(compared.metrics.wasserstein!.normalized, c.expected.wasserstein.normalized, 1e-9, 1e-12);
    }
  });

  it('compareNumeric reports the same numbers in the report shape', () => {
    for (const c of reference.numeric) {
      const result = compareNumeric(prepareNumeric(c.reference), prepareNumeric(c.current), { bins: c.bins });
      expect(result.kind).toBe('numeric');
      expect(result.reference).toEqual(c.expected.reference);
      expect(result.current).toEqual(c.expected.current);
      expectDistances(result.metrics, c.expected);
      expectClose(result.metrics.ks!.statistic, c.expected.ks.statistic, 0, 1e-12);
      expectKsPValue(result.metrics.ks!.pValue, c.expected.ks.pValue);
      expect(result.metrics.chiSquare).toBeUndefined();
      expect(Object.keys(result.noiseFloor).sort()).toEqual([
        'hellinger',
        'jsDistance',
        'ks',
        'lInf',
        'psi',
        'wasserstein',
      ]);
      expect(['ok', 'info', 'warning', 'critical', 'insufficient_data']).toContain(result.severity);
    }
  });

  it('rates tiny current samples as insufficient data', () => {
    const tiny = reference.numeric.find((c) => c.name === 'tiny 5 vs 8')!;
    expect(compareNumeric(prepareNumeric(tiny.reference), prepareNumeric(tiny.current)).severity).toBe(
      'insufficient_data'
    );
  });

  it('stored baseline: KS and W1 against the sketch are within their stated bounds', () => {
    for (const c of reference.numeric.filter((x) => x.expected.reference.count >= 100)) {
      const baseline = buildNumericBaseline(prepareNumeric(c.reference), { bins: c.bins });
      const current = prepareNumeric(c.current);
      const result = compareNumericToBaseline(baseline, current, { bins: c.bins });
      const ks = result.metrics.ks as { statistic: number; approximation: { maxError: number } };
      expect(ks.approximation.maxError).toBeCloseTo(1 / 1000 + 1 / c.expected.reference.count, 12);
      expect(Math.abs(ks.statistic - c.expected.ks.statistic)).toBeLessThanOrEqual(ks.approximation.maxError);
      const w1 = result.metrics.wasserstein as { normalized: number; approximation: { maxError: number } };
      expect(Math.abs(w1.normalized - c.expected.wasserstein.normalized)).toBeLessThanOrEqual(
        w1.approximation.maxError
      );
      expectDistances(result.metrics, c.expected);
    }
  });
});

describe('categorical cases against numpy/scipy', () => {
  it('aligns the union of categories and matches the distances and chi2_contingency', () => {
    expect(reference.categorical.length).toBeGreaterThanOrEqual(8);
    for (const c of reference.categorical) {
      const ref = prepareCategorical(c.reference);
      const cur = prepareCategorical(c.current);
      const result = compareCategorical(ref, cur);
      expect(result.kind).toBe('categorical');
      expect(result.reference).toEqual(c.expected.reference);
      expect(result.current).toEqual(c.expected.current);
      expectDistances(result.metrics, c.expected);
      const chi = result.metrics.chiSquare!;
      expect(chi.dof).toBe(c.expected.chiSquare.dof);
      expectClose(chi.statistic, c.expected.chiSquare.statistic, 1e-10, 1e-12);
      expectClose(chi.pValue, c.expected.chiSquare.pValue, 1e-8, 1e-14);
      expect(result.metrics.ks).toBeUndefined();
      expect(result.noiseFloor.chiSquare).toBeGreaterThanOrEqual(0);
    }
  });

  it('counts a category new in current and one missing from current', () => {
    const added = reference.categorical.find((c) => c.name === 'new category in current')!;
    expect(added.expected.categories).toContain('purple');
    const addedResult = compareCategorical(prepareCategorical(added.reference), prepareCategorical(added.current));
    expect(addedResult.metrics.chiSquare!.dof).toBe(added.expected.categories.length - 1);
    expect(addedResult.metrics.lInf).toBeGreaterThanOrEqual(25 / 425 - 1e-12);
    const dropped = reference.categorical.find((c) => c.name === 'category missing from current')!;
    expect(dropped.expected.currentCounts).toContain(0);
    expectClose(
      compareCategorical(prepareCategorical(dropped.reference), prepareCategorical(dropped.current)).metrics.psi,
      dropped.expected.psi
    );
  });
});

describe('count vectors, including published golden values', () => {
  it('matches numpy/scipy on every count case', () => {
    for (const c of reference.counts) {
      const result = compareCounts('categorical', c.referenceCounts, c.currentCounts);
      expectDistances(result.metrics, c.expected);
      expectClose(result.metrics.chiSquare!.statistic, c.expected.chiSquare.statistic, 1e-10, 1e-12);
      expectClose(result.metrics.chiSquare!.pValue, c.expected.chiSquare.pValue, 1e-8, 1e-14);
    }
  });

  it('reproduces the anchor vector [500,300,200,0] vs [450,300,200,50]: Hellinger 0.1602, L∞ 0.05, JS 0.1611', () => {
    const result = compareCounts('categorical', [500, 300, 200, 0], [450, 300, 200, 50]);
    expect(result.metrics.hellinger).toBeCloseTo(0.1602, 4);
    expect(result.metrics.lInf).toBeCloseTo(0.05, 12);
    expect(result.metrics.jsDistance).toBeCloseTo(0.1611, 4);
    // Evidently's patch (1e-4 floor, not renormalised) is our PSI convention: 0.3154 in the anchors note.
    expect(result.metrics.psi).toBeCloseTo(0.3154, 4);
  });

  it("reproduces Evidently's chi-square p 0.67309 and Hellinger 0.06812 ", () => {
    const chi = chiSquareHomogeneity([16, 18, 16, 14, 12, 12], [16, 16, 16, 16, 16, 8]);
    // Evidently's chisquare is a goodness-of-fit test of current against reference proportions, not our
    // homogeneity test; its p-value is reproduced by the goodness-of-fit statistic Σ (O − E)²/E, dof K − 1.
    const current = [16, 16, 16, 16, 16, 8];
    const currentTotal = current.reduce((a, b) => a + b, 0);
    const expected = proportions([16, 18, 16, 14, 12, 12]).map((p) => p * currentTotal);
    const goodness = current.reduce((acc, o, k) => acc + (o - expected[k]) ** 2 / expected[k], 0);
    expect(chiSquareSf(goodness, 5)).toBeCloseTo(0.67309, 5);
    expect(chi.dof).toBe(5);
    expect(chi.pValue).toBeGreaterThan(0.67309);
    // Evidently's Hellinger uses 1/√2·‖√p − √q‖₂, identical to √(1 − Σ√(pq)).
    expect(hellinger(proportions([16, 18, 16, 14, 12, 12]), proportions([16, 16, 16, 16, 16, 8]))).toBeCloseTo(
      0.06812,
      4
    );
  });
});

describe('distribution functions', () => {
  it('kolmogorovSf matches scipy.stats.kstwo.sf within 1e-5 and its inverse within 1e-6', () => {
    for (const row of reference.kolmogorov) {
      if (row.sf !== undefined) {
        expectClose(kolmogorovSf(row.n, row.x!), row.sf, 0, 1e-5);
      } else {
        expectClose(kolmogorovIsf(row.n, 0.01), row.isf01!, 1e-6, 1e-9);
        expectClose(kolmogorovIsf(row.n, 0.05), row.isf05!, 1e-6, 1e-9);
      }
    }
  });

  it('chiSquareSf and chiSquareIsf match scipy.stats.chi2', () => {
    for (const row of reference.chiSquare) {
      if (row.sf !== undefined) {
        expectClose(chiSquareSf(row.x!, row.dof), row.sf, 1e-9, 1e-300);
      } else {
        expectClose(chiSquareIsf(row.alpha!, row.dof), row.isf!, 1e-9, 1e-12);
      }
    }
  });
});

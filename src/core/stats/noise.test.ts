/**
 * No-drift calibration: reference and current drawn from the same distribution. Each noise floor must be exceeded
 * in at most about α of the trials, and with the default severity rule at most about α of the features may be
 * rated warning or above, at n = m = 100, 1 000 and 100 000 — while a plain `PSI ≥ 0.1` rule flags most small
 * windows. "At most about α" is tested as: the number of exceedances X in N trials is at most k(N, α), the
 * smallest k with P(Binomial(N, α) > k) < 0.001, i.e. a rate above α is rejected at the 0.1 % level.
 */
import {
  binnedNoiseFloors,
  compareCategorical,
  compareCounts,
  compareNumeric,
  createRandom,
  DEFAULT_ALPHA,
  DRIFT_METRICS,
  DriftMetric,
  exponentialDraw,
  FeatureComparison,
  featureSeverity,
  isDrifted,
  multinomialCounts,
  normalDraw,
  poissonDraw,
  prepareCategorical,
  prepareNumeric,
  Random,
  sample,
} from './index';
import { logGamma } from './special';

const ALPHA = DEFAULT_ALPHA;

/** Smallest k with P(Binomial(N, p) > k) < 0.001. */
function binomialUpperBound(trials: number, p: number): number {
  let tail = 1;
  for (let k = 0; k <= trials; k++) {
    const logPmf =
      logGamma(trials + 1) -
      logGamma(k + 1) -
      logGamma(trials - k + 1) +
      k * Math.log(p) +
      (trials - k) * Math.log(1 - p);
    tail -= Math.exp(logPmf);
    if (tail < 0.001) {
      return k;
    }
  }
  return trials;
}

type Source = { name: string; draw: (random: Random) => number };
const SOURCES: Source[] = [
  { name: 'normal', draw: (r) => normalDraw(r) },
  { name: 'lognormal σ=1.5 (skewed)', draw: (r) => Math.exp(1.5 * normalDraw(r)) },
  { name: 'exponential', draw: (r) => exponentialDraw(r) },
  { name: 'Poisson(2) (discrete, ties)', draw: (r) => poissonDraw(r, 2) },
];
const CATEGORY_WEIGHTS = [0.4, 0.25, 0.15, 0.1, 0.06, 0.04];
const CATEGORIES = ['a', 'b', 'c', 'd', 'e', 'f'];

interface Cell {
  label: string;
  results: FeatureComparison[];
}

function numericCell(source: Source, n: number, m: number, trials: number, seed: number): Cell {
  const random = createRandom(seed);
  const results: FeatureComparison[] = [];
  for (let t = 0; t < trials; t++) {
    const reference = prepareNumeric(sample(n, () => source.draw(random)));
    const current = prepareNumeric(sample(m, () => source.draw(random)));
    results.push(compareNumeric(reference, current));
  }
  return { label: `${source.name}, n=${n}, m=${m}`, results };
}

function categoricalCell(n: number, m: number, trials: number, seed: number): Cell {
  const random = createRandom(seed);
  const draw = (size: number) => {
    const counts = multinomialCounts(random, size, CATEGORY_WEIGHTS);
    return {
      counts: new Map(CATEGORIES.map((c, k) => [c, counts[k]] as [string, number]).filter(([, x]) => x > 0)),
      missing: 0,
    };
  };
  const results: FeatureComparison[] = [];
  for (let t = 0; t < trials; t++) {
    results.push(compareCategorical(draw(n), draw(m)));
  }
  return { label: `categorical (6 categories, Zipf-like), n=${n}, m=${m}`, results };
}

const SIZES: Array<[number, number]> = [
  [100, 100],
  [1000, 1000],
  [10000, 100],
];
const TRIALS = 250;
let cells: Cell[];

beforeAll(() => {
  cells = [];
  let seed = 1;
  for (const [n, m] of SIZES) {
    for (const source of SOURCES) {
      cells.push(numericCell(source, n, m, TRIALS, seed++));
    }
    cells.push(categoricalCell(n, m, TRIALS, seed++));
  }
}, 120000);

const METRICS_WITH_FLOORS = ['psi', 'jsDistance', 'hellinger', 'lInf', 'ks', 'wasserstein', 'chiSquare'] as const;

function metricValue(result: FeatureComparison, metric: (typeof METRICS_WITH_FLOORS)[number]): number | undefined {
  switch (metric) {
    case 'ks':
      return result.metrics.ks?.statistic;
    case 'wasserstein':
      return result.metrics.wasserstein?.normalized;
    case 'chiSquare':
      return result.metrics.chiSquare?.statistic;
    default:
      return result.metrics[metric];
  }
}

describe('noise floors under no drift', () => {
  it.each(METRICS_WITH_FLOORS.map((metric) => [metric]))(
    '%s exceeds its floor in at most about α of the trials',
    (metric) => {
      let checked = 0;
      for (const [n, m] of SIZES) {
        const sized = cells.filter((c) => c.label.endsWith(`n=${n}, m=${m}`));
        const applicable = sized.flatMap((c) => c.results).filter((r) => metricValue(r, metric) !== undefined);
        const exceeded = (results: FeatureComparison[]) =>
          results.filter((r) => metricValue(r, metric)! > r.noiseFloor[metric]!).length;
        // every source on its own, then all sources of this size together (a tighter bound)
        for (const cell of sized) {
          const results = cell.results.filter((r) => metricValue(r, metric) !== undefined);
          if (results.length > 0 && exceeded(results) > binomialUpperBound(results.length, ALPHA)) {
            throw new Error(
              `${metric} floor exceeded too often: ${cell.label}: ${exceeded(results)}/${results.length}`
            );
          }
        }
        if (applicable.length > 0) {
          expect(exceeded(applicable)).toBeLessThanOrEqual(binomialUpperBound(applicable.length, ALPHA));
          checked++;
        }
      }
      expect(checked).toBe(SIZES.length);
    }
  );

  it('the floors are not vacuous: PSI, Hellinger and chi-square floors are exceeded in at least α/5 of the trials at n = m = 1 000', () => {
    for (const metric of ['psi', 'hellinger', 'chiSquare'] as const) {
      const results = cells
        .filter((c) => c.label.endsWith('n=1000, m=1000'))
        .flatMap((c) => c.results)
        .filter((r) => metricValue(r, metric) !== undefined);
      const rate = results.filter((r) => metricValue(r, metric)! > r.noiseFloor[metric]!).length / results.length;
      expect(rate).toBeGreaterThanOrEqual(ALPHA / 5);
    }
  });

  it('the floors shrink like 1/n (PSI, chi-square scale) and 1/√n (distances) as samples grow', () => {
    const small = binnedNoiseFloors(new Array(10).fill(100), new Array(10).fill(100));
    const large = binnedNoiseFloors(new Array(10).fill(10000), new Array(10).fill(10000));
    expect(large.psi).toBeLessThan(small.psi / 80);
    expect(large.hellinger).toBeLessThan(small.hellinger / 8);
    expect(large.lInf).toBeLessThan(small.lInf / 8);
    expect(large.chiSquare).toBe(small.chiSquare);
  });
});

function driftedCount(results: FeatureComparison[], primaryMetric: DriftMetric): number {
  return results.filter((r) =>
    isDrifted(featureSeverity(r.reference, r.current, r.metrics, r.noiseFloor, { primaryMetric }))
  ).length;
}

describe('no-drift property of the severity rule', () => {
  it.each([[100], [1000]])(
    'n = m = %d: at most about α of features rated warning or above, for every primary metric',
    (size) => {
      const results = cells.filter((c) => c.label.endsWith(`n=${size}, m=${size}`)).flatMap((c) => c.results);
      expect(results.length).toBe(TRIALS * (SOURCES.length + 1));
      for (const metric of DRIFT_METRICS) {
        expect(driftedCount(results, metric)).toBeLessThanOrEqual(binomialUpperBound(results.length, ALPHA));
      }
    }
  );

  it('n = m = 100 000: raw comparisons of 8 numeric features and count comparisons of 100 features stay quiet', () => {
    const random = createRandom(99);
    const raw: FeatureComparison[] = [];
    for (let t = 0; t < 8; t++) {
      const source = SOURCES[t % SOURCES.length];
      raw.push(
        compareNumeric(
          prepareNumeric(sample(100000, () => source.draw(random))),
          prepareNumeric(sample(100000, () => source.draw(random)))
        )
      );
    }
    for (const metric of DRIFT_METRICS) {
      expect(driftedCount(raw, metric)).toBe(0);
    }
    const decile = new Array(10).fill(0.1);
    const counted: FeatureComparison[] = [];
    for (let t = 0; t < 100; t++) {
      counted.push(
        compareCounts('numeric', multinomialCounts(random, 100000, decile), multinomialCounts(random, 100000, decile))
      );
    }
    expect(driftedCount(counted, 'psi')).toBeLessThanOrEqual(binomialUpperBound(counted.length, ALPHA));
    expect(counted.filter((r) => r.metrics.psi > r.noiseFloor.psi).length).toBeLessThanOrEqual(
      binomialUpperBound(counted.length, ALPHA)
    );
  });

  it('for contrast, a plain PSI ≥ 0.1 rule flags most no-drift windows at n = m = 100', () => {
    const results = cells.filter((c) => c.label.endsWith('n=100, m=100')).flatMap((c) => c.results);
    const plain = results.filter((r) => r.metrics.psi >= 0.1).length / results.length;
    const ours = driftedCount(results, 'psi') / results.length;
    expect(plain).toBeGreaterThan(0.5);
    expect(ours).toBeLessThan(plain / 20);
  });

  it('still detects real drift: a 0.5σ shift at n = m = 1 000 is rated warning or above on PSI', () => {
    const random = createRandom(7);
    const reference = prepareNumeric(sample(1000, () => normalDraw(random)));
    const current = prepareNumeric(sample(1000, () => normalDraw(random) + 0.5));
    expect(['warning', 'critical']).toContain(compareNumeric(reference, current).severity);
    const shifted = compareCategorical(
      prepareCategorical([...'aaaaabbbbc'.repeat(100)]),
      prepareCategorical([...'aaabbbbbcc'.repeat(100)])
    );
    expect(['warning', 'critical']).toContain(shifted.severity);
  });
});

/** Severity rule, dataset roll-up and the report shape of a feature comparison. */
import {
  compareCategorical,
  compareCounts,
  compareNumeric,
  datasetDrift,
  DEFAULT_THRESHOLDS,
  featureSeverity,
  prepareCategorical,
  prepareNumeric,
  rateDrift,
  severityLevel,
} from './index';

describe('rateDrift', () => {
  const thresholds = { warning: 0.1, critical: 0.2 };
  it.each([
    [0.25, 0.05, 'critical'],
    [0.25, 0.3, 'ok'],
    [0.15, 0.05, 'warning'],
    [0.15, 0.16, 'ok'],
    [0.05, 0.01, 'info'],
    [0.05, 0.06, 'ok'],
    [0.2, 0.19, 'critical'],
    [0.1, 0.01, 'warning'],
    [0, 0, 'ok'],
    [NaN, 0.01, 'ok'],
  ])('value %p with floor %p is %s', (value, floor, expected) => {
    expect(rateDrift(value, floor, thresholds)).toBe(expected);
  });

  it('maps levels to 0..3 and insufficient data to null', () => {
    expect(['ok', 'info', 'warning', 'critical', 'insufficient_data'].map((s) => severityLevel(s as never))).toEqual([
      0,
      1,
      2,
      3,
      null,
    ]);
  });
});

describe('featureSeverity', () => {
  const big = { count: 1000, missing: 0 };
  const metrics = { psi: 0.15, jsDistance: 0.25, hellinger: 0.05, lInf: 0.12, ks: { statistic: 0.3, pValue: 0 } };
  const floors = { psi: 0.01, jsDistance: 0.02, hellinger: 0.02, lInf: 0.05, ks: 0.05 };

  it('rates the primary metric, PSI by default, with per-metric thresholds', () => {
    expect(featureSeverity(big, big, metrics, floors)).toBe('warning');
    expect(featureSeverity(big, big, metrics, floors, { primaryMetric: 'jsDistance' })).toBe('critical');
    expect(featureSeverity(big, big, metrics, floors, { primaryMetric: 'hellinger' })).toBe('info');
    expect(featureSeverity(big, big, metrics, floors, { primaryMetric: 'ks' })).toBe('critical');
    expect(featureSeverity(big, big, metrics, floors, { thresholds: { psi: { warning: 0.2, critical: 0.3 } } })).toBe(
      'info'
    );
  });

  it('falls back to PSI when the comparison lacks the chosen metric (Wasserstein on counts)', () => {
    expect(featureSeverity(big, big, metrics, floors, { primaryMetric: 'wasserstein' })).toBe('warning');
  });

  it('is insufficient_data below the minimum current count (default 30) or with an empty reference', () => {
    expect(featureSeverity(big, { count: 29, missing: 500 }, metrics, floors)).toBe('insufficient_data');
    expect(featureSeverity(big, { count: 30, missing: 0 }, metrics, floors)).toBe('warning');
    expect(featureSeverity(big, { count: 10, missing: 0 }, metrics, floors, { minCount: 5 })).toBe('warning');
    expect(featureSeverity({ count: 0, missing: 5 }, big, metrics, floors)).toBe('insufficient_data');
  });

  it('has documented defaults for every metric, warning below critical', () => {
    for (const thresholds of Object.values(DEFAULT_THRESHOLDS)) {
      expect(thresholds.warning).toBeLessThan(thresholds.critical);
    }
    expect(DEFAULT_THRESHOLDS.psi).toEqual({ warning: 0.1, critical: 0.2 });
  });
});

describe('datasetDrift', () => {
  it('is the share of rated features at warning or above; drifting from 50 % (configurable)', () => {
    expect(datasetDrift(['ok', 'warning', 'critical', 'info'])).toEqual({ driftedShare: 0.5, drifting: true });
    expect(datasetDrift(['ok', 'warning', 'info', 'info'])).toEqual({ driftedShare: 0.25, drifting: false });
    expect(datasetDrift(['ok', 'warning', 'info', 'info'], 0.25)).toEqual({ driftedShare: 0.25, drifting: true });
    expect(datasetDrift(['warning', 'insufficient_data', 'insufficient_data'])).toEqual({
      driftedShare: 1,
      drifting: true,
    });
    expect(datasetDrift(['insufficient_data'])).toEqual({ driftedShare: 0, drifting: false });
    expect(datasetDrift([])).toEqual({ driftedShare: 0, drifting: false });
  });
});

describe('feature comparison edge cases and report shape', () => {
  it('numeric result has exactly the report keys', () => {
    const result = compareNumeric(
      prepareNumeric([1, 2, 3, null, 4, 5, 6, 7, 8, 9, 10]),
      prepareNumeric([2, 3, 4, NaN, 5, 6])
    );
    expect(Object.keys(result).sort()).toEqual(['current', 'kind', 'metrics', 'noiseFloor', 'reference', 'severity']);
    expect(Object.keys(result.metrics).sort()).toEqual(['hellinger', 'jsDistance', 'ks', 'lInf', 'psi', 'wasserstein']);
    expect(Object.keys(result.metrics.ks!).sort()).toEqual(['pValue', 'statistic']);
    expect(result.reference).toEqual({ count: 10, missing: 1 });
    expect(result.current).toEqual({ count: 5, missing: 1 });
    expect(result.severity).toBe('insufficient_data');
    expect(JSON.parse(JSON.stringify(result)).metrics.wasserstein).toEqual({
      normalized: result.metrics.wasserstein!.normalized,
    });
  });

  it('categorical result has exactly the report keys', () => {
    const result = compareCategorical(prepareCategorical(['a', 'b', null]), prepareCategorical(['a', 'c', '']));
    expect(Object.keys(result.metrics).sort()).toEqual(['chiSquare', 'hellinger', 'jsDistance', 'lInf', 'psi']);
    expect(Object.keys(result.noiseFloor).sort()).toEqual(['chiSquare', 'hellinger', 'jsDistance', 'lInf', 'psi']);
    expect(result.reference).toEqual({ count: 2, missing: 1 });
  });

  it('constant columns: identical gives 0 everywhere; a moved constant is critical; W1 stays raw (std 0)', () => {
    const same = compareNumeric(prepareNumeric(new Array(100).fill(3)), prepareNumeric(new Array(100).fill(3)));
    expect(same.metrics).toMatchObject({
      psi: 0,
      jsDistance: 0,
      hellinger: 0,
      lInf: 0,
      ks: { statistic: 0, pValue: 1 },
      wasserstein: { normalized: 0 },
    });
    expect(same.severity).toBe('ok');
    const moved = compareNumeric(prepareNumeric(new Array(100).fill(3)), prepareNumeric(new Array(100).fill(5)));
    expect(moved.metrics.wasserstein!.normalized).toBe(2);
    expect(moved.metrics.lInf).toBe(1);
    expect(moved.severity).toBe('critical');
  });

  it('an empty side gives NaN metrics (null in JSON) and insufficient data, never a crash', () => {
    const emptyCurrent = compareNumeric(prepareNumeric([1, 2, 3]), prepareNumeric([null, NaN]));
    expect(emptyCurrent.metrics.psi).toBeNaN();
    expect(emptyCurrent.metrics.ks!.statistic).toBeNaN();
    expect(emptyCurrent.current).toEqual({ count: 0, missing: 2 });
    expect(emptyCurrent.severity).toBe('insufficient_data');
    const emptyReference = compareNumeric(prepareNumeric([]), prepareNumeric(new Array(50).fill(1)));
    expect(emptyReference.severity).toBe('insufficient_data');
    expect(JSON.parse(JSON.stringify(emptyReference.metrics)).psi).toBeNull();
    const emptyCategorical = compareCategorical(prepareCategorical([]), prepareCategorical(['a']));
    expect(emptyCategorical.severity).toBe('insufficient_data');
  });

  it('reuses stored edges when given', () => {
    const result = compareNumeric(prepareNumeric([1, 2, 3, 4]), prepareNumeric([1, 2, 3, 4]), { edges: [2.5] });
    expect(compareCounts('numeric', [2, 2], [2, 2]).metrics).toEqual(
      Object.fromEntries(
        Object.entries(result.metrics).filter(([key]) => ['psi', 'jsDistance', 'hellinger', 'lInf'].includes(key))
      )
    );
  });

  it('rejects non-numeric values in a numeric feature with an actionable message', () => {
    expect(() => prepareNumeric([1, 'abc'])).toThrow(/treat the feature as categorical/);
  });
});

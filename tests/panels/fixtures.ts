/**
 * Frames for the panel browser tests, built with the frame contract's own builders (src/core/query/frames.ts) from
 * proportions whose metrics are computed here by METRICS.md's formulas, so that what the panels print is what the
 * backend would send for these bins.
 */
import {
  distributionFrame,
  DistributionBin,
  DistributionView,
  FrameLike,
  SeverityCell,
  severityFrame,
  SeverityLevel,
} from '../../src/core/query';

const cumulative = (values: number[]) =>
  values.map((_, index) => values.slice(0, index + 1).reduce((a, b) => a + b, 0));

/** PSI with both proportions floored at 1e-4, natural log (METRICS.md). */
export function psi(p: number[], q: number[]): number {
  return p.reduce((sum, pk, k) => {
    const a = Math.max(pk, 1e-4);
    const b = Math.max(q[k], 1e-4);
    return sum + (b - a) * Math.log(b / a);
  }, 0);
}

/** Jensen–Shannon distance, base 2 (METRICS.md). */
export function jsDistance(p: number[], q: number[]): number {
  const term = (a: number, m: number) => (a > 0 ? a * Math.log2(a / m) : 0);
  const jsd = p.reduce((sum, pk, k) => {
    const m = (pk + q[k]) / 2;
    return sum + 0.5 * term(pk, m) + 0.5 * term(q[k], m);
  }, 0);
  return Math.sqrt(jsd);
}

/** Chi-square statistic of homogeneity on the 2×K table of counts: Σ (observed − expected)² / expected. */
function chiSquare(reference: number[], current: number[]): number {
  const rows = [reference, current];
  const rowTotals = rows.map((row) => row.reduce((a, b) => a + b, 0));
  const total = rowTotals[0] + rowTotals[1];
  return rows.reduce(
    (sum, row, r) =>
      sum +
      row.reduce((inner, observed, k) => {
        const expected = (rowTotals[r] * (reference[k] + current[k])) / total;
        return expected > 0 ? inner + (observed - expected) ** 2 / expected : inner;
      }, 0),
    0
  );
}

const hellinger = (p: number[], q: number[]) =>
  Math.sqrt(Math.max(0, 1 - p.reduce((s, pk, k) => s + Math.sqrt(pk * q[k]), 0)));
const lInf = (p: number[], q: number[]) => Math.max(...p.map((pk, k) => Math.abs(pk - q[k])));

function bins(
  labels: string[],
  edges: Array<[number | null, number | null]>,
  baseline: number[],
  current: number[]
): DistributionBin[] {
  const baselineCdf = cumulative(baseline);
  const currentCdf = cumulative(current);
  return labels.map((label, k) => ({
    label,
    lower: edges[k][0],
    upper: edges[k][1],
    baseline: baseline[k],
    current: current[k],
    baselineCdf: baselineCdf[k],
    currentCdf: currentCdf[k],
  }));
}

/** A numeric feature on reference-decile bins whose current window shifted right: the KS gap is at edge 40. */
export function ageView(): DistributionView {
  const edges = [20, 25, 30, 35, 40, 45, 50, 55, 62];
  const baseline = Array(10).fill(0.1);
  const current = [0.04, 0.05, 0.06, 0.08, 0.1, 0.11, 0.12, 0.13, 0.15, 0.16];
  const bounds: Array<[number | null, number | null]> = edges.map((edge, k) => [k === 0 ? null : edges[k - 1], edge]);
  bounds.push([edges[edges.length - 1], null]);
  const labels = bounds.map(([lower, upper]) =>
    lower === null ? `≤ ${upper}` : upper === null ? `> ${lower}` : `${lower}–${upper}`
  );
  const view = bins(labels, bounds, baseline, current);
  const gaps = view.map((bin) => Math.abs(bin.baselineCdf - bin.currentCdf));
  const at = gaps.indexOf(Math.max(...gaps));
  return {
    bins: view,
    readouts: {
      model: 'churn',
      feature: 'age',
      kind: 'numeric',
      convention: 'reference-deciles',
      primaryMetric: 'psi',
      counts: { baseline: 10000, current: 2500, currentMissing: 12 },
      psi: psi(baseline, current),
      jsDistance: jsDistance(baseline, current),
      hellinger: hellinger(baseline, current),
      lInf: lInf(baseline, current),
      ks: {
        statistic: gaps[at],
        pValue: 1.2e-30,
        location: edges[at],
        baselineCdf: view[at].baselineCdf,
        currentCdf: view[at].currentCdf,
      },
      wasserstein: 0.31,
      noiseFloor: { psi: 0.0101, jsDistance: 0.05, ks: 0.037, hellinger: 0.05, lInf: 0.02, wasserstein: 0.06 },
      severity: 'critical',
    },
  };
}

/** A categorical feature with a category new in the current window. */
export function planView(): DistributionView {
  const baseline = [0.5, 0.3, 0.2, 0];
  const current = [0.47, 0.3, 0.2, 0.03];
  const labels = ['basic', 'pro', 'enterprise', 'new_tier'];
  return {
    bins: bins(
      labels,
      labels.map(() => [null, null]),
      baseline,
      current
    ),
    readouts: {
      model: 'churn',
      feature: 'plan',
      kind: 'categorical',
      convention: 'categories',
      primaryMetric: 'psi',
      counts: { baseline: 10000, current: 2500 },
      psi: psi(baseline, current),
      jsDistance: jsDistance(baseline, current),
      hellinger: hellinger(baseline, current),
      lInf: lInf(baseline, current),
      // p-value of scipy.stats.chi2_contingency on these counts (the panel prints what it is given).
      chiSquare: {
        statistic: chiSquare(
          baseline.map((p) => p * 10000),
          current.map((q) => q * 2500)
        ),
        pValue: 1.6186e-65,
        dof: 3,
      },
      noiseFloor: { psi: 0.004 },
      severity: 'warning',
    },
  };
}

export const distributionFrames = (): FrameLike[] => [
  distributionFrame(ageView(), 'A'),
  distributionFrame(planView(), 'A'),
];

export const SEVERITY_FEATURES = ['age', 'plan', 'income', 'tenure'] as const;
export const BUCKET_MS = 3_600_000;
export const START_MS = Date.UTC(2026, 10, 24, 0, 0, 0);
export const BUCKETS = 12;

/** Levels per feature and bucket: income turns critical, plan warns, tenure has two buckets of insufficient data. */
export function severityLevelOf(feature: string, bucket: number): SeverityLevel {
  switch (feature) {
    case 'income':
      return bucket < 6 ? 0 : bucket < 8 ? 2 : 3;
    case 'plan':
      return bucket % 4 === 3 ? 2 : bucket % 4 === 1 ? 1 : 0;
    case 'tenure':
      return bucket < 2 ? null : 0;
    default:
      return 0;
  }
}

export function severityCells(): SeverityCell[] {
  return SEVERITY_FEATURES.flatMap((feature) =>
    Array.from({ length: BUCKETS }, (_, bucket) => {
      const level = severityLevelOf(feature, bucket);
      return {
        feature,
        time: START_MS + bucket * BUCKET_MS,
        level,
        value: level === null ? null : [0.01, 0.06, 0.14, 0.35][level],
        noiseFloor: level === null ? null : 0.04,
        count: level === null ? 12 : 800,
      };
    })
  );
}

export const severityFrames = (): FrameLike[] => [
  severityFrame(
    {
      meta: { model: 'churn', metric: 'psi', bucketMs: BUCKET_MS, thresholds: { warning: 0.1, critical: 0.2 } },
      cells: severityCells(),
    },
    'A'
  ),
];

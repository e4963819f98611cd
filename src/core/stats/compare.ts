import {
  alignCategories,
  binCountsSorted,
  CategoricalSample,
  CategoryCounts,
  DEFAULT_BINS,
  NumericSample,
  proportions,
  referenceEdges,
} from './binning';
import { chiSquareHomogeneity, ChiSquareResult } from './chisquare';
import { hellinger, jensenShannonDistance, lInfinity, psi } from './distances';
import { ApproximateKsResult, KsResult, ksAgainstSketch, ksTwoSample } from './ks';
import { binnedNoiseFloors, DEFAULT_ALPHA, ksNoiseFloor, wassersteinNoiseFloor } from './noise';
import {
  DEFAULT_MIN_COUNT,
  DEFAULT_PRIMARY_METRIC,
  DEFAULT_THRESHOLDS,
  DriftMetric,
  rateDrift,
  Severity,
  Thresholds,
} from './severity';
import { buildQuantileSketch, DEFAULT_SKETCH_SIZE, QuantileSketch, sketchWassersteinErrorBound } from './sketch';
import {
  meanAndStd,
  normalizeWasserstein,
  pooledSpread,
  pooledSpreadAgainstSketch,
  wassersteinAgainstSketch,
  wassersteinDistance,
} from './wasserstein';

export type FeatureKind = 'numeric' | 'categorical';

export interface CompareOptions {
  /** Numeric bins B (2–100), default 10; ignored when `edges` is given. */
  bins?: number;
  /** Stored inner bin edges to reuse instead of computing them from the reference. */
  edges?: number[];
  /** False-alarm probability of the noise floors, default 0.01. */
  alpha?: number;
  /** Minimum current sample size for a severity, default 30. */
  minCount?: number;
  /** Metric the severity is rated on, default PSI. Metrics a comparison lacks (KS on categories) fall back to PSI. */
  primaryMetric?: DriftMetric;
  /** Thresholds per metric, overriding DEFAULT_THRESHOLDS. */
  thresholds?: Partial<Record<DriftMetric, Thresholds>>;
}

export interface SampleSize {
  /** Values compared (missing removed). */
  count: number;
  /** Missing values removed. */
  missing: number;
}

export interface FeatureMetrics {
  psi: number;
  jsDistance: number;
  hellinger: number;
  lInf: number;
  /** Numeric with raw current values only. */
  ks?: KsResult | ApproximateKsResult;
  /** Numeric with raw current values only: W1 / std(R); against a stored sketch, with a bound on its error. */
  wasserstein?: { normalized: number; approximation?: { source: 'quantile-sketch'; maxError: number } };
  /** Categorical only. */
  chiSquare?: ChiSquareResult;
}

export interface NoiseFloors {
  psi: number;
  jsDistance: number;
  hellinger: number;
  lInf: number;
  /** Critical value of the KS statistic D. */
  ks?: number;
  /** Floor of the normalised Wasserstein distance. */
  wasserstein?: number;
  /** Critical value of the chi-square statistic. */
  chiSquare?: number;
}

/** One feature's comparison: the per-feature object of `mlmon report --format json` (plus `name`). */
export interface FeatureComparison {
  kind: FeatureKind;
  reference: SampleSize;
  current: SampleSize;
  metrics: FeatureMetrics;
  noiseFloor: NoiseFloors;
  severity: Severity;
}

/** A numeric feature's stored baseline: edges and counts for the binned metrics, a sketch for KS and W1. */
export interface NumericBaseline {
  kind: 'numeric';
  count: number;
  missing: number;
  /** Inner bin edges (reference-deciles convention). */
  edges: number[];
  /** Reference counts per bin (edges.length + 1). */
  counts: number[];
  mean: number;
  /** Population std (ddof 0). */
  std: number;
  min: number;
  max: number;
  sketch: QuantileSketch;
}

/** A categorical feature's stored baseline. */
export interface CategoricalBaseline {
  kind: 'categorical';
  count: number;
  missing: number;
  counts: Record<string, number>;
}

export type FeatureBaseline = NumericBaseline | CategoricalBaseline;

function sum(values: ArrayLike<number>): number {
  let total = 0;
  for (let k = 0; k < values.length; k++) {
    total += values[k];
  }
  return total;
}

/** PSI, JS distance, Hellinger and L∞ of two aligned count vectors; NaN when either side is empty. */
export function binnedMetrics(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>
): Omit<FeatureMetrics, 'ks' | 'wasserstein' | 'chiSquare'> {
  if (sum(referenceCounts) === 0 || sum(currentCounts) === 0) {
    return { psi: NaN, jsDistance: NaN, hellinger: NaN, lInf: NaN };
  }
  const p = proportions(referenceCounts);
  const q = proportions(currentCounts);
  return { psi: psi(p, q), jsDistance: jensenShannonDistance(p, q), hellinger: hellinger(p, q), lInf: lInfinity(p, q) };
}

function primaryValue(metrics: FeatureMetrics, metric: DriftMetric): number | undefined {
  switch (metric) {
    case 'ks':
      return metrics.ks?.statistic;
    case 'wasserstein':
      return metrics.wasserstein?.normalized;
    default:
      return metrics[metric];
  }
}

/**
 * Severity of a feature: insufficient data when the current count is below the minimum (or the reference is
 * empty); otherwise rateDrift on the primary metric (PSI when the comparison lacks the chosen metric).
 */
export function featureSeverity(
  reference: SampleSize,
  current: SampleSize,
  metrics: FeatureMetrics,
  noiseFloor: NoiseFloors,
  options: CompareOptions = {}
): Severity {
  if (reference.count === 0 || current.count < (options.minCount ?? DEFAULT_MIN_COUNT)) {
    return 'insufficient_data';
  }
  const chosen = options.primaryMetric ?? DEFAULT_PRIMARY_METRIC;
  const metric = primaryValue(metrics, chosen) === undefined ? 'psi' : chosen;
  const thresholds = options.thresholds?.[metric] ?? DEFAULT_THRESHOLDS[metric];
  return rateDrift(primaryValue(metrics, metric)!, noiseFloor[metric]!, thresholds);
}

/**
 * Comparison from counts alone (the backend's path: counts per stored bin or category come from SQL). Numeric
 * counts give the binned metrics only; categorical counts add the chi-square test.
 */
export function compareCounts(
  kind: FeatureKind,
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
  missing: { reference: number; current: number } = { reference: 0, current: 0 },
  options: CompareOptions = {}
): FeatureComparison {
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  const reference = { count: sum(referenceCounts), missing: missing.reference };
  const current = { count: sum(currentCounts), missing: missing.current };
  const metrics: FeatureMetrics = binnedMetrics(referenceCounts, currentCounts);
  const floors = binnedNoiseFloors(referenceCounts, currentCounts, alpha);
  const noiseFloor: NoiseFloors = {
    psi: floors.psi,
    jsDistance: floors.jsDistance,
    hellinger: floors.hellinger,
    get lInf() {
      return floors.lInf; // computed when read (binnedNoiseFloors)
    },
  };
  if (kind === 'categorical') {
    metrics.chiSquare = chiSquareHomogeneity(referenceCounts, currentCounts);
    noiseFloor.chiSquare = floors.chiSquare;
  }
  return {
    kind,
    reference,
    current,
    metrics,
    noiseFloor,
    severity: featureSeverity(reference, current, metrics, noiseFloor, options),
  };
}

/** Adds the raw-value numeric metrics (KS, normalised W1) and their floors to a binned comparison. */
function withRawNumericMetrics(
  binned: FeatureComparison,
  ks: KsResult | ApproximateKsResult,
  wasserstein: { distance: number; maxError?: number },
  reference: { std: number; pooledSpread: number },
  options: CompareOptions
): FeatureComparison {
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  const n = binned.reference.count;
  const m = binned.current.count;
  const normalized = normalizeWasserstein(wasserstein.distance, reference.std);
  const metrics: FeatureMetrics = {
    ...binned.metrics,
    ks,
    wasserstein:
      wasserstein.maxError === undefined
        ? { normalized }
        : {
            normalized,
            approximation: {
              source: 'quantile-sketch',
              maxError: normalizeWasserstein(wasserstein.maxError, reference.std),
            },
          },
  };
  const empty = n === 0 || m === 0;
  const noiseFloor: NoiseFloors = {
    ...binned.noiseFloor,
    ks: empty ? NaN : ksNoiseFloor(n, m, alpha),
    wasserstein: empty ? NaN : wassersteinNoiseFloor(n, m, reference.pooledSpread, reference.std, alpha),
  };
  return {
    ...binned,
    metrics,
    noiseFloor,
    severity: featureSeverity(binned.reference, binned.current, metrics, noiseFloor, options),
  };
}

/**
 * Numeric feature on raw values: reference-decile bins (or `options.edges`), PSI/JS/Hellinger/L∞ on the bin
 * proportions, exact KS and normalised W1 on the raw values, noise floors and severity.
 */
export function compareNumeric(
  reference: NumericSample,
  current: NumericSample,
  options: CompareOptions = {}
): FeatureComparison {
  const ref = reference.sorted;
  const cur = current.sorted;
  if (ref.length === 0) {
    return compareCounts(
      'numeric',
      [0],
      [cur.length],
      { reference: reference.missing, current: current.missing },
      options
    );
  }
  const edges = options.edges ?? referenceEdges(ref, options.bins ?? DEFAULT_BINS);
  const binned = compareCounts(
    'numeric',
    binCountsSorted(edges, ref),
    binCountsSorted(edges, cur),
    { reference: reference.missing, current: current.missing },
    options
  );
  return withRawNumericMetrics(
    binned,
    ksTwoSample(ref, cur),
    { distance: wassersteinDistance(ref, cur) },
    { std: meanAndStd(ref).std, pooledSpread: pooledSpread(ref, cur) },
    options
  );
}

/** Categorical feature: counts aligned over the union of categories, binned metrics and chi-square. */
export function compareCategorical(
  reference: CategoricalSample | { counts: CategoryCounts; missing: number },
  current: CategoricalSample | { counts: CategoryCounts; missing: number },
  options: CompareOptions = {}
): FeatureComparison {
  const aligned = alignCategories(reference.counts, current.counts);
  return compareCounts(
    'categorical',
    aligned.reference,
    aligned.current,
    { reference: reference.missing, current: current.missing },
    options
  );
}

/** Builds a numeric baseline from a prepared reference sample (non-empty). */
export function buildNumericBaseline(
  reference: NumericSample,
  options: { bins?: number; sketchSize?: number } = {}
): NumericBaseline {
  const sorted = reference.sorted;
  const edges = referenceEdges(sorted, options.bins ?? DEFAULT_BINS);
  const { mean, std } = meanAndStd(sorted);
  return {
    kind: 'numeric',
    count: sorted.length,
    missing: reference.missing,
    edges,
    counts: binCountsSorted(edges, sorted),
    mean,
    std,
    min: sorted[0],
    max: sorted[sorted.length - 1],
    sketch: buildQuantileSketch(sorted, options.sketchSize ?? DEFAULT_SKETCH_SIZE),
  };
}

/** Builds a categorical baseline from a prepared reference sample. */
export function buildCategoricalBaseline(reference: CategoricalSample): CategoricalBaseline {
  return {
    kind: 'categorical',
    count: sum(Array.from(reference.counts.values())),
    missing: reference.missing,
    counts: Object.fromEntries(reference.counts),
  };
}

/**
 * Numeric feature against a stored baseline: binned metrics on the stored edges and counts; KS and W1 against the
 * baseline's quantile sketch (KS marked approximate with its error bound; W1 normalised by the stored std).
 */
export function compareNumericToBaseline(
  baseline: NumericBaseline,
  current: NumericSample,
  options: CompareOptions = {}
): FeatureComparison {
  const binned = compareCounts(
    'numeric',
    baseline.counts,
    binCountsSorted(baseline.edges, current.sorted),
    { reference: baseline.missing, current: current.missing },
    options
  );
  return withRawNumericMetrics(
    binned,
    ksAgainstSketch(baseline.sketch, current.sorted),
    {
      distance: wassersteinAgainstSketch(baseline.sketch, current.sorted),
      maxError: sketchWassersteinErrorBound(baseline.sketch),
    },
    { std: baseline.std, pooledSpread: pooledSpreadAgainstSketch(baseline.sketch, current.sorted) },
    options
  );
}

/** Categorical feature against a stored baseline. */
export function compareCategoricalToBaseline(
  baseline: CategoricalBaseline,
  current: CategoricalSample,
  options: CompareOptions = {}
): FeatureComparison {
  return compareCategorical({ counts: baseline.counts, missing: baseline.missing }, current, options);
}

/**
 * Statistics core of Model Monitor: binning, drift distances, tests, noise floors and severity, as defined in
 * METRICS.md. Isomorphic (no Node, React or Grafana imports). Layers, bottom up:
 * - binning: reference-decile edges, bin counts, category alignment;
 * - distances on proportions, KS / Wasserstein on raw values or against a quantile sketch, chi-square;
 * - noise floors and severity;
 * - feature entry points: compareNumeric / compareCategorical (raw), compareCounts (counts from SQL),
 *   compareNumericToBaseline / compareCategoricalToBaseline (stored baselines), datasetDrift.
 */
export { quantileSorted } from './quantile';
export { largest, smallest } from './extremes';
export {
  alignCategories,
  binCounts,
  binCountsSorted,
  binIndex,
  binLabels,
  BINNING_CONVENTION,
  countAtOrBelow,
  countBelow,
  DEFAULT_BINS,
  prepareCategorical,
  prepareNumeric,
  proportions,
  referenceEdges,
} from './binning';
export type { AlignedCounts, CategoricalSample, CategoryCounts, NumericSample } from './binning';
export { hellinger, jensenShannonDistance, lInfinity, psi, PSI_FLOOR } from './distances';
export {
  ksAgainstSketch,
  ksCriticalValue,
  ksEffectiveSize,
  ksExactPValue,
  ksPValue,
  ksStatistic,
  ksTwoSample,
  KS_EXACT_MAX_SIZE,
} from './ks';
export type { ApproximateKsResult, KsResult } from './ks';
export { kolmogorovIsf, kolmogorovSf } from './kolmogorov';
export {
  meanAndStd,
  normalizedWasserstein,
  normalizeWasserstein,
  pooledSpread,
  pooledSpreadAgainstSketch,
  wassersteinAgainstSketch,
  wassersteinDistance,
} from './wasserstein';
export {
  buildQuantileSketch,
  DEFAULT_SKETCH_SIZE,
  sketchCdf,
  sketchCdfErrorBound,
  sketchWassersteinErrorBound,
} from './sketch';
export type { QuantileSketch } from './sketch';
export { createRandom, exponentialDraw, multinomialCounts, normalDraw, poissonDraw, sample } from './random';
export type { Random } from './random';
export { chiSquareHomogeneity } from './chisquare';
export type { ChiSquareResult } from './chisquare';
export { chiSquareIsf, chiSquareSf, normalIsf, normalSf, regularizedGammaQ } from './special';
export {
  binnedNoiseFloors,
  DEFAULT_ALPHA,
  harmonicExpectedCount,
  hellingerNoiseFloor,
  jsDistanceNoiseFloor,
  ksNoiseFloor,
  likelyEmptyBins,
  lInfNoiseFloor,
  psiNoiseFloor,
  SMALL_COUNT_FACTORS,
  wassersteinNoiseFloor,
} from './noise';
export type { BinnedNoiseFloors, SmallSampleTerms } from './noise';
export {
  datasetDrift,
  DEFAULT_DRIFT_SHARE,
  DEFAULT_MIN_COUNT,
  DEFAULT_PRIMARY_METRIC,
  DEFAULT_THRESHOLDS,
  DRIFT_METRICS,
  isDrifted,
  rateDrift,
  severityLevel,
} from './severity';
export type { DatasetDrift, DriftMetric, Severity, SeverityLevel, Thresholds } from './severity';
export {
  binnedMetrics,
  buildCategoricalBaseline,
  buildNumericBaseline,
  compareCategorical,
  compareCategoricalToBaseline,
  compareCounts,
  compareNumeric,
  compareNumericToBaseline,
  featureSeverity,
} from './compare';
export type {
  CategoricalBaseline,
  CompareOptions,
  FeatureBaseline,
  FeatureComparison,
  FeatureKind,
  FeatureMetrics,
  NoiseFloors,
  NumericBaseline,
  SampleSize,
} from './compare';

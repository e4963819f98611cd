/** Severity of a drift metric and of a dataset (METRICS.md "Noise floor and severity"). */

export type Severity = 'ok' | 'info' | 'warning' | 'critical' | 'insufficient_data';
export type SeverityLevel = 0 | 1 | 2 | 3;

/** Metrics a feature's severity can be rated on. `ks` is the statistic D, `wasserstein` the normalised distance. */
export type DriftMetric = 'psi' | 'jsDistance' | 'hellinger' | 'lInf' | 'ks' | 'wasserstein';
export const DRIFT_METRICS: readonly DriftMetric[] = ['psi', 'jsDistance', 'hellinger', 'lInf', 'ks', 'wasserstein'];

export interface Thresholds {
  warning: number;
  critical: number;
}

/**
 * Default effect-size thresholds. PSI 0.1/0.2 is the credit-scoring rule of thumb (METRICS.md default primary).
 * JS distance and L∞ 0.1/0.2 follow Azure ML's, Evidently's and SageMaker's 0.1 defaults; Hellinger 0.1/0.2 is
 * Evidently's 0.1; KS D 0.1/0.2 is the same scale as L∞ on CDFs; normalised Wasserstein 0.1/0.25 (σ units):
 * Evidently's and Azure ML's 0.1, critical at a quarter of a standard deviation.
 */
export const DEFAULT_THRESHOLDS: Readonly<Record<DriftMetric, Thresholds>> = {
  psi: { warning: 0.1, critical: 0.2 },
  jsDistance: { warning: 0.1, critical: 0.2 },
  hellinger: { warning: 0.1, critical: 0.2 },
  lInf: { warning: 0.1, critical: 0.2 },
  ks: { warning: 0.1, critical: 0.2 },
  wasserstein: { warning: 0.1, critical: 0.25 },
};

/** Default primary metric and minimum current sample size. */
export const DEFAULT_PRIMARY_METRIC: DriftMetric = 'psi';
export const DEFAULT_MIN_COUNT = 30;
/** Default share of features at warning or above that makes the dataset drifting. */
export const DEFAULT_DRIFT_SHARE = 0.5;

/**
 * Rates one metric value: critical when value ≥ critical threshold and value > noise floor; warning likewise with
 * the warning threshold; info when it only exceeds the noise floor; ok otherwise (also when the value is NaN).
 */
export function rateDrift(
  value: number,
  noiseFloor: number,
  thresholds: Thresholds
): Exclude<Severity, 'insufficient_data'> {
  if (!(value > noiseFloor)) {
    return 'ok';
  }
  if (value >= thresholds.critical) {
    return 'critical';
  }
  return value >= thresholds.warning ? 'warning' : 'info';
}

/** Numeric level for heatmaps and alerting: ok 0, info 1, warning 2, critical 3; null for insufficient data. */
export function severityLevel(severity: Severity): SeverityLevel | null {
  switch (severity) {
    case 'ok':
      return 0;
    case 'info':
      return 1;
    case 'warning':
      return 2;
    case 'critical':
      return 3;
    default:
      return null;
  }
}

/** True for warning and critical. */
export function isDrifted(severity: Severity): boolean {
  return severity === 'warning' || severity === 'critical';
}

export interface DatasetDrift {
  /** Share of the rated features (insufficient data excluded) at warning or above; 0 when none is rated. */
  driftedShare: number;
  drifting: boolean;
}

/** Dataset level: share of features rated warning or above; drifting when that share ≥ driftShare (default ½). */
export function datasetDrift(severities: readonly Severity[], driftShare: number = DEFAULT_DRIFT_SHARE): DatasetDrift {
  const rated = severities.filter((s) => s !== 'insufficient_data');
  const driftedShare = rated.length === 0 ? 0 : rated.filter(isDrifted).length / rated.length;
  return { driftedShare, drifting: rated.length > 0 && driftedShare >= driftShare };
}

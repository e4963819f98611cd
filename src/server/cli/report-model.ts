/**
 * The result of `mlmon report`: `ReportJson` is exactly what `--format json` prints (the shape is part of the
 * command's contract); `SkippedColumn` lists what was not compared, which the table shows and JSON mode writes
 * to stderr.
 */
import { severityLevel, type SampleSize, type Severity } from '../../core/stats';

export type { Severity };

export interface FeatureMetrics {
  psi: number;
  jsDistance: number;
  hellinger: number;
  lInf: number;
  ks?: { statistic: number; pValue: number };
  wasserstein?: { normalized: number };
  chiSquare?: { statistic: number; pValue: number; dof: number };
}

export interface FeatureReport {
  name: string;
  kind: 'numeric' | 'categorical';
  reference: SampleSize;
  current: SampleSize;
  metrics: FeatureMetrics;
  noiseFloor: Record<string, number>;
  severity: Severity;
}

export interface ReportJson {
  convention: string;
  reference: { rows: number };
  current: { rows: number };
  features: FeatureReport[];
  dataset: { driftedShare: number; drifting: boolean };
}

export interface SkippedColumn {
  name: string;
  /** Why it was not compared, e.g. "only in ref.csv" or "DATE in ref.csv: not a number or text". */
  reason: string;
}

export interface ReportResult {
  json: ReportJson;
  skipped: SkippedColumn[];
  referencePath: string;
  currentPath: string;
  bins: number;
  /** The --fail-on level, if given: the table says whether it was reached. */
  failOn?: 'warning' | 'critical';
}

/** True when some feature is at `level` or above (for `--fail-on`); insufficient data never reaches a level. */
export function reachesLevel(features: readonly FeatureReport[], level: 'warning' | 'critical'): boolean {
  const threshold = severityLevel(level)!;
  return features.some((feature) => (severityLevel(feature.severity) ?? -1) >= threshold);
}

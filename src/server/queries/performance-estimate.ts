/**
 * `performance` with `estimate: true`: the metric of every bucket estimated from the calibrated scores before labels
 * arrive (CBPE, src/core/stats/cbpe.ts), beside the realized one where labels have arrived.
 *
 * Only counts leave the store: rows per bucket × score bin of 1/1000 × predicted class (score ≥ the baseline's
 * threshold) × labelled or not. The estimate of a bucket uses all its scored rows; the check of the assumptions
 * compares the realized value with the estimate of the same labelled rows and its 95 % band.
 */
import { FIELDS, METRIC_UNITS, type FrameNotice } from '../../core/query/frames';
import { QueryError, type PerformanceMetric } from '../../core/query/queryTypes';
import {
  bandsBroken,
  DEFAULT_MIN_COUNT,
  estimatePerformance,
  ESTIMATED_METRICS,
  SCORE_BINS_PER_UNIT,
  type BandedEstimate,
  type EstimatedMetric,
  type PerformanceEstimate,
  type ScoredCell,
} from '../../core/stats';
import { baselineSchemaVersion, type Baseline, type BaselineCalibration, type PredictionStore } from '../store/types';
import { forEachSliced, mapSliced } from '../slices';
import type { WindowClause } from '../counting/window';

/** Share of labelled buckets whose realized value may leave the 95 % band before the assumptions count as broken. */
export const BAND_MISS_ALPHA = 0.05;

/** Reference rows whose prediction must follow score ≥ threshold for the estimate to describe the model. */
export const MIN_PREDICTION_AGREEMENT = 0.99;

/** Scored rows per bucket, score bin, predicted class and labelled (1) or not (0). */
export function estimateSql(joined: string, window: WindowClause): string {
  const scored = 'score IS NOT NULL';
  const where = window.sql ? `${window.sql} AND ${scored}` : `WHERE ${scored}`;
  return (
    `SELECT ${window.bucket} AS bucket, floor(score * ${SCORE_BINS_PER_UNIT}) AS score_bin, ` +
    'CASE WHEN score >= {cbpe_threshold} THEN 1 ELSE 0 END AS predicted_positive, ' +
    `coalesce(has_label, 0) AS labelled, count(*) AS n FROM ${joined} ${where} ` +
    'GROUP BY bucket, score_bin, predicted_positive, labelled'
  );
}

/** The metric as an estimated one, or a QueryError saying which metrics can be estimated. */
export function estimatedMetric(metric: PerformanceMetric, task: 'classification' | 'regression'): EstimatedMetric {
  if (task !== 'classification' || !(ESTIMATED_METRICS as readonly string[]).includes(metric)) {
    throw new QueryError(
      `estimate: true applies to binary classifiers with scores and the metrics ${ESTIMATED_METRICS.join(', ')}; ` +
        `"${metric}" of a ${task} model cannot be estimated: turn the estimate off or pick one of them`
    );
  }
  return metric as EstimatedMetric;
}

/** The baseline's score calibration, or a QueryError saying how to build a baseline that has one. */
export function requireCalibration(model: string, baseline: Baseline | undefined): BaselineCalibration {
  if (!baseline) {
    throw new QueryError(
      `model "${model}" has no baseline: estimated performance needs one built from labelled, scored reference data ` +
        `(mlmon baseline --model ${model} --version V --from FILE --prediction COL --score COL --label COL)`
    );
  }
  const performance = baseline.performance;
  if (performance?.task === 'classification' && performance.averaging === 'macro') {
    throw new QueryError(
      `model "${model}" is a classifier of more than two classes (baseline "${baseline.version}"): estimated ` +
        'performance applies to binary classifiers with a positive-class score; turn the estimate off'
    );
  }
  if (!baseline.calibration) {
    throw new QueryError(
      `baseline "${baseline.version}" of model "${model}" (schema version ${baselineSchemaVersion(baseline)}) has no ` +
        'score calibration: rebuild it with --score and --label (mlmon baseline --model ' +
        `${model} --version ${baseline.version} --from FILE --prediction COL --score COL --label COL --force)`
    );
  }
  return baseline.calibration;
}

/**
 * Cells in score-bin order, negatives first: the store returns its groups in any order (DuckDB's threads), and the
 * estimate's sums must not depend on it — one query answers the same bit for bit on every run.
 */
function byScoreBin(a: ScoredCell, b: ScoredCell): number {
  return a.bin - b.bin || Number(a.predictedPositive) - Number(b.predictedPositive);
}

/** Per bucket, the estimate over all its scored rows and over its labelled scored rows. */
export interface BucketEstimates {
  all: Map<number, PerformanceEstimate>;
  labelled: Map<number, PerformanceEstimate>;
}

/**
 * Runs estimateSql and estimates every bucket (all rows, and labelled rows) with the calibration; the loops run in
 * slices (src/server/slices.ts) and stop when `signal` aborts.
 */
export async function estimateBuckets(
  store: Pick<PredictionStore, 'query'>,
  joined: string,
  where: WindowClause,
  calibration: BaselineCalibration,
  signal: AbortSignal
): Promise<BucketEstimates> {
  const rows = await store.query<Record<string, unknown>>(estimateSql(joined, where), {
    ...where.params,
    cbpe_threshold: calibration.threshold,
  });
  const all = new Map<number, ScoredCell[]>();
  const labelled = new Map<number, ScoredCell[]>();
  const push = (map: Map<number, ScoredCell[]>, bucket: number, cell: ScoredCell) => {
    const cells = map.get(bucket) ?? [];
    cells.push(cell);
    map.set(bucket, cells);
  };
  await forEachSliced(
    rows,
    (row) => {
      const bucket = Number(row.bucket);
      const cell = {
        bin: Number(row.score_bin),
        predictedPositive: Number(row.predicted_positive) === 1,
        rows: Number(row.n),
      };
      push(all, bucket, cell);
      if (Number(row.labelled) === 1) {
        push(labelled, bucket, cell);
      }
    },
    signal
  );
  const estimate = async (cells: Map<number, ScoredCell[]>) =>
    new Map(
      await mapSliced(
        [...cells],
        ([bucket, bucketCells]) => [bucket, estimatePerformance(calibration, bucketCells.sort(byScoreBin))] as const,
        signal
      )
    );
  return { all: await estimate(all), labelled: await estimate(labelled) };
}

const NO_ESTIMATE: BandedEstimate = { value: null, lower: null, upper: null };

/** The estimate of a bucket with enough scored rows (DEFAULT_MIN_COUNT), else nulls. */
export function bucketEstimate(
  estimates: Map<number, PerformanceEstimate>,
  bucket: number,
  metric: EstimatedMetric
): BandedEstimate {
  const estimate = estimates.get(bucket);
  return estimate && estimate.rows >= DEFAULT_MIN_COUNT ? estimate[metric] : NO_ESTIMATE;
}

/**
 * Per labelled bucket (a realized value and an estimate of the same rows), in time order: whether the realized value
 * lies outside the band of that estimate.
 */
export function bandMisses(realized: ReadonlyArray<number | null>, bands: readonly BandedEstimate[]): boolean[] {
  const outside: boolean[] = [];
  realized.forEach((value, i) => {
    const { lower, upper } = bands[i];
    if (value !== null && lower !== null && upper !== null) {
      outside.push(value < lower || value > upper);
    }
  });
  return outside;
}

/** The notices of an estimate: broken assumptions (bandsBroken), and predictions that do not follow the threshold. */
export function estimateNotices(
  metric: EstimatedMetric,
  outside: readonly boolean[],
  calibration: BaselineCalibration
): FrameNotice[] {
  const notices: FrameNotice[] = [];
  if (bandsBroken(outside, BAND_MISS_ALPHA)) {
    const misses = outside.filter(Boolean).length;
    notices.push({
      severity: 'warning',
      text:
        `The realized ${metric} lies outside the estimate's 95 % band in ${misses} of ${outside.length} labelled ` +
        `buckets (more than ${100 * BAND_MISS_ALPHA} % beyond chance, or the last two): the estimate's assumptions broke — ` +
        'concept drift (the label no longer follows the score as in the baseline) or scores that are no longer ' +
        'calibrated. Trust the realized values, and rebuild the baseline on recent labelled data.',
    });
  }
  if (calibration.predictionAgreement < MIN_PREDICTION_AGREEMENT) {
    notices.push({
      severity: 'warning',
      text:
        `Only ${(100 * calibration.predictionAgreement).toFixed(1)} % of the baseline's predictions are the positive ` +
        `class exactly when the score is at least ${calibration.threshold}: the estimate assumes that threshold; ` +
        'rebuild the baseline with --threshold set to the model’s decision threshold.',
    });
  }
  return notices;
}

/** What an estimate adds to the performance frame: the estimated values, the band and realized columns, notices. */
export interface EstimatedColumns {
  values: Array<number | null>;
  extras: Array<{ name: string; values: Array<number | null>; unit: string }>;
  notices: FrameNotice[];
  custom: Record<string, unknown>;
}

/**
 * The estimated series of `metric` on the buckets `times`, its band (`lower`, `upper`) and the realized values
 * (`realized`, null where labels have not arrived), with the check of the assumptions on the labelled buckets.
 */
export async function estimatedColumns(
  store: Pick<PredictionStore, 'query'>,
  joined: string,
  where: WindowClause,
  calibration: BaselineCalibration,
  metric: EstimatedMetric,
  times: readonly number[],
  realized: ReadonlyArray<number | null>,
  signal: AbortSignal
): Promise<EstimatedColumns> {
  const estimates = await estimateBuckets(store, joined, where, calibration, signal);
  const bands = times.map((t) => bucketEstimate(estimates.all, t, metric));
  const labelledBands = times.map((t) => bucketEstimate(estimates.labelled, t, metric));
  const outside = bandMisses(realized, labelledBands);
  const unit = METRIC_UNITS[metric] ?? 'none';
  return {
    values: bands.map((b) => b.value),
    extras: [
      { name: FIELDS.lower, values: bands.map((b) => b.lower), unit },
      { name: FIELDS.upper, values: bands.map((b) => b.upper), unit },
      { name: 'realized', values: [...realized], unit },
    ],
    notices: estimateNotices(metric, outside, calibration),
    custom: {
      method: 'CBPE (NannyML): expected metric from the calibrated scores; docs: src/core/stats/cbpe.ts',
      band: '95 %, Poisson-binomial variance of the per-row outcomes (delta method for recall, F1 and AUC)',
      threshold: calibration.threshold,
      calibrationRows: calibration.count,
      labelledBuckets: outside.length,
      bucketsOutsideBand: outside.filter(Boolean).length,
      alpha: BAND_MISS_ALPHA,
    },
  };
}

/**
 * `drift`: per feature and time bucket, the chosen drift metric of the current window against the stored baseline,
 * with its noise floor and severity level (METRICS.md). Also the evaluation the other drift-family handlers share
 * (prediction_drift, severity, ranking): one binned-counts scan (binned-counts.ts) per query, then the statistics core
 * on the counts of every column × bucket.
 *
 * Metrics: PSI, JS distance, Hellinger and L∞ on the baseline's bins or categories; chi-square of homogeneity on the
 * same table (its level is PSI's: a test statistic has no effect-size scale); KS and normalised Wasserstein against
 * the baseline's quantile sketch via counts on its grid (sketch-grid.ts, approximate with a stated bound). KS and
 * Wasserstein need numbers: a categorical column falls back to PSI, and its frame's `metric` label says so.
 */
import {
  compareCounts,
  DEFAULT_ALPHA,
  DEFAULT_MIN_COUNT,
  DEFAULT_THRESHOLDS,
  rateDrift,
  severityLevel as levelOfSeverity,
  type DriftMetric as CoreMetric,
  type FeatureComparison,
  type Thresholds as MetricThresholds,
} from '../../core/stats';
import {
  DATAPLANE_TYPE_VERSION,
  FIELDS,
  FRAME_TYPES,
  type FieldLike,
  type FrameLike,
  type FrameNotice,
  type SeverityLevel,
} from '../../core/query/frames';
import type { DriftMetric, ModelScope, Persistence } from '../../core/query/queryTypes';
import type { Thresholds } from '../../core/query/settings';
import type { Baseline, PredictionStore } from '../store/types';
import type { QueryRequest } from '../backend/registry';
import { thresholdsFor } from '../backend/settings';
import { alignedCells, type Tally } from '../counting/binned-counts';
import { type CountedColumn } from '../counting/cells';
import { countWindow } from '../counting/window-counts';
import { chooseBaseline, countedColumn, featureTargets, gridColumn, type DriftTarget } from '../counting/targets';
import { requireModel } from './metadata';
import { planWindow, type WindowPlan } from './plan';
import { mapSliced } from '../slices';
import { effectiveSampleFraction, sampleNotices, windowWhere } from '../counting/window';
import { ksOnGrid, wassersteinOnGrid } from '../counting/sketch-grid';
import { alertFieldFirst, thresholdSteps } from './series';

/** One column in one bucket. */
export interface DriftPoint {
  /** Bucket start, epoch ms. */
  time: number;
  value: number | null;
  noiseFloor: number | null;
  /** Level before persistence; null = insufficient data. */
  rawLevel: SeverityLevel;
  /** Level after persistence (what alerts use). */
  level: SeverityLevel;
  /** Non-missing rows of the window in the bucket. */
  count: number;
  /** Bound on |value − exact value against the raw reference| (KS, Wasserstein); 0 when exact. */
  maxError: number;
  /** Binned counts of the whole comparison (for attribution). */
  reference: number[];
  current: number[];
  /** Sum of the target's `sumOf` per bin, aligned with `current`. */
  sums: number[];
}

export interface DriftSeries {
  target: DriftTarget;
  /** The metric actually computed (a categorical column asked for KS/Wasserstein gets PSI). */
  metric: DriftMetric;
  points: DriftPoint[];
}

export interface DriftEvaluation {
  baseline: Baseline;
  /** The window read and its buckets (plan.ts), with what the plan limited. */
  plan: WindowPlan;
  series: DriftSeries[];
  /** Fraction of the rows read (1 = all; below 1 the frames carry a notice saying so). */
  sampleFraction: number;
  /** The metric asked for, its thresholds, and PSI's (for columns that fell back to PSI). */
  metric: DriftMetric;
  thresholds: MetricThresholds;
  psiThresholds: MetricThresholds;
}

const CORE_METRIC: Record<DriftMetric, CoreMetric> = {
  psi: 'psi',
  js: 'jsDistance',
  hellinger: 'hellinger',
  linf: 'lInf',
  chi_square: 'psi',
  ks: 'ks',
  wasserstein: 'wasserstein',
};

/** Thresholds of a metric: PSI's from the settings (datasource, overridden per model), the others the core's. */
export function metricThresholds(metric: DriftMetric, settings: Thresholds): MetricThresholds {
  if (metric === 'psi' || metric === 'chi_square') {
    return { warning: settings.psiWarning, critical: settings.psiCritical };
  }
  return DEFAULT_THRESHOLDS[CORE_METRIC[metric]];
}

/**
 * Persistence: a level counts at bucket t only when it was reached in each of the `persistence` buckets ending at t,
 * i.e. the minimum of the raw levels over that window; buckets before the first, or without a rating, count as 0.
 * Insufficient data stays insufficient.
 */
export function applyPersistence(levels: SeverityLevel[], persistence: number): SeverityLevel[] {
  return levels.map((level, t) => {
    if (level === null) {
      return null;
    }
    let lowest: number = level;
    for (let back = 1; back < persistence; back++) {
      lowest = Math.min(lowest, t - back >= 0 ? (levels[t - back] ?? 0) : 0);
    }
    return lowest as SeverityLevel;
  });
}

interface Layout {
  main: number;
  grid?: { index: number; knots: number[] };
}

/** Counts and sums per grid cell (sketch-grid.ts GridCounts) from a grid column's tally (index k + 1 = cell k). */
function gridCounts(knots: number[], tally: Tally | undefined) {
  const cells = knots.length + 1;
  return {
    counts: tally ? tally.bins.subarray(1, cells + 1) : new Float64Array(cells),
    sums: tally ? tally.binSums.subarray(1, cells + 1) : new Float64Array(cells),
  };
}

const finiteOrNull = (value: number | undefined): number | null =>
  value !== undefined && Number.isFinite(value) ? value : null;

/**
 * The value and noise floor a binned comparison gives for each metric, read only for the metric asked for: a floor
 * is computed when read (noise.ts binnedNoiseFloors), and the L∞ one is a root search that a PSI severity matrix of
 * 25 features × 168 buckets paid at every point when all of them were read (src/server/queries/drift-floor-cost.test.ts).
 */
const BINNED_VALUE_AND_FLOOR: Record<
  DriftMetric,
  (comparison: FeatureComparison) => [number | undefined, number | undefined]
> = {
  psi: ({ metrics, noiseFloor }) => [metrics.psi, noiseFloor.psi],
  js: ({ metrics, noiseFloor }) => [metrics.jsDistance, noiseFloor.jsDistance],
  hellinger: ({ metrics, noiseFloor }) => [metrics.hellinger, noiseFloor.hellinger],
  linf: ({ metrics, noiseFloor }) => [metrics.lInf, noiseFloor.lInf],
  chi_square: ({ metrics, noiseFloor }) => [metrics.chiSquare?.statistic, noiseFloor.chiSquare],
  ks: () => [undefined, undefined],
  wasserstein: () => [undefined, undefined],
};

/**
 * Value, floor, level and error bound of one target in one bucket; `metric` is the one used for this target. A bucket
 * without rows has no value (every statistic is undefined there) and is not rated: nothing is computed for it.
 */
function pointOf(
  target: DriftTarget,
  metric: DriftMetric,
  thresholds: MetricThresholds,
  time: number,
  main: Tally | undefined,
  grid: { knots: number[]; tally: Tally | undefined } | undefined
): Omit<DriftPoint, 'level'> {
  const counts = alignedCells(target.reference, main);
  const base = { time, reference: counts.reference, current: counts.current, sums: counts.sums };
  if (counts.current.every((n) => n === 0)) {
    return { ...base, count: 0, value: null, noiseFloor: null, rawLevel: null, maxError: 0 };
  }
  const rated = CORE_METRIC[metric];
  const comparison = compareCounts(
    target.reference.kind,
    counts.reference,
    counts.current,
    { reference: target.reference.missing, current: counts.missing },
    { primaryMetric: rated, thresholds: { [rated]: thresholds } }
  );
  const rows = { ...base, count: comparison.current.count };
  if (grid && target.reference.kind === 'numeric') {
    const { sketch, std } = target.reference;
    const counted = gridCounts(grid.knots, grid.tally);
    const result =
      metric === 'ks'
        ? ksOnGrid(sketch, grid.knots, counted, DEFAULT_ALPHA)
        : wassersteinOnGrid(sketch, grid.knots, counted, std, DEFAULT_ALPHA);
    const value = 'statistic' in result ? result.statistic : result.normalized;
    const insufficient = comparison.current.count < DEFAULT_MIN_COUNT || comparison.reference.count === 0;
    return {
      ...rows,
      value: finiteOrNull(value),
      noiseFloor: finiteOrNull(result.noiseFloor),
      rawLevel: insufficient ? null : levelOfSeverity(rateDrift(value, result.noiseFloor, thresholds)),
      maxError: Number.isFinite(result.maxError) ? result.maxError : 0,
    };
  }
  const [value, floor] = BINNED_VALUE_AND_FLOOR[metric](comparison);
  return {
    ...rows,
    value: finiteOrNull(value),
    noiseFloor: finiteOrNull(floor),
    rawLevel: levelOfSeverity(comparison.severity),
    maxError: 0,
  };
}

/** The scope a drift-family query reads: model, version, baseline, segment, sample fraction. */
export type DriftScope = ModelScope & { persistence?: number };

/**
 * Grid cells that cost as much as one point of a plan (plan.ts MAX_PLAN_POINTS): a ~1 000-knot KS/Wasserstein grid
 * counts as 50 points per bucket — its cells are counted, moved and summed one by one, and the statistic walks them.
 */
const GRID_CELLS_PER_POINT = 20;

/** Points one bucket costs: one per target, plus the grid cells of KS and Wasserstein columns. */
function pointsPerBucket(targets: number, layouts: Layout[]): number {
  return layouts.reduce(
    (points, layout) => points + (layout.grid ? layout.grid.knots.length / GRID_CELLS_PER_POINT : 0),
    targets
  );
}

/**
 * Counts every target × bucket in one scan and rates each one. `bucket` is the query's (plan.ts planWindow), 'whole'
 * to compare the whole range at once. `sumOf` is summed per cell of every target (ranking sums the model's output). A
 * grid column sums its own values in its two outer cells (the Wasserstein tails).
 */
export async function evaluateDrift(
  request: QueryRequest,
  scope: DriftScope,
  metric: DriftMetric,
  chooseTargets: (store: PredictionStore, baseline: Baseline) => Promise<DriftTarget[]>,
  options: { bucket: string | 'whole' | undefined; sumOf?: string }
): Promise<DriftEvaluation> {
  const { instance, signal } = request;
  const store = await instance.store();
  await requireModel(store, scope.model);
  const baseline = await chooseBaseline(store, scope.model, scope.baseline, scope.version);
  const targets = await chooseTargets(store, baseline);
  const columns: CountedColumn[] = [];
  const layouts: Layout[] = targets.map((target) => {
    const reference = target.reference;
    const main = columns.push(countedColumn(target, options.sumOf));
    if ((metric !== 'ks' && metric !== 'wasserstein') || reference.kind !== 'numeric') {
      return { main: main - 1 };
    }
    const grid = gridColumn({ ...target, reference });
    const index = columns.push(grid) - 1;
    return { main: main - 1, grid: { index, knots: grid.edges! } };
  });
  const plan = await planWindow(request, store, scope.model, options.bucket, pointsPerBucket(targets.length, layouts));
  const counts = await countWindow({
    store,
    model: scope.model,
    range: plan.range,
    columns,
    where: windowWhere(store.dialect, scope, plan.grid),
    grid: plan.grid,
    signal,
  });
  const settings = thresholdsFor(instance.settings, scope.model);
  const thresholds = metricThresholds(metric, settings);
  const psiThresholds = metricThresholds('psi', settings);
  const series: DriftSeries[] = [];
  for (const [t, target] of targets.entries()) {
    const layout = layouts[t];
    const used: DriftMetric =
      (metric === 'ks' || metric === 'wasserstein') && target.reference.kind !== 'numeric' ? 'psi' : metric;
    const raw = await mapSliced(
      plan.starts,
      (time) =>
        pointOf(
          target,
          used,
          used === metric ? thresholds : psiThresholds,
          time,
          counts.get(layout.main, time),
          layout.grid && { knots: layout.grid.knots, tally: counts.get(layout.grid.index, time) }
        ),
      signal
    );
    const levels = applyPersistence(
      raw.map((point) => point.rawLevel),
      scope.persistence ?? 1
    );
    series.push({ target, metric: used, points: raw.map((point, i) => ({ ...point, level: levels[i] })) });
  }
  return {
    baseline,
    plan,
    series,
    sampleFraction: effectiveSampleFraction(scope.sampleFraction),
    metric,
    thresholds,
    psiThresholds,
  };
}

/** What every drift-family frame says about how it was computed. */
export function evaluationMeta(evaluation: DriftEvaluation, persistence: number) {
  return {
    baseline: evaluation.baseline.version,
    bucketMs: evaluation.plan.grid.sizeMs,
    persistence,
    thresholds: evaluation.thresholds,
    sampled: evaluation.sampleFraction < 1,
    sampleFraction: evaluation.sampleFraction,
  };
}

/** The frame notices of an evaluation: what its plan limited, and that it was sampled, when it was. */
export function notices(evaluation: DriftEvaluation): { notices?: FrameNotice[] } {
  const list = [...evaluation.plan.notices, ...sampleNotices(evaluation.sampleFraction)];
  return list.length > 0 ? { notices: list } : {};
}

/**
 * One timeseries-multi frame per series: time, value, noise_floor, level, count, labelled model/feature/metric.
 * `alertOn` moves the level (with warning/critical steps at 2 and 3) or the noise floor first, since Grafana's
 * server-side expressions read the first number field of a series (alertFieldFirst).
 */
export function driftFrames(
  model: string,
  evaluation: DriftEvaluation,
  { persistence = 1, alertOn = 'value' }: Persistence,
  refId: string
): FrameLike[] {
  return evaluation.series.map((series) => {
    const labels = { model, feature: series.target.name, metric: series.metric };
    const thresholds =
      series.metric === 'chi_square'
        ? undefined
        : thresholdSteps({ ...metricThresholdsOf(series.metric, evaluation), worse: 'higher' });
    const column = (name: string, values: unknown[], config: FieldLike['config']): FieldLike => ({
      name,
      type: 'number',
      labels,
      values,
      config,
    });
    const points = series.points;
    const value = column(
      FIELDS.value,
      points.map((p) => p.value),
      { unit: 'none', ...(thresholds ? { thresholds } : {}) }
    );
    const level = column(
      FIELDS.level,
      points.map((p) => p.level),
      { min: 0, max: 3 }
    );
    const maxError = points.reduce((largest, p) => Math.max(largest, p.maxError), 0);
    return {
      name: series.target.name,
      refId,
      length: points.length,
      meta: {
        type: FRAME_TYPES.timeSeriesMulti,
        typeVersion: DATAPLANE_TYPE_VERSION,
        custom: {
          ...evaluationMeta(evaluation, persistence),
          metric: series.metric,
          ...(maxError > 0 ? { approximate: true, maxError, reference: 'quantile-sketch' } : {}),
        },
        ...notices(evaluation),
      },
      fields: alertFieldFirst(
        [
          { name: FIELDS.time, type: 'time', values: points.map((p) => p.time), config: {} },
          value,
          column(
            FIELDS.noiseFloor,
            points.map((p) => p.noiseFloor),
            { unit: 'none' }
          ),
          level,
          column(
            FIELDS.count,
            points.map((p) => p.count),
            { unit: 'short' }
          ),
        ],
        alertOn
      ),
    };
  });
}

/** Thresholds of a series: the query's metric's, or PSI's for a column that fell back to PSI. */
function metricThresholdsOf(metric: DriftMetric, evaluation: DriftEvaluation): MetricThresholds {
  return metric === evaluation.metric ? evaluation.thresholds : evaluation.psiThresholds;
}

export async function driftQuery(request: QueryRequest<'drift'>): Promise<FrameLike[]> {
  const { query } = request;
  const metric = query.metric ?? 'psi';
  const evaluation = await evaluateDrift(
    request as QueryRequest,
    query,
    metric,
    (store, baseline) => featureTargets(store, query.model, baseline, query.features),
    { bucket: query.bucket }
  );
  return driftFrames(query.model, evaluation, query, query.refId);
}

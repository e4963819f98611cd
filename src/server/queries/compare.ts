/**
 * `compare`: champion vs challenger — two versions of a model serving the same traffic, side by side per bucket.
 *
 * Traffic is either **shadow** (both versions score every request: two predictions per request id) or **split**
 * (each request goes to one version). Per bucket:
 * - the distance between the two versions' prediction distributions, on the baseline's prediction bins (numbers) or
 *   the union of the classes (METRICS.md): Jensen–Shannon distance (log₂) and PSI (floored at 1e-4, ln), the
 *   champion as reference, each with its noise floor and noise-floor-aware level as drift has them;
 * - the agreement rate over the request ids both versions scored (shadow traffic; a split has no pairs, and the
 *   agreement is null): the same class for classifiers, |champion − challenger| ≤ tolerance for regressors
 *   (counting/pair-counts.ts), with the pair count;
 * - per version: the realized metric (labels joined by id, performance.ts) with its label coverage; the estimated
 *   one (CBPE, performance-estimate.ts) with its 95 % band, for binary classifiers whose baseline has a calibration;
 *   latency p95 and error rate (operational.ts).
 *
 * Every series is one `timeseries-multi` frame whose first number is its value, labelled `model`, `metric` and — for a
 * version's series — `version` and `role` (champion / challenger), so an alert rule tells them apart. Everything is
 * counted in the store: the prediction bins by the counting engine (window-counts.ts), the rest in one GROUP BY
 * per statement; the plan is clamped to the budget with POINTS_PER_BUCKET points per bucket.
 */
import {
  alignCategories,
  compareCounts,
  DEFAULT_MIN_COUNT,
  rateDrift,
  severityLevel as levelOfSeverity,
  type CategoryCounts,
  type FeatureComparison,
} from '../../core/stats';
import { FIELDS, METRIC_UNITS, type FrameLike, type FrameNotice } from '../../core/query/frames';
import {
  COMPARE_PARTS,
  COMPARE_TOLERANCE_STD,
  QueryError,
  type ComparePart,
  type CompareQuery,
} from '../../core/query/queryTypes';
import type { QueryRequest } from '../backend/registry';
import { thresholdsFor } from '../backend/settings';
import type { Baseline, BaselineCalibration, ColumnReference, PredictionStore } from '../store/types';
import { alignedCells, type Tally } from '../counting/binned-counts';
import { countPairs, type PairCounts } from '../counting/pair-counts';
import { chooseBaseline, countedColumn, predictionTarget } from '../counting/targets';
import { countWindow } from '../counting/window-counts';
import { sampleNotices, windowWhere, type WindowClause } from '../counting/window';
import { metricThresholds } from './drift';
import { requireModel } from './metadata';
import { operationalRule, operationalSql } from './operational';
import {
  baselineIfAny,
  detectTask,
  labelledRelation,
  performanceRule,
  realizedPerformance,
  stoppableStore,
  type Queryable,
  type Task,
} from './performance';
import { estimatedColumns, estimatedMetric, requireCalibration } from './performance-estimate';
import { planWindow, type WindowPlan } from './plan';
import { mapSliced } from '../slices';
import { numberOrNull, ratedSeriesFrame, type ExtraColumn, type LevelRule } from './series';

/** The two sides of a comparison, in frame order. */
export const ROLES = ['champion', 'challenger'] as const;
export type Role = (typeof ROLES)[number];

/** The distances of the prediction distributions, as query metrics (METRICS.md). */
export const COMPARE_DISTANCES = ['js', 'psi'] as const;

/**
 * Series per bucket of each part (plan.ts points): the distances, the agreement, and per version realized and
 * estimated performance, latency p95 and error rate.
 */
export const PART_POINTS: Record<ComparePart, number> = {
  distance: COMPARE_DISTANCES.length,
  agreement: 1,
  performance: ROLES.length * 2,
  operational: ROLES.length * 2,
};

/** Series per bucket of a whole comparison. */
export const POINTS_PER_BUCKET = COMPARE_PARTS.reduce((sum, part) => sum + PART_POINTS[part], 0);

/** Latency quantile compared. */
const LATENCY_LEVEL = 0.95;

/** A distance of two bucketed distributions: its value, noise floor and level (null levels with too few rows). */
interface DistancePoint {
  value: number | null;
  noiseFloor: number | null;
  level: number | null;
  rows: number;
}

const NO_DISTANCE: DistancePoint = { value: null, noiseFloor: null, level: null, rows: 0 };

/** Counts of both sides on common bins: the baseline's bins (numbers) or the union of both sides' classes. */
export function sideBySide(
  reference: ColumnReference,
  champion: Tally | undefined,
  challenger: Tally | undefined
): { champion: number[]; challenger: number[]; missing: { reference: number; current: number } } {
  const missing = { reference: champion?.bins[0] ?? 0, current: challenger?.bins[0] ?? 0 };
  if (reference.kind === 'numeric') {
    return {
      champion: alignedCells(reference, champion).current,
      challenger: alignedCells(reference, challenger).current,
      missing,
    };
  }
  const classes = (tally: Tally | undefined): CategoryCounts =>
    new Map([...(tally?.categories ?? [])].map(([name, cell]) => [name, cell.n]));
  const aligned = alignCategories(classes(champion), classes(challenger));
  return { champion: aligned.reference, challenger: aligned.current, missing };
}

/**
 * JS distance and PSI of the challenger's distribution against the champion's (compareCounts), with their noise
 * floors and levels (rateDrift under the drift thresholds); none when a side has fewer than DEFAULT_MIN_COUNT rows.
 */
export function distancePoints(
  kind: ColumnReference['kind'],
  sides: ReturnType<typeof sideBySide>,
  thresholds: Record<(typeof COMPARE_DISTANCES)[number], { warning: number; critical: number }>
): Record<(typeof COMPARE_DISTANCES)[number], DistancePoint> {
  const total = (counts: number[]) => counts.reduce((sum, n) => sum + n, 0);
  const rows = Math.min(total(sides.champion), total(sides.challenger));
  if (rows < DEFAULT_MIN_COUNT) {
    return { js: { ...NO_DISTANCE, rows }, psi: { ...NO_DISTANCE, rows } };
  }
  const comparison: FeatureComparison = compareCounts(kind, sides.champion, sides.challenger, sides.missing);
  const point = (value: number, noiseFloor: number, metric: (typeof COMPARE_DISTANCES)[number]): DistancePoint => ({
    value,
    noiseFloor,
    level: levelOfSeverity(rateDrift(value, noiseFloor, thresholds[metric])),
    rows,
  });
  return {
    js: point(comparison.metrics.jsDistance, comparison.noiseFloor.jsDistance, 'js'),
    psi: point(comparison.metrics.psi, comparison.noiseFloor.psi, 'psi'),
  };
}

/** Agreement of one bucket's pairs: same class (classifiers) or within the tolerance (regressors); null without pairs. */
export function agreementRate(counts: PairCounts | undefined, task: Task): number | null {
  if (!counts || counts.pairs === 0) {
    return null;
  }
  return (task === 'classification' ? counts.sameClass : counts.withinTolerance) / counts.pairs;
}

/** The tolerance of regressors' agreement: the query's, else COMPARE_TOLERANCE_STD baseline standard deviations. */
export function agreementTolerance(query: CompareQuery, baseline: Baseline): number {
  if (query.tolerance !== undefined) {
    return query.tolerance;
  }
  const prediction = baseline.prediction;
  return prediction?.kind === 'numeric' ? COMPARE_TOLERANCE_STD * prediction.std : 0;
}

/** The versions must both have predictions in the store; else an error listing the ones it has. */
async function requireVersions(store: PredictionStore, query: CompareQuery) {
  const known = (await store.listVersions(query.model)).map((v) => v.version);
  const missing = [query.champion, query.challenger].filter((version) => !known.includes(version));
  const unreplaced = missing.find((name) => name.startsWith('$'));
  if (unreplaced) {
    throw new QueryError(
      `version "${unreplaced}" is a template variable Grafana did not replace: add a ${unreplaced.slice(1)} variable ` +
        '(a versions query of the model) to the dashboard, or name the version'
    );
  }
  if (missing.length > 0) {
    throw new QueryError(
      `model "${query.model}" has no predictions of version(s) ${missing.map((v) => `"${v}"`).join(', ')}; ` +
        `its versions: ${known.join(', ') || 'none yet'} — pick the champion and challenger among them`
    );
  }
}

/** What an estimate of one version needs (its metric and calibration), or the notice saying why there is none. */
function estimatePlan(
  model: string,
  version: string,
  metric: Parameters<typeof estimatedMetric>[0],
  task: Task,
  baseline: Baseline | undefined
): { metric: ReturnType<typeof estimatedMetric>; calibration: BaselineCalibration } | FrameNotice {
  try {
    return { metric: estimatedMetric(metric, task), calibration: requireCalibration(model, baseline) };
  } catch (error) {
    if (!(error instanceof QueryError)) {
      throw error;
    }
    return { severity: 'info', text: `No estimated ${metric} for version ${version}: ${error.message}` };
  }
}

/** A series of one version (or of the pair) for ratedSeriesFrame. */
interface Series {
  name: string;
  metric: string;
  role?: Role;
  version?: string;
  unit: string;
  values: Array<number | null>;
  rule?: LevelRule;
  unrated?: boolean[];
  extras: ExtraColumn[];
}

/** What every part of a comparison reads: the request, its plan, both versions' filters and the relations. */
interface Comparison {
  request: QueryRequest<'compare'>;
  store: PredictionStore;
  stoppable: Queryable;
  plan: WindowPlan;
  versions: Record<Role, string>;
  wheres: Record<Role, WindowClause>;
  relations: { predictions: string; joined: string };
  notices: FrameNotice[];
  /** What the parts computed say about how (meta.custom). */
  custom: Record<string, unknown>;
}

/** JS distance and PSI of the two versions' predictions per bucket, counted by the counting engine. */
async function distanceSeries(comparison: Comparison, baseline: Baseline): Promise<Series[]> {
  const { request, store, plan, wheres } = comparison;
  const target = predictionTarget(baseline, store.dialect);
  comparison.custom.baseline = baseline.version;
  comparison.custom.distances =
    'challenger against champion on the baseline prediction bins (classes: their union): JS distance (log2), PSI (floor 1e-4, ln)';
  const tallies: Array<(time: number) => Tally | undefined> = [];
  for (const role of ROLES) {
    const counts = await countWindow({
      store,
      model: request.query.model,
      range: plan.range,
      columns: [countedColumn(target)],
      where: wheres[role],
      grid: plan.grid,
      signal: request.signal,
    });
    tallies.push((time: number) => counts.get(0, time));
  }
  const settings = thresholdsFor(request.instance.settings, request.query.model);
  const thresholds = { js: metricThresholds('js', settings), psi: metricThresholds('psi', settings) };
  const distances = await mapSliced(
    plan.starts,
    (t) =>
      distancePoints(target.reference.kind, sideBySide(target.reference, tallies[0](t), tallies[1](t)), thresholds),
    request.signal
  );
  return COMPARE_DISTANCES.map((metric) => ({
    name: metric,
    metric,
    unit: 'none',
    values: distances.map((d) => d[metric].value),
    extras: [
      { name: 'noise_floor', values: distances.map((d) => d[metric].noiseFloor), unit: 'none' },
      { name: 'level', values: distances.map((d) => d[metric].level), unit: 'none' },
      { name: 'count', values: distances.map((d) => d[metric].rows), unit: 'short' },
    ],
  }));
}

/** The agreement of the requests both versions scored, per bucket, with the pair count (pair-counts.ts). */
async function agreementSeries(comparison: Comparison, baseline: Baseline): Promise<Series> {
  const { request, store, plan, versions, relations } = comparison;
  const { query } = request;
  const task = await detectTask(
    comparison.stoppable,
    baseline,
    relations.joined,
    comparison.wheres.champion,
    query.metric
  );
  const tolerance = agreementTolerance(query, baseline);
  const pairs = await countPairs(
    store,
    relations.predictions,
    windowWhere(store.dialect, { ...query, version: undefined }, plan.grid),
    { ...versions, tolerance },
    request.signal
  );
  const pairCounts = plan.starts.map((t) => pairs.get(t)?.pairs ?? 0);
  if (pairCounts.every((n) => n === 0)) {
    comparison.notices.push({
      severity: 'info',
      text:
        `No request id was scored by both ${versions.champion} and ${versions.challenger} (split traffic, or no shadow ` +
        'predictions logged): the agreement needs shadow traffic — both versions logging the same request id.',
    });
  }
  comparison.custom.task = task;
  comparison.custom.tolerance = tolerance;
  comparison.custom.agreement =
    task === 'classification' ? 'same predicted class' : `|champion − challenger| ≤ tolerance`;
  return {
    name: 'agreement',
    metric: 'agreement',
    unit: 'percentunit',
    values: plan.starts.map((t) => agreementRate(pairs.get(t), task)),
    extras: [{ name: 'pairs', values: pairCounts, unit: 'short' }],
  };
}

/** One version's realized metric with its coverage, and its estimate (CBPE) with the band where one applies. */
async function performanceSeries(comparison: Comparison, role: Role): Promise<Series[]> {
  const { request, store, stoppable, plan, relations, notices } = comparison;
  const { query } = request;
  const version = comparison.versions[role];
  const baseline = await baselineIfAny(store, { ...query, version });
  const where = comparison.wheres[role];
  const times = plan.starts;
  const realized = await realizedPerformance(
    stoppable,
    query.model,
    baseline,
    relations.joined,
    where,
    query.metric,
    times
  );
  const { metric, task } = realized;
  const unit = METRIC_UNITS[metric] ?? 'none';
  const rule = performanceRule(metric, realized.reference, thresholdsFor(request.instance.settings, query.model));
  const series: Series[] = [
    {
      name: `${metric} ${role}`,
      metric,
      role,
      version,
      unit,
      values: realized.values,
      rule,
      extras: [
        { name: 'coverage', values: realized.coverage, unit: 'percentunit' },
        { name: 'labelled', values: realized.labelled, unit: 'short' },
      ],
    },
  ];
  const estimable = estimatePlan(query.model, version, metric, task, baseline);
  if ('severity' in estimable) {
    notices.push(estimable);
    return series;
  }
  const estimate = await estimatedColumns(
    stoppable,
    relations.joined,
    where,
    estimable.calibration,
    estimable.metric,
    times,
    realized.values,
    request.signal
  );
  notices.push(...estimate.notices.map((n) => ({ ...n, text: `Version ${version}: ${n.text}` })));
  series.push({
    name: `${metric} estimated ${role}`,
    metric: `${metric}_estimated`,
    role,
    version,
    unit,
    values: estimate.values,
    rule,
    extras: estimate.extras,
  });
  return series;
}

/** One version's latency p95 and error rate per bucket (operational.ts's statement on the version's rows). */
async function operationalSeries(comparison: Comparison, role: Role): Promise<Series[]> {
  const { request, store, stoppable, plan, relations } = comparison;
  const where = comparison.wheres[role];
  const rows = await stoppable.query<Record<string, unknown>>(
    operationalSql(store.dialect, relations.predictions, where, true),
    { ...where.params, latency_q: LATENCY_LEVEL }
  );
  const byBucket = new Map(rows.map((row) => [Number(row.bucket), row]));
  const times = plan.starts;
  const counts = times.map((t) => Number(byBucket.get(t)?.n ?? 0));
  const unrated = counts.map((n) => n < DEFAULT_MIN_COUNT);
  const thresholds = thresholdsFor(request.instance.settings, request.query.model);
  const own = {
    role,
    version: comparison.versions[role],
    unrated,
    extras: [{ name: 'count', values: counts, unit: 'short' }],
  };
  return [
    {
      name: `latency_p95 ${role}`,
      metric: 'latency_p95',
      ...own,
      unit: 'ms',
      values: times.map((t) => numberOrNull(byBucket.get(t)?.latency)),
      rule: operationalRule('latency_p95', thresholds),
    },
    {
      name: `error_rate ${role}`,
      metric: 'error_rate',
      ...own,
      unit: 'percentunit',
      values: times.map((t, i) => (counts[i] > 0 ? Number(byBucket.get(t)?.errors) / counts[i] : null)),
      rule: operationalRule('error_rate', thresholds),
    },
  ];
}

/** The series of the parts a query asks for, in frame order: distances, agreement, then each version's. */
async function comparedSeries(comparison: Comparison, parts: readonly ComparePart[]): Promise<Series[]> {
  const { request, store } = comparison;
  const { query } = request;
  const needsBaseline = parts.includes('distance') || parts.includes('agreement');
  const baseline = needsBaseline ? await chooseBaseline(store, query.model, query.baseline, query.champion) : undefined;
  const series: Series[] = [];
  if (parts.includes('distance')) {
    series.push(...(await distanceSeries(comparison, baseline!)));
  }
  if (parts.includes('agreement')) {
    series.push(await agreementSeries(comparison, baseline!));
  }
  for (const role of ROLES) {
    if (parts.includes('performance')) {
      series.push(...(await performanceSeries(comparison, role)));
    }
    if (parts.includes('operational')) {
      series.push(...(await operationalSeries(comparison, role)));
    }
  }
  return series;
}

export async function compareQuery(request: QueryRequest<'compare'>): Promise<FrameLike[]> {
  const { query, instance, signal } = request;
  const store = await instance.store();
  await requireModel(store, query.model);
  await requireVersions(store, query);
  const parts: readonly ComparePart[] = query.part ? [query.part] : COMPARE_PARTS;
  const points = parts.reduce((sum, part) => sum + PART_POINTS[part], 0);
  const plan = await planWindow(request, store, query.model, query.bucket, points);
  const versions = { champion: query.champion, challenger: query.challenger };
  const comparison: Comparison = {
    request,
    store,
    stoppable: stoppableStore(store, signal),
    plan,
    versions,
    wheres: {
      champion: windowWhere(store.dialect, { ...query, version: versions.champion }, plan.grid),
      challenger: windowWhere(store.dialect, { ...query, version: versions.challenger }, plan.grid),
    },
    relations: {
      predictions: await store.predictionsRelation(query.model, plan.range),
      joined: await labelledRelation(store, query.model, plan.range),
    },
    notices: [...plan.notices, ...sampleNotices(query.sampleFraction)],
    custom: { ...versions, parts, bucketMs: plan.grid.sizeMs, minCount: DEFAULT_MIN_COUNT },
  };
  const series = await comparedSeries(comparison, parts);
  return series.map((one, i) =>
    withDisplayNames(
      ratedSeriesFrame(
        {
          name: one.name,
          labels: {
            model: query.model,
            metric: one.metric,
            ...(one.version !== undefined ? { version: one.version, role: one.role! } : {}),
          },
          unit: one.unit,
          times: plan.starts,
          values: one.values,
          rule: one.rule,
          unrated: one.unrated,
          extras: one.extras,
          notices: i === 0 ? comparison.notices : undefined,
          custom: comparison.custom,
        },
        query.refId,
        query.alertOn
      ),
      displayName(one)
    )
  );
}

/** What a legend calls a series: `JS distance`, `agreement`, `accuracy v2 (challenger)`, `error rate v1 (champion)`. */
export function displayName(series: Pick<Series, 'metric' | 'version' | 'role'>): string {
  const metric = DISPLAY_METRICS[series.metric] ?? series.metric.replace(/_/g, ' ');
  return series.version === undefined ? metric : `${metric} ${series.version} (${series.role})`;
}

const DISPLAY_METRICS: Record<string, string> = { js: 'JS distance', psi: 'PSI', latency_p95: 'latency p95' };

/** The frame with Grafana display names: the value field's is the series', another number's adds its field name. */
function withDisplayNames(frame: FrameLike, name: string): FrameLike {
  return {
    ...frame,
    fields: frame.fields.map((field) =>
      field.type === 'number'
        ? {
            ...field,
            config: { ...field.config, displayNameFromDS: field.name === FIELDS.value ? name : `${name}: ${field.name}` },
          }
        : field
    ),
  };
}

/**
 * `performance`: model quality from late labels joined to the predictions by request id, per time bucket, with the
 * label coverage (labelled / logged predictions) and the change against the baseline's validation score.
 *
 * Only counts leave the store:
 * - classifiers: a confusion table (bucket × predicted class × label class → rows) gives accuracy, and precision,
 *   recall and F1 of the positive class (binary) or their unweighted mean over classes (macro), as the baseline's
 *   validation performance does (src/server/baseline/performance.ts);
 * - AUC: positives and negatives per score bin of width 1/1000 (bucket × ⌊1000·score⌋ × label class → rows); pairs
 *   in one bin count half, so the result is within ½·Σ_k pos_k·neg_k / (P·N) of the exact (Mann–Whitney) AUC — the
 *   bound is computed from the same counts and returned in meta.custom;
 * - regressors: Σ|y−ŷ|, Σ(y−ŷ)², Σ|y−ŷ|/|y| (y ≠ 0) and their row counts per bucket.
 * With `estimate: true` the metric of every bucket is estimated from the calibrated scores before labels arrive
 * (performance-estimate.ts, CBPE), the realized one beside it.
 * A bucket is scored only when its labels have arrived: at least DEFAULT_MIN_COUNT (30) labelled rows; below that
 * its value is null and only the coverage is reported.
 */
import { METRIC_UNITS, type FrameLike } from '../../core/query/frames';
import { QueryError, type PerformanceMetric } from '../../core/query/queryTypes';
import type { Thresholds } from '../../core/query/settings';
import { DEFAULT_MIN_COUNT, SCORE_BINS_PER_UNIT } from '../../core/stats';
import type { QueryRequest } from '../backend/registry';
import { thresholdsFor } from '../backend/settings';
import { inferPositiveLabel } from '../baseline/performance';
import type {
  Baseline,
  ClassifierPerformance,
  PredictionStore,
  RegressorPerformance,
  TimeRange,
} from '../store/types';
import { chooseBaseline } from '../counting/targets';
import { requireModel } from './metadata';
import { numberOrNull, ratedSeriesFrame, relativeRule, type LevelRule } from './series';
import type { WhereClause } from '../counting/scope';
import { sampleNotices, windowWhere, type WindowClause } from '../counting/window';
import { planWindow } from './plan';
import { estimatedColumns, estimatedMetric, requireCalibration } from './performance-estimate';

const CLASSIFIER_METRICS = new Set<PerformanceMetric>(['accuracy', 'precision', 'recall', 'f1', 'auc']);
const REGRESSOR_METRICS = new Set<PerformanceMetric>(['mae', 'rmse', 'mape']);

/**
 * How long before its prediction a label may have been recorded and still count (clocks of the systems that log
 * predictions and labels can differ): the labels of a window are read from a day before it on, not all of them.
 */
export const LABEL_BEFORE_PREDICTION_MS = 86_400_000;

/** Score bins per unit of score for the AUC counts. */
export const AUC_BINS_PER_UNIT = SCORE_BINS_PER_UNIT;

/** Predictions LEFT JOIN labels by id; `has_label` is 1 for labelled rows (0 or NULL otherwise, by engine). */
export function joinedRelation(dialect: PredictionStore['dialect'], predictions: string, labels: string): string {
  const join = dialect === 'duckdb' ? 'LEFT JOIN' : 'ANY LEFT JOIN';
  return (
    `${predictions} AS current_window ${join} ` +
    `(SELECT id, 1 AS has_label, label_num, label_cat FROM ${labels}) AS labels USING (id)`
  );
}

const LABELLED = 'coalesce(has_label, 0) = 1';

/** Rows and labelled rows per bucket, and the confusion counts of labelled rows (class columns NULL otherwise). */
export function confusionSql(joined: string, window: WindowClause): string {
  return (
    `SELECT ${window.bucket} AS bucket, coalesce(has_label, 0) AS labelled, ` +
    `prediction_cat AS pc, prediction_num AS pn, label_cat AS lc, label_num AS ln, count(*) AS n ` +
    `FROM ${joined} ${window.sql} GROUP BY bucket, labelled, pc, pn, lc, ln`
  );
}

/** Labelled, scored rows per bucket, score bin and label class. */
export function scoreBinSql(joined: string, window: WindowClause): string {
  const scored = `${LABELLED} AND score IS NOT NULL`;
  return (
    `SELECT ${window.bucket} AS bucket, floor(score * ${AUC_BINS_PER_UNIT}) AS score_bin, ` +
    `label_cat AS lc, label_num AS ln, count(*) AS n FROM ${joined} ${and(window.sql, scored)} ` +
    `GROUP BY bucket, score_bin, lc, ln`
  );
}

/** Rows, labelled rows and the error sums of a regressor per bucket. */
export function regressionSql(joined: string, window: WindowClause): string {
  const paired = `${LABELLED} AND prediction_num IS NOT NULL AND label_num IS NOT NULL`;
  const error = '(label_num - prediction_num)';
  const sumIf = (condition: string, value: string) => `sum(CASE WHEN ${condition} THEN ${value} ELSE 0 END)`;
  return (
    `SELECT ${window.bucket} AS bucket, count(*) AS n, ${sumIf(LABELLED, '1')} AS labelled, ` +
    `${sumIf(paired, '1')} AS pairs, ${sumIf(paired, `abs(${error})`)} AS abs_sum, ` +
    `${sumIf(paired, `${error} * ${error}`)} AS sq_sum, ` +
    `${sumIf(`${paired} AND label_num != 0`, '1')} AS pct_n, ` +
    `${sumIf(`${paired} AND label_num != 0`, `abs(${error} / label_num)`)} AS pct_sum ` +
    `FROM ${joined} ${window.sql} GROUP BY bucket`
  );
}

/**
 * What the window's outputs and labels look like: rows with a prediction, rows with a text class, rows with a number
 * other than 0/1. Unlabelled rows count by their prediction alone (their label columns are NULL). A NULL is tested
 * before NOT IN, as ClickHouse 18.16 answers `NULL NOT IN (0, 1)` with 1 (current ClickHouse and DuckDB with NULL).
 */
export function taskSql(joined: string, where: string): string {
  return (
    'SELECT sum(CASE WHEN prediction_num IS NOT NULL OR prediction_cat IS NOT NULL THEN 1 ELSE 0 END) AS predicted, ' +
    'sum(CASE WHEN prediction_cat IS NOT NULL OR label_cat IS NOT NULL THEN 1 ELSE 0 END) AS textual, ' +
    'sum(CASE WHEN (prediction_num IS NOT NULL AND prediction_num NOT IN (0, 1)) OR ' +
    '(label_num IS NOT NULL AND label_num NOT IN (0, 1)) THEN 1 ELSE 0 END) AS non_binary ' +
    `FROM ${joined} ${where}`
  );
}

function and(where: string, condition: string): string {
  return where ? `${where} AND ${condition}` : `WHERE ${condition}`;
}

/** Class of a row as text: the text column, else the number as JS prints it (String(1) = '1', as the baseline). */
export function classKey(text: unknown, number: unknown): string | null {
  if (text !== null && text !== undefined && text !== '') {
    return String(text);
  }
  const value = numberOrNull(number);
  return value === null ? null : String(value);
}

export interface ConfusionCell {
  label: string;
  prediction: string;
  n: number;
}

/**
 * Accuracy, precision, recall and F1 from confusion counts: of `positive` (binary) or their unweighted mean over
 * the classes seen (macro); precision/recall 0 when undefined (scikit-learn's zero_division=0).
 */
export function classifierScores(cells: readonly ConfusionCell[], positive: string | undefined) {
  const total = cells.reduce((sum, c) => sum + c.n, 0);
  const correct = cells.reduce((sum, c) => sum + (c.label === c.prediction ? c.n : 0), 0);
  const ofClass = (cls: string) => {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (const { label, prediction, n } of cells) {
      if (prediction === cls && label === cls) {
        tp += n;
      } else if (prediction === cls) {
        fp += n;
      } else if (label === cls) {
        fn += n;
      }
    }
    const precision = tp + fp ? tp / (tp + fp) : 0;
    const recall = tp + fn ? tp / (tp + fn) : 0;
    return { precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0 };
  };
  const classes = [...new Set(cells.flatMap((c) => [c.label, c.prediction]))];
  const perClass = positive !== undefined ? [ofClass(positive)] : classes.map(ofClass);
  const mean = (key: 'precision' | 'recall' | 'f1') => perClass.reduce((s, c) => s + c[key], 0) / perClass.length;
  return {
    accuracy: total ? correct / total : 0,
    precision: mean('precision'),
    recall: mean('recall'),
    f1: mean('f1'),
  };
}

/**
 * ROC AUC from positives and negatives per ascending score bin, pairs in one bin counting half (the Mann–Whitney
 * U with ties; Hanley & McNeil 1982), with the bound ½·Σ pos_k·neg_k / (P·N) on its distance to the AUC of the
 * unbinned scores. Null when one class is absent.
 */
export function binnedAuc(bins: ReadonlyArray<{ positives: number; negatives: number }>) {
  let negativesBelow = 0;
  let wins = 0;
  let tiedPairs = 0;
  for (const { positives, negatives } of bins) {
    wins += positives * negativesBelow + 0.5 * positives * negatives;
    tiedPairs += positives * negatives;
    negativesBelow += negatives;
  }
  const positives = bins.reduce((s, b) => s + b.positives, 0);
  const pairs = positives * negativesBelow;
  return pairs === 0 ? null : { auc: wins / pairs, errorBound: (0.5 * tiedPairs) / pairs };
}

/** The baseline named by the query, else the version's or the newest — or none when the model has no baseline. */
export async function baselineIfAny(store: PredictionStore, query: { model: string; baseline?: string; version?: string }) {
  if (!query.baseline && (await store.listBaselines(query.model)).length === 0) {
    return undefined;
  }
  return chooseBaseline(store, query.model, query.baseline, query.version);
}

export type Task = 'classification' | 'regression';

/** The store's query, stopped by the request's signal (Grafana's cancellation or the time limit). */
export type Queryable = Pick<PredictionStore, 'query'>;

/**
 * The model's task: the baseline's when it has validation performance; else classification when any class is
 * text or every number is 0/1 (as the baseline detects it); else regression. A window without predictions
 * gives no evidence: then the metric asked for decides (classification when none is).
 */
export async function detectTask(
  store: Queryable,
  baseline: Baseline | undefined,
  joined: string,
  where: WhereClause,
  metric: PerformanceMetric | undefined
): Promise<Task> {
  if (baseline?.performance) {
    return baseline.performance.task;
  }
  const [row] = await store.query<Record<string, unknown>>(taskSql(joined, where.sql), where.params);
  if (Number(row?.predicted ?? 0) === 0) {
    return metric && REGRESSOR_METRICS.has(metric) ? 'regression' : 'classification';
  }
  return Number(row.textual) > 0 || Number(row.non_binary) === 0 ? 'classification' : 'regression';
}

/** The validation score of the metric in the baseline, when it has one. */
function referenceScore(metric: PerformanceMetric, performance: Baseline['performance']): number | null {
  if (!performance || metric === 'label_coverage') {
    return null;
  }
  const value = (performance as Partial<ClassifierPerformance & RegressorPerformance>)[
    metric as keyof (ClassifierPerformance & RegressorPerformance)
  ];
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Rule of a metric against its validation score: a relative drop (scores) or rise (errors) past the threshold. */
export function performanceRule(
  metric: PerformanceMetric,
  reference: number | null,
  thresholds: Thresholds
): LevelRule | undefined {
  if (reference === null) {
    return undefined;
  }
  return relativeRule(reference, thresholds.accuracyDrop, REGRESSOR_METRICS.has(metric) ? 'higher' : 'lower');
}

interface Bucketed {
  /** Logged predictions per bucket. */
  rows: Map<number, number>;
  /** Labelled predictions per bucket. */
  labelled: Map<number, number>;
  /** Rows the value is computed from (labelled, with a prediction and a label) per bucket. */
  scoredRows: Map<number, number>;
  values: Map<number, number | null>;
  custom: Record<string, unknown>;
}

const emptyBucketed = (): Bucketed => ({
  rows: new Map(),
  labelled: new Map(),
  scoredRows: new Map(),
  values: new Map(),
  custom: {},
});

const add = (map: Map<number, number>, key: number, n: number) => map.set(key, (map.get(key) ?? 0) + n);

async function classifierBuckets(
  store: Queryable,
  metric: PerformanceMetric,
  joined: string,
  where: WindowClause,
  baseline: Baseline | undefined
): Promise<Bucketed> {
  const rows = await store.query<Record<string, unknown>>(confusionSql(joined, where), where.params);
  const result = emptyBucketed();
  const cells = new Map<number, ConfusionCell[]>();
  const classes = new Set<string>();
  for (const row of rows) {
    const bucket = Number(row.bucket);
    const n = Number(row.n);
    add(result.rows, bucket, n);
    if (Number(row.labelled) !== 1) {
      continue;
    }
    add(result.labelled, bucket, n);
    const label = classKey(row.lc, row.ln);
    const prediction = classKey(row.pc, row.pn);
    if (label !== null && prediction !== null) {
      add(result.scoredRows, bucket, n);
      cells.set(bucket, [...(cells.get(bucket) ?? []), { label, prediction, n }]);
      classes.add(label).add(prediction);
    }
  }
  const given = baseline?.performance?.task === 'classification' ? baseline.performance.positiveLabel : null;
  const positive = inferPositiveLabel(classes, given ?? undefined);
  result.custom = { averaging: positive === undefined ? 'macro' : 'binary', positiveLabel: positive ?? null };
  if (metric === 'auc') {
    const auc = positive === undefined ? new Map() : await aucBuckets(store, joined, where, positive);
    for (const bucket of result.scoredRows.keys()) {
      result.values.set(bucket, auc.get(bucket)?.auc ?? null);
    }
    result.custom.aucErrorBound = Object.fromEntries([...auc].map(([bucket, v]) => [bucket, v?.errorBound ?? null]));
    return result;
  }
  for (const [bucket, bucketCells] of cells) {
    const scores = classifierScores(bucketCells, positive);
    result.values.set(bucket, metric === 'label_coverage' ? null : scores[metric as keyof typeof scores]);
  }
  return result;
}

async function aucBuckets(store: Queryable, joined: string, where: WindowClause, positive: string) {
  const rows = await store.query<Record<string, unknown>>(scoreBinSql(joined, where), where.params);
  const perBucket = new Map<number, Map<number, { positives: number; negatives: number }>>();
  for (const row of rows) {
    const label = classKey(row.lc, row.ln);
    if (label === null) {
      continue;
    }
    const bins = perBucket.get(Number(row.bucket)) ?? new Map();
    perBucket.set(Number(row.bucket), bins);
    const bin = bins.get(Number(row.score_bin)) ?? { positives: 0, negatives: 0 };
    bins.set(Number(row.score_bin), bin);
    bin[label === positive ? 'positives' : 'negatives'] += Number(row.n);
  }
  return new Map(
    [...perBucket].map(([bucket, bins]) => [
      bucket,
      binnedAuc([...bins].sort((a, b) => a[0] - b[0]).map(([, counts]) => counts)),
    ])
  );
}

async function regressorBuckets(
  store: Queryable,
  metric: PerformanceMetric,
  joined: string,
  where: WindowClause
): Promise<Bucketed> {
  const rows = await store.query<Record<string, unknown>>(regressionSql(joined, where), where.params);
  const result = emptyBucketed();
  for (const row of rows) {
    const bucket = Number(row.bucket);
    const pairs = Number(row.pairs);
    result.rows.set(bucket, Number(row.n));
    result.labelled.set(bucket, Number(row.labelled));
    result.scoredRows.set(bucket, pairs);
    const value =
      metric === 'mae'
        ? Number(row.abs_sum) / pairs
        : metric === 'rmse'
          ? Math.sqrt(Number(row.sq_sum) / pairs)
          : Number(row.pct_n) > 0
            ? Number(row.pct_sum) / Number(row.pct_n)
            : null;
    result.values.set(bucket, pairs > 0 && metric !== 'label_coverage' ? value : null);
  }
  return result;
}

/** The score a query without a metric gets: the task's primary one. */
export const PRIMARY_METRIC: Record<Task, PerformanceMetric> = { classification: 'accuracy', regression: 'mae' };

/** The realized metric of a window per bucket (labels joined by id), with the label coverage behind it. */
export interface RealizedPerformance {
  task: Task;
  metric: PerformanceMetric;
  /** Per bucket: the metric where enough labels arrived (DEFAULT_MIN_COUNT), else null; the coverage for label_coverage. */
  values: Array<number | null>;
  /** Labelled / logged predictions per bucket (null without predictions). */
  coverage: Array<number | null>;
  labelled: number[];
  /** The baseline's validation score of the metric, when it has one. */
  reference: number | null;
  custom: Record<string, unknown>;
}

/**
 * The realized `metric` (default the task's primary score) of the rows `where` selects in `joined` (joinedRelation),
 * on the buckets `times`; a QueryError when the metric does not fit the model's task.
 */
export async function realizedPerformance(
  store: Queryable,
  model: string,
  baseline: Baseline | undefined,
  joined: string,
  where: WindowClause,
  asked: PerformanceMetric | undefined,
  times: readonly number[]
): Promise<RealizedPerformance> {
  const task = await detectTask(store, baseline, joined, where, asked);
  const metric = asked ?? PRIMARY_METRIC[task];
  if (task === 'regression' ? CLASSIFIER_METRICS.has(metric) : REGRESSOR_METRICS.has(metric)) {
    const fits = task === 'regression' ? 'mae, rmse, mape' : 'accuracy, precision, recall, f1, auc';
    throw new QueryError(`model "${model}" is a ${task} model: "${metric}" does not apply; use ${fits} or label_coverage`);
  }
  const bucketed =
    task === 'classification'
      ? await classifierBuckets(store, metric, joined, where, baseline)
      : await regressorBuckets(store, metric, joined, where);
  const rows = times.map((t) => bucketed.rows.get(t) ?? 0);
  const labelled = times.map((t) => bucketed.labelled.get(t) ?? 0);
  const coverage = times.map((_, i) => (rows[i] > 0 ? labelled[i] / rows[i] : null));
  const scored = times.map((t) => (bucketed.scoredRows.get(t) ?? 0) >= DEFAULT_MIN_COUNT);
  const values =
    metric === 'label_coverage' ? coverage : times.map((t, i) => (scored[i] ? (bucketed.values.get(t) ?? null) : null));
  return {
    task,
    metric,
    values,
    coverage,
    labelled,
    reference: referenceScore(metric, baseline?.performance),
    custom: bucketed.custom,
  };
}

/** The window of a model's predictions joined with its labels (joinedRelation) over a planned range. */
export async function labelledRelation(store: PredictionStore, model: string, range: TimeRange): Promise<string> {
  return joinedRelation(
    store.dialect,
    await store.predictionsRelation(model, range),
    await store.labelsRelation(model, range.from - LABEL_BEFORE_PREDICTION_MS)
  );
}

/** The store's query stopped by `signal` (Grafana's cancellation or the time limit). */
export function stoppableStore(store: PredictionStore, signal: AbortSignal): Queryable {
  return { query: (sql, params) => store.query(sql, params, { signal }) };
}

export async function performanceQuery(request: QueryRequest<'performance'>): Promise<FrameLike[]> {
  const { query, instance } = request;
  const store = await instance.store();
  await requireModel(store, query.model);
  const baseline = await baselineIfAny(store, query);
  const plan = await planWindow(request, store, query.model, query.bucket, 1);
  const where = windowWhere(store.dialect, query, plan.grid);
  const joined = await labelledRelation(store, query.model, plan.range);
  const stoppable = stoppableStore(store, request.signal);
  const times = plan.starts;
  const realized = await realizedPerformance(stoppable, query.model, baseline, joined, where, query.metric, times);
  const { metric, task, coverage, labelled, reference } = realized;
  const estimated = query.estimate
    ? { metric: estimatedMetric(metric, task), calibration: requireCalibration(query.model, baseline) }
    : undefined;
  request.signal.throwIfAborted();
  const estimate =
    estimated &&
    (await estimatedColumns(
      stoppable,
      joined,
      where,
      estimated.calibration,
      estimated.metric,
      times,
      realized.values,
      request.signal
    ));
  const values = estimate?.values ?? realized.values;
  return [
    ratedSeriesFrame(
      {
        name: metric,
        labels: { model: query.model, metric },
        unit: METRIC_UNITS[metric] ?? 'none',
        times,
        values,
        rule: performanceRule(metric, reference, thresholdsFor(instance.settings, query.model)),
        extras: [
          ...(estimate?.extras ?? []),
          {
            name: 'change',
            values: values.map((v) =>
              v === null || reference === null || reference === 0 ? null : (v - reference) / reference
            ),
            unit: 'percentunit',
          },
          { name: 'coverage', values: coverage, unit: 'percentunit' },
          { name: 'labelled', values: labelled, unit: 'short' },
        ],
        notices: [...plan.notices, ...sampleNotices(query.sampleFraction), ...(estimate?.notices ?? [])],
        custom: {
          task,
          bucketMs: plan.grid.sizeMs,
          minLabelledRows: DEFAULT_MIN_COUNT,
          baseline: baseline?.version ?? null,
          validationScore: reference,
          ...realized.custom,
          ...(estimate ? { estimate: estimate.custom } : {}),
        },
      },
      query.refId,
      query.alertOn
    ),
  ];
}

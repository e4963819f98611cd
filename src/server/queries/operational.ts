/**
 * `operational`: per time bucket, latency percentiles (exact, Hyndman–Fan type 7 as numpy's default), throughput
 * (rows per second divided by the stored sampling rate, and by the query's sample fraction) and the error rate
 * (METRICS.md "Other conventions"). One GROUP BY per store returns one row per bucket.
 *
 * Latency percentiles: DuckDB's `quantile_cont` is type 7; ClickHouse 18.16 has no interpolating exact quantile,
 * so its plan sorts each bucket's latencies in the server (`arraySort(groupArray(...))`) and interpolates the
 * type-7 way there — exact on both stores, only one number per bucket leaves the store.
 */
import { METRIC_UNITS, type FrameLike } from '../../core/query/frames';
import type { OperationalMetric } from '../../core/query/queryTypes';
import { DEFAULT_MIN_COUNT } from '../../core/stats';
import type { QueryRequest } from '../backend/registry';
import { thresholdsFor } from '../backend/settings';
import type { StoreDialect } from '../store/types';
import { requireModel } from './metadata';
import { numberOrNull, ratedSeriesFrame, upperLimitRule, type LevelRule } from './series';
import {
  coveredSeconds,
  effectiveSampleFraction,
  sampleNotices,
  windowWhere,
  type WindowClause,
} from '../counting/window';
import { planWindow } from './plan';
import type { Thresholds } from '../../core/query/settings';

/** Quantile level of each latency metric. */
export const LATENCY_LEVELS: Partial<Record<OperationalMetric, number>> = {
  latency_p50: 0.5,
  latency_p95: 0.95,
  latency_p99: 0.99,
};

/**
 * Type-7 quantile of the sorted array `sorted` at level {latency_q}: with h = (n − 1)·q,
 * x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]) (0-based; Hyndman & Fan 1996, definition 7). NULL for an empty bucket.
 */
function clickHouseType7(sorted: string): string {
  const h = `((length(${sorted}) - 1) * {latency_q})`;
  const index = `toUInt64(floor(${h}))`;
  const low = `arrayElement(${sorted}, ${index} + 1)`;
  const high = `arrayElement(${sorted}, least(${index} + 2, length(${sorted})))`;
  return `if(length(${sorted}) = 0, NULL, ${low} + (${h} - floor(${h})) * (${high} - ${low}))`;
}

/** SQL of one row per bucket: rows, rows scaled back by the sampling rate, errors and (when asked) a latency quantile. */
export function operationalSql(
  dialect: StoreDialect,
  relation: string,
  window: WindowClause,
  withLatency: boolean
): string {
  const where = window.sql;
  const counts =
    `${window.bucket} AS bucket, count(*) AS n, sum(1.0 / sampling_rate) AS scaled, ` +
    'sum(CASE WHEN is_error = 1 THEN 1 ELSE 0 END) AS errors';
  if (!withLatency) {
    return `SELECT ${counts} FROM ${relation} AS current_window ${where} GROUP BY bucket ORDER BY bucket`;
  }
  if (dialect === 'duckdb') {
    return (
      `SELECT ${counts}, quantile_cont(latency_ms, {latency_q}) AS latency ` +
      `FROM ${relation} AS current_window ${where} GROUP BY bucket ORDER BY bucket`
    );
  }
  return (
    `SELECT bucket, n, scaled, errors, ${clickHouseType7('sorted')} AS latency FROM (` +
    `SELECT ${counts}, arraySort(groupArray(latency_ms)) AS sorted ` +
    `FROM ${relation} AS current_window ${where} GROUP BY bucket) ORDER BY bucket`
  );
}

interface BucketRow {
  bucket: number;
  n: number;
  scaled: number;
  errors: number;
  latency?: number | null;
}

/** The warning rule of a metric from the thresholds in force; metrics without a threshold are not rated. */
export function operationalRule(metric: OperationalMetric, thresholds: Thresholds): LevelRule | undefined {
  if (metric === 'latency_p95') {
    return upperLimitRule(thresholds.latencyP95Ms);
  }
  return metric === 'error_rate' ? upperLimitRule(thresholds.errorRate) : undefined;
}

/** Value of the metric in one bucket: the latency quantile, rows·(1/rate)/s scaled by the sample, or errors/rows. */
function bucketValue(
  metric: OperationalMetric,
  row: BucketRow | undefined,
  seconds: number,
  sampleFraction: number
): number | null {
  if (metric === 'throughput') {
    return row && seconds > 0 ? Number(row.scaled) / sampleFraction / seconds : 0;
  }
  if (!row || Number(row.n) === 0) {
    return null;
  }
  return metric === 'error_rate' ? Number(row.errors) / Number(row.n) : numberOrNull(row.latency);
}

export async function operationalQuery(request: QueryRequest<'operational'>): Promise<FrameLike[]> {
  const { query, instance } = request;
  const metric = query.metric ?? 'latency_p95';
  const store = await instance.store();
  await requireModel(store, query.model);
  const plan = await planWindow(request, store, query.model, query.bucket, 1);
  const { range, grid } = plan;
  const where = windowWhere(store.dialect, query, grid);
  const quantile = LATENCY_LEVELS[metric];
  const params = quantile === undefined ? where.params : { ...where.params, latency_q: quantile };
  const relation = await store.predictionsRelation(query.model, range);
  request.signal.throwIfAborted();
  const rows = await store.query<BucketRow>(
    operationalSql(store.dialect, relation, where, quantile !== undefined),
    params,
    { signal: request.signal }
  );
  const byBucket = new Map(rows.map((row) => [Number(row.bucket), row]));
  const times = plan.starts;
  const fraction = effectiveSampleFraction(query.sampleFraction);
  const counts = times.map((t) => Number(byBucket.get(t)?.n ?? 0));
  return [
    ratedSeriesFrame(
      {
        name: metric,
        labels: { model: query.model, metric },
        unit: METRIC_UNITS[metric] ?? 'none',
        times,
        values: times.map((t) => bucketValue(metric, byBucket.get(t), coveredSeconds(t, grid, range), fraction)),
        rule: operationalRule(metric, thresholdsFor(instance.settings, query.model)),
        unrated: counts.map((n) => n < DEFAULT_MIN_COUNT),
        extras: [{ name: 'count', values: counts, unit: 'short' }],
        notices: [...plan.notices, ...sampleNotices(query.sampleFraction)],
        custom: { bucketMs: grid.sizeMs, sampleFraction: fraction, minCount: DEFAULT_MIN_COUNT },
      },
      query.refId,
      query.alertOn
    ),
  ];
}

/**
 * The time buckets and the row sample of a scoped query (queryTypes.ts `ModelScope`), shared by the handlers that
 * aggregate per bucket in the store: the bucket size, the SQL of a row's bucket start, the deterministic sample
 * condition and the notice that says a result was sampled.
 */
import { parseDuration, QueryError, type ModelScope } from '../../core/query/queryTypes';
import type { FrameNotice } from '../../core/query/frames';
import type { SqlDialect } from '../store/identifiers';
import type { Params } from '../store/sql-params';
import { scopeWhere, type WhereClause } from './scope';

/** Smallest bucket: one second. */
export const MIN_BUCKET_MS = 1000;

/**
 * Bucket size in ms: the query's `bucket`, else Grafana's interval, widened so that the range holds at most
 * `maxDataPoints` buckets (Grafana's point budget), rounded up to whole seconds.
 */
export function bucketSizeMs(
  bucket: string | undefined,
  intervalMs: number,
  maxDataPoints: number,
  range: { from: number; to: number }
): number {
  if (bucket?.startsWith('$')) {
    throw new QueryError(
      `bucket "${bucket}" is a template variable Grafana did not replace; pick a duration such as 1h`
    );
  }
  const asked = bucket ? parseDuration(bucket) * 1000 : intervalMs > 0 ? intervalMs : 0;
  const budget = maxDataPoints > 0 ? Math.ceil((range.to - range.from) / maxDataPoints) : 0;
  return Math.ceil(Math.max(asked, budget, MIN_BUCKET_MS) / 1000) * 1000;
}

/** SQL of the start of a row's bucket: ts − ts mod {bucket_ms} (epoch-aligned, as Grafana's $__timeGroup). */
export const BUCKET_START_SQL = '(ts - ts % {bucket_ms})';

/** Start of every bucket that overlaps the range, ascending. */
export function bucketStarts(range: { from: number; to: number }, bucketMs: number): number[] {
  const first = range.from - (((range.from % bucketMs) + bucketMs) % bucketMs);
  const starts: number[] = [];
  for (let start = first; start < range.to; start += bucketMs) {
    starts.push(start);
  }
  return starts;
}

/** Seconds of a bucket that lie inside the range (the first and last bucket can be cut by the range). */
export function coveredSeconds(start: number, bucketMs: number, range: { from: number; to: number }): number {
  return Math.max(0, Math.min(start + bucketMs, range.to) - Math.max(start, range.from)) / 1000;
}

/** Resolution of the sample condition: a row is kept when hash(id) mod 1 000 000 < fraction · 1 000 000. */
const SAMPLE_RESOLUTION = 1_000_000;

/** The store's 64-bit hash of the request id (deterministic: the same rows are kept on every run). */
const ID_HASH: Record<SqlDialect, string> = { duckdb: 'hash(id)', clickhouse: 'cityHash64(id)' };

/** The kept fraction after rounding to the sample resolution (1 when the query reads everything). */
export function effectiveSampleFraction(sampleFraction: number | undefined): number {
  if (sampleFraction === undefined || sampleFraction >= 1) {
    return 1;
  }
  return Math.max(1, Math.round(sampleFraction * SAMPLE_RESOLUTION)) / SAMPLE_RESOLUTION;
}

/** WHERE of the current window: version and segment (scope.ts), and the row sample when the query asks for one. */
export function windowWhere(dialect: SqlDialect, scope: ModelScope, bucketMs: number): WhereClause {
  const base = scopeWhere(dialect, scope.version, scope.segment);
  const params: Params = { ...base.params, bucket_ms: bucketMs };
  const fraction = effectiveSampleFraction(scope.sampleFraction);
  if (fraction === 1) {
    return { sql: base.sql, params };
  }
  params.sample_cut = Math.round(fraction * SAMPLE_RESOLUTION);
  const condition = `${ID_HASH[dialect]} % ${SAMPLE_RESOLUTION} < {sample_cut}`;
  return { sql: base.sql ? `${base.sql} AND ${condition}` : `WHERE ${condition}`, params };
}

/** The notice of a sampled result (none when every row was read). */
export function sampleNotices(sampleFraction: number | undefined): FrameNotice[] {
  const fraction = effectiveSampleFraction(sampleFraction);
  return fraction === 1
    ? []
    : [
        {
          severity: 'info',
          text: `Computed from a ${+(fraction * 100).toPrecision(6)}% sample of the rows (kept by a hash of the request id).`,
        },
      ];
}

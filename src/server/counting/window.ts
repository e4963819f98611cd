/**
 * The time buckets and the row sample of a scoped query (queryTypes.ts `ModelScope`), shared by the handlers that
 * aggregate per bucket in the store: the bucket grid (its size and origin are planned by plan.ts), the SQL of a row's
 * bucket start, the deterministic sample condition and the notice that says a result was sampled.
 */
import type { ModelScope } from '../../core/query/queryTypes';
import type { FrameNotice } from '../../core/query/frames';
import type { SqlDialect } from '../store/identifiers';
import type { TimeRange } from '../store/types';
import type { Params } from '../store/sql-params';
import { scopeWhere, type WhereClause } from './scope';

/**
 * Where the buckets of a query fall: starts at `originMs + k·sizeMs`. Dashboards use epoch-aligned grids (origin 0,
 * as Grafana's $__timeGroup); an alert rule's buckets end at the rule's evaluation time; `sizeMs` 0 makes the whole
 * range one bucket starting at `originMs` (plan.ts decides which).
 */
export interface BucketGrid {
  sizeMs: number;
  originMs: number;
}

/** One bucket over the whole range. */
export function wholeRangeGrid(range: TimeRange): BucketGrid {
  return { sizeMs: 0, originMs: range.from };
}

/** Buckets of `sizeMs` aligned on the epoch. */
export function epochGrid(sizeMs: number): BucketGrid {
  return { sizeMs, originMs: 0 };
}

/**
 * SQL of the start of a row's bucket: ts − (ts − origin) mod size, with `{bucket_ms}` and `{bucket_origin}` bound
 * (windowWhere); the origin itself for a whole-range grid. Every row of a window is at or after the origin, so the
 * remainder is never negative. `time` names the time column (`ts`, or the hour of prepared counts).
 */
export function bucketStartSql(grid: BucketGrid, time: 'ts' | 'hour' = 'ts'): string {
  return grid.sizeMs > 0 ? `(${time} - (${time} - {bucket_origin}) % {bucket_ms})` : '{bucket_origin}';
}

/** The start of the bucket holding `ts`. */
export function bucketOf(grid: BucketGrid, ts: number): number {
  if (grid.sizeMs === 0) {
    return grid.originMs;
  }
  return ts - ((((ts - grid.originMs) % grid.sizeMs) + grid.sizeMs) % grid.sizeMs);
}

/** Start of every bucket that overlaps the range, ascending (the origin alone for a whole-range grid). */
export function bucketStarts(range: TimeRange, grid: BucketGrid): number[] {
  if (grid.sizeMs === 0) {
    return [grid.originMs];
  }
  const starts: number[] = [];
  for (let start = bucketOf(grid, range.from); start < range.to; start += grid.sizeMs) {
    starts.push(start);
  }
  return starts;
}

/** How many buckets of the grid overlap the range, without listing them. */
export function bucketCount(range: TimeRange, grid: BucketGrid): number {
  return grid.sizeMs === 0 ? 1 : Math.ceil((range.to - bucketOf(grid, range.from)) / grid.sizeMs);
}

/** Seconds of a bucket that lie inside the range (the first and last bucket can be cut by the range). */
export function coveredSeconds(start: number, grid: BucketGrid, range: TimeRange): number {
  const end = grid.sizeMs === 0 ? range.to : start + grid.sizeMs;
  return Math.max(0, Math.min(end, range.to) - Math.max(start, range.from)) / 1000;
}

/** The bound values of bucketStartSql. */
export function gridParams(grid: BucketGrid): Params {
  return { bucket_ms: grid.sizeMs, bucket_origin: grid.originMs };
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

/** The WHERE of a window and the SQL of a row's bucket start in it (its parameters among the WHERE's). */
export interface WindowClause extends WhereClause {
  bucket: string;
}

/**
 * WHERE of the current window: version and segment (scope.ts), and the row sample when the query asks for one; with
 * the bucket start of the grid (bucketStartSql) and its `{bucket_ms}` and `{bucket_origin}`.
 */
export function windowWhere(dialect: SqlDialect, scope: ModelScope, grid: BucketGrid): WindowClause {
  const base = scopeWhere(dialect, scope.version, scope.segment);
  const params: Params = { ...base.params, ...gridParams(grid) };
  const bucket = bucketStartSql(grid);
  const fraction = effectiveSampleFraction(scope.sampleFraction);
  if (fraction === 1) {
    return { sql: base.sql, params, bucket };
  }
  params.sample_cut = Math.round(fraction * SAMPLE_RESOLUTION);
  const condition = `${ID_HASH[dialect]} % ${SAMPLE_RESOLUTION} < {sample_cut}`;
  return { sql: base.sql ? `${base.sql} AND ${condition}` : `WHERE ${condition}`, params, bucket };
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

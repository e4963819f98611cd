/**
 * The plan of a query's time window, made before any counting, the same way for every handler, so that no request can
 * make the backend count or rate more than a fixed budget:
 *
 * 1. `checkTimeOptions` (the datasource calls it before the handler runs) refuses, with a 400 for that refId, a time
 *    range that does not start before it ends, a negative interval or point budget, and — for a bucketed query without
 *    a bucket of its own on a dashboard — an interval or point budget of 0, which leave nothing to derive a bucket from
 *    (Grafana always sends both; an alert rule's query needs neither).
 * 2. `planWindow` limits the range to the stored data (`storedSpan`: nothing lies before the model's first stored
 *    day, or after both its last stored day and now), then chooses the bucket grid:
 *    - an alert rule's query (Grafana's `FromAlert` header) without a bucket is ONE bucket over the rule's range — what
 *      "the last 24 h against the baseline" means; with a bucket, its buckets end at the end of the rule's range, so
 *      the last one is complete;
 *    - otherwise (dashboards, Explore) the query's bucket, else Grafana's interval, widened so that the range holds at
 *      most `maxDataPoints` buckets (Grafana's point budget), aligned on the epoch — as before this plan existed;
 *    - and in every case buckets × points per bucket (series, and the cells of KS/Wasserstein grids: see the handlers'
 *      `pointsPerBucket`) stays within MAX_PLAN_POINTS: past it the buckets are widened to the next round size.
 *    Each limitation is said in a notice on the frames.
 */
import type { FrameNotice } from '../../core/query/frames';
import { parseDuration, QUERY_TYPE_SPECS, QueryError, type MonitorQuery } from '../../core/query/queryTypes';
import type { QueryRequest } from '../backend/registry';
import type { PredictionStore, TimeRange } from '../store/types';
import { bucketCount, bucketStarts, epochGrid, wholeRangeGrid, type BucketGrid } from '../counting/window';

/**
 * Most points (one series × one bucket) a query may plan. A point's statistics cost 20–60 µs on the 2-core machines
 * this was measured on (compareCounts; a KS/Wasserstein grid bucket counts as 50 points, drift.ts), so the largest
 * plan is about a second of work, done in slices (src/server/slices.ts).
 */
export const MAX_PLAN_POINTS = 20_000;

/** Smallest bucket: one second. */
export const MIN_BUCKET_MS = 1000;

const DAY_MS = 86_400_000;

/** Round bucket sizes a widened plan picks from, in seconds (then whole days). */
const ROUND_BUCKETS_S = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800,
];

/** The time options of a DataQuery the plan reads. */
export interface TimeOptions {
  range: TimeRange;
  intervalMs: number;
  maxDataPoints: number;
  /** The request came from an alert rule's evaluation (see the module comment). */
  alert: boolean;
}

const iso = (ms: number) => (Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : String(ms));

/**
 * Refuses time options no plan can be made from (step 1 of the module comment), with a message saying what to change.
 * Queries that read no time range (versions, features) are not checked.
 */
export function checkTimeOptions(query: MonitorQuery, options: TimeOptions): void {
  const spec = QUERY_TYPE_SPECS[query.queryType];
  if (!spec.scoped && query.queryType !== 'models') {
    return;
  }
  const { from, to } = options.range;
  if (!Number.isFinite(from) || !Number.isFinite(to) || from >= to) {
    throw new QueryError(
      from === to
        ? `the time range of query ${query.refId} is empty (${iso(from)}); choose a range that lasts`
        : `the time range of query ${query.refId} starts at ${iso(from)}, after its end ${iso(to)}; swap them`
    );
  }
  for (const [name, value] of [
    ['intervalMs', options.intervalMs],
    ['maxDataPoints', options.maxDataPoints],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new QueryError(`${name} of query ${query.refId} is ${value}; it must be a whole number ≥ 0`);
    }
  }
  const ownBucket = 'bucket' in query && query.bucket !== undefined;
  if (!spec.bucketed || ownBucket || options.alert) {
    return;
  }
  if (options.maxDataPoints === 0) {
    throw new QueryError(
      `maxDataPoints of query ${query.refId} is 0, so no bucket size can be derived from it; ` +
        'send the panel\'s point budget (Grafana does) or set a bucket in the query, e.g. "1h"'
    );
  }
  if (options.intervalMs === 0) {
    throw new QueryError(
      `intervalMs of query ${query.refId} is 0, so no bucket size can be derived from it; ` +
        'send the interval between points (Grafana does) or set a bucket in the query, e.g. "1h"'
    );
  }
}

/**
 * The span of days holding a model's predictions: the store's day files when it has them, else the days between the
 * first and last sighting of its features (the store's schema); undefined when nothing is stored.
 */
export async function storedSpan(store: PredictionStore, model: string): Promise<TimeRange | undefined> {
  if (store.predictionDays) {
    const days = await store.predictionDays(model, { from: -8.64e15, to: 8.64e15 });
    return days.length > 0 ? { from: days[0].start, to: days[days.length - 1].end } : undefined;
  }
  const features = await store.getFeatures(model);
  if (features.length === 0) {
    return undefined;
  }
  let from = Infinity;
  let to = -Infinity;
  for (const feature of features) {
    from = Math.min(from, feature.firstSeen);
    to = Math.max(to, feature.lastSeen);
  }
  return { from: from - (from % DAY_MS), to: to - (to % DAY_MS) + DAY_MS };
}

/** The plan of one query's window: the range it reads, its buckets, and what was limited. */
export interface WindowPlan {
  range: TimeRange;
  grid: BucketGrid;
  /** Bucket starts, ascending (the frames' time values). */
  starts: number[];
  notices: FrameNotice[];
}

/** A duration in words for notices: 90 s, 5 min, 2 h, 3 d. */
function duration(ms: number): string {
  const units: Array<[number, string]> = [
    [DAY_MS, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ];
  const [size, unit] = units.find(([size]) => ms % size === 0 && ms >= size) ?? [1, 'ms'];
  return `${ms / size} ${unit}`;
}

/** The smallest round bucket (ROUND_BUCKETS_S, then whole days) of at least `ms`. */
export function roundBucketMs(ms: number): number {
  const seconds = ROUND_BUCKETS_S.find((s) => s * 1000 >= ms);
  return seconds !== undefined ? seconds * 1000 : Math.ceil(ms / DAY_MS) * DAY_MS;
}

/**
 * The bucket size a dashboard gets: the query's bucket, else Grafana's interval, widened so that the range holds at
 * most `maxDataPoints` buckets (Grafana's point budget; none when 0), rounded up to whole seconds.
 */
export function dashboardBucketMs(bucket: string | undefined, options: TimeOptions, range: TimeRange): number {
  const asked = bucket !== undefined ? parseDuration(bucket) * 1000 : options.intervalMs;
  const budget = options.maxDataPoints > 0 ? Math.ceil((range.to - range.from) / options.maxDataPoints) : 0;
  return Math.ceil(Math.max(asked, budget, MIN_BUCKET_MS) / 1000) * 1000;
}

/** The grid before the point cap: one bucket, the alert rule's buckets ending at the range's end, or epoch-aligned. */
function askedGrid(bucket: string | 'whole' | undefined, options: TimeOptions, range: TimeRange): BucketGrid {
  if (bucket === 'whole' || (bucket === undefined && options.alert)) {
    return wholeRangeGrid(range);
  }
  if (bucket?.startsWith('$')) {
    throw new QueryError(
      `bucket "${bucket}" is a template variable Grafana did not replace; pick a duration such as 1h`
    );
  }
  const sizeMs = dashboardBucketMs(bucket, options, range);
  return options.alert ? endAlignedGrid(range, sizeMs) : epochGrid(sizeMs);
}

/** Buckets of `sizeMs` whose last one ends at the range's end. */
function endAlignedGrid(range: TimeRange, sizeMs: number): BucketGrid {
  return { sizeMs, originMs: range.to - Math.ceil((range.to - range.from) / sizeMs) * sizeMs };
}

/**
 * The plan of a query's window (module comment, step 2): `bucket` is the query's own bucket, undefined when it has
 * none, or 'whole' for the handlers that compare the whole range at once (distribution, ranking);
 * `pointsPerBucket` is what one bucket costs (its series, plus the grid cells of KS and Wasserstein).
 */
export async function planWindow(
  request: Pick<QueryRequest, 'range' | 'intervalMs' | 'maxDataPoints' | 'alert' | 'now'>,
  store: PredictionStore,
  model: string,
  bucket: string | 'whole' | undefined,
  pointsPerBucket: number
): Promise<WindowPlan> {
  const notices: FrameNotice[] = [];
  const span = await storedSpan(store, model);
  let range = request.range;
  if (span) {
    const now = request.now ?? Date.now();
    const limited = { from: Math.max(range.from, span.from), to: Math.min(range.to, Math.max(span.to, now)) };
    if (limited.from < limited.to && (limited.from !== range.from || limited.to !== range.to)) {
      notices.push({
        severity: 'info',
        text:
          `Range limited to the stored data: ${iso(limited.from)} to ${iso(limited.to)} ` +
          `(the query asked for ${iso(range.from)} to ${iso(range.to)}).`,
      });
      range = limited;
    }
  }
  const options = { ...request, alert: request.alert ?? false };
  let grid = askedGrid(bucket, options, range);
  const points = bucketCount(range, grid) * Math.max(1, pointsPerBucket);
  if (points > MAX_PLAN_POINTS) {
    const widened = roundBucketMs(((range.to - range.from) * Math.max(1, pointsPerBucket)) / MAX_PLAN_POINTS);
    notices.push({
      severity: 'warning',
      text:
        `Buckets widened from ${duration(grid.sizeMs)} to ${duration(widened)}: ${bucketCount(range, grid)} buckets ` +
        `× ${pointsPerBucket} points each exceed the backend's budget of ${MAX_PLAN_POINTS} points per query; ` +
        'narrow the time range or the features for finer buckets.',
    });
    grid = request.alert ? endAlignedGrid(range, widened) : epochGrid(widened);
  }
  return { range, grid, starts: bucketStarts(range, grid), notices };
}

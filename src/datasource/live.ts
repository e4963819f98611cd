/**
 * Which queries of a request go to Grafana Live (src/core/query/live.ts): on a dashboard whose range ends at "now",
 * the streamable queries whose Live toggle is on, outside alerting; the others take the usual QueryData path.
 */
import { CoreApp, type DataQueryRequest } from '@grafana/data';
import { QueryError } from '../core/query';
import {
  liveChannelPath,
  MAX_LIVE_RANGE_MS,
  parseLiveSubscription,
  wantsLive,
  type LiveWindow,
} from '../core/query/live';
import type { MonitorDataQuery } from './types';

/** The apps whose requests never stream: alert rule previews evaluate once, as the alert evaluator does. */
const NEVER_LIVE_APPS: readonly string[] = [CoreApp.UnifiedAlerting, CoreApp.CloudAlerting];

/**
 * The live window of a request: its range length, interval and point budget, when the range ends at "now" (a
 * relative range such as "Last 1 hour") and is at most MAX_LIVE_RANGE_MS long; undefined otherwise.
 */
export function liveWindow(request: DataQueryRequest<MonitorDataQuery>): LiveWindow | undefined {
  if (NEVER_LIVE_APPS.includes(request.app) || request.rangeRaw?.to !== 'now') {
    return undefined;
  }
  const rangeMs = request.range.to.valueOf() - request.range.from.valueOf();
  if (!(rangeMs >= 1000 && rangeMs <= MAX_LIVE_RANGE_MS)) {
    return undefined;
  }
  return {
    rangeMs: Math.round(rangeMs),
    intervalMs: Math.max(0, Math.round(request.intervalMs ?? 0)),
    maxDataPoints: Math.max(0, Math.round(request.maxDataPoints ?? 0)),
  };
}

/** A streaming query's channel path and subscription data. */
export interface LiveTarget {
  refId: string;
  path: string;
  data: object;
}

/**
 * The channel of a query (template variables already replaced), or undefined when it does not stream: not a live
 * type, its Live toggle off, or a query the backend would refuse (the usual path reports why).
 */
export function liveTarget(query: MonitorDataQuery, window: LiveWindow): LiveTarget | undefined {
  if (!wantsLive(query)) {
    return undefined;
  }
  try {
    const subscription = parseLiveSubscription({ query, window });
    return { refId: query.refId, path: liveChannelPath(subscription), data: subscription };
  } catch (error) {
    if (error instanceof QueryError) {
      return undefined;
    }
    throw error;
  }
}

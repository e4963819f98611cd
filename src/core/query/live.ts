/**
 * Live panels (Grafana Live): which queries stream, and the channel a streaming query is sent on. The datasource
 * frontend subscribes to `ds/<datasource uid>/<path>` with the query in the subscription's data; the backend checks
 * that the path is the one the data makes (so one channel means one query: Grafana runs a channel once for all its
 * subscribers, with the data of the first) and streams the query's frame as records arrive.
 *
 * Streams: `operational` (latency percentiles, throughput, error rate), `drift`, `prediction_drift` and the `quality`
 * rates — every bucketed query whose newest bucket changes as records arrive and is computed from that bucket (and,
 * for drift with persistence, the few before it). Not the others: performance waits for labels, schema changes are
 * events, the whole-range queries (distribution, ranking) and the multi-part ones have no "newest bucket".
 *
 * Isomorphic: no Node, React or Grafana imports.
 */
import {
  parseQuery,
  QueryError,
  type DriftQuery,
  type OperationalQuery,
  type PredictionDriftQuery,
  type QualityQuery,
  type QueryType,
} from './queryTypes';

/** The query types that stream (module comment). */
export const LIVE_QUERY_TYPES: readonly QueryType[] = ['operational', 'drift', 'prediction_drift', 'quality'];

/** The longest dashboard range that streams; a longer one is queried as usual. */
export const MAX_LIVE_RANGE_MS = 7 * 86_400_000;

/** Grafana's limit for a whole channel name (`ds/<uid>/<path>`): 160 characters. */
export const MAX_CHANNEL_LENGTH = 160;

/** The window a live query covers: the dashboard's range length, Grafana's interval and point budget. */
export interface LiveWindow {
  rangeMs: number;
  intervalMs: number;
  maxDataPoints: number;
}

/** A query of a type that streams. */
export type LiveQuery = OperationalQuery | DriftQuery | PredictionDriftQuery | QualityQuery;

/** What a subscription carries in its data (JSON): the parsed query and its window. */
export interface LiveSubscription {
  query: LiveQuery;
  window: LiveWindow;
}

/** Whether a query of this type and metric streams (the `live` toggle aside). */
export function isStreamable(query: { queryType?: unknown; metric?: unknown }): boolean {
  return (
    LIVE_QUERY_TYPES.includes(query.queryType as QueryType) &&
    !(query.queryType === 'quality' && query.metric === 'schema_changes')
  );
}

/** Whether the query streams on a dashboard whose range ends now: streamable, and its `live` toggle not off. */
export function wantsLive(query: { queryType?: unknown; metric?: unknown; live?: unknown }): boolean {
  return isStreamable(query) && query.live !== false;
}

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(',')}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const FNV_OFFSET = BigInt('0xcbf29ce484222325');
const FNV_PRIME = BigInt('0x100000001b3');
const MASK_64 = (BigInt(1) << BigInt(64)) - BigInt(1);

/**
 * 64-bit FNV-1a of the text's UTF-16 code units, as 16 hex digits (Fowler–Noll–Vo: h = (h XOR c) · 1099511628211 mod
 * 2^64 from 14695981039346656037). Names a channel; not a secret or a signature.
 */
export function fnv1a64(text: string): string {
  let hash = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) {
    hash = ((hash ^ BigInt(text.charCodeAt(i))) * FNV_PRIME) & MASK_64;
  }
  return hash.toString(16).padStart(16, '0');
}

/** The channel path of a subscription: `<queryType>/<hash of the query and window>`. */
export function liveChannelPath(subscription: LiveSubscription): string {
  return `${subscription.query.queryType}/${fnv1a64(canonicalJson(subscription))}`;
}

/** A whole number in [min, max], or a QueryError naming the key. */
function boundedInteger(raw: Record<string, unknown>, key: string, min: number, max: number): number {
  const value = raw[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new QueryError(
      `live window "${key}" is ${JSON.stringify(value)}; it must be a whole number in [${min}, ${max}]`
    );
  }
  return value;
}

/** The window of a subscription's data, checked. */
function parseWindow(raw: unknown): LiveWindow {
  if (typeof raw !== 'object' || raw === null) {
    throw new QueryError(
      'the live subscription has no window: send {query, window: {rangeMs, intervalMs, maxDataPoints}}'
    );
  }
  const window = raw as Record<string, unknown>;
  return {
    rangeMs: boundedInteger(window, 'rangeMs', 1000, MAX_LIVE_RANGE_MS),
    intervalMs: boundedInteger(window, 'intervalMs', 0, MAX_LIVE_RANGE_MS),
    maxDataPoints: boundedInteger(window, 'maxDataPoints', 0, 100_000),
  };
}

/** A subscription's data, validated like a query (parseQuery) and required to stream; throws a QueryError. */
export function parseLiveSubscription(data: unknown): LiveSubscription {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new QueryError('the live subscription data must be a JSON object {query, window}');
  }
  const raw = data as Record<string, unknown>;
  const query = parseQuery(raw.query);
  if (!isStreamable(query)) {
    throw new QueryError(
      `a ${query.queryType}${'metric' in query ? ` (${query.metric})` : ''} query does not stream; ` +
        `live queries are: ${LIVE_QUERY_TYPES.join(', ')} (quality without schema_changes)`
    );
  }
  return { query: query as LiveQuery, window: parseWindow(raw.window) };
}

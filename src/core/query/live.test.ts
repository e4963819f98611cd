/**
 * Live channels: which queries stream, and that a channel path names exactly one query and window.
 */
import {
  canonicalJson,
  fnv1a64,
  isStreamable,
  liveChannelPath,
  parseLiveSubscription,
  wantsLive,
  type LiveSubscription,
} from './live';

const window = { rangeMs: 3_600_000, intervalMs: 15_000, maxDataPoints: 240 };
const operational = { refId: 'A', queryType: 'operational', model: 'churn', metric: 'throughput' };

describe('live queries', () => {
  it('stream operational, drift, prediction drift and the quality rates, nothing else', () => {
    expect(isStreamable({ queryType: 'operational' })).toBe(true);
    expect(isStreamable({ queryType: 'drift' })).toBe(true);
    expect(isStreamable({ queryType: 'prediction_drift' })).toBe(true);
    expect(isStreamable({ queryType: 'quality', metric: 'null_rate' })).toBe(true);
    expect(isStreamable({ queryType: 'quality', metric: 'schema_changes' })).toBe(false);
    for (const queryType of ['performance', 'distribution', 'ranking', 'severity', 'compare', 'events', 'models']) {
      expect(isStreamable({ queryType })).toBe(false);
    }
  });

  it('stream unless the Live toggle is off', () => {
    expect(wantsLive({ queryType: 'drift' })).toBe(true);
    expect(wantsLive({ queryType: 'drift', live: true })).toBe(true);
    expect(wantsLive({ queryType: 'drift', live: false })).toBe(false);
    expect(wantsLive({ queryType: 'performance', live: true })).toBe(false);
  });
});

describe('channel paths', () => {
  it('hash with 64-bit FNV-1a (published test vectors)', () => {
    expect(fnv1a64('')).toBe('cbf29ce484222325');
    expect(fnv1a64('a')).toBe('af63dc4c8601ec8c');
    expect(fnv1a64('foobar')).toBe('85944171f73967e8');
  });

  it('do not depend on key order, and differ for another query or window', () => {
    const subscription = parseLiveSubscription({ query: operational, window });
    const reordered = parseLiveSubscription({
      window: { maxDataPoints: 240, intervalMs: 15_000, rangeMs: 3_600_000 },
      query: { metric: 'throughput', model: 'churn', queryType: 'operational', refId: 'A' },
    });
    const path = liveChannelPath(subscription);
    expect(path).toMatch(/^operational\/[0-9a-f]{16}$/);
    expect(liveChannelPath(reordered)).toBe(path);
    const other = (change: Partial<LiveSubscription>) => liveChannelPath({ ...subscription, ...change });
    expect(other({ window: { ...window, rangeMs: 7_200_000 } })).not.toBe(path);
    expect(other({ query: { ...subscription.query, model: 'fraud' } })).not.toBe(path);
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: undefined }] })).toBe('{"a":[{"d":2}],"b":1}');
  });

  it('ignore what the query parser drops (Grafana keys, the Live toggle)', () => {
    const withExtras = parseLiveSubscription({
      query: { ...operational, live: true, datasource: { uid: 'x' }, hide: false },
      window,
    });
    expect(liveChannelPath(withExtras)).toBe(liveChannelPath(parseLiveSubscription({ query: operational, window })));
  });
});

describe('subscription data', () => {
  it('is refused when it is no live query or has no valid window, naming the problem', () => {
    expect(() => parseLiveSubscription(null)).toThrow(/JSON object/);
    expect(() => parseLiveSubscription({ query: { queryType: 'performance', model: 'm' }, window })).toThrow(
      /does not stream/
    );
    expect(() => parseLiveSubscription({ query: { queryType: 'operational' }, window })).toThrow(/needs a model/);
    expect(() => parseLiveSubscription({ query: operational })).toThrow(/no window/);
    expect(() => parseLiveSubscription({ query: operational, window: { ...window, rangeMs: 10 } })).toThrow(/rangeMs/);
    expect(() =>
      parseLiveSubscription({ query: operational, window: { ...window, rangeMs: 30 * 86_400_000 } })
    ).toThrow(/rangeMs/);
    expect(() => parseLiveSubscription({ query: operational, window: { ...window, intervalMs: 1.5 } })).toThrow(
      /intervalMs/
    );
  });
});

import { parseQuery, QueryError, type MonitorQuery } from '../../core/query/queryTypes';
import type { PredictionStore, StoredDay } from '../store/types';
import { checkTimeOptions, dashboardBucketMs, MAX_PLAN_POINTS, planWindow, roundBucketMs, storedSpan } from './plan';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 10, 10);
/** A store holding 14 day files from T0 (predictionDays is all the plan reads of it). */
const STORE = {
  predictionDays: async (_model: string, range: { from: number; to: number }): Promise<StoredDay[]> =>
    Array.from({ length: 14 }, (_, d) => ({ start: T0 + d * DAY, end: T0 + (d + 1) * DAY, files: [`f${d}`] })).filter(
      (day) => day.end > range.from && day.start < range.to
    ),
} as unknown as PredictionStore;
const NOW = T0 + 14 * DAY - HOUR;

const drift = (options: Record<string, unknown> = {}): MonitorQuery =>
  parseQuery({ refId: 'A', queryType: 'drift', model: 'm', ...options });
const day = { from: NOW - DAY, to: NOW };
const dashboard = { range: day, intervalMs: 60_000, maxDataPoints: 1000, alert: false };

describe('time options a plan cannot be made from', () => {
  it.each([
    [
      'a range that starts after its end',
      drift(),
      { range: { from: NOW, to: NOW - DAY } },
      /after its end .* swap them/,
    ],
    ['an empty range', drift(), { range: { from: NOW, to: NOW } }, /is empty/],
    ['maxDataPoints 0 without a bucket', drift(), { maxDataPoints: 0 }, /maxDataPoints of query A is 0/],
    ['intervalMs 0 without a bucket', drift(), { intervalMs: 0 }, /intervalMs of query A is 0/],
    ['a negative interval', drift({ bucket: '1h' }), { intervalMs: -5 }, /intervalMs of query A is -5/],
    ['a fractional point budget', drift({ bucket: '1h' }), { maxDataPoints: 2.5 }, /whole number/],
  ])('refuses %s, saying what to change', (_what, query, options, message) => {
    expect(() => checkTimeOptions(query, { ...dashboard, ...options })).toThrow(QueryError);
    expect(() => checkTimeOptions(query, { ...dashboard, ...options })).toThrow(message);
  });

  it('needs neither interval nor point budget when the query has its own bucket, or comes from an alert rule', () => {
    expect(() =>
      checkTimeOptions(drift({ bucket: '1h' }), { ...dashboard, intervalMs: 0, maxDataPoints: 0 })
    ).not.toThrow();
    expect(() =>
      checkTimeOptions(drift(), { ...dashboard, intervalMs: 0, maxDataPoints: 0, alert: true })
    ).not.toThrow();
    const distribution = parseQuery({ refId: 'D', queryType: 'distribution', model: 'm' });
    expect(() => checkTimeOptions(distribution, { ...dashboard, intervalMs: 0, maxDataPoints: 0 })).not.toThrow();
    const versions = parseQuery({ refId: 'V', queryType: 'versions', model: 'm' });
    expect(() => checkTimeOptions(versions, { ...dashboard, range: { from: 5, to: 1 } })).not.toThrow();
  });
});

describe('the plan of a window', () => {
  it("keeps a dashboard's buckets: the query's bucket, else the interval, widened to the point budget", async () => {
    expect(dashboardBucketMs('5m', dashboard, day)).toBe(300_000);
    expect(dashboardBucketMs(undefined, { ...dashboard, maxDataPoints: 2000 }, day)).toBe(60_000);
    expect(dashboardBucketMs(undefined, { ...dashboard, maxDataPoints: 1000 }, day)).toBe(87_000);
    expect(dashboardBucketMs('1m', { ...dashboard, maxDataPoints: 100 }, day)).toBe(864_000);
    const plan = await planWindow({ ...dashboard, now: NOW }, STORE, 'm', '1h', 15);
    expect(plan).toMatchObject({ range: day, grid: { sizeMs: HOUR, originMs: 0 }, notices: [] });
    expect(plan.starts).toHaveLength(24);
  });

  it('limits a range to the stored data and says so', async () => {
    const forever = { from: 0, to: Date.UTC(9999, 11, 31) };
    const plan = await planWindow(
      { range: forever, intervalMs: 1000, maxDataPoints: 43_200, now: NOW },
      STORE,
      'm',
      undefined,
      15
    );
    expect(plan.range).toEqual({ from: T0, to: T0 + 14 * DAY });
    expect(plan.notices[0].text).toMatch(/^Range limited to the stored data: 2026-11-10T00:00:00.000Z to /);
    expect(plan.starts.length * 15).toBeLessThanOrEqual(MAX_PLAN_POINTS);
  });

  it('keeps the time after the last stored day up to now (a silent model is not "no data")', async () => {
    const late = { from: T0 + 14 * DAY - 2 * HOUR, to: T0 + 20 * DAY };
    const plan = await planWindow(
      { range: late, intervalMs: HOUR, maxDataPoints: 100, now: T0 + 16 * DAY },
      STORE,
      'm',
      undefined,
      1
    );
    expect(plan.range).toEqual({ from: late.from, to: T0 + 16 * DAY });
  });

  it('widens buckets past the point budget to a round size, whatever was asked, and says so', async () => {
    const plan = await planWindow(
      { range: { from: T0, to: T0 + 14 * DAY }, intervalMs: 1000, maxDataPoints: 0, now: NOW },
      STORE,
      'm',
      '1s',
      25
    );
    expect(plan.starts.length * 25).toBeLessThanOrEqual(MAX_PLAN_POINTS);
    expect(plan.grid.sizeMs).toBe(roundBucketMs((14 * DAY * 25) / MAX_PLAN_POINTS));
    expect(plan.notices[0]).toMatchObject({ severity: 'warning' });
    expect(plan.notices[0].text).toMatch(/^Buckets widened from 1 s to 30 min: 1209600 buckets × 25 points each/);
  });

  it("makes an alert rule's query without a bucket one bucket over the rule's range", async () => {
    const rule = { from: NOW - 3 * HOUR, to: NOW };
    const plan = await planWindow(
      { range: rule, intervalMs: 1000, maxDataPoints: 43_200, alert: true, now: NOW },
      STORE,
      'm',
      undefined,
      30
    );
    expect(plan).toMatchObject({ range: rule, grid: { sizeMs: 0, originMs: rule.from }, starts: [rule.from] });
  });

  it("ends an alert rule's buckets at the end of its range, so that its last bucket is whole", async () => {
    const rule = { from: NOW - 3 * DAY + 10_000, to: NOW + 10_000 };
    const plan = await planWindow(
      { range: rule, intervalMs: 1000, maxDataPoints: 43_200, alert: true, now: NOW + 10_000 },
      STORE,
      'm',
      '1d',
      30
    );
    expect(plan.starts).toEqual([rule.from, rule.from + DAY, rule.from + 2 * DAY]);
  });

  it('refuses a template variable Grafana did not replace', async () => {
    await expect(planWindow({ ...dashboard, now: NOW }, STORE, 'm', '$bucket', 1)).rejects.toThrow(
      /template variable Grafana did not replace/
    );
  });
});

describe('the stored span', () => {
  it("is the store's day files, else the days its features were seen", async () => {
    expect(await storedSpan(STORE, 'm')).toEqual({ from: T0, to: T0 + 14 * DAY });
    const schemaOnly = {
      getFeatures: async () => [
        { name: 'a', kind: 'numeric', active: true, firstSeen: T0 + 5 * HOUR, lastSeen: T0 + DAY + HOUR },
        { name: 'b', kind: 'numeric', active: true, firstSeen: T0 + 7 * HOUR, lastSeen: T0 + 3 * DAY + 1 },
      ],
    } as unknown as PredictionStore;
    expect(await storedSpan(schemaOnly, 'm')).toEqual({ from: T0, to: T0 + 4 * DAY });
  });
});

/**
 * The `operational` query's tests, run on each store (src/server/queries/operational.test.ts: embedded;
 * test/queries/operational.test.ts: ClickHouse). Expected numbers come from the records, in JS.
 */
import { validateFrame } from '../../src/server/grafana/frames';
import { toWireFrame } from '../../src/server/backend/toWireFrame';
import { operationalQuery } from '../../src/server/queries/operational';
import { byHour, column, HOUR, RANGE, runHandler, type TrafficStore, type7 } from './traffic-fixture';

export function operationalCases(store: () => TrafficStore): void {
  const run = (raw: Record<string, unknown>, options = {}, strict = false) =>
    runHandler(
      operationalQuery,
      strict ? store().strict : store().instance,
      { queryType: 'operational', model: 'shop', ...raw },
      options
    );
  const hours = () => byHour(store().traffic.shop);

  it('computes exact type-7 latency percentiles per bucket, rated against the p95 threshold', async () => {
    const [p95] = await run({ metric: 'latency_p95' });
    const expected = hours().map((rows) =>
      type7(
        rows.map((r) => r.latencyMs!),
        0.95
      )
    );
    expect(column(p95, 'time')).toEqual(hours().map((_, h) => RANGE.from + h * HOUR));
    (column(p95, 'value') as number[]).forEach((v, h) => expect(v).toBeCloseTo(expected[h], 9));
    // hour 3 is slow (250–400 ms): above 200 ms, below the critical 400 ms
    expect(column(p95, 'level')).toEqual([0, 0, 0, 2, 0, 0]);
    const value = p95.fields.find((f) => f.name === 'value')!;
    expect(value.labels).toEqual({ model: 'shop', metric: 'latency_p95' });
    expect(value.config.unit).toBe('ms');
    expect(value.config.thresholds!.steps.map((s) => s.value)).toEqual([null, 200, 400]);
    expect(p95.meta).toMatchObject({ type: 'timeseries-multi', typeVersion: [0, 1] });
    expect(() => validateFrame(toWireFrame(p95))).not.toThrow();
    const [p50] = await run({ metric: 'latency_p50' });
    const [p99] = await run({ metric: 'latency_p99' });
    (column(p50, 'value') as number[]).forEach((v, h) =>
      expect(v).toBeCloseTo(
        type7(
          hours()[h].map((r) => r.latencyMs!),
          0.5
        ),
        9
      )
    );
    (column(p99, 'value') as number[]).forEach((v, h) =>
      expect(v).toBeCloseTo(
        type7(
          hours()[h].map((r) => r.latencyMs!),
          0.99
        ),
        9
      )
    );
    expect(p50.fields.map((f) => f.name)).not.toContain('level');
  });

  it('rates with the thresholds of the datasource settings', async () => {
    const [p95] = await run({ metric: 'latency_p95' }, {}, true);
    // 90 ms warning, 180 ms critical: the ordinary hours (20–100 ms) are warnings, hour 3 critical
    expect(column(p95, 'level')).toEqual([2, 2, 2, 3, 2, 2]);
    const [errors] = await run({ metric: 'error_rate' }, {}, true);
    expect(column(errors, 'level')).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('scales throughput back by the stored sampling rate and the covered seconds', async () => {
    const [throughput] = await run({ metric: 'throughput' });
    const expected = hours().map((rows) => rows.reduce((s, r) => s + 1 / r.samplingRate, 0) / 3600);
    (column(throughput, 'value') as number[]).forEach((v, h) => expect(v).toBeCloseTo(expected[h], 12));
    expect(expected[0]).toBeCloseTo(200 / 3600, 12);
    expect(expected[3]).toBeCloseTo(400 / 3600, 12);
    // a range starting half way into hour 0: its first bucket covers 1800 s and holds 100 rows
    const [half] = await run({ metric: 'throughput' }, { range: { from: RANGE.from + HOUR / 2, to: RANGE.to } });
    expect(column(half, 'time')[0]).toBe(RANGE.from);
    expect(column(half, 'value')[0]).toBeCloseTo(100 / 1800, 12);
  });

  it('gives the error rate per bucket: 2 % in hour 4 is critical against 0.5 %', async () => {
    const [errors] = await run({ metric: 'error_rate' });
    const expected = hours().map((rows) => rows.filter((r) => r.error).length / rows.length);
    expect(column(errors, 'value')).toEqual(expected);
    expect(expected[4]).toBe(0.02);
    expect(column(errors, 'level')).toEqual([0, 0, 0, 0, 3, 0]);
    expect(column(errors, 'count')).toEqual([200, 200, 200, 200, 200, 200]);
  });

  it('puts the level first with alertOn level (what an alert rule on the error rate reads)', async () => {
    const [byValue] = await run({ metric: 'error_rate' });
    const [byLevel] = await run({ metric: 'error_rate', alertOn: 'level' });
    const firstNumber = byLevel.fields.find((f) => f.type === 'number')!;
    expect(firstNumber.name).toBe('level');
    expect(firstNumber.values).toEqual(column(byValue, 'level'));
    expect(column(byLevel, 'value')).toEqual(column(byValue, 'value'));
  });

  it('samples rows deterministically by request id and says so', async () => {
    const [first] = await run({ metric: 'throughput', sampleFraction: 0.5 });
    const [again] = await run({ metric: 'throughput', sampleFraction: 0.5 });
    expect(column(again, 'count')).toEqual(column(first, 'count'));
    const kept = (column(first, 'count') as number[]).reduce((a, b) => a + b, 0);
    expect(kept).toBeGreaterThan(0.4 * 1200);
    expect(kept).toBeLessThan(0.6 * 1200);
    expect(first.meta?.notices?.[0].text).toMatch(/50% sample/);
    expect(first.meta?.custom).toMatchObject({ sampleFraction: 0.5 });
    // each kept row stands for 1 / (0.5 · sampling rate) requests
    const counts = column(first, 'count') as number[];
    const values = column(first, 'value') as number[];
    expect(values[0]).toBeCloseTo(counts[0] / 0.5 / 3600, 12);
    expect(values[4]).toBeCloseTo(counts[4] / 0.5 / 0.5 / 3600, 12);
  });

  it('filters by version and segment, and widens buckets to fit maxDataPoints', async () => {
    const [v1] = await run({ metric: 'error_rate', version: 'v1' });
    expect(column(v1, 'count')).toEqual([200, 200, 200, 0, 0, 0]);
    expect(column(v1, 'value')).toEqual([0, 0, 0, null, null, null]);
    const [a] = await run({ metric: 'latency_p50', segment: [{ column: 'region', operator: '=', value: 'a' }] });
    const expectedCounts = hours().map((rows) => rows.filter((r) => r.features.region === 'a').length);
    expect(column(a, 'count')).toEqual(expectedCounts);
    const [wide] = await run({ metric: 'throughput' }, { maxDataPoints: 3 });
    expect(column(wide, 'time')).toEqual([0, 2, 4].map((h) => RANGE.from + h * HOUR));
    expect(wide.meta?.custom).toMatchObject({ bucketMs: 2 * HOUR });
  });
}

/**
 * The `quality` query's tests, run on each store (src/server/queries/quality.test.ts: embedded;
 * test/queries/quality.test.ts: ClickHouse). Expected rates come from the records, in JS.
 */
import type { FrameLike } from '../../src/core/query/frames';
import type { PredictionRecord } from '../../src/server/store/types';
import { validateFrame } from '../../src/server/grafana/frames';
import { toWireFrame } from '../../src/server/backend/toWireFrame';
import { qualityQuery } from '../../src/server/queries/quality';
import { AMOUNT_RANGE, byHour, column, HOUR, RANGE, runHandler, type TrafficStore } from './traffic-fixture';

type Value = PredictionRecord['features'][string] | undefined;

export function qualityCases(store: () => TrafficStore): void {
  const run = (raw: Record<string, unknown>, strict = false) =>
    runHandler(qualityQuery, strict ? store().strict : store().instance, {
      queryType: 'quality',
      model: 'shop',
      ...raw,
    });
  const frameOf = (frames: FrameLike[], feature: string) => frames.find((f) => f.name === feature)!;
  /** Share of each hour's rows whose value of `feature` passes `test`. */
  const expectedRates = (feature: string, test: (value: Value) => boolean) =>
    byHour(store().traffic.shop).map((rows) => rows.filter((r) => test(r.features[feature])).length / rows.length);
  const expectRates = (frame: FrameLike, expected: number[]) =>
    (column(frame, 'value') as number[]).forEach((v, h) => expect(v).toBeCloseTo(expected[h], 12));

  it('gives the null rate per feature and bucket, not counting type errors as nulls', async () => {
    const frames = await run({ metric: 'null_rate' });
    expect(frames.map((f) => f.name).sort()).toEqual(['age', 'amount', 'channel', 'region']);
    const amount = frameOf(frames, 'amount');
    expectRates(
      amount,
      expectedRates('amount', (v) => v === null)
    );
    expectRates(
      frameOf(frames, 'region'),
      expectedRates('region', (v) => v === null)
    );
    // `age` was left out of the first half of hour 5; `channel` exists only in its second half
    expectRates(frameOf(frames, 'age'), [0, 0, 0, 0, 0, 0.5]);
    expectRates(frameOf(frames, 'channel'), [1, 1, 1, 1, 1, 0.5]);
    const value = amount.fields.find((f) => f.name === 'value')!;
    expect(value.labels).toEqual({ model: 'shop', feature: 'amount', metric: 'null_rate' });
    expect(value.config).toMatchObject({ unit: 'percentunit', thresholds: { mode: 'absolute' } });
    expect(value.config.thresholds!.steps.map((s) => s.value)).toEqual([null, 0.02, 0.04]);
    // 5 % nulls: critical against 2 % (critical from 4 %); channel's 100 % too
    expect(column(amount, 'level')).toEqual([3, 3, 3, 3, 3, 3]);
    expect(column(amount, 'count')).toEqual([200, 200, 200, 200, 200, 200]);
    expect(() => frames.forEach((f) => validateFrame(toWireFrame(f)))).not.toThrow();
  });

  it('gives the type-error rate of numeric and categorical features', async () => {
    const frames = await run({ metric: 'type_error_rate', features: ['amount', 'region'] });
    expect(frames.map((f) => f.name)).toEqual(['amount', 'region']);
    expectRates(
      frameOf(frames, 'amount'),
      expectedRates('amount', (v) => typeof v === 'string')
    );
    expectRates(
      frameOf(frames, 'region'),
      expectedRates('region', (v) => typeof v === 'number')
    );
  });

  it('gives the out-of-range rate against the declared range, else the observed one', async () => {
    const frames = await run({ metric: 'out_of_range_rate' });
    expect(frames.map((f) => f.name).sort()).toEqual(['age', 'amount']);
    const amount = frameOf(frames, 'amount');
    expect(amount.meta?.custom).toMatchObject({ validRange: AMOUNT_RANGE, baseline: 'v1' });
    expectRates(
      amount,
      expectedRates('amount', (v) => typeof v === 'number' && (v < AMOUNT_RANGE.min || v > AMOUNT_RANGE.max))
    );
    const baseline = (await (await store().instance.store()).getBaseline('shop', 'v1'))!;
    const age = baseline.features.age;
    if (age.kind !== 'numeric') {
      throw new Error('age should be numeric');
    }
    expectRates(
      frameOf(frames, 'age'),
      expectedRates('age', (v) => typeof v === 'number' && (v < age.min || v > age.max))
    );
    await expect(run({ metric: 'out_of_range_rate', features: ['region'] })).rejects.toThrow(
      /out_of_range_rate needs numeric features of the baseline v1; region is not one/
    );
  });

  it('gives the unseen-category rate against the baseline categories', async () => {
    const frames = await run({ metric: 'unseen_category_rate' });
    expect(frames.map((f) => f.name)).toEqual(['region']);
    const expected = expectedRates('region', (v) => typeof v === 'string' && !['a', 'b', 'c'].includes(v));
    expectRates(frames[0], expected);
    expect(expected[0]).toBeGreaterThan(0.05);
    // with a 10 % threshold the unseen 'z' (≈ 10 % of the rows) is rated against 10 % / 20 %
    const [strict] = await run({ metric: 'unseen_category_rate' }, true);
    expect(column(strict, 'level')).toEqual(expected.map((r) => (r > 0.2 ? 3 : r > 0.1 ? 2 : 0)));
  });

  it('counts schema changes per bucket and lists them as annotation events', async () => {
    const frames = await run({ metric: 'schema_changes' });
    const events = frames.find((f) => f.meta?.dataTopic === 'annotations')!;
    const changes = (column(events, 'time') as number[]).map(
      (t, i) => `${((t - RANGE.from) / HOUR) | 0} ${column(events, 'feature')[i]} ${column(events, 'change')[i]}`
    );
    expect(changes.sort()).toEqual(
      ['0 age added', '0 amount added', '0 region added', '5 age removed', '5 age added', '5 channel added'].sort()
    );
    expect(column(frameOf(frames, 'age'), 'value')).toEqual([1, 0, 0, 0, 0, 2]);
    expect(column(frameOf(frames, 'channel'), 'value')).toEqual([0, 0, 0, 0, 0, 1]);
    expect(column(frameOf(frames, 'age'), 'level')).toEqual([2, 0, 0, 0, 0, 2]);
    expect(() => frames.forEach((f) => validateFrame(toWireFrame(f)))).not.toThrow();
  });

  it('puts the level first with alertOn level, per feature', async () => {
    const byValue = await run({ metric: 'null_rate' });
    const byLevel = await run({ metric: 'null_rate', alertOn: 'level' });
    for (const frame of byLevel.filter((f) => f.meta?.dataTopic !== 'annotations')) {
      const firstNumber = frame.fields.find((f) => f.type === 'number')!;
      expect(firstNumber.name).toBe('level');
      expect(firstNumber.values).toEqual(column(frameOf(byValue, frame.name!), 'level'));
    }
  });

  it('applies version and segment filters, and names unknown features', async () => {
    const [v2] = await run({ metric: 'null_rate', features: ['amount'], version: 'v2' });
    expect(column(v2, 'count')).toEqual([0, 0, 0, 200, 200, 200]);
    expect(column(v2, 'value')).toEqual([null, null, null, ...expectedRates('amount', (v) => v === null).slice(3)]);
    const [inA] = await run({
      metric: 'type_error_rate',
      features: ['amount'],
      segment: [{ column: 'region', operator: '=', value: 'a' }],
    });
    const rowsA = byHour(store().traffic.shop).map((rows) => rows.filter((r) => r.features.region === 'a'));
    expect(column(inA, 'count')).toEqual(rowsA.map((rows) => rows.length));
    await expect(run({ features: ['salary'] })).rejects.toThrow(/feature\(s\) salary of model "shop" never appeared/);
  });
}

/**
 * The `performance` query's tests, run on each store (src/server/queries/performance.test.ts: embedded;
 * test/queries/performance.test.ts: ClickHouse). Expected scores come from the records and labels, in JS, with the
 * baseline module's row-level functions (src/server/baseline/performance.ts).
 */
import { validateFrame } from '../../src/server/grafana/frames';
import { toWireFrame } from '../../src/server/backend/toWireFrame';
import { classifierPerformance, regressorPerformance, rocAuc } from '../../src/server/baseline/performance';
import { performanceQuery } from '../../src/server/queries/performance';
import type { ClassifierPerformance } from '../../src/server/store/types';
import { byHour, column, RANGE, runHandler, type TrafficStore } from './traffic-fixture';

export function performanceCases(store: () => TrafficStore): void {
  const run = (raw: Record<string, unknown>, strict = false) =>
    runHandler(performanceQuery, strict ? store().strict : store().instance, {
      queryType: 'performance',
      model: 'shop',
      ...raw,
    });
  /** Per hour: the labelled rows of `shop` as (label, prediction, score). */
  const labelledShop = () => {
    const labels = new Map(store().traffic.shopLabels.map((l) => [l.id, l.label]));
    return byHour(store().traffic.shop).map((rows) =>
      rows
        .filter((r) => labels.has(r.id))
        .map((r) => ({ label: labels.get(r.id)!, prediction: r.prediction, score: r.score as number }))
    );
  };
  const baselineScore = async () =>
    (await (await store().instance.store()).getBaseline('shop', 'v1'))!.performance as ClassifierPerformance;

  it('reports label coverage for every bucket', async () => {
    const [coverage] = await run({ metric: 'label_coverage' });
    expect(column(coverage, 'value')).toEqual([0.8, 0.8, 0.05, 0, 0, 0]);
    expect(column(coverage, 'labelled')).toEqual([160, 160, 10, 0, 0, 0]);
    expect(coverage.fields.map((f) => f.name)).not.toContain('level');
  });

  it('scores only buckets whose labels have arrived, as the row-level metrics do', async () => {
    const reference = await baselineScore();
    for (const metric of ['accuracy', 'precision', 'recall', 'f1'] as const) {
      const [frame] = await run({ metric });
      const values = column(frame, 'value') as Array<number | null>;
      const expected = labelledShop().map((rows) => classifierPerformance(rows)[metric]);
      expect(values[0]).toBeCloseTo(expected[0], 12);
      expect(values[1]).toBeCloseTo(expected[1], 12);
      // hour 2 has 10 labelled rows (< 30): not scored; hours 3–5 have none
      expect(values.slice(2)).toEqual([null, null, null, null]);
      const change = column(frame, 'change') as Array<number | null>;
      expect(change[0]).toBeCloseTo((expected[0] - reference[metric]) / reference[metric], 12);
      const levels = column(frame, 'level');
      const expectedLevels = values.map((v) =>
        v === null ? null : v < reference[metric] * 0.9 ? 3 : v < reference[metric] * 0.95 ? 2 : 0
      );
      expect(levels).toEqual(expectedLevels);
      const value = frame.fields.find((f) => f.name === 'value')!;
      expect(value.labels).toEqual({ model: 'shop', metric });
      expect(value.config.thresholds!.steps).toEqual([
        { value: null, color: 'red' },
        { value: reference[metric] * 0.9, color: 'orange' },
        { value: reference[metric] * 0.95, color: 'green' },
      ]);
      expect(() => validateFrame(toWireFrame(frame))).not.toThrow();
    }
    const [accuracy] = await run({ metric: 'accuracy' });
    expect(accuracy.meta?.custom).toMatchObject({
      task: 'classification',
      averaging: 'binary',
      positiveLabel: '1',
      baseline: 'v1',
      validationScore: reference.accuracy,
    });
  });

  it('computes AUC from counts per score bin, within the bound it states of the exact AUC', async () => {
    const [auc] = await run({ metric: 'auc' });
    const values = column(auc, 'value') as Array<number | null>;
    const bounds = (auc.meta?.custom as { aucErrorBound: Record<string, number> }).aucErrorBound;
    const times = column(auc, 'time') as number[];
    labelledShop()
      .slice(0, 2)
      .forEach((rows, h) => {
        const exact = rocAuc(
          rows.map((r) => r.label === 1),
          rows.map((r) => r.score)
        )!;
        const bound = bounds[String(times[h])];
        expect(bound).toBeGreaterThan(0);
        expect(bound).toBeLessThan(0.01);
        expect(Math.abs(values[h]! - exact)).toBeLessThanOrEqual(bound + 1e-12);
      });
    expect(values.slice(2)).toEqual([null, null, null, null]);
  });

  it('rates against the thresholds of the datasource settings', async () => {
    const reference = await baselineScore();
    const [accuracy] = await run({ metric: 'accuracy' }, true);
    const values = column(accuracy, 'value') as Array<number | null>;
    // hour 0's accuracy is 1.4 % below the validation score: a warning against 1 %, ok against the default 5 %
    expect(column(accuracy, 'level')).toEqual([2, 0, null, null, null, null]);
    expect(column(accuracy, 'level')).toEqual(
      values.map((v) => (v === null ? null : v < reference.accuracy * 0.98 ? 3 : v < reference.accuracy * 0.99 ? 2 : 0))
    );
  });

  it('scores a regressor with MAE, RMSE and MAPE; without a baseline there is no level', async () => {
    const labels = new Map(store().traffic.priceLabels.map((l) => [l.id, l.label]));
    const expected = byHour(store().traffic.price).map((rows) => {
      const pairs = rows
        .filter((r) => labels.has(r.id))
        .map((r) => ({ label: labels.get(r.id)!, prediction: r.prediction }));
      return pairs.length ? regressorPerformance(pairs) : null;
    });
    for (const metric of ['mae', 'rmse', 'mape'] as const) {
      const [frame] = await run({ model: 'price', metric });
      const values = column(frame, 'value') as Array<number | null>;
      values.slice(0, 3).forEach((v, h) => expect(v).toBeCloseTo(expected[h]![metric]!, 9));
      expect(values.slice(3)).toEqual([null, null, null]);
      expect(frame.fields.map((f) => f.name)).not.toContain('level');
      expect(column(frame, 'change')).toEqual([null, null, null, null, null, null]);
      expect(frame.meta?.custom).toMatchObject({ task: 'regression', baseline: null });
    }
    await expect(run({ model: 'price', metric: 'accuracy' })).rejects.toThrow(
      /model "price" is a regression model: "accuracy" does not apply; use mae, rmse, mape or label_coverage/
    );
  });

  it('scores a classifier with text classes by macro averaging, and has no AUC for it', async () => {
    const labels = new Map(store().traffic.tierLabels.map((l) => [l.id, l.label]));
    const expected = byHour(store().traffic.tier).map((rows) => {
      const pairs = rows
        .filter((r) => labels.has(r.id))
        .map((r) => ({ label: labels.get(r.id)!, prediction: r.prediction, score: null }));
      return pairs.length ? classifierPerformance(pairs) : null;
    });
    expect(expected[0]!.averaging).toBe('macro');
    for (const metric of ['accuracy', 'precision', 'recall', 'f1'] as const) {
      const [frame] = await run({ model: 'tier', metric });
      const values = column(frame, 'value') as Array<number | null>;
      values.slice(0, 4).forEach((v, h) => expect(v).toBeCloseTo(expected[h]![metric], 12));
      expect(values.slice(4)).toEqual([null, null]);
      expect(frame.meta?.custom).toMatchObject({ task: 'classification', averaging: 'macro', positiveLabel: null });
    }
    const [auc] = await run({ model: 'tier', metric: 'auc' });
    expect(column(auc, 'value')).toEqual([null, null, null, null, null, null]);
  });

  it("scores the task's primary metric when none is given: accuracy for a classifier, MAE for a regressor", async () => {
    const [classifier] = await runHandler(performanceQuery, store().instance, {
      queryType: 'performance',
      model: 'shop',
    });
    const [accuracy] = await run({ metric: 'accuracy' });
    expect(classifier.name).toBe('accuracy');
    expect(column(classifier, 'value')).toEqual(column(accuracy, 'value'));
    const [regressor] = await runHandler(performanceQuery, store().instance, {
      queryType: 'performance',
      model: 'price',
    });
    const [mae] = await run({ model: 'price', metric: 'mae' });
    expect(regressor.name).toBe('mae');
    expect(regressor.fields.find((f) => f.name === 'value')!.labels).toEqual({ model: 'price', metric: 'mae' });
    expect(column(regressor, 'value')).toEqual(column(mae, 'value'));
  });

  it('puts the level first for an alert rule with alertOn level, the value after it', async () => {
    const [byValue] = await run({ metric: 'accuracy' });
    const [byLevel] = await run({ metric: 'accuracy', alertOn: 'level' });
    const numbers = (frame: typeof byLevel) => frame.fields.filter((f) => f.type === 'number').map((f) => f.name);
    expect(numbers(byValue).slice(0, 2)).toEqual(['value', 'level']);
    expect(numbers(byLevel).slice(0, 2)).toEqual(['level', 'value']);
    expect(column(byLevel, 'level')).toEqual(column(byValue, 'level'));
    expect(byLevel.fields.find((f) => f.name === 'level')!.config.thresholds!.steps.map((s) => s.value)).toEqual([
      null,
      2,
      3,
    ]);
    expect(() => validateFrame(toWireFrame(byLevel))).not.toThrow();
  });

  it('lets the metric decide the task of a window without predictions', async () => {
    const dayBefore = { from: RANGE.from - 86_400_000, to: RANGE.to - 86_400_000 };
    const frames = await runHandler(
      performanceQuery,
      store().instance,
      { queryType: 'performance', model: 'price', metric: 'mae' },
      { range: dayBefore }
    );
    expect(column(frames[0], 'value')).toEqual([null, null, null, null, null, null]);
    expect(column(frames[0], 'coverage')).toEqual([null, null, null, null, null, null]);
  });

  it('filters by version and segment', async () => {
    const [v2] = await run({ metric: 'label_coverage', version: 'v2' });
    expect(column(v2, 'value')).toEqual([null, null, null, 0, 0, 0]);
    const [inA] = await run({ metric: 'label_coverage', segment: [{ column: 'region', operator: '=', value: 'a' }] });
    const labels = new Set(store().traffic.shopLabels.map((l) => l.id));
    const expected = byHour(store().traffic.shop).map((rows) => {
      const a = rows.filter((r) => r.features.region === 'a');
      return a.filter((r) => labels.has(r.id)).length / a.length;
    });
    (column(inA, 'value') as number[]).forEach((v, h) => expect(v).toBeCloseTo(expected[h], 12));
  });
}

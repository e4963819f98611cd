/**
 * The `performance` query's tests, run on each store (src/server/queries/performance.test.ts: embedded;
 * test/queries/performance.test.ts: ClickHouse). Expected scores come from the records and labels, in JS, with the
 * baseline module's row-level functions (src/server/baseline/performance.ts).
 */
import { ESTIMATED_METRICS, estimatePerformance, scoreBin, type ScoredCell } from '../../src/core/stats';
import { alertFrames } from '../../src/server/backend/alert-frames';
import { validateFrame } from '../../src/server/grafana/frames';
import { toWireFrame } from '../../src/server/backend/toWireFrame';
import { classifierPerformance, regressorPerformance, rocAuc } from '../../src/server/baseline/performance';
import { performanceQuery } from '../../src/server/queries/performance';
import type { ClassifierPerformance } from '../../src/server/store/types';
import { parseQuery } from '../../src/core/query/queryTypes';
import { CBPE_MODEL, cbpeRange, CONCEPT_DRIFT_HOURS, COVARIATE_SHIFT_HOURS, writeCbpeTraffic } from './cbpe-traffic';
import { byHour, column, HOUR, NOW, RANGE, runHandler, type TrafficStore } from './traffic-fixture';

/** Rows per score bin and predicted class (score ≥ threshold), as the estimate's pushed-down query counts them. */
function scoredCells(scores: readonly number[], threshold: number): ScoredCell[] {
  const cells = new Map<string, ScoredCell>();
  for (const score of scores) {
    const key = `${scoreBin(score)}|${score >= threshold}`;
    const cell = cells.get(key) ?? { bin: scoreBin(score), predictedPositive: score >= threshold, rows: 0 };
    cell.rows += 1;
    cells.set(key, cell);
  }
  return [...cells.values()];
}

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

  describe('estimated performance (CBPE, estimate: true)', () => {
    const calibration = async () => (await (await store().instance.store()).getBaseline('shop', 'v1'))!.calibration!;

    it('estimates every bucket from the calibrated scores, with its band, beside the realized values', async () => {
      const shopCalibration = await calibration();
      const reference = await baselineScore();
      const hours = byHour(store().traffic.shop).map((rows) => rows.map((r) => r.score as number));
      for (const metric of ESTIMATED_METRICS) {
        const [frame] = await run({ metric, estimate: true });
        const [realized] = await run({ metric });
        const expected = hours.map((scores) => estimatePerformance(shopCalibration, scoredCells(scores, 0.5))[metric]);
        for (const [field, key] of [
          ['value', 'value'],
          ['lower', 'lower'],
          ['upper', 'upper'],
        ] as const) {
          (column(frame, field) as number[]).forEach((v, h) => expect(v).toBeCloseTo(expected[h][key]!, 9));
        }
        expect(column(frame, 'realized')).toEqual(column(realized, 'value'));
        const unitOf = (name: string) => frame.fields.find((f) => f.name === name)!.config.unit;
        expect(['lower', 'upper', 'realized'].map(unitOf)).toEqual(Array(3).fill(unitOf('value')));
        expect(column(frame, 'coverage')).toEqual(column(realized, 'coverage'));
        const validation = reference[metric]!;
        expect(column(frame, 'level')).toEqual(
          expected.map(({ value }) => (value! < validation * 0.9 ? 3 : value! < validation * 0.95 ? 2 : 0))
        );
        expect(frame.meta?.custom).toMatchObject({
          estimate: { threshold: 0.5, calibrationRows: shopCalibration.count, labelledBuckets: 2 },
        });
        expect(() => validateFrame(toWireFrame(frame))).not.toThrow();
      }
    });

    it('answers an alert rule with one series whose first number is the estimate, or its level', async () => {
      for (const alertOn of [undefined, 'level'] as const) {
        const raw = { queryType: 'performance', model: 'shop', metric: 'accuracy', estimate: true, alertOn };
        const frames = alertFrames(await run(raw), parseQuery({ refId: 'A', ...raw }));
        expect(frames).toHaveLength(1);
        const first = frames[0].fields.find((f) => f.type === 'number')!;
        expect(first.name).toBe(alertOn ?? 'value');
        expect(first.labels).toMatchObject({ model: 'shop', metric: 'accuracy' });
      }
    });

    it('says what to do when the model or its baseline cannot be estimated', async () => {
      await expect(run({ model: 'price', metric: 'mae', estimate: true })).rejects.toThrow(
        /estimate: true applies to binary classifiers with scores and the metrics accuracy, precision, recall, f1, auc/
      );
      await expect(run({ model: 'tier', estimate: true })).rejects.toThrow(/model "tier" has no baseline/);
      const writable = await store().instance.store();
      const current = (await writable.getBaseline('shop', 'v1'))!;
      const { calibration: _dropped, schemaVersion: _version, ...old } = current;
      await writable.saveBaseline({ ...old, version: 'v0', createdAt: NOW - 30 * HOUR });
      await expect(run({ estimate: true, baseline: 'v0' })).rejects.toThrow(
        /baseline "v0" of model "shop" \(schema version 1\) has no score calibration: rebuild it with --score and --label/
      );
    });

    describe('on covariate shift, then concept drift', () => {
      beforeAll(async () => {
        await writeCbpeTraffic(await store().instance.store());
      });
      const estimateOver = async (hours: number) => {
        const [frame] = await runHandler(
          performanceQuery,
          store().instance,
          { queryType: 'performance', model: CBPE_MODEL, metric: 'accuracy', estimate: true },
          { range: cbpeRange(hours) }
        );
        return frame;
      };

      it('keeps the realized accuracy inside the 95 % band in at least 90 % of buckets, without a notice', async () => {
        const frame = await estimateOver(COVARIATE_SHIFT_HOURS);
        const realized = column(frame, 'realized') as number[];
        const lower = column(frame, 'lower') as number[];
        const upper = column(frame, 'upper') as number[];
        const inside = realized.filter((v, h) => v >= lower[h] && v <= upper[h]).length;
        expect(realized.every((v) => v !== null)).toBe(true);
        expect(inside / COVARIATE_SHIFT_HOURS).toBeGreaterThanOrEqual(0.9);
        const estimates = column(frame, 'value') as number[];
        expect(estimates.reduce((a, b) => Math.max(a, b)) - estimates.reduce((a, b) => Math.min(a, b))).toBeGreaterThan(
          0.1
        );
        expect(frame.meta?.notices ?? []).toEqual([]);
      });

      it('raises the notice within two buckets of concept drift labels arriving', async () => {
        const drifted = await estimateOver(COVARIATE_SHIFT_HOURS + 2);
        expect(drifted.meta?.notices).toEqual([
          expect.objectContaining({
            severity: 'warning',
            text: expect.stringMatching(/assumptions broke — concept drift/),
          }),
        ]);
        const whole = await estimateOver(COVARIATE_SHIFT_HOURS + CONCEPT_DRIFT_HOURS);
        expect(whole.meta?.custom).toMatchObject({ estimate: { bucketsOutsideBand: expect.any(Number) } });
        const outside = (whole.meta?.custom as { estimate: { bucketsOutsideBand: number } }).estimate
          .bucketsOutsideBand;
        expect(outside).toBeGreaterThanOrEqual(CONCEPT_DRIFT_HOURS);
      });
    });
  });
}

/**
 * The demo scenario does what docs/SIMULATION.md says: deterministic, seasonal volume, features without incidents
 * indistinguishable from the baseline's reference data, incidents where and when they are scripted, and accuracy
 * that really falls after the drift.
 */
import { chiSquareHomogeneity, ksTwoSample } from '../../core/stats';
import type { FeatureValue } from '../store/types';
import {
  churn,
  creditRisk,
  dayStartMs,
  deliveryTime,
  DAY_MS,
  HOUR_MS,
  INCIDENTS,
  type SimulatedModel,
} from './scenario';
import { referenceRows, simulateTraffic, type TrafficItem } from './traffic';

const START = Date.UTC(2026, 2, 2); // a Monday
const END = START + 14 * DAY_MS;
const SEED = 7;

function traffic(model: SimulatedModel): TrafficItem[] {
  return [...simulateTraffic(model, { start: START, end: END, ratePerMinute: 4, seed: SEED })];
}

const credit = traffic(creditRisk);
const delivery = traffic(deliveryTime);

function dayOf(item: TrafficItem): number {
  return Math.floor((item.prediction.ts - START) / DAY_MS) + 1;
}

function onDays(items: TrafficItem[], from: number, to: number): TrafficItem[] {
  return items.filter((i) => dayOf(i) >= from && dayOf(i) <= to);
}

function numbers(values: FeatureValue[]): number[] {
  return values.filter((v): v is number => typeof v === 'number').sort((a, b) => a - b);
}

/** p-value of "same distribution": KS for numeric features, chi-square over the category union for categorical. */
function sameDistributionPValue(
  kind: 'numeric' | 'categorical',
  reference: FeatureValue[],
  current: FeatureValue[]
): number {
  if (kind === 'numeric') {
    return ksTwoSample(numbers(reference), numbers(current)).pValue;
  }
  const categories = [...new Set([...reference, ...current].map(String))];
  const count = (values: FeatureValue[]) => {
    const counts = new Map<string, number>();
    values.forEach((v) => counts.set(String(v), (counts.get(String(v)) ?? 0) + 1));
    return categories.map((c) => counts.get(c) ?? 0);
  };
  return chiSquareHomogeneity(count(reference), count(current)).pValue;
}

test('the same seed gives the same traffic; another seed another', () => {
  const again = [...simulateTraffic(creditRisk, { start: START, end: START + DAY_MS, ratePerMinute: 4, seed: SEED })];
  // Labels of the shorter window are cut at its end; the predictions are the same.
  expect(again.map((i) => i.prediction)).toEqual(onDays(credit, 1, 1).map((i) => i.prediction));
  const other = [
    ...simulateTraffic(creditRisk, { start: START, end: START + DAY_MS, ratePerMinute: 4, seed: SEED + 1 }),
  ];
  expect(other.slice(0, 50).map((i) => i.prediction.features)).not.toEqual(
    again.slice(0, 50).map((i) => i.prediction.features)
  );
  expect(referenceRows(deliveryTime, 100, 3)).toEqual(referenceRows(deliveryTime, 100, 3));
});

test('volume has a daily and a weekly cycle around the requested rate', () => {
  const perMinute = credit.length / (14 * 24 * 60);
  expect(Math.abs(perMinute - 4)).toBeLessThan(0.2);
  const byHour = new Array(24).fill(0);
  credit.forEach((i) => byHour[new Date(i.prediction.ts).getUTCHours()]++);
  // Peak at 16:00 (factor 1.5), trough at 04:00 (0.5).
  expect(byHour[16] / byHour[4]).toBeGreaterThan(2.5);
  expect(byHour[16] / byHour[4]).toBeLessThan(3.5);
  const weekday = onDays(credit, 1, 1).length; // Monday
  const saturday = onDays(credit, 6, 6).length;
  expect(saturday / weekday).toBeGreaterThan(0.55);
  expect(saturday / weekday).toBeLessThan(0.7);
});

test('features without incidents do not drift beyond chance, day by day, against the reference data', () => {
  const pValues: number[] = [];
  for (const [model, items] of [
    [creditRisk, credit],
    [deliveryTime, delivery],
  ] as const) {
    const reference = referenceRows(model, 20_000, SEED);
    const days = Array.from({ length: 14 }, (_, d) => onDays(items, d + 1, d + 1));
    for (const name of model.stableFeatures) {
      const kind = model.features.find((f) => f.name === name)!.kind;
      const referenceValues = reference.map((r) => r.features[name]);
      for (const dayItems of days) {
        pValues.push(
          sameDistributionPValue(
            kind,
            referenceValues,
            dayItems.map((i) => i.prediction.features[name])
          )
        );
      }
    }
  }
  expect(pValues).toHaveLength(14 * (creditRisk.stableFeatures.length + deliveryTime.stableFeatures.length));
  // Under "no drift" p-values are uniform (KS with ties is conservative): about 5 % fall below 0.05.
  const small = pValues.filter((p) => p < 0.05).length / pValues.length;
  expect(small).toBeLessThan(0.1);
  expect(Math.min(...pValues)).toBeGreaterThan(1e-4);
});

test('the scripted incidents happen when and where the scenario says', () => {
  const reference = referenceRows(creditRisk, 20_000, SEED);
  const feature = (items: TrafficItem[], name: string) => items.map((i) => i.prediction.features[name]);
  const pBefore = (name: string, from: number, to: number) =>
    sameDistributionPValue(
      'numeric',
      reference.map((r) => r.features[name]),
      feature(onDays(credit, from, to), name)
    );

  // Gradual drift from day 8 in debt_to_income and utilization.
  for (const name of Object.keys(INCIDENTS.gradualDrift.features)) {
    expect(pBefore(name, 1, 7)).toBeGreaterThan(1e-3);
    expect(pBefore(name, 13, 14)).toBeLessThan(1e-12);
  }
  // Sudden shift of credit_score on day 11: clean on day 10, shifted by about -40 from day 11.
  expect(pBefore('credit_score', 10, 10)).toBeGreaterThan(1e-3);
  expect(pBefore('credit_score', 11, 11)).toBeLessThan(1e-12);
  const mean = (xs: FeatureValue[]) => numbers(xs).reduce((a, b) => a + b, 0) / numbers(xs).length;
  expect(
    mean(feature(onDays(credit, 11, 14), 'credit_score')) - mean(feature(onDays(credit, 1, 10), 'credit_score'))
  ).toBeCloseTo(-40, -1);

  // Null burst: months_employed is null exactly on day 5, 10:00 to 16:00.
  const burst = INCIDENTS.nullBurst;
  const burstStart = START + dayStartMs(burst.day) + burst.fromHour * HOUR_MS;
  const burstEnd = START + dayStartMs(burst.day) + burst.toHour * HOUR_MS;
  const nulls = credit.filter((i) => i.prediction.features.months_employed === null);
  expect(nulls.length).toBeGreaterThan(100);
  expect(nulls.every((i) => i.prediction.ts >= burstStart && i.prediction.ts < burstEnd)).toBe(true);
  expect(credit.filter((i) => i.prediction.ts >= burstStart && i.prediction.ts < burstEnd).length).toBe(nulls.length);

  // New category from day 10.
  const crypto = credit.filter((i) => i.prediction.features.loan_purpose === 'crypto');
  expect(Math.min(...crypto.map(dayOf))).toBe(INCIDENTS.newCategory.day);
  expect(crypto.length / onDays(credit, 10, 14).length).toBeCloseTo(0.06, 2);

  // Latency spike on day 9, 14:00 to 16:00.
  const spike = INCIDENTS.latencySpike;
  const spikeStart = START + dayStartMs(spike.day) + spike.fromHour * HOUR_MS;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const during = credit.filter((i) => i.prediction.ts >= spikeStart && i.prediction.ts < spikeStart + 2 * HOUR_MS);
  const ratio = median(during.map((i) => i.prediction.latencyMs!)) / median(credit.map((i) => i.prediction.latencyMs!));
  expect(ratio).toBeGreaterThan(4);
  expect(ratio).toBeLessThan(6);
});

test('credit_risk labels arrive three days late; accuracy falls once the drift moves the inputs', () => {
  const labelled = credit.filter((i) => i.label);
  expect(
    labelled.every(
      (i) => i.label!.ts - i.prediction.ts >= 3 * DAY_MS && i.label!.ts - i.prediction.ts < 3 * DAY_MS + 6 * HOUR_MS
    )
  ).toBe(true);
  expect(Math.max(...labelled.map((i) => i.label!.ts))).toBeLessThan(END);
  expect(labelled.length / credit.filter((i) => dayOf(i) <= 10 && i.prediction.error === null).length).toBeGreaterThan(
    0.99
  );
  const accuracy = (items: TrafficItem[]) => {
    const scored = items.filter((i) => i.label);
    return scored.filter((i) => i.label!.label === i.prediction.prediction).length / scored.length;
  };
  const reference = referenceRows(creditRisk, 20_000, SEED);
  const referenceAccuracy = reference.filter((r) => r.label === r.prediction).length / reference.length;
  expect(Math.abs(accuracy(onDays(credit, 1, 7)) - referenceAccuracy)).toBeLessThan(0.02);
  expect(accuracy(onDays(credit, 10, 11))).toBeLessThan(referenceAccuracy * 0.95);
});

test('delivery_time: a snow storm on days 11 and 12 raises the error of the regressor', () => {
  const snowShare = (items: TrafficItem[]) =>
    items.filter((i) => i.prediction.features.weather === 'snow').length / items.length;
  expect(snowShare(onDays(delivery, 1, 10))).toBeCloseTo(0.05, 1);
  expect(snowShare(onDays(delivery, 11, 12))).toBeCloseTo(INCIDENTS.snowStorm.snowShare, 1);
  const mae = (items: TrafficItem[]) => {
    const scored = items.filter((i) => i.label);
    return (
      scored.reduce((sum, i) => sum + Math.abs((i.label!.label as number) - (i.prediction.prediction as number)), 0) /
      scored.length
    );
  };
  expect(mae(onDays(delivery, 11, 12))).toBeGreaterThan(mae(onDays(delivery, 1, 10)) * 1.08);
});

test('churn: covariate shift from day 4 keeps the scores calibrated; the competitor offer of day 11 breaks them', () => {
  const items = traffic(churn);
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const feature = (list: TrafficItem[], name: string) => list.map((i) => i.prediction.features[name] as number);
  const reference = referenceRows(churn, 20_000, SEED);
  const referenceTenure = mean(reference.map((r) => r.features.tenure_months as number));
  expect(mean(feature(onDays(items, 1, 3), 'tenure_months')) / referenceTenure).toBeCloseTo(1, 1);
  expect(mean(feature(onDays(items, 9, 10), 'tenure_months'))).toBeLessThan(0.6 * referenceTenure);
  expect(mean(feature(onDays(items, 9, 10), 'support_calls'))).toBeGreaterThan(1.2 + 0.1 * 5);
  /** Churn rate minus mean score, in standard errors of the rate. */
  const miscalibration = (list: TrafficItem[]) => {
    const labelled = list.filter((i) => i.label);
    const scores = labelled.map((i) => i.prediction.score as number);
    const variance = scores.reduce((sum, p) => sum + p * (1 - p), 0) / labelled.length ** 2;
    return (mean(labelled.map((i) => i.label!.label as number)) - mean(scores)) / Math.sqrt(variance);
  };
  expect(Math.abs(miscalibration(onDays(items, 1, 10)))).toBeLessThan(3);
  const annual = onDays(items, INCIDENTS.competitorOffer.day, 14).filter(
    (i) => i.prediction.features.contract === INCIDENTS.competitorOffer.contract
  );
  expect(miscalibration(annual)).toBeGreaterThan(10);
  expect(items.every((i) => !i.label || i.label.ts - i.prediction.ts >= DAY_MS)).toBe(true);
});

/**
 * Traffic for the `compare` query (champion vs challenger), written through the store layer (either store), over
 * six hourly buckets from COMPARE_START, 120 requests an hour:
 *
 * - `duel`: a binary classifier with scores in SHADOW traffic — versions v1 (champion) and v2 (challenger) both score
 *   every request id. v2's score is v1's plus noise for three hours, then moves up (√u: covariate shift of the
 *   output). Labels (P(1 | u) = 0.05 + 0.85·u²) arrive for the first four hours. v2 is slower and fails more often
 *   (its failed rows have no prediction). Baseline v1 with scores and labels (so the estimate has a calibration).
 * - `gauge`: a regressor in shadow traffic; v2 = v1 + noise (σ 3) for three hours, then + 10; labelled in hours 0–3.
 * - `split`: the classifier of `duel` in SPLIT traffic: each request goes to one version.
 */
import { createRandom } from '../../src/core/stats';
import { computeBaseline } from '../../src/server/baseline/compute';
import type { LabelRecord, PredictionRecord, PredictionStore } from '../../src/server/store/types';

export const COMPARE_START = Date.UTC(2026, 10, 20);
export const COMPARE_HOUR = 3_600_000;
export const COMPARE_HOURS = 6;
export const COMPARE_RANGE = { from: COMPARE_START, to: COMPARE_START + COMPARE_HOURS * COMPARE_HOUR };
const REQUESTS_PER_HOUR = 120;
const LABELLED_HOURS = 4;

export interface CompareTraffic {
  predictions: Record<'duel' | 'gauge' | 'split', PredictionRecord[]>;
  labels: Record<'duel' | 'gauge' | 'split', LabelRecord[]>;
}

const positiveRate = (u: number) => 0.05 + 0.85 * u * u;
const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

/** A standard normal draw (Box–Muller). */
function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

function record(id: string, ts: number, version: string, prediction: number | null, extra: Partial<PredictionRecord>) {
  return { id, ts, version, features: { x: extra.score ?? 0 }, prediction, samplingRate: 1, ...extra };
}

export function compareTraffic(): CompareTraffic {
  const random = createRandom(1212);
  const traffic: CompareTraffic = {
    predictions: { duel: [], gauge: [], split: [] },
    labels: { duel: [], gauge: [], split: [] },
  };
  for (let hour = 0; hour < COMPARE_HOURS; hour++) {
    for (let i = 0; i < REQUESTS_PER_HOUR; i++) {
      const ts = COMPARE_START + hour * COMPARE_HOUR + i * (COMPARE_HOUR / REQUESTS_PER_HOUR);
      const u = random();
      const challengerScore = hour < 3 ? clamp01(u + 0.2 * (random() - 0.5)) : Math.sqrt(u);
      const label = random() < positiveRate(u) ? 1 : 0;
      const latency = { champion: 40 + 60 * random(), challenger: 60 + 100 * random() };
      const failed = { champion: i % 50 === 7, challenger: i % 25 === 3 };
      const classify = (score: number, failedHere: boolean) =>
        failedHere
          ? { prediction: null, extra: { score: null, error: 'timeout' } }
          : { prediction: score >= 0.5 ? 1 : 0, extra: { score } };
      const v1 = classify(u, failed.champion);
      const v2 = classify(challengerScore, failed.challenger);
      const duel = `d${hour}-${i}`;
      traffic.predictions.duel.push(
        record(duel, ts, 'v1', v1.prediction, { ...v1.extra, latencyMs: latency.champion }),
        record(duel, ts + 5, 'v2', v2.prediction, { ...v2.extra, latencyMs: latency.challenger })
      );
      const split = `s${hour}-${i}`;
      const splitSide =
        i % 2 === 0
          ? { version: 'v1', ...v1, latencyMs: latency.champion }
          : { version: 'v2', ...v2, latencyMs: latency.challenger };
      traffic.predictions.split.push(
        record(split, ts, splitSide.version, splitSide.prediction, {
          ...splitSide.extra,
          latencyMs: splitSide.latencyMs,
        })
      );
      const price = 100 + 20 * normal(random);
      const challengerPrice = price + 3 * normal(random) + (hour < 3 ? 0 : 10);
      const gauge = `g${hour}-${i}`;
      traffic.predictions.gauge.push(
        record(gauge, ts, 'v1', price, { latencyMs: latency.champion }),
        record(gauge, ts + 5, 'v2', challengerPrice, { latencyMs: latency.challenger })
      );
      if (hour < LABELLED_HOURS) {
        const labelTs = ts + COMPARE_HOUR;
        traffic.labels.duel.push({ id: duel, label, ts: labelTs });
        traffic.labels.split.push({ id: split, label, ts: labelTs });
        traffic.labels.gauge.push({ id: gauge, label: price + 5 * normal(random), ts: labelTs });
      }
    }
  }
  return traffic;
}

/** Baselines of version v1: the classifiers' with score and label (a calibration), the regressor's with labels. */
async function saveBaselines(store: PredictionStore): Promise<void> {
  const random = createRandom(77);
  const scores = Array.from({ length: 5000 }, () => random());
  const classifier = (model: string) =>
    computeBaseline({
      model,
      version: 'v1',
      source: 'test',
      createdAt: COMPARE_START - COMPARE_HOUR,
      columns: [
        { name: 'x', kind: 'numeric', values: scores },
        { name: 'score', kind: 'numeric', values: scores },
        { name: 'pred', kind: 'numeric', values: scores.map((s) => (s >= 0.5 ? 1 : 0)) },
        { name: 'label', kind: 'numeric', values: scores.map((s) => (random() < positiveRate(s) ? 1 : 0)) },
      ],
      predictionColumn: 'pred',
      scoreColumn: 'score',
      labelColumn: 'label',
    });
  await store.saveBaseline(classifier('duel'));
  await store.saveBaseline(classifier('split'));
  const prices = Array.from({ length: 5000 }, () => 100 + 20 * normal(random));
  await store.saveBaseline(
    computeBaseline({
      model: 'gauge',
      version: 'v1',
      source: 'test',
      createdAt: COMPARE_START - COMPARE_HOUR,
      columns: [
        { name: 'x', kind: 'numeric', values: prices.map(() => 0) },
        { name: 'price', kind: 'numeric', values: prices },
        { name: 'label', kind: 'numeric', values: prices.map((p) => p + 5 * normal(random)) },
      ],
      predictionColumn: 'price',
      labelColumn: 'label',
    })
  );
}

/** Writes the traffic and the baselines. */
export async function writeCompareTraffic(store: PredictionStore, traffic: CompareTraffic): Promise<void> {
  for (const model of ['duel', 'gauge', 'split'] as const) {
    await store.writePredictions(model, traffic.predictions[model]);
    await store.writeLabels(model, traffic.labels[model]);
  }
  await saveBaselines(store);
}

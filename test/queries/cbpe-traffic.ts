/**
 * Traffic for estimated performance (CBPE) through the `performance` handler: model `cbpe`, a binary classifier whose
 * P(label = 1 | score) is 0.05 + 0.85·score², with a baseline calibrated on 50 000 labelled reference rows (REFERENCE_ROWS: enough that the calibration's own error, which the band leaves out, stays small).
 *
 * Hourly buckets of 100 rows, all labelled an hour later: first COVARIATE_SHIFT_HOURS of covariate shift (the scores'
 * distribution moves — uniform raised to a power swinging between ½ and 2 — while P(label | score) stays), then
 * CONCEPT_DRIFT_HOURS of concept drift (P(label | score) turns into 1 − 0.05 − 0.85·score²).
 */
import { createRandom } from '../../src/core/stats';
import { computeBaseline } from '../../src/server/baseline/compute';
import type { LabelRecord, PredictionRecord, PredictionStore } from '../../src/server/store/types';

export const CBPE_MODEL = 'cbpe';
export const CBPE_START = Date.UTC(2026, 9, 1);
export const CBPE_HOUR = 3_600_000;
export const COVARIATE_SHIFT_HOURS = 200;
export const CONCEPT_DRIFT_HOURS = 6;
const ROWS_PER_HOUR = 100;
const REFERENCE_ROWS = 50_000;

/** P(label = 1 | score) while the concept holds. */
export const positiveRate = (score: number) => 0.05 + 0.85 * score * score;

/** The range of the first `hours` hourly buckets. */
export const cbpeRange = (hours: number) => ({ from: CBPE_START, to: CBPE_START + hours * CBPE_HOUR });

export function cbpeTraffic(): { predictions: PredictionRecord[]; labels: LabelRecord[] } {
  const random = createRandom(2027);
  const predictions: PredictionRecord[] = [];
  const labels: LabelRecord[] = [];
  for (let hour = 0; hour < COVARIATE_SHIFT_HOURS + CONCEPT_DRIFT_HOURS; hour++) {
    const power = 2 ** Math.sin(hour / 4);
    const rate = hour < COVARIATE_SHIFT_HOURS ? positiveRate : (s: number) => 1 - positiveRate(s);
    for (let i = 0; i < ROWS_PER_HOUR; i++) {
      const score = random() ** power;
      const ts = CBPE_START + hour * CBPE_HOUR + i * (CBPE_HOUR / ROWS_PER_HOUR);
      const id = `c${hour}-${i}`;
      predictions.push({
        id,
        ts,
        version: 'v1',
        features: { x: 10 * score },
        prediction: score >= 0.5 ? 1 : 0,
        score,
        samplingRate: 1,
      });
      labels.push({ id, label: random() < rate(score) ? 1 : 0, ts: ts + CBPE_HOUR });
    }
  }
  return { predictions, labels };
}

/** Writes the baseline (REFERENCE_ROWS uniform reference scores, labelled by positiveRate) and the traffic. */
export async function writeCbpeTraffic(store: PredictionStore): Promise<void> {
  const random = createRandom(99);
  const scores = Array.from({ length: REFERENCE_ROWS }, () => random());
  await store.saveBaseline(
    computeBaseline({
      model: CBPE_MODEL,
      version: 'v1',
      source: 'test',
      createdAt: CBPE_START,
      columns: [
        { name: 'x', kind: 'numeric', values: scores.map((s) => 10 * s) },
        { name: 'score', kind: 'numeric', values: scores },
        { name: 'pred', kind: 'numeric', values: scores.map((s) => (s >= 0.5 ? 1 : 0)) },
        { name: 'label', kind: 'numeric', values: scores.map((s) => (random() < positiveRate(s) ? 1 : 0)) },
      ],
      predictionColumn: 'pred',
      scoreColumn: 'score',
      labelColumn: 'label',
    })
  );
  const { predictions, labels } = cbpeTraffic();
  await store.writePredictions(CBPE_MODEL, predictions);
  await store.writeLabels(CBPE_MODEL, labels);
}

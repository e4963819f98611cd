/**
 * Turns the scenario into records: prediction logs with daily and weekly volume seasonality, their late labels,
 * and reference (training-like) rows for the baseline. Deterministic for a given seed.
 */
import type { LabelRecord, PredictionRecord } from '../store/types';
import { Random } from './random';
import { volumeFactor, type SimulatedModel } from './scenario';

const MINUTE_MS = 60_000;

export interface TrafficOptions {
  /** Window start and end, epoch ms (end exclusive). */
  start: number;
  end: number;
  /** Mean requests per minute per model (before seasonality). */
  ratePerMinute: number;
  seed: number;
}

export interface TrafficItem {
  prediction: PredictionRecord;
  /** The label, when it arrives before the end of the window. */
  label?: LabelRecord;
}

/** The model's requests over the window, in time order. */
export function* simulateTraffic(model: SimulatedModel, options: TrafficOptions): Generator<TrafficItem> {
  const random = new Random(options.seed, `traffic:${model.name}`);
  let sequence = 0;
  for (let minute = options.start; minute < options.end; minute += MINUTE_MS) {
    const count = random.poisson(options.ratePerMinute * volumeFactor(minute));
    const offsets = Array.from({ length: count }, () => Math.floor(random.next() * MINUTE_MS)).sort((a, b) => a - b);
    for (const offset of offsets) {
      const ts = minute + offset;
      if (ts >= options.end) {
        break;
      }
      const request = model.draw(random, { elapsedMs: ts - options.start });
      const id = `${model.name}-${options.seed}-${sequence++}`;
      const prediction: PredictionRecord = {
        id,
        ts,
        version: model.version,
        features: request.features,
        prediction: request.prediction,
        score: request.score,
        latencyMs: request.latencyMs,
        error: request.error,
        samplingRate: 1,
      };
      const labelTs = Math.round(ts + request.labelDelayMs);
      yield labelTs < options.end && request.error === null
        ? { prediction, label: { id, label: request.truth, ts: labelTs } }
        : { prediction };
    }
  }
}

export interface ReferenceRow {
  features: PredictionRecord['features'];
  prediction: number | null;
  score: number | null;
  label: number;
}

/** Reference data as the model's training/validation set looked: no incidents, no failures. */
export function referenceRows(model: SimulatedModel, rows: number, seed: number): ReferenceRow[] {
  const random = new Random(seed, `reference:${model.name}`);
  const result: ReferenceRow[] = [];
  while (result.length < rows) {
    const request = model.draw(random, null);
    if (request.error === null) {
      result.push({
        features: request.features,
        prediction: request.prediction,
        score: request.score,
        label: request.truth,
      });
    }
  }
  return result;
}

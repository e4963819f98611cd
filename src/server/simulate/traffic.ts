/**
 * Turns the scenario into records: prediction logs with daily and weekly volume seasonality, their late labels,
 * and reference (training-like) rows for the baseline. Deterministic for a given seed.
 *
 * With a challenger (TrafficOptions.challenger, for a model that has one): the champion serves every request, and
 * the challenger scores a shadow copy of a share of them — the same id and ts, its own version, answer, latency and
 * failures; from the split day on, the challenger serves a share of the requests itself instead (the champion does
 * not see those). Its draws come from a random stream of its own, so the requests, the champion's answers and the
 * labels are the same with or without it. A label is about the request: one per id, joined to every version's
 * prediction of it.
 */
import type { LabelRecord, PredictionRecord } from '../store/types';
import { Random } from './random';
import { dayStartMs, volumeFactor, type Moment, type SimulatedModel, type SimulatedRequest } from './scenario';

const MINUTE_MS = 60_000;

export interface TrafficOptions {
  /** Window start and end, epoch ms (end exclusive). */
  start: number;
  end: number;
  /** Mean requests per minute per model (before seasonality). */
  ratePerMinute: number;
  seed: number;
  /** A challenger beside the champion (module comment); ignored for a model without one. */
  challenger?: ChallengerTraffic;
}

/** How a challenger sees traffic: shares are fractions of the requests, in [0, 1]. */
export interface ChallengerTraffic {
  /** Share of the champion's requests the challenger scores a shadow copy of. */
  shadowShare: number;
  /** From the start of day `fromDay` (1-based), the challenger serves `share` of the requests itself. */
  split?: { fromDay: number; share: number };
}

export interface TrafficItem {
  /** The prediction of the version that served the request (the champion, or the challenger in a split). */
  prediction: PredictionRecord;
  /** The challenger's prediction of a shadow copy of the request: same id and ts. */
  shadow?: PredictionRecord;
  /** The label, when it arrives before the end of the window. */
  label?: LabelRecord;
}

/** Who answers a request: the champion alone, the champion with a shadow challenger, or the challenger alone. */
type Serving = 'champion' | 'shadow' | 'challenger';

/** Who answers a request at `elapsedMs`, from one uniform draw `u` (shares as in ChallengerTraffic). */
export function servingOf(u: number, elapsedMs: number, challenger: ChallengerTraffic): Serving {
  const split = challenger.split;
  if (split && elapsedMs >= dayStartMs(split.fromDay)) {
    if (u < split.share) {
      return 'challenger';
    }
    // The rest of the requests: the shadow share of them, from the rest of the same draw.
    return (u - split.share) / (1 - split.share) < challenger.shadowShare ? 'shadow' : 'champion';
  }
  return u < challenger.shadowShare ? 'shadow' : 'champion';
}

/** The record of one version's answer to a request. */
function predictionRecord(
  id: string,
  ts: number,
  version: string,
  request: Pick<SimulatedRequest, 'features' | 'prediction' | 'score' | 'latencyMs' | 'error'>
): PredictionRecord {
  return {
    id,
    ts,
    version,
    features: request.features,
    prediction: request.prediction,
    score: request.score,
    latencyMs: request.latencyMs,
    error: request.error,
    samplingRate: 1,
  };
}

/** The model's requests over the window, in time order. */
export function* simulateTraffic(model: SimulatedModel, options: TrafficOptions): Generator<TrafficItem> {
  const random = new Random(options.seed, `traffic:${model.name}`);
  const challenger = options.challenger && model.challenger;
  const challengerRandom = new Random(options.seed, `challenger:${model.name}`);
  let sequence = 0;
  for (let minute = options.start; minute < options.end; minute += MINUTE_MS) {
    const count = random.poisson(options.ratePerMinute * volumeFactor(minute));
    const offsets = Array.from({ length: count }, () => Math.floor(random.next() * MINUTE_MS)).sort((a, b) => a - b);
    for (const offset of offsets) {
      const ts = minute + offset;
      if (ts >= options.end) {
        break;
      }
      const moment = { elapsedMs: ts - options.start };
      const request = model.draw(random, moment);
      const id = `${model.name}-${options.seed}-${sequence++}`;
      const champion = predictionRecord(id, ts, model.version, request);
      const item = challenger
        ? withChallenger(champion, request, moment, challengerRandom, challenger, options.challenger!)
        : { prediction: champion };
      const labelTs = Math.round(ts + request.labelDelayMs);
      yield labelTs < options.end && item.prediction.error === null
        ? { ...item, label: { id, label: request.truth, ts: labelTs } }
        : item;
    }
  }
}

/** The champion's prediction with the challenger's beside it or in its place, as `servingOf` decides. */
function withChallenger(
  champion: PredictionRecord,
  request: SimulatedRequest,
  moment: NonNullable<Moment>,
  random: Random,
  challenger: NonNullable<SimulatedModel['challenger']>,
  traffic: ChallengerTraffic
): Omit<TrafficItem, 'label'> {
  const serving = servingOf(random.next(), moment.elapsedMs, traffic);
  if (serving === 'champion') {
    return { prediction: champion };
  }
  const answer = challenger.answer(random, request, moment);
  const record = predictionRecord(champion.id, champion.ts, challenger.version, {
    features: request.features,
    ...answer,
  });
  return serving === 'shadow' ? { prediction: champion, shadow: record } : { prediction: record };
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

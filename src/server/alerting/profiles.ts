/**
 * What the alert rules of a model depend on beyond the datasource thresholds: how late its labels arrive (which day
 * the performance rules score) and its throughput SLA. The demo models' profiles follow docs/SIMULATION.md;
 * other models get DEFAULT_PROFILE. (Which score the performance rules watch, accuracy or MAE, the backend decides
 * from the model's task.)
 */
import { DEFAULT_THRESHOLDS, type Thresholds } from '../../core/query/settings';
import { SIMULATED_MODELS } from '../simulate/scenario';

const HOUR_S = 3600;
const DAY_S = 24 * HOUR_S;

export interface ModelProfile {
  model: string;
  /**
   * How long after a prediction its label has surely arrived, in seconds: the performance rules score the 24 hours
   * that ended this long ago.
   */
  labelDelaySeconds: number;
  /** Lowest acceptable throughput over an hour, in requests per second (the SLA); below it the rule pages. */
  minThroughputPerSecond: number;
  /** The datasource thresholds the backend rates with (quoted in the rules' descriptions). */
  thresholds: Thresholds;
}

/** Defaults for a model the generator knows nothing about: labels within a day, at least one request a minute. */
export const DEFAULT_PROFILE = { labelDelaySeconds: DAY_S, minThroughputPerSecond: 1 / 60 } as const;

/**
 * The demo models: credit_risk's labels arrive 3 days + up to 6 hours late, delivery_time's when the delivery ends
 * (within 2 hours). Both get about 10 requests a minute (3.5 at the weekend night trough), so an SLA of one request
 * a minute is only breached when traffic stops.
 */
const DEMO: Record<string, Omit<ModelProfile, 'model' | 'thresholds'>> = {
  credit_risk: { labelDelaySeconds: 3 * DAY_S + 6 * HOUR_S, minThroughputPerSecond: 1 / 60 },
  delivery_time: { labelDelaySeconds: 2 * HOUR_S, minThroughputPerSecond: 1 / 60 },
};

/** The profile of a model: the demo's for the demo models, else DEFAULT_PROFILE. */
export function profileFor(model: string, thresholds: Thresholds = DEFAULT_THRESHOLDS): ModelProfile {
  return { model, ...(DEMO[model] ?? DEFAULT_PROFILE), thresholds };
}

/** The demo models' profiles with the default thresholds: what provisioning/alerting/ is generated from. */
export function demoProfiles(): ModelProfile[] {
  return SIMULATED_MODELS.map((model) => profileFor(model.name));
}

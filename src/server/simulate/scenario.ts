/**
 * The demo scenario of `mlmon simulate`: two models, their inputs, the true relations their labels come from, and
 * the scripted incidents. docs/SIMULATION.md describes the same scenario for people; keep the two in step.
 *
 * Time is measured from the start of the simulated window: "day 8" is [start + 7 d, start + 8 d). Every feature
 * that no incident touches is drawn from the same distribution all the time, identical to the reference (baseline)
 * data, so it must not show drift beyond chance.
 */
import type { FeatureValue } from '../store/types';
import { Random } from './random';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** Where in the scenario a record is: time since the window start, or `null` for reference (training) data. */
export type Moment = { elapsedMs: number } | null;

/** The scripted incidents, in one place, so the generator and the documentation agree. */
export const INCIDENTS = {
  /** credit_risk: debt_to_income and utilization creep upwards from the start of day 8, linearly per day. */
  gradualDrift: { startDay: 8, features: { debt_to_income: 0.03, utilization: 0.025 } as Record<string, number> },
  /** credit_risk: the credit bureau recalibrates its score: credit_score reads 40 points lower from day 11 on. */
  suddenShift: { day: 11, feature: 'credit_score', delta: -40 },
  /** credit_risk: a pipeline bug sends months_employed as null for six hours on day 5, 10:00 to 16:00. */
  nullBurst: { day: 5, fromHour: 10, toHour: 16, feature: 'months_employed' },
  /** credit_risk: latency five times higher on day 9, 14:00 to 16:00. */
  latencySpike: { day: 9, fromHour: 14, toHour: 16, factor: 5 },
  /** credit_risk: loan_purpose "crypto" appears on day 10 and takes 6 % of applications. */
  newCategory: { day: 10, feature: 'loan_purpose', value: 'crypto', share: 0.06 },
  /** delivery_time: a snow storm on days 11 and 12 (snow 35 % of orders instead of 5 %). */
  snowStorm: { fromDay: 11, toDay: 12, snowShare: 0.35 },
  /**
   * churn: covariate shift without concept drift from the start of day 4 — a campaign brings newer customers who call
   * support more: mean tenure 30 / (1 + 0.15 d) months and support calls Poisson(1.2 + 0.12 d), d days since it
   * began — while P(churn | features) stays the model's.
   */
  campaign: { startDay: 4, tenureShrinkPerDay: 0.15, callsPerDay: 0.12 },
  /** churn: concept drift from day 11 — a competitor's offer: customers on annual contracts, who rarely left, now churn (log-odds +2). */
  competitorOffer: { day: 11, contract: 'annual', logOdds: 2 },
  /**
   * churn's challenger `v2` (only with `--challenger`): retrained on data that already saw some annual customers
   * leave, its log-odds add 0.6 for annual contracts and a little noise (sd 0.15), so it is slightly worse than the
   * champion before the competitor's offer and better after it; it answers in ~26 ms and fails 0.2 % of requests.
   */
  churnChallenger: { version: 'v2', annualLogOdds: 0.6, noiseSd: 0.15, latencyMs: 26, errorRate: 0.002 },
} as const;

/** Start of day `day` (1-based) of the window, in ms since the window start. */
export function dayStartMs(day: number): number {
  return (day - 1) * DAY_MS;
}

function within(moment: Moment, day: number, fromHour: number, toHour: number): boolean {
  if (!moment) {
    return false;
  }
  const start = dayStartMs(day);
  return moment.elapsedMs >= start + fromHour * HOUR_MS && moment.elapsedMs < start + toHour * HOUR_MS;
}

/** Days since `day` started (fractional), 0 before it or for reference data. */
function daysSince(moment: Moment, day: number): number {
  return moment ? Math.max(0, (moment.elapsedMs - dayStartMs(day)) / DAY_MS) : 0;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const round = (value: number, step: number) => Math.round(value / step) * step;

/** One simulated request: inputs, the model's answer, latency, and the ground truth that arrives later. */
export interface SimulatedRequest {
  features: Record<string, FeatureValue>;
  prediction: number | null;
  score: number | null;
  latencyMs: number;
  error: string | null;
  /** Ground truth: the class (0/1) or the true value. */
  truth: number;
  /** How long after the prediction its label arrives. */
  labelDelayMs: number;
}

/** A challenger's answer to a request the champion was asked: its own prediction, latency and failure. */
export type ChallengerAnswer = Pick<SimulatedRequest, 'prediction' | 'score' | 'latencyMs' | 'error'>;

/** Another version of a model, scoring the requests the champion draws (`mlmon simulate --challenger`). */
export interface SimulatedChallenger {
  version: string;
  /** Its answer to `request` at `moment`, from its own random stream (so the champion's traffic never changes). */
  answer(random: Random, request: SimulatedRequest, moment: Moment): ChallengerAnswer;
}

export interface SimulatedModel {
  name: string;
  /** The champion's version: it serves the traffic. */
  version: string;
  /** A challenger version, for models that have one. */
  challenger?: SimulatedChallenger;
  task: 'classification' | 'regression';
  /** Features in the order they are documented. */
  features: ReadonlyArray<{ name: string; kind: 'numeric' | 'categorical' }>;
  /** Features that no incident touches: their distribution never changes. */
  stableFeatures: readonly string[];
  /** Draws one request at `moment` (null: reference data without incidents). */
  draw(random: Random, moment: Moment): SimulatedRequest;
}

const LOAN_PURPOSES = [
  ['debt_consolidation', 0.34],
  ['car', 0.24],
  ['home_improvement', 0.17],
  ['education', 0.12],
  ['business', 0.13],
] as const;

function loanPurpose(random: Random, moment: Moment): string {
  const incident = INCIDENTS.newCategory;
  if (moment && moment.elapsedMs >= dayStartMs(incident.day) && random.bernoulli(incident.share)) {
    return incident.value;
  }
  return random.choice(LOAN_PURPOSES);
}

/**
 * True log-odds of default. Debt-to-income and utilization raise the risk only up to 0.5 and 0.6: beyond that
 * (lenders cap the exposure) they add nothing. Such values are rare in the training data, so the deployed model
 * learnt a straight line and keeps raising its score past them; once the drift from day 8 makes them common, the
 * model flags applicants who do not default and its accuracy falls. The truth also uses the applicant's real credit
 * score, while the model sees the one the bureau reports (40 points lower after the recalibration of day 11).
 */
function trueDefaultLogOdds(f: Record<string, FeatureValue>, trueCreditScore: number): number {
  const dti = f.debt_to_income as number;
  const util = f.utilization as number;
  return (
    -1.45 +
    4.3 * (Math.min(dti, 0.5) - 0.35) +
    2.4 * (Math.min(util, 0.6) - 0.36) -
    0.016 * (trueCreditScore - 680) +
    0.55 * (f.num_late_payments as number) +
    (f.employment_type === 'unemployed' ? 1.0 : f.employment_type === 'self_employed' ? 0.3 : 0) +
    (f.home_ownership === 'rent' ? 0.2 : 0) +
    (f.loan_purpose === 'crypto' ? 0.8 : 0)
  );
}

/** The deployed model's log-odds: the linear fit of the truth on training data. */
function modelDefaultLogOdds(f: Record<string, FeatureValue>): number {
  return (
    -1.4 +
    4.3 * ((f.debt_to_income as number) - 0.35) +
    2.4 * ((f.utilization as number) - 0.36) -
    0.016 * ((f.credit_score as number) - 680) +
    0.55 * (f.num_late_payments as number) +
    (f.employment_type === 'unemployed' ? 1.0 : f.employment_type === 'self_employed' ? 0.3 : 0) +
    (f.home_ownership === 'rent' ? 0.2 : 0)
  );
}

export const creditRisk: SimulatedModel = {
  name: 'credit_risk',
  version: 'v3',
  task: 'classification',
  features: [
    { name: 'age', kind: 'numeric' },
    { name: 'income', kind: 'numeric' },
    { name: 'debt_to_income', kind: 'numeric' },
    { name: 'credit_score', kind: 'numeric' },
    { name: 'loan_amount', kind: 'numeric' },
    { name: 'loan_term_months', kind: 'numeric' },
    { name: 'num_credit_lines', kind: 'numeric' },
    { name: 'months_employed', kind: 'numeric' },
    { name: 'num_late_payments', kind: 'numeric' },
    { name: 'utilization', kind: 'numeric' },
    { name: 'employment_type', kind: 'categorical' },
    { name: 'home_ownership', kind: 'categorical' },
    { name: 'loan_purpose', kind: 'categorical' },
    { name: 'region', kind: 'categorical' },
    { name: 'channel', kind: 'categorical' },
  ],
  stableFeatures: [
    'age',
    'income',
    'loan_amount',
    'loan_term_months',
    'num_credit_lines',
    'num_late_payments',
    'employment_type',
    'home_ownership',
    'region',
    'channel',
  ],
  draw(random, moment) {
    const drift = INCIDENTS.gradualDrift;
    const shift = INCIDENTS.suddenShift;
    const trueCreditScore = Math.round(clamp(random.normal(680, 55), 300, 850));
    const shifted = moment && moment.elapsedMs >= dayStartMs(shift.day) ? shift.delta : 0;
    const nullBurst = INCIDENTS.nullBurst;
    const monthsEmployed = Math.round(random.exponential(60));
    const features: Record<string, FeatureValue> = {
      age: Math.round(clamp(random.normal(41, 11), 18, 85)),
      income: round(random.logNormal(Math.log(52_000), 0.45), 100),
      debt_to_income: clamp(
        random.beta(2.2, 4) + drift.features.debt_to_income * daysSince(moment, drift.startDay),
        0,
        1.5
      ),
      credit_score: clamp(trueCreditScore + shifted, 300, 850),
      loan_amount: round(random.logNormal(Math.log(12_000), 0.6), 50),
      loan_term_months: random.choice([
        [12, 0.1],
        [24, 0.2],
        [36, 0.35],
        [48, 0.15],
        [60, 0.2],
      ]),
      num_credit_lines: random.poisson(4.5),
      months_employed: within(moment, nullBurst.day, nullBurst.fromHour, nullBurst.toHour) ? null : monthsEmployed,
      num_late_payments: random.poisson(0.4),
      utilization: clamp(random.beta(2, 3.5) + drift.features.utilization * daysSince(moment, drift.startDay), 0, 1.5),
      employment_type: random.choice([
        ['salaried', 0.62],
        ['self_employed', 0.18],
        ['contractor', 0.14],
        ['unemployed', 0.06],
      ]),
      home_ownership: random.choice([
        ['rent', 0.38],
        ['mortgage', 0.42],
        ['own', 0.2],
      ]),
      loan_purpose: loanPurpose(random, moment),
      region: random.choice([
        ['north', 0.27],
        ['south', 0.31],
        ['east', 0.22],
        ['west', 0.2],
      ]),
      channel: random.choice([
        ['web', 0.48],
        ['mobile', 0.37],
        ['branch', 0.15],
      ]),
    };
    const truth = random.bernoulli(sigmoid(trueDefaultLogOdds(features, trueCreditScore))) ? 1 : 0;
    const spike = INCIDENTS.latencySpike;
    const latencyFactor = within(moment, spike.day, spike.fromHour, spike.toHour) ? spike.factor : 1;
    const latencyMs = round(random.logNormal(Math.log(35), 0.35) * latencyFactor, 0.1);
    const failed = random.bernoulli(0.003);
    const score = sigmoid(modelDefaultLogOdds(features));
    return {
      features,
      prediction: failed ? null : score >= 0.5 ? 1 : 0,
      score: failed ? null : round(score, 1e-6),
      latencyMs,
      error: failed ? 'feature store timeout' : null,
      truth,
      labelDelayMs: 3 * DAY_MS + random.uniform(0, 6 * HOUR_MS),
    };
  },
};

const WEATHER_EFFECT_MINUTES: Record<string, number> = { clear: 0, rain: 4, snow: 11 };
const MINUTES_PER_KM: Record<string, number> = { bike: 4.1, scooter: 3.4, car: 3.0 };

export const deliveryTime: SimulatedModel = {
  name: 'delivery_time',
  version: 'v1',
  task: 'regression',
  features: [
    { name: 'distance_km', kind: 'numeric' },
    { name: 'items', kind: 'numeric' },
    { name: 'prep_minutes', kind: 'numeric' },
    { name: 'weather', kind: 'categorical' },
    { name: 'courier_type', kind: 'categorical' },
    { name: 'zone', kind: 'categorical' },
  ],
  stableFeatures: ['distance_km', 'items', 'prep_minutes', 'courier_type', 'zone'],
  draw(random, moment) {
    const storm = INCIDENTS.snowStorm;
    const stormy =
      moment !== null &&
      moment.elapsedMs >= dayStartMs(storm.fromDay) &&
      moment.elapsedMs < dayStartMs(storm.toDay + 1);
    const snow = stormy ? storm.snowShare : 0.05;
    const features: Record<string, FeatureValue> = {
      distance_km: round(random.gamma(2, 1.6), 0.01),
      items: random.poisson(2.2) + 1,
      prep_minutes: round(clamp(random.normal(14, 4), 3, 45), 0.1),
      weather: random.choice([
        ['clear', 0.95 - snow - 0.2],
        ['rain', 0.25],
        ['snow', snow],
      ]),
      courier_type: random.choice([
        ['bike', 0.45],
        ['scooter', 0.35],
        ['car', 0.2],
      ]),
      zone: random.choice([
        ['center', 0.5],
        ['suburb', 0.4],
        ['outskirts', 0.1],
      ]),
    };
    const distance = features.distance_km as number;
    const base =
      8 +
      distance * MINUTES_PER_KM[features.courier_type as string] +
      0.9 * (features.items as number) +
      (features.prep_minutes as number);
    const truth = round(
      Math.max(5, base + WEATHER_EFFECT_MINUTES[features.weather as string] + random.normal(0, 4)),
      0.1
    );
    // The model learnt snow from the few snowy days of its training data and underestimates it (7 instead of 11 min).
    const weatherGuess = features.weather === 'snow' ? 7 : WEATHER_EFFECT_MINUTES[features.weather as string];
    return {
      features,
      prediction: round(base + weatherGuess + 0.3, 0.01),
      score: null,
      latencyMs: round(random.logNormal(Math.log(18), 0.3), 0.1),
      error: null,
      truth,
      labelDelayMs: truth * 60_000 + random.uniform(0, 10 * 60_000),
    };
  },
};

/**
 * The churn model's log-odds: its ground truth before the competitor's offer, fitted exactly (so its scores are
 * calibrated until then).
 */
function churnLogOdds(f: Record<string, FeatureValue>): number {
  return (
    -1.4 +
    0.55 * ((f.support_calls as number) - 1.2) -
    0.035 * (Math.min(f.tenure_months as number, 72) - 30) +
    0.012 * ((f.monthly_charges as number) - 70) +
    (f.contract === 'monthly' ? 0.7 : -0.4)
  );
}

/** churn's challenger (INCIDENTS.churnChallenger): the champion's log-odds, shifted for annual contracts, with noise. */
const churnChallenger: SimulatedChallenger = {
  version: INCIDENTS.churnChallenger.version,
  answer(random, request) {
    const spec = INCIDENTS.churnChallenger;
    const annual = request.features.contract === 'annual' ? spec.annualLogOdds : 0;
    const latencyMs = round(random.logNormal(Math.log(spec.latencyMs), 0.3), 0.1);
    const noise = random.normal(0, spec.noiseSd);
    if (random.bernoulli(spec.errorRate)) {
      return { prediction: null, score: null, latencyMs, error: 'challenger timeout' };
    }
    const score = round(sigmoid(churnLogOdds(request.features) + annual + noise), 1e-6);
    return { prediction: score >= 0.5 ? 1 : 0, score, latencyMs, error: null };
  },
};

/**
 * `churn` (binary classifier): the case estimated performance (CBPE) is for, then the case it cannot handle —
 * covariate shift from day 4 (INCIDENTS.campaign: the estimate must follow the realized accuracy), concept drift from
 * day 11 (INCIDENTS.competitorOffer: the realized accuracy leaves the estimate's band and a notice says so). Not in
 * the default set: `mlmon simulate --models churn`. Its challenger `v2` (churnChallenger) scores shadow copies of the
 * requests, and may serve a share itself, with `--challenger`.
 */
export const churn: SimulatedModel = {
  name: 'churn',
  version: 'v1',
  challenger: churnChallenger,
  task: 'classification',
  features: [
    { name: 'tenure_months', kind: 'numeric' },
    { name: 'support_calls', kind: 'numeric' },
    { name: 'monthly_charges', kind: 'numeric' },
    { name: 'contract', kind: 'categorical' },
  ],
  stableFeatures: ['monthly_charges', 'contract'],
  draw(random, moment) {
    const campaign = INCIDENTS.campaign;
    const offer = INCIDENTS.competitorOffer;
    const days = daysSince(moment, campaign.startDay);
    const features: Record<string, FeatureValue> = {
      tenure_months: Math.round(random.exponential(30 / (1 + campaign.tenureShrinkPerDay * days))),
      support_calls: random.poisson(1.2 + campaign.callsPerDay * days),
      monthly_charges: round(clamp(random.normal(70, 20), 20, 150), 0.01),
      contract: random.choice([
        ['monthly', 0.55],
        ['annual', 0.45],
      ]),
    };
    const modelled = churnLogOdds(features);
    const offered =
      moment !== null && moment.elapsedMs >= dayStartMs(offer.day) && features.contract === offer.contract;
    const truth = random.bernoulli(sigmoid(modelled + (offered ? offer.logOdds : 0))) ? 1 : 0;
    const score = round(sigmoid(modelled), 1e-6);
    return {
      features,
      prediction: score >= 0.5 ? 1 : 0,
      score,
      latencyMs: round(random.logNormal(Math.log(20), 0.3), 0.1),
      error: null,
      truth,
      labelDelayMs: DAY_MS + random.uniform(0, 6 * HOUR_MS),
    };
  },
};

/** The models `mlmon simulate` writes by default. */
export const SIMULATED_MODELS: readonly SimulatedModel[] = [creditRisk, deliveryTime];

/** Every model `mlmon simulate --models` can write. */
export const ALL_SIMULATED_MODELS: readonly SimulatedModel[] = [...SIMULATED_MODELS, churn];

/**
 * Relative request volume at a time: a daily cycle (peak 16:00 UTC, trough 04:00, ±50 %) times a weekly one
 * (weekdays 1.12, weekends 0.7; the mean over a week is 1).
 */
export function volumeFactor(epochMs: number): number {
  const date = new Date(epochMs);
  const hour = date.getUTCHours() + date.getUTCMinutes() / 60;
  const daily = 1 + 0.5 * Math.sin((2 * Math.PI * (hour - 10)) / 24);
  const weekday = date.getUTCDay();
  const weekly = weekday === 0 || weekday === 6 ? 0.7 : 1.12;
  return daily * weekly;
}

/**
 * The churn model's challenger in `mlmon simulate --challenger` (traffic.ts, scenario.ts INCIDENTS.churnChallenger),
 * as docs/SIMULATION.md states it: the champion's traffic and labels are the same with or without it; it scores a
 * shadow copy of a share of the requests under the same ids and times, with its own version, latency, failures and
 * scores; from the split day it serves a share of the requests itself; it is slightly worse than the champion before
 * the concept drift and better after it.
 */
import { churn, DAY_MS, INCIDENTS } from './scenario';
import { servingOf, simulateTraffic, type ChallengerTraffic, type TrafficItem } from './traffic';

const START = Date.UTC(2026, 2, 2);
const END = START + 14 * DAY_MS;
const SEED = 7;
const CHALLENGER: ChallengerTraffic = { shadowShare: 0.25, split: { fromDay: 13, share: 0.5 } };
const { version: V2 } = INCIDENTS.churnChallenger;

const run = (challenger?: ChallengerTraffic) => [
  ...simulateTraffic(churn, { start: START, end: END, ratePerMinute: 2, seed: SEED, challenger }),
];
const alone = run();
const paired = run(CHALLENGER);

const dayOf = (item: TrafficItem) => Math.floor((item.prediction.ts - START) / DAY_MS) + 1;
const before = (day: number) => paired.filter((item) => dayOf(item) < day);
const from = (day: number) => paired.filter((item) => dayOf(item) >= day);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
/** Within four binomial standard deviations of `share` of `n`. */
const nearShare = (count: number, n: number, share: number) =>
  Math.abs(count - n * share) <= 4 * Math.sqrt(n * share * (1 - share));

test('the requests, the champion and the labels are the same with or without the challenger', () => {
  expect(paired.map((item) => item.prediction.id)).toEqual(alone.map((item) => item.prediction.id));
  const championServed = paired.flatMap((item, i) => (item.prediction.version === churn.version ? [i] : []));
  expect(championServed.length).toBeGreaterThan(0.8 * paired.length);
  for (const i of championServed) {
    expect(paired[i].prediction).toEqual(alone[i].prediction);
  }
  expect(paired.map((item) => item.label)).toEqual(alone.map((item) => item.label));
});

test('before the split every request is the champion’s, and a quarter has a shadow copy with the same id and ts', () => {
  const early = before(CHALLENGER.split!.fromDay);
  expect(early.every((item) => item.prediction.version === churn.version)).toBe(true);
  const shadows = early.filter((item) => item.shadow);
  expect(nearShare(shadows.length, early.length, CHALLENGER.shadowShare)).toBe(true);
  for (const { prediction, shadow } of shadows) {
    expect({ id: shadow!.id, ts: shadow!.ts, version: shadow!.version, features: shadow!.features }).toEqual({
      id: prediction.id,
      ts: prediction.ts,
      version: V2,
      features: prediction.features,
    });
  }
  const scored = shadows.filter((item) => item.shadow!.error === null);
  expect(scored.filter((item) => item.shadow!.score !== item.prediction.score).length).toBeGreaterThan(
    0.99 * scored.length
  );
  expect(median(shadows.map((item) => item.shadow!.latencyMs!))).toBeGreaterThan(
    1.15 * median(early.map((item) => item.prediction.latencyMs!))
  );
  const failed = shadows.filter((item) => item.shadow!.error !== null).length;
  expect(failed).toBeGreaterThan(0);
  expect(failed).toBeLessThan(0.01 * shadows.length);
});

test('from the split day the challenger serves half of the requests itself, without a shadow copy', () => {
  const late = from(CHALLENGER.split!.fromDay);
  const served = late.filter((item) => item.prediction.version === V2);
  expect(nearShare(served.length, late.length, CHALLENGER.split!.share)).toBe(true);
  expect(served.some((item) => item.shadow)).toBe(false);
  const rest = late.filter((item) => item.prediction.version === churn.version);
  expect(nearShare(rest.filter((item) => item.shadow).length, rest.length, CHALLENGER.shadowShare)).toBe(true);
  expect(served.filter((item) => item.label).length).toBeGreaterThan(0);
});

test('on the labelled shadow pairs the challenger is slightly worse before the concept drift and better after it', () => {
  const accuracy = (items: TrafficItem[], version: 'prediction' | 'shadow') => {
    const labelled = items.filter((item) => item.label && item.shadow && item.shadow.error === null);
    return labelled.filter((item) => item[version]!.prediction === item.label!.label).length / labelled.length;
  };
  const drift = INCIDENTS.competitorOffer.day;
  const [earlyChampion, earlyChallenger] = [accuracy(before(drift), 'prediction'), accuracy(before(drift), 'shadow')];
  const [lateChampion, lateChallenger] = [accuracy(from(drift), 'prediction'), accuracy(from(drift), 'shadow')];
  expect(earlyChallenger).toBeLessThan(earlyChampion);
  expect(earlyChampion - earlyChallenger).toBeLessThan(0.03);
  expect(lateChallenger - lateChampion).toBeGreaterThan(0.04);
});

test('servingOf splits one draw: the split share first, then the shadow share of the rest', () => {
  const split = { shadowShare: 0.2, split: { fromDay: 2, share: 0.5 } };
  expect(servingOf(0.1, 0, split)).toBe('shadow');
  expect(servingOf(0.3, 0, split)).toBe('champion');
  expect(servingOf(0.49, DAY_MS, split)).toBe('challenger');
  expect(servingOf(0.55, DAY_MS, split)).toBe('shadow'); // (0.55 − 0.5) / 0.5 = 0.1 < 0.2
  expect(servingOf(0.65, DAY_MS, split)).toBe('champion'); // 0.3
});

/**
 * Estimated performance on `mlmon simulate --models churn` (src/server/simulate/scenario.ts): covariate shift from day
 * 4, where the estimate must follow the realized accuracy, then concept drift from day 11, where it must not and the
 * notice must say so. Written by the simulate command into an embedded store, read through the `performance` handler.
 */
import { performanceQuery } from '../../src/server/queries/performance';
import { DAY_MS, HOUR_MS, INCIDENTS } from '../../src/server/simulate/scenario';
import type { DatasourceInstance } from '../../src/server/backend/instances';
import { simulatedStore, type SimulatedStore } from '../support/simulated-store';
import { column, runHandler } from './traffic-fixture';

const END = Date.UTC(2026, 2, 16);
const START = END - 14 * DAY_MS;
/** The start of day `day` of the simulated window. */
const dayStart = (day: number) => START + (day - 1) * DAY_MS;

let simulated: SimulatedStore;
let instance: DatasourceInstance;

beforeAll(async () => {
  const args = ['--models', 'churn', '--days', '14', '--rate', '2', '--seed', '7', '--reference-rows', '50000'];
  simulated = await simulatedStore(args, END);
  instance = simulated.instance;
}, 120_000);

afterAll(async () => {
  await simulated?.remove();
});

/** The estimated accuracy in 6-hour buckets from day 1 to `to` (exclusive). */
async function estimate(to: number) {
  const [frame] = await runHandler(
    performanceQuery,
    instance,
    { queryType: 'performance', model: 'churn', metric: 'accuracy', estimate: true, bucket: '6h' },
    { range: { from: START, to } }
  );
  return frame;
}

describe('estimated performance on the simulated churn model', () => {
  it('follows the realized accuracy through the covariate shift: inside the band in at least 90 % of buckets', async () => {
    const frame = await estimate(dayStart(INCIDENTS.competitorOffer.day));
    const realized = column(frame, 'realized') as Array<number | null>;
    const value = column(frame, 'value') as number[];
    const lower = column(frame, 'lower') as number[];
    const upper = column(frame, 'upper') as number[];
    const labelled = realized.flatMap((v, i) => (v === null ? [] : [i]));
    expect(labelled).toHaveLength(40);
    const inside = labelled.filter((i) => realized[i]! >= lower[i] && realized[i]! <= upper[i]).length;
    expect(inside / labelled.length).toBeGreaterThanOrEqual(0.9);
    // the shift moves the accuracy, and the estimate moves with it
    const before = value.slice(0, 12).reduce((a, b) => a + b) / 12;
    const after = value.slice(-8).reduce((a, b) => a + b) / 8;
    expect(Math.abs(after - before)).toBeGreaterThan(0.03);
    expect(frame.meta?.notices ?? []).toEqual([]);
  });

  it('raises the notice within two buckets of the concept drift labels arriving', async () => {
    const drift = dayStart(INCIDENTS.competitorOffer.day);
    const frame = await estimate(drift + 12 * HOUR_MS);
    expect(frame.meta?.notices).toEqual([
      expect.objectContaining({
        severity: 'warning',
        text: expect.stringMatching(/assumptions broke — concept drift/),
      }),
    ]);
  });
});

/**
 * The `events` query on the embedded store (Parquet files read by DuckDB); cases in test/queries/events.cases.ts.
 * Also the pure part: episodes of consecutive levels.
 */
import { embeddedTraffic, type TrafficStore } from '../../../test/queries/traffic-fixture';
import { eventsCases, withLoan } from '../../../test/queries/events.cases';
import type { DriftPoint, DriftSeries } from './drift';
import { driftEvents, episodes } from './events';

let store: TrafficStore;
beforeAll(async () => {
  store = await withLoan(await embeddedTraffic());
}, 60_000);
afterAll(async () => {
  await store?.cleanup();
});

describe('events query on the embedded store', () => {
  eventsCases(() => store);
});

describe('episodes', () => {
  it('groups consecutive levels at or above the minimum; insufficient data ends an episode', () => {
    expect(episodes([0, 2, 3, 1, 2, null, 3, 3], 2)).toEqual([
      { start: 1, end: 3 },
      { start: 4, end: 5 },
      { start: 6, end: 8 },
    ]);
    expect(episodes([0, 2, 3, 1, 2, null, 3, 3], 3)).toEqual([
      { start: 2, end: 3 },
      { start: 6, end: 8 },
    ]);
    expect(episodes([0, 1, null], 2)).toEqual([]);
  });
});

describe('drift events', () => {
  const point = (time: number, level: DriftPoint['level'], value: number): DriftPoint => ({
    time,
    value,
    noiseFloor: 0.01,
    rawLevel: level,
    level,
    count: 100,
    maxError: 0,
    reference: [],
    current: [],
    sums: [],
  });
  const series = (levels: Array<DriftPoint['level']>, values: number[]): DriftSeries => ({
    target: { name: 'x', column: '"f_x"', reference: { kind: 'categorical', counts: {}, missing: 0 } as never },
    metric: 'psi',
    points: levels.map((level, i) => point(i * 10, level, values[i])),
  });

  it('ends an episode at the start of the bucket where the level falls back, rated by its peak', () => {
    const events = driftEvents(series([0, 2, 3, 1, 2], [0.05, 0.15, 0.3, 0.05, 0.12]), 2, 10, 45);
    expect(events).toEqual([
      {
        time: 10,
        timeEnd: 30,
        title: 'Drift critical: x',
        text: 'x: psi 0.3 at its peak, noise floor 0.01; critical for 2 buckets',
        tags: ['drift', 'critical', 'x', 'psi'],
      },
      {
        time: 40,
        timeEnd: 45,
        title: 'Drift warning: x',
        text: 'x: psi 0.12 at its peak, noise floor 0.01; warning for 1 bucket, still on',
        tags: ['drift', 'warning', 'x', 'psi', 'ongoing'],
      },
    ]);
  });
});

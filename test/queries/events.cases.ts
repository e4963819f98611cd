/**
 * Checks of the `events` query (drift episodes and schema changes as annotation events), run against any store:
 * src/server/queries/events.test.ts (embedded DuckDB/Parquet) and test/queries/events.test.ts (ClickHouse 18.16).
 * The store holds two fixtures: the drift family's `loan` (test/support/drift-family.ts: `amount` shifted from hour
 * 3 on, `region` steady) and the traffic of `shop` (traffic-fixture.ts: a feature removed and added in hour 5).
 * Expected drift numbers come from the statistics core on the raw records (expectedByHour), not from the handlers.
 */
import { readAnnotationEventsFrame, type FrameLike } from '../../src/core/query/frames';
import { toWireFrame } from '../../src/server/backend/toWireFrame';
import { validateFrame } from '../../src/server/grafana/frames';
import { eventsQuery } from '../../src/server/queries/events';
import { driftQuery } from '../../src/server/queries/drift';
import { qualityQuery } from '../../src/server/queries/quality';
import { driftFixture, expectedByHour, MODEL as LOAN } from '../support/drift-family';
import { column, HOUR, RANGE, runHandler, type TrafficStore } from './traffic-fixture';

/** A store holding the traffic fixture with the drift family's `loan` model and baseline added. */
export async function withLoan(store: TrafficStore): Promise<TrafficStore> {
  const fixture = driftFixture();
  const writer = await store.instance.store();
  await writer.writePredictions(LOAN, fixture.records);
  await writer.saveBaseline(fixture.baseline);
  return store;
}

const PSI_LEVEL = { ok: 0, info: 1, warning: 2, critical: 3 } as const;

/** Up to four significant digits, as the event text prints numbers. */
const printed = (value: number) => String(Number(value.toPrecision(4)));

export function eventsCases(store: () => TrafficStore) {
  const run = async (raw: Record<string, unknown>) => {
    const frames = await runHandler(eventsQuery, store().instance, { queryType: 'events', model: LOAN, ...raw });
    expect(frames).toHaveLength(1);
    expect(frames[0].meta?.dataTopic).toBe('annotations');
    return readAnnotationEventsFrame(frames[0]);
  };
  const driftOnly = (events: Awaited<ReturnType<typeof run>>) => events.filter((e) => e.tags[0] === 'drift');

  it('opens one drift event when amount rises to critical, naming metric, peak value and noise floor', async () => {
    const expected = expectedByHour(driftFixture(), 'amount');
    const levels = expected.map((e) => PSI_LEVEL[e.severity as keyof typeof PSI_LEVEL] ?? null);
    expect(levels.slice(3)).toEqual([3, 3, 3]);
    expect(levels.slice(0, 3).every((level) => level !== null && level < 2)).toBe(true);
    const peak = expected.slice(3).reduce((a, b) => (b.metrics.psi > a.metrics.psi ? b : a));
    const events = await run({});
    expect(driftOnly(events)).toEqual([
      {
        time: RANGE.from + 3 * HOUR,
        timeEnd: RANGE.to,
        title: 'Drift critical: amount',
        text:
          `amount: psi ${printed(peak.metrics.psi)} at its peak, noise floor ${printed(peak.noiseFloor.psi)}; ` +
          'critical for 3 buckets, still on',
        tags: ['drift', 'critical', 'amount', 'psi', 'ongoing'],
      },
    ]);
  });

  it('lists the schema changes as point events beside the drift events, in time order', async () => {
    const events = await run({});
    const schema = events.filter((e) => e.tags[0] === 'schema');
    expect(schema.map((e) => e.title).sort()).toEqual(['Schema change: amount added', 'Schema change: region added']);
    for (const event of schema) {
      expect(event.timeEnd).toBe(event.time);
      expect(event.time).toBeGreaterThanOrEqual(RANGE.from);
      expect(event.time).toBeLessThan(RANGE.from + HOUR);
    }
    expect(events.map((e) => e.time)).toEqual([...events.map((e) => e.time)].sort((a, b) => a - b));
  });

  it('applies persistence, the minimum level, the metric and the feature filter', async () => {
    const [persisted] = driftOnly(await run({ persistence: 2 }));
    expect(persisted.time).toBe(RANGE.from + 4 * HOUR);
    expect(persisted.text).toMatch(/critical for 2 buckets, still on$/);
    expect(driftOnly(await run({ minLevel: 'critical' })).map((e) => e.time)).toEqual([RANGE.from + 3 * HOUR]);
    const [js] = driftOnly(await run({ metric: 'js' }));
    expect(js.tags).toContain('js');
    expect(js.text).toMatch(/^amount: js /);
    const regionOnly = await run({ features: ['region'] });
    expect(regionOnly.map((e) => e.title)).toEqual(['Schema change: region added']);
  });

  it('covers exactly the buckets the drift query rates warning or above, and lists what the quality query lists', async () => {
    const drift = await runHandler(driftQuery, store().instance, { queryType: 'drift', model: 'shop' });
    const events = await runHandler(eventsQuery, store().instance, { queryType: 'events', model: 'shop' });
    const read = readAnnotationEventsFrame(events[0]);
    for (const frame of drift) {
      const levels = column(frame, 'level') as Array<number | null>;
      const times = column(frame, 'time') as number[];
      const hot = times.filter((_, i) => (levels[i] ?? 0) >= 2);
      const covered = times.filter((t) =>
        read.some((e) => e.tags[0] === 'drift' && e.tags[2] === frame.name && e.time <= t && t < e.timeEnd)
      );
      expect(covered).toEqual(hot);
    }
    const quality = await runHandler(qualityQuery, store().instance, {
      queryType: 'quality',
      model: 'shop',
      metric: 'schema_changes',
    });
    const listed = quality.find((f: FrameLike) => f.meta?.dataTopic === 'annotations')!;
    const schema = read.filter((e) => e.tags[0] === 'schema');
    expect(schema.map((e) => `${e.time} ${e.text}`).sort()).toEqual(
      (column(listed, 'time') as number[]).map((t, i) => `${t} ${column(listed, 'text')[i]}`).sort()
    );
    expect(schema.map((e) => e.tags[1]).sort()).toEqual(['added', 'added', 'added', 'added', 'added', 'removed']);
    expect(() => validateFrame(toWireFrame(events[0]))).not.toThrow();
  });

  it('says what is wrong with a bad minimum level or an unknown feature', async () => {
    await expect(run({ minLevel: 'info' })).rejects.toThrow(/"minLevel" is "info"; use one of: warning, critical/);
    await expect(run({ features: ['salary'] })).rejects.toThrow(/salary/);
  });

  // Last: the event it records stays in the store.
  it('lists the events recorded for the model (a retraining request) as point events in their time order', async () => {
    const writer = await store().instance.store();
    const requested = {
      ts: RANGE.from + 2 * HOUR + 1234,
      kind: 'retrain_requested',
      title: 'Retraining requested',
      text: 'loan: prediction drift warning for 3 days',
      tags: ['retrain', 'warning'],
    };
    await writer.recordEvent(LOAN, requested);
    await writer.recordEvent(LOAN, { ...requested, ts: RANGE.to + HOUR, title: 'after the range' });
    const events = await run({});
    const retrain = events.filter((e) => e.tags[0] === 'retrain');
    expect(retrain).toEqual([
      { time: requested.ts, timeEnd: requested.ts, title: requested.title, text: requested.text, tags: requested.tags },
    ]);
    expect(events.map((e) => e.time)).toEqual([...events.map((e) => e.time)].sort((a, b) => a - b));
  });
}

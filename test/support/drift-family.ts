/**
 * Data and checks of the drift-family queries (drift, prediction_drift, severity, ranking), run against any store:
 * src/server/queries/drift.test.ts (embedded DuckDB/Parquet) and test/queries/drift.test.ts (ClickHouse 18.16).
 *
 * Six hourly buckets of 200 rows: the first three drawn like the reference, the last three with `amount` shifted up
 * by 30 (and the model's output with it), `region` unchanged throughout. The expected numbers are computed here from
 * the same records with the statistics core (binIndex, compareCounts, ksTwoSample, normalizedWasserstein) on the raw
 * values, independently of the SQL the handlers push down.
 */
import {
  alignCategories,
  binIndex,
  compareCounts,
  createRandom,
  DEFAULT_THRESHOLDS,
  ksTwoSample,
  normalizedWasserstein,
  prepareNumeric,
  rateDrift,
  severityLevel,
} from '../../src/core/stats';
import { readSeverityFrame, type FieldLike, type FrameLike } from '../../src/core/query/frames';
import { parseQuery, type QueryType } from '../../src/core/query/queryTypes';
import { computeBaseline } from '../../src/server/baseline/compute';
import type { DatasourceInstance } from '../../src/server/backend/instances';
import { QueryHandlerRegistry, type QueryRequest } from '../../src/server/backend/registry';
import { registerBuiltInHandlers } from '../../src/server/backend/datasource';
import type { Baseline, NumericReference, PredictionRecord } from '../../src/server/store/types';

export const NOW = Date.UTC(2026, 10, 25, 12);
export const HOUR = 3600_000;
export const RANGE = { from: NOW - 6 * HOUR, to: NOW };
export const MODEL = 'loan';
const REGIONS = ['a', 'b', 'c', 'd'];

export interface DriftFixture {
  reference: Array<{ amount: number; region: string; output: number }>;
  records: PredictionRecord[];
  baseline: Baseline;
}

/** The reference rows, the current records and the baseline computed from the reference. */
export function driftFixture(): DriftFixture {
  const random = createRandom(2026);
  const reference = Array.from({ length: 3000 }, () => {
    const amount = 100 * random();
    return { amount, region: REGIONS[Math.floor(4 * random())], output: amount / 100 + 0.1 * random() };
  });
  const records: PredictionRecord[] = Array.from({ length: 1200 }, (_, i) => {
    const hour = Math.floor(i / 200);
    const amount = 100 * random() + (hour >= 3 ? 30 : 0);
    const output = amount / 100 + 0.1 * random();
    return {
      id: `r${i}`,
      ts: RANGE.from + hour * HOUR + (i % 200) * 17_000,
      version: i % 2 === 0 ? 'v1' : 'v2',
      features: { amount: i % 50 === 7 ? null : amount, region: REGIONS[Math.floor(4 * random())] },
      prediction: output,
      score: output,
      samplingRate: 1,
    };
  });
  const baseline = computeBaseline({
    model: MODEL,
    version: 'v1',
    source: 'test',
    createdAt: NOW - 86_400_000,
    predictionColumn: 'output',
    columns: [
      { name: 'amount', kind: 'numeric', values: reference.map((r) => r.amount) },
      { name: 'region', kind: 'categorical', values: reference.map((r) => r.region) },
      { name: 'output', kind: 'numeric', values: reference.map((r) => r.output) },
    ],
  });
  return { reference, records, baseline };
}

const handlers = new QueryHandlerRegistry();
registerBuiltInHandlers(handlers);

/** Runs a query through the handlers the datasource registers (over RANGE unless another range is given). */
export async function runQuery(
  instance: DatasourceInstance,
  type: QueryType,
  raw: object = {},
  range = RANGE
): Promise<FrameLike[]> {
  const query = parseQuery({ refId: 'A', queryType: type, model: MODEL, ...raw });
  const request: QueryRequest = {
    query: query as never,
    range,
    intervalMs: HOUR,
    maxDataPoints: 1000,
    instance,
    signal: new AbortController().signal,
  };
  return handlers.get(type)!(request);
}

/** Every number of the frames (within 1e-9 relative: sums may be added in another order), and everything else. */
export function expectSameFrames(actual: FrameLike[], expected: FrameLike[]): void {
  const numbers: Array<[number, number]> = [];
  const strip = (value: unknown, other: unknown): unknown => {
    if (typeof value === 'number' && typeof other === 'number') {
      numbers.push([value, other]);
      return 0;
    }
    if (Array.isArray(value)) {
      return value.map((item, i) => strip(item, (other as unknown[] | undefined)?.[i]));
    }
    if (value && typeof value === 'object') {
      const o = (other ?? {}) as Record<string, unknown>;
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, strip(v, o[k])]));
    }
    return value;
  };
  const plain = (frames: FrameLike[]) => JSON.parse(JSON.stringify(frames));
  const [a, b] = [plain(actual), plain(expected)];
  expect(strip(a, b)).toEqual(strip(b, a));
  for (const [x, y] of numbers) {
    expect(Math.abs(x - y)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(y)));
  }
}

export const field = (frame: FrameLike, name: string): FieldLike => frame.fields.find((f) => f.name === name)!;
export const numbers = (frame: FrameLike, name: string) => field(frame, name).values as Array<number | null>;

/** Expected PSI comparison of `amount` and `region` per hour, binned in JS from the raw records. */
export function expectedByHour(fixture: DriftFixture, feature: 'amount' | 'region') {
  const reference = fixture.baseline.features[feature];
  return Array.from({ length: 6 }, (_, hour) => {
    const rows = fixture.records.filter((r) => Math.floor((r.ts - RANGE.from) / HOUR) === hour);
    const values = rows.map((r) => r.features[feature]).filter((v) => v !== null);
    if (reference.kind === 'numeric') {
      const counts = new Array(reference.edges.length + 1).fill(0);
      values.forEach((v) => (counts[binIndex(reference.edges, v as number)] += 1));
      return compareCounts('numeric', reference.counts, counts, {
        reference: reference.missing,
        current: rows.length - values.length,
      });
    }
    const current = new Map<string, number>();
    values.forEach((v) => current.set(String(v), (current.get(String(v)) ?? 0) + 1));
    const aligned = alignCategories(reference.counts, current);
    return compareCounts('categorical', aligned.reference, aligned.current, { reference: 0, current: 0 });
  });
}

/** The checks every store must pass; `instance` reads a store holding `fixture`. */
export function describeDriftFamily(
  label: string,
  state: () => { instance: DatasourceInstance; fixture: DriftFixture }
) {
  describe(`drift-family queries on ${label}`, () => {
    it('drift: PSI per feature and hour equals the core on the raw records, with floors and levels', async () => {
      const { instance, fixture } = state();
      const frames = await runQuery(instance, 'drift', { bucket: '1h' });
      expect(frames.map((f) => f.name)).toEqual(['amount', 'region']);
      for (const feature of ['amount', 'region'] as const) {
        const frame = frames.find((f) => f.name === feature)!;
        expect(frame.meta?.type).toBe('timeseries-multi');
        expect(field(frame, 'value').labels).toEqual({ model: MODEL, feature, metric: 'psi' });
        expect(field(frame, 'time').values).toEqual(Array.from({ length: 6 }, (_, h) => RANGE.from + h * HOUR));
        const expected = expectedByHour(fixture, feature);
        numbers(frame, 'value').forEach((v, h) => expect(v).toBeCloseTo(expected[h].metrics.psi, 12));
        numbers(frame, 'noise_floor').forEach((v, h) => expect(v).toBeCloseTo(expected[h].noiseFloor.psi, 12));
        expect(numbers(frame, 'count')).toEqual(expected.map((e) => e.current.count));
        expect(numbers(frame, 'level')).toEqual(
          expected.map((e) => ({ ok: 0, info: 1, warning: 2, critical: 3 })[e.severity as 'ok'] ?? null)
        );
      }
      const amountLevels = numbers(frames[0], 'level');
      expect(amountLevels.slice(3)).toEqual([3, 3, 3]);
      expect(amountLevels.slice(0, 3).every((level) => level! <= 1)).toBe(true);
      expect(numbers(frames[1], 'level').every((level) => level! <= 1)).toBe(true);
      expect(field(frames[0], 'value').config.thresholds?.steps.map((s) => s.value)).toEqual([null, 0.1, 0.2]);
    });

    it('drift: JS, Hellinger and L∞ are rated on their own thresholds and floors', async () => {
      const { instance } = state();
      for (const [metric, key] of [
        ['js', 'jsDistance'],
        ['hellinger', 'hellinger'],
        ['linf', 'lInf'],
      ] as const) {
        const [amount] = await runQuery(instance, 'drift', { bucket: '1h', features: ['amount'], metric });
        const floors = numbers(amount, 'noise_floor');
        const expected = numbers(amount, 'value').map((value, h) =>
          severityLevel(rateDrift(value!, floors[h]!, DEFAULT_THRESHOLDS[key]))
        );
        expect(numbers(amount, 'level')).toEqual(expected);
        expect(field(amount, 'value').config.thresholds?.steps.map((s) => s.value)).toEqual([
          null,
          DEFAULT_THRESHOLDS[key].warning,
          DEFAULT_THRESHOLDS[key].critical,
        ]);
      }
    });

    it('drift: persistence rates a level only once it held for N consecutive buckets', async () => {
      const { instance } = state();
      const [amount] = await runQuery(instance, 'drift', { bucket: '1h', features: ['amount'], persistence: 2 });
      expect(numbers(amount, 'level').slice(3)).toEqual([expect.any(Number), 3, 3]);
      expect(numbers(amount, 'level')[3]!).toBeLessThanOrEqual(1);
      expect((amount.meta?.custom as { persistence: number }).persistence).toBe(2);
    });

    it('drift: alertOn level puts the persisted level first, the number field an alert rule evaluates', async () => {
      const { instance } = state();
      const query = { bucket: '1h', features: ['amount'], persistence: 2 };
      const [byValue] = await runQuery(instance, 'drift', query);
      const [byLevel] = await runQuery(instance, 'drift', { ...query, alertOn: 'level' });
      const numberFields = (frame: FrameLike) => frame.fields.filter((f) => f.type === 'number').map((f) => f.name);
      expect(numberFields(byValue)).toEqual(['value', 'noise_floor', 'level', 'count']);
      expect(numberFields(byLevel)).toEqual(['level', 'value', 'noise_floor', 'count']);
      expect(numbers(byLevel, 'level')).toEqual(numbers(byValue, 'level'));
      expect(field(byLevel, 'level').config.thresholds?.steps.map((s) => s.value)).toEqual([null, 2, 3]);
      await expect(runQuery(instance, 'drift', { ...query, alertOn: 'p-value' })).rejects.toThrow(/alertOn/);
    });

    it('drift: KS and Wasserstein against the sketch grid stay within their stated bound of the exact values', async () => {
      const { instance, fixture } = state();
      const reference = prepareNumeric(fixture.reference.map((r) => r.amount));
      for (const metric of ['ks', 'wasserstein'] as const) {
        const [amount] = await runQuery(instance, 'drift', { bucket: '1h', features: ['amount'], metric });
        const meta = amount.meta?.custom as { approximate: boolean; maxError: number };
        expect(meta.approximate).toBe(true);
        expect(meta.maxError).toBeGreaterThan(0);
        expect(meta.maxError).toBeLessThan(metric === 'ks' ? 0.01 : 0.05);
        numbers(amount, 'value').forEach((value, hour) => {
          const rows = fixture.records.filter((r) => Math.floor((r.ts - RANGE.from) / HOUR) === hour);
          const current = prepareNumeric(rows.map((r) => r.features.amount as number | null));
          const exact =
            metric === 'ks'
              ? ksTwoSample(reference.sorted, current.sorted).statistic
              : normalizedWasserstein(reference.sorted, current.sorted);
          expect(Math.abs(value! - exact)).toBeLessThanOrEqual(meta.maxError);
        });
        expect(numbers(amount, 'level').slice(3)).toEqual([3, 3, 3]);
      }
      const [region] = await runQuery(instance, 'drift', { features: ['region'], metric: 'ks' });
      expect(field(region, 'value').labels?.metric).toBe('psi');
    });

    it('drift: version, segment and sample fraction narrow the window; bad names are refused', async () => {
      const { instance, fixture } = state();
      const [v2] = await runQuery(instance, 'drift', { bucket: '6h', features: ['region'], version: 'v2' });
      expect(numbers(v2, 'count')).toEqual([600]);
      const [segment] = await runQuery(instance, 'drift', {
        bucket: '6h',
        features: ['region'],
        segment: [{ column: 'region', operator: '=', value: "a' OR 1=1 --" }],
      });
      expect(numbers(segment, 'count')).toEqual([0]);
      expect(numbers(segment, 'level')).toEqual([null]);
      const [sampled] = await runQuery(instance, 'drift', { bucket: '6h', features: ['region'], sampleFraction: 0.5 });
      const kept = numbers(sampled, 'count')[0]!;
      expect(kept).toBeGreaterThan(480);
      expect(kept).toBeLessThan(720);
      expect(sampled.meta?.notices?.[0].text).toMatch(/50% sample/);
      expect((sampled.meta?.custom as { sampled: boolean }).sampled).toBe(true);
      await expect(runQuery(instance, 'drift', { features: ['salary'] })).rejects.toThrow(/feature\(s\) salary/);
      await expect(
        runQuery(instance, 'drift', { segment: [{ column: 'x; DROP TABLE t', operator: '=', value: 1 }] })
      ).rejects.toThrow(/Invalid feature name "x; DROP TABLE t"/);
      expect(fixture.records.length).toBe(1200);
    });

    it('prediction_drift: the output drifts with amount', async () => {
      const { instance, fixture } = state();
      const [frame] = await runQuery(instance, 'prediction_drift', { bucket: '1h' });
      expect(frame.name).toBe('prediction');
      expect(field(frame, 'value').labels).toEqual({ model: MODEL, feature: 'prediction', metric: 'psi' });
      const reference = fixture.baseline.prediction as NumericReference;
      const hour4 = fixture.records.filter((r) => Math.floor((r.ts - RANGE.from) / HOUR) === 4);
      const counts = new Array(reference.edges.length + 1).fill(0);
      hour4.forEach((r) => (counts[binIndex(reference.edges, r.prediction as number)] += 1));
      expect(numbers(frame, 'value')[4]).toBeCloseTo(
        compareCounts('numeric', reference.counts, counts).metrics.psi,
        12
      );
      expect(numbers(frame, 'level').slice(3)).toEqual([3, 3, 3]);
    });

    it('severity: features × buckets with the levels and values of drift', async () => {
      const { instance } = state();
      const [frame] = await runQuery(instance, 'severity', { bucket: '1h' });
      const grid = readSeverityFrame(frame);
      expect(grid.meta).toMatchObject({
        model: MODEL,
        metric: 'psi',
        bucketMs: HOUR,
        thresholds: { warning: 0.1, critical: 0.2 },
      });
      expect(grid.cells).toHaveLength(12);
      const times = grid.cells.map((c) => c.time);
      expect(times).toEqual([...times].sort((a, b) => a - b));
      expect(grid.cells.slice(0, 2).map((c) => c.feature)).toEqual(['amount', 'region']);
      const drift = await runQuery(instance, 'drift', { bucket: '1h' });
      for (const feature of ['amount', 'region']) {
        const cells = grid.cells.filter((c) => c.feature === feature);
        const series = drift.find((f) => f.name === feature)!;
        expect(cells.map((c) => c.level)).toEqual(numbers(series, 'level'));
        expect(cells.map((c) => c.value)).toEqual(numbers(series, 'value'));
        expect(cells.map((c) => c.count)).toEqual(numbers(series, 'count'));
      }
    });

    it('ranking: amount first, with nearly all of the output shift', async () => {
      const { instance } = state();
      const [frame] = await runQuery(instance, 'ranking');
      expect(frame.meta?.type).toBe('numeric-long');
      expect(field(frame, 'feature').values).toEqual(['amount', 'region']);
      const [amountShare, regionShare] = numbers(frame, 'share');
      expect(amountShare! + regionShare!).toBeCloseTo(1, 12);
      expect(amountShare!).toBeGreaterThan(0.9);
      expect(numbers(frame, 'level')[0]).toBe(3);
      const [value] = numbers(frame, 'value');
      expect(value!).toBeGreaterThan(numbers(frame, 'value')[1]!);
    });
  });
}

import {
  bucketSizeMs,
  bucketStarts,
  coveredSeconds,
  effectiveSampleFraction,
  sampleNotices,
  windowWhere,
} from './window';

const DAY = { from: Date.UTC(2026, 10, 24), to: Date.UTC(2026, 10, 25) };

describe('bucket size', () => {
  it("takes the query's bucket, else Grafana's interval, widened to the point budget and whole seconds", () => {
    expect(bucketSizeMs('5m', 1000, 1000, DAY)).toBe(300_000);
    expect(bucketSizeMs(undefined, 60_000, 2000, DAY)).toBe(60_000);
    // 86 400 s in at most 1000 points: 86.4 s, rounded up to 87 s
    expect(bucketSizeMs(undefined, 60_000, 1000, DAY)).toBe(87_000);
    // 86 400 s in at most 100 points: 864 s
    expect(bucketSizeMs('1m', 60_000, 100, DAY)).toBe(864_000);
    expect(bucketSizeMs(undefined, 1500, 0, DAY)).toBe(2000);
    expect(bucketSizeMs(undefined, 0, 0, DAY)).toBe(1000);
  });

  it('refuses a template variable Grafana did not replace, and a bucket that is not a duration', () => {
    expect(() => bucketSizeMs('$bucket', 0, 0, DAY)).toThrow(/template variable Grafana did not replace/);
    expect(() => bucketSizeMs('soon', 0, 0, DAY)).toThrow(/is not a duration/);
  });
});

describe('buckets of a range', () => {
  it('lists epoch-aligned starts overlapping the range and the seconds each covers', () => {
    const range = { from: DAY.from + 1_800_000, to: DAY.from + 3 * 3_600_000 + 60_000 };
    const starts = bucketStarts(range, 3_600_000);
    expect(starts).toEqual([0, 1, 2, 3].map((h) => DAY.from + h * 3_600_000));
    expect(starts.map((s) => coveredSeconds(s, 3_600_000, range))).toEqual([1800, 3600, 3600, 60]);
  });
});

describe('row sample', () => {
  it('keeps a deterministic hash sample, bound as a parameter, and says so', () => {
    expect(windowWhere('duckdb', { model: 'm' }, 1000)).toEqual({ sql: '', params: { bucket_ms: 1000 } });
    const sampled = windowWhere('clickhouse', { model: 'm', version: 'v1', sampleFraction: 0.25 }, 1000);
    expect(sampled.sql).toBe('WHERE `version` = {version} AND cityHash64(id) % 1000000 < {sample_cut}');
    expect(sampled.params).toEqual({ version: 'v1', bucket_ms: 1000, sample_cut: 250_000 });
    expect(windowWhere('duckdb', { model: 'm', sampleFraction: 0.5 }, 1000).sql).toBe(
      'WHERE hash(id) % 1000000 < {sample_cut}'
    );
    expect(effectiveSampleFraction(1e-9)).toBe(1e-6);
    expect(sampleNotices(undefined)).toEqual([]);
    expect(sampleNotices(0.125)[0].text).toBe(
      'Computed from a 12.5% sample of the rows (kept by a hash of the request id).'
    );
  });
});

import {
  bucketOf,
  bucketStarts,
  coveredSeconds,
  effectiveSampleFraction,
  epochGrid,
  sampleNotices,
  wholeRangeGrid,
  windowWhere,
} from './window';

const DAY = { from: Date.UTC(2026, 10, 24), to: Date.UTC(2026, 10, 25) };

describe('buckets of a range', () => {
  it('lists epoch-aligned starts overlapping the range and the seconds each covers', () => {
    const range = { from: DAY.from + 1_800_000, to: DAY.from + 3 * 3_600_000 + 60_000 };
    const hourly = epochGrid(3_600_000);
    const starts = bucketStarts(range, hourly);
    expect(starts).toEqual([0, 1, 2, 3].map((h) => DAY.from + h * 3_600_000));
    expect(starts.map((s) => coveredSeconds(s, hourly, range))).toEqual([1800, 3600, 3600, 60]);
  });

  it('puts the whole range in one bucket at its start, and shifts a grid to its origin', () => {
    const range = { from: DAY.from + 1234, to: DAY.to - 5 };
    const whole = wholeRangeGrid(range);
    expect(bucketStarts(range, whole)).toEqual([range.from]);
    expect(bucketOf(whole, range.to - 1)).toBe(range.from);
    expect(coveredSeconds(range.from, whole, range)).toBe((range.to - range.from) / 1000);
    const endAligned = { sizeMs: 3_600_000, originMs: DAY.to - 10_000 - 24 * 3_600_000 };
    expect(bucketOf(endAligned, DAY.from + 5)).toBe(DAY.from - 10_000);
    expect(bucketStarts({ from: DAY.from, to: DAY.to - 10_000 }, endAligned)).toHaveLength(24);
  });
});

describe('row sample', () => {
  it('keeps a deterministic hash sample, bound as a parameter, and says so', () => {
    expect(windowWhere('duckdb', { model: 'm' }, epochGrid(1000))).toEqual({
      sql: '',
      params: { bucket_ms: 1000, bucket_origin: 0 },
      bucket: '(ts - (ts - {bucket_origin}) % {bucket_ms})',
    });
    const sampled = windowWhere('clickhouse', { model: 'm', version: 'v1', sampleFraction: 0.25 }, epochGrid(1000));
    expect(sampled.sql).toBe('WHERE `version` = {version} AND cityHash64(id) % 1000000 < {sample_cut}');
    expect(sampled.params).toEqual({ version: 'v1', bucket_ms: 1000, bucket_origin: 0, sample_cut: 250_000 });
    expect(windowWhere('duckdb', { model: 'm', sampleFraction: 0.5 }, epochGrid(1000)).sql).toBe(
      'WHERE hash(id) % 1000000 < {sample_cut}'
    );
    expect(effectiveSampleFraction(1e-9)).toBe(1e-6);
    expect(sampleNotices(undefined)).toEqual([]);
    expect(sampleNotices(0.125)[0].text).toBe(
      'Computed from a 12.5% sample of the rows (kept by a hash of the request id).'
    );
  });
});

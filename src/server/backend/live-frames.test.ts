/**
 * A live channel's frame: a query's frames joined into one, and its newest buckets replaced by a fresh computation.
 */
import type { Frame } from '../grafana/frames';
import { combineFrames, frameBucketMs, mergeTail } from './live-frames';

const MIN = 60_000;

/** A per-feature series frame as the drift and quality handlers make them. */
function series(feature: string, times: number[], values: number[], bucketMs = MIN): Frame {
  const labels = { model: 'm', feature };
  return {
    name: feature,
    meta: { type: 'timeseries-multi', typeVersion: [0, 1], custom: { bucketMs } },
    fields: [
      { name: 'time', type: 'time', values: times },
      { name: 'value', type: 'number', nullable: true, labels, values },
      { name: 'count', type: 'number', nullable: true, labels, values: values.map(() => 10) },
    ],
  };
}

describe('combineFrames', () => {
  it('keeps a single frame, and joins per-feature frames into one wide frame on their shared times', () => {
    const one = series('age', [0, MIN], [1, 2]);
    expect(combineFrames([one])).toBe(one);
    const wide = combineFrames([one, series('plan', [0, MIN], [3, 4])]);
    expect(wide.meta?.type).toBe('timeseries-wide');
    expect(wide.fields.map((f) => `${f.name}:${f.labels?.feature ?? ''}`)).toEqual([
      'time:',
      'value:age',
      'count:age',
      'value:plan',
      'count:plan',
    ]);
    expect(frameBucketMs(wide)).toBe(MIN);
  });

  it('ignores "no data" frames beside real ones, and refuses frames on different buckets', () => {
    const empty: Frame = { name: 'none', meta: { notices: [{ severity: 'info', text: 'no data' }] }, fields: [] };
    const one = series('age', [0], [1]);
    expect(combineFrames([empty, one])).toBe(one);
    expect(combineFrames([empty])).toBe(empty);
    expect(() => combineFrames([one, series('plan', [MIN], [1])])).toThrow(/different time buckets/);
  });
});

describe('mergeTail', () => {
  const window = series('age', [0, MIN, 2 * MIN, 3 * MIN], [1, 2, 3, 4]);

  it('replaces the buckets from tailFrom on, appends new ones and drops those that left the window', () => {
    // The tail was computed from 1 min (a persistence look-back bucket) to now, in the bucket starting at 4 min.
    const tail = series('age', [MIN, 2 * MIN, 3 * MIN, 4 * MIN], [20, 30, 40, 50]);
    const merged = mergeTail(window, tail, 2 * MIN, MIN + 1, MIN)!;
    expect(merged.fields[0].values).toEqual([MIN, 2 * MIN, 3 * MIN, 4 * MIN]);
    expect(merged.fields[1].values).toEqual([2, 30, 40, 50]);
    expect(merged.fields[2].values).toEqual([10, 10, 10, 10]);
    expect(merged.meta).toBe(window.meta);
  });

  it('matches fields by name and labels, whatever their order, and gives up when the series changed', () => {
    const tail = series('age', [3 * MIN], [9]);
    tail.fields = [tail.fields[0], tail.fields[2], tail.fields[1]];
    expect(mergeTail(window, tail, 3 * MIN, 0, MIN)!.fields[1].values).toEqual([1, 2, 3, 9]);
    expect(mergeTail(window, series('plan', [3 * MIN], [9]), 3 * MIN, 0, MIN)).toBeUndefined();
  });
});

import { severityFrame, type FrameLike } from '../../core/query/frames';
import { parseQuery } from '../../core/query/queryTypes';
import { alertFrames, isAlertRequest } from './alert-frames';

/** The label set of every number an alert rule's Reduce (last) sees in multi frames: the first number field's. */
const alertLabels = (frames: FrameLike[]) =>
  frames.map((frame) => {
    const value = frame.fields.find((field) => field.type === 'number')!;
    return { labels: value.labels, last: value.values[value.values.length - 1], type: frame.meta?.type };
  });

describe('alert evaluations', () => {
  it('are recognised by the FromAlert header, in any case, with or without the http_ prefix', () => {
    expect(isAlertRequest({ FromAlert: 'true' })).toBe(true);
    expect(isAlertRequest({ Fromalert: 'true' })).toBe(true);
    expect(isAlertRequest({ http_FromAlert: 'TRUE' })).toBe(true);
    expect(isAlertRequest({ FromAlert: 'false' })).toBe(false);
    expect(isAlertRequest({ 'X-Rule-Uid': 'abc' })).toBe(false);
  });

  it('get one series per feature of a severity frame, its level first, labelled model/feature/metric/segment', () => {
    const query = parseQuery({
      refId: 'A',
      queryType: 'severity',
      model: 'm',
      metric: 'ks',
      segment: [{ column: 'region', operator: '=', value: 'north' }],
    });
    const frame = severityFrame(
      {
        meta: { model: 'm', metric: 'ks', bucketMs: 3_600_000, thresholds: { warning: 0.1, critical: 0.2 } },
        cells: [0, 1].flatMap((t) =>
          ['age', 'income'].map((feature, i) => ({
            feature,
            time: t * 3_600_000,
            level: (t + i) as 0 | 1 | 2,
            value: 0.1 * (t + i),
            noiseFloor: 0.05,
            count: 100,
          }))
        ),
      },
      'A'
    );
    expect(alertLabels(alertFrames([frame], query))).toEqual([
      {
        labels: { model: 'm', metric: 'ks', segment: 'region = north', feature: 'age' },
        last: 1,
        type: 'timeseries-multi',
      },
      {
        labels: { model: 'm', metric: 'ks', segment: 'region = north', feature: 'income' },
        last: 2,
        type: 'timeseries-multi',
      },
    ]);
  });

  it('get one number per row of a numeric table, the query type’s alert value first', () => {
    const models: FrameLike = {
      name: 'models',
      length: 2,
      fields: [
        { name: 'name', type: 'string', values: ['a', 'b'], config: {} },
        { name: 'versions', type: 'string', values: ['v1', 'v1,v2'], config: {} },
        { name: 'features', type: 'number', values: [3, 4], config: {} },
        { name: 'predictions', type: 'number', values: [10, 20], config: {} },
        { name: 'level', type: 'string', values: ['ok', 'critical'], config: {} },
      ],
    };
    expect(alertLabels(alertFrames([models], parseQuery({ refId: 'M', queryType: 'models' })))).toEqual([
      { labels: { metric: 'predictions', model: 'a' }, last: 10, type: 'numeric-multi' },
      { labels: { metric: 'predictions', model: 'b' }, last: 20, type: 'numeric-multi' },
    ]);
  });
});

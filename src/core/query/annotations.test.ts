import { annotationEventsFrame, FrameContractError, isAnnotationFrame, readAnnotationEventsFrame } from './frames';
import { defaultQuery, parseQuery, QueryError } from './queryTypes';

describe('annotation event frames', () => {
  const events = [
    {
      time: 1000,
      timeEnd: 4000,
      title: 'Drift critical: amount',
      text: 'amount: psi 0.3',
      tags: ['drift', 'critical'],
    },
    { time: 2000, timeEnd: 2000, title: 'Schema change: age added', text: 'age added (numeric)', tags: [] },
  ];

  it("builds Grafana's annotation event fields and reads them back", () => {
    const frame = annotationEventsFrame('events', events, 'A', { model: 'loan' });
    expect(frame.meta).toEqual({ dataTopic: 'annotations', custom: { model: 'loan' } });
    expect(frame.fields.map((f) => `${f.name}:${f.type}`)).toEqual([
      'time:time',
      'timeEnd:time',
      'title:string',
      'text:string',
      'tags:string',
    ]);
    expect(frame.fields[4].values).toEqual(['drift,critical', '']);
    expect(isAnnotationFrame(frame)).toBe(true);
    expect(readAnnotationEventsFrame(frame)).toEqual(events);
  });

  it('reads an event frame that has only time and text (the quality query’s schema changes)', () => {
    const frame = {
      length: 1,
      meta: { dataTopic: 'annotations' as const },
      fields: [
        { name: 'time', type: 'time' as const, values: [5], config: {} },
        { name: 'text', type: 'string' as const, values: ['age removed (numeric)'], config: {} },
      ],
    };
    expect(readAnnotationEventsFrame(frame)).toEqual([
      { time: 5, timeEnd: 5, title: '', text: 'age removed (numeric)', tags: [] },
    ]);
  });

  it('refuses data frames and tags holding commas', () => {
    const data = { name: 'amount', length: 0, meta: { type: 'timeseries-multi' }, fields: [] };
    expect(isAnnotationFrame(data)).toBe(false);
    expect(() => readAnnotationEventsFrame(data)).toThrow(/"amount" is not an annotations frame/);
    expect(() => annotationEventsFrame('events', [{ ...events[0], tags: ['a,b'] }])).toThrow(FrameContractError);
  });

  it('parses events queries with a minimum level and drift options', () => {
    expect(defaultQuery('events', { model: 'loan' })).toEqual({
      refId: 'A',
      queryType: 'events',
      model: 'loan',
      metric: 'psi',
      persistence: 1,
    });
    expect(
      parseQuery({ refId: 'A', queryType: 'events', model: 'loan', minLevel: 'critical', features: ['amount'] })
    ).toEqual({
      refId: 'A',
      queryType: 'events',
      model: 'loan',
      metric: 'psi',
      persistence: 1,
      minLevel: 'critical',
      features: ['amount'],
    });
    expect(() => parseQuery({ queryType: 'events', model: 'loan', minLevel: 'ok' })).toThrow(QueryError);
    expect(() => parseQuery({ queryType: 'events' })).toThrow(/needs a model/);
  });
});

import { createDataFrame, FieldType, type AnnotationQuery, type DataFrame } from '@grafana/data';
import { firstValueFrom } from 'rxjs';
import { annotationEventsFrame } from '../core/query';
import { annotationEvents, annotationSupport, prepareAnnotation } from './annotations';
import type { MonitorDataQuery } from './types';

const annotation = (target?: object) =>
  ({ name: 'Drift', enable: true, iconColor: 'red', target }) as unknown as AnnotationQuery<MonitorDataQuery>;

describe('annotation support', () => {
  it('defaults a new annotation to an events query of $model', () => {
    expect(annotationSupport.getDefaultQuery?.()).toEqual({
      queryType: 'events',
      model: '$model',
      metric: 'psi',
      persistence: 1,
    });
    expect(prepareAnnotation(annotation()).target).toEqual({
      queryType: 'events',
      model: '$model',
      metric: 'psi',
      persistence: 1,
    });
  });

  it('keeps the model of a target without a query type, and leaves typed targets alone', () => {
    expect(prepareAnnotation(annotation({ refId: 'Anno', model: 'loan' })).target).toEqual({
      refId: 'Anno',
      queryType: 'events',
      model: 'loan',
      metric: 'psi',
      persistence: 1,
    });
    const quality = annotation({ refId: 'A', queryType: 'quality', model: 'loan', metric: 'schema_changes' });
    expect(prepareAnnotation(quality)).toBe(quality);
  });

  it('turns only annotation frames into events, with regions where an event lasts', async () => {
    const events = annotationEventsFrame('events', [
      {
        time: 1000,
        timeEnd: 4000,
        title: 'Drift critical: amount',
        text: 'amount: psi 0.3',
        tags: ['drift', 'critical'],
      },
      { time: 2000, timeEnd: 2000, title: 'Schema change: age added', text: 'age added (numeric)', tags: ['schema'] },
    ]) as unknown as DataFrame;
    const counts = createDataFrame({
      name: 'age',
      fields: [
        { name: 'time', type: FieldType.time, values: [1000, 2000] },
        { name: 'value', type: FieldType.number, values: [1, 0] },
      ],
    });
    const expected = [
      {
        time: 1000,
        timeEnd: 4000,
        isRegion: true,
        title: 'Drift critical: amount',
        text: 'amount: psi 0.3',
        tags: ['drift', 'critical'],
      },
      {
        time: 2000,
        timeEnd: 2000,
        isRegion: false,
        title: 'Schema change: age added',
        text: 'age added (numeric)',
        tags: ['schema'],
      },
    ];
    expect(annotationEvents([counts, events])).toEqual(expected);
    expect(annotationEvents([counts])).toEqual([]);
    await expect(firstValueFrom(annotationSupport.processEvents!(annotation(), [counts, events]))).resolves.toEqual(
      expected
    );
  });
});

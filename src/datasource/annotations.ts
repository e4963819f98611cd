import type { AnnotationEvent, AnnotationQuery, AnnotationSupport, DataFrame } from '@grafana/data';
import { of } from 'rxjs';
import { defaultQuery, isAnnotationFrame, readAnnotationEventsFrame, type FrameLike } from '../core/query';
import type { MonitorDataQuery } from './types';

/** The query a new annotation starts from: drift episodes and schema changes of the dashboard's `$model`. */
export function defaultAnnotationQuery(): Partial<MonitorDataQuery> {
  const { refId: _refId, ...query } = defaultQuery('events', { model: '$model' });
  return query;
}

/**
 * A stored annotation with a query the backend can run: a target without a query type (an annotation saved before
 * it chose one, or an empty one) becomes an `events` query, keeping the model it names.
 */
export function prepareAnnotation(json: AnnotationQuery<MonitorDataQuery>): AnnotationQuery<MonitorDataQuery> {
  const target = json.target as Partial<MonitorDataQuery> | undefined;
  if (target?.queryType) {
    return json;
  }
  return { ...json, target: { ...defaultAnnotationQuery(), ...target, queryType: 'events' } as MonitorDataQuery };
}

/**
 * The events of a query's frames: only frames whose data topic is `annotations` (drift episodes, schema changes);
 * data frames of the same query (e.g. the counts of a quality query) are not events. A row whose end is after its
 * start is a region.
 */
export function annotationEvents(frames: DataFrame[]): AnnotationEvent[] {
  return (frames as unknown as FrameLike[]).filter(isAnnotationFrame).flatMap((frame) =>
    readAnnotationEventsFrame(frame).map((event) => ({
      time: event.time,
      timeEnd: event.timeEnd,
      isRegion: event.timeEnd > event.time,
      title: event.title,
      text: event.text,
      tags: event.tags,
    }))
  );
}

/** Annotation support of the datasource: `events` queries by default, events only from annotation frames. */
export const annotationSupport: AnnotationSupport<MonitorDataQuery> = {
  getDefaultQuery: defaultAnnotationQuery,
  prepareAnnotation,
  processEvents: (_annotation, frames) => of(annotationEvents(frames)),
};

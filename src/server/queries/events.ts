/**
 * `events`: what happened to a model, as Grafana annotation events in one frame (`meta.dataTopic: 'annotations'`):
 * - drift episodes: per feature, each run of consecutive buckets whose drift level (after persistence, exactly as
 *   the `drift` query rates it: evaluateDrift in drift.ts) is at least the query's minimum level (default warning).
 *   The event starts at the bucket where the level rises and ends where it falls back below (or at the end of the
 *   last bucket when it is still on, tagged `ongoing`); its text names the feature, metric, the peak value and the
 *   noise floor in that bucket;
 * - schema changes from the store's schema log (as the `quality` query lists them), as point events;
 * - events tools recorded for the model (store `getEvents`: `mlmon retrain-hook`'s "Retraining requested"), as
 *   point events with their own title, text and tags — among them the collector's "alias moved" records
 *   (registry/events.ts). The feature filter applies to drift and schema changes only;
 * - with a model registry in the settings, the model's versions registered in the range (registry/events.ts). A
 *   registry that cannot be read leaves the other events, with a warning notice saying why.
 */
import {
  annotationEventsFrame,
  severityLevel,
  severityName,
  type AnnotationEventRow,
  type FrameLike,
  type SeverityLevel,
  withNotices,
} from '../../core/query/frames';
import type { ModelEvent, SchemaChange } from '../store/types';
import type { QueryRequest } from '../backend/registry';
import { evaluateDrift, evaluationMeta, type DriftSeries } from './drift';
import { describeSchemaChange, schemaChangesIn } from './quality';
import { featureTargets } from '../counting/targets';
import { registeredVersionEvents } from '../registry/events';

/** A run of consecutive points: indexes `start` (inclusive) to `end` (exclusive). */
export interface Episode {
  start: number;
  end: number;
}

/**
 * The runs of consecutive levels at or above `minLevel`. A null level (insufficient data) is below every level, so
 * it ends an episode.
 */
export function episodes(levels: SeverityLevel[], minLevel: number): Episode[] {
  const runs: Episode[] = [];
  levels.forEach((level, i) => {
    const on = level !== null && level >= minLevel;
    const last = runs[runs.length - 1];
    if (on && last && last.end === i) {
      last.end = i + 1;
    } else if (on) {
      runs.push({ start: i, end: i + 1 });
    }
  });
  return runs;
}

/** Up to four significant digits, without trailing zeros. */
const formatNumber = (value: number | null) => (value === null ? 'n/a' : String(Number(value.toPrecision(4))));

/**
 * The events of one drift series: one per episode, rated by its peak (highest level, then highest value) point.
 * `rangeEnd` caps the end of an episode still on in the last bucket.
 */
export function driftEvents(
  series: DriftSeries,
  minLevel: number,
  bucketMs: number,
  rangeEnd: number
): AnnotationEventRow[] {
  const { points } = series;
  const feature = series.target.name;
  return episodes(
    points.map((p) => p.level),
    minLevel
  ).map(({ start, end }) => {
    const peak = points
      .slice(start, end)
      .reduce((best, p) =>
        (p.level ?? 0) > (best.level ?? 0) || (p.level === best.level && (p.value ?? 0) > (best.value ?? 0)) ? p : best
      );
    const ongoing = end === points.length;
    const level = severityName(peak.level);
    const buckets = end - start;
    return {
      time: points[start].time,
      timeEnd: ongoing ? Math.min(points[end - 1].time + bucketMs, rangeEnd) : points[end].time,
      title: `Drift ${level}: ${feature}`,
      text:
        `${feature}: ${series.metric} ${formatNumber(peak.value)} at its peak, noise floor ` +
        `${formatNumber(peak.noiseFloor)}; ${level} for ${buckets} bucket${buckets === 1 ? '' : 's'}` +
        (ongoing ? ', still on' : ''),
      tags: ['drift', level, feature, series.metric, ...(ongoing ? ['ongoing'] : [])],
    };
  });
}

/** The point event of one schema change. */
export function schemaChangeEvent(change: SchemaChange): AnnotationEventRow {
  return {
    time: change.ts,
    timeEnd: change.ts,
    title: `Schema change: ${change.feature} ${change.change}`,
    text: describeSchemaChange(change),
    tags: ['schema', change.change, change.feature],
  };
}

/** The point event of a recorded model event. */
export function modelEventRow(event: ModelEvent): AnnotationEventRow {
  return { time: event.ts, timeEnd: event.ts, title: event.title, text: event.text, tags: event.tags };
}

export async function eventsQuery(request: QueryRequest<'events'>): Promise<FrameLike[]> {
  const { query, range, instance } = request;
  const metric = query.metric ?? 'psi';
  const minLevelName = query.minLevel ?? 'warning';
  const minLevel = severityLevel(minLevelName)!;
  const evaluation = await evaluateDrift(
    request as QueryRequest,
    query,
    metric,
    (store, baseline) => featureTargets(store, query.model, baseline, query.features),
    { bucket: query.bucket }
  );
  const { grid, range: read } = evaluation.plan;
  const store = await instance.store();
  const changes = await schemaChangesIn(store, query.model, range, query.features && new Set(query.features));
  const recorded = await store.getEvents(query.model, range);
  const registry = await registryEvents(request);
  const events = [
    ...registry.events,
    ...evaluation.series.flatMap((series) =>
      driftEvents(series, minLevel, grid.sizeMs || read.to - read.from, read.to)
    ),
    ...changes.map(schemaChangeEvent),
    ...recorded.map(modelEventRow),
  ].sort((a, b) => a.time - b.time || a.title.localeCompare(b.title));
  const custom = { model: query.model, metric, minLevel: minLevelName };
  const frame = annotationEventsFrame('events', events, query.refId, {
    ...custom,
    ...evaluationMeta(evaluation, query.persistence ?? 1),
  });
  return [registry.problem ? withNotices(frame, [{ severity: 'warning', text: registry.problem }]) : frame];
}

/** The registry's "version registered" events of the query's model and range, or why they are missing. */
async function registryEvents(
  request: QueryRequest<'events'>
): Promise<{ events: AnnotationEventRow[]; problem?: string }> {
  const { instance, query, range, signal } = request;
  if (!instance.registry) {
    return { events: [] };
  }
  try {
    return { events: await registeredVersionEvents(instance.registry, query.model, range, signal) };
  } catch (error) {
    return { events: [], problem: `registry events missing: ${(error as Error).message}` };
  }
}

/**
 * The frames of an alert rule's query (Grafana's `FromAlert` header): every number a query type returns becomes a
 * series or number of its own whose labels identify it, so that a rule's Reduce (last) leaves exactly one number per
 * label set — Grafana refuses an evaluation where two share their labels ("frame cannot uniquely be identified by its
 * labels", pkg/services/ngalert/eval) — and the labels are the ones rules route and template on:
 *
 * - `model`, `feature` (features, or `prediction`), `metric`, and `version` / `segment` when the query asks for them;
 *   plus `bin` for distribution, and for the metadata tables the row's `version`;
 * - `timeseries-multi` frames (drift, prediction_drift, quality, performance, operational) keep their shape: the first
 *   number field is what Reduce reads (the data-plane contract's remainder rule);
 * - `timeseries-long` (severity) becomes one `timeseries-multi` frame per feature, its level first;
 * - `numeric-long` frames (ranking, distribution) and the metadata tables become `numeric-multi`: one frame per row,
 *   the query type's alert value first (ALERT_VALUE_FIELDS; else the first number), the other numbers as remainder.
 *
 * Dashboards never see these shapes: the conversion runs only for alert evaluations.
 */
import { DATAPLANE_TYPE_VERSION, FIELDS, FRAME_TYPES, type FieldLike, type FrameLike } from '../../core/query/frames';
import type { MonitorQuery, QueryType, SegmentCondition } from '../../core/query/queryTypes';

/** The data-plane type of one number per frame. */
const NUMERIC_MULTI = 'numeric-multi';

/** The number an alert reads where it is not the first number field of the frame. */
const ALERT_VALUE_FIELDS: Partial<Record<QueryType, string>> = {
  distribution: FIELDS.current,
  models: 'predictions',
};

/**
 * The string columns that identify a row of a table, with their label names (the other string columns of a table,
 * such as a model's level, describe the row and would change its identity); frames of the other types are identified
 * by all their string columns, under their own names.
 */
const TABLE_DIMENSIONS: Partial<Record<QueryType, Record<string, string>>> = {
  models: { [FIELDS.name]: 'model' },
  versions: { [FIELDS.version]: 'version' },
};

/** Whether a request comes from an alert evaluation: header `FromAlert: true`, in any case, `http_`-prefixed or not. */
export function isAlertRequest(headers: Record<string, string>): boolean {
  return Object.entries(headers).some(
    ([key, value]) => key.toLowerCase().replace(/^http_/, '') === 'fromalert' && value.toLowerCase() === 'true'
  );
}

/** A segment filter as one label value: `region = north AND age >= 30`. */
export function segmentLabel(segment: readonly SegmentCondition[]): string {
  return segment.map((c) => `${c.column} ${c.operator} ${String(c.value)}`).join(' AND ');
}

/** Labels every number of the query carries: model, metric, and version / segment when the query names them. */
function queryLabels(query: MonitorQuery): Record<string, string> {
  const labels: Record<string, string> = {};
  if ('model' in query && query.model) {
    labels.model = query.model;
  }
  if ('metric' in query && query.metric) {
    labels.metric = query.metric;
  }
  if ('version' in query && query.version) {
    labels.version = query.version;
  }
  if ('segment' in query && query.segment?.length) {
    labels.segment = segmentLabel(query.segment);
  }
  return labels;
}

/** The frame's number fields with the alert value first. */
function numbersFirst(fields: FieldLike[], valueField: string | undefined): FieldLike[] {
  const numbers = fields.filter((field) => field.type === 'number');
  const value = numbers.find((field) => field.name === valueField) ?? numbers[0];
  return value ? [value, ...numbers.filter((field) => field !== value)] : [];
}

/** `timeseries-multi` frames keep their shape; their numbers get the query's labels under their own. */
function labelledSeries(frame: FrameLike, base: Record<string, string>): FrameLike {
  return {
    ...frame,
    fields: frame.fields.map((field) =>
      field.type === 'number' ? { ...field, labels: { ...base, ...field.labels } } : field
    ),
  };
}

/**
 * The row indexes of a frame grouped by the values of its dimensions (`names`: column → label; all string columns
 * when absent), in first-seen order.
 */
function rowsByDimensions(frame: FrameLike, names: Record<string, string> | undefined) {
  const dimensions = frame.fields.filter((field) => field.type === 'string' && (!names || field.name in names));
  const groups = new Map<string, { labels: Record<string, string>; rows: number[] }>();
  for (let row = 0; row < frame.length; row++) {
    const labels: Record<string, string> = {};
    for (const field of dimensions) {
      const value = field.values[row];
      if (value !== null && value !== undefined) {
        labels[names?.[field.name] ?? field.name] = String(value);
      }
    }
    const key = JSON.stringify(labels);
    const group = groups.get(key) ?? { labels, rows: [] };
    group.rows.push(row);
    groups.set(key, group);
  }
  return [...groups.values()];
}

/** The rows `rows` of a field, with labels. */
function pick(field: FieldLike, rows: number[], labels?: Record<string, string>): FieldLike {
  return { ...field, values: rows.map((row) => field.values[row]), ...(labels ? { labels } : {}) };
}

/**
 * One frame per group of rows with the same dimensions: `timeseries-multi` over a long frame's time field, or
 * `numeric-multi` (one row) for a numeric or table frame.
 */
function splitByDimensions(frame: FrameLike, query: MonitorQuery, base: Record<string, string>): FrameLike[] {
  const time = frame.fields.find((field) => field.type === 'time');
  const numbers = numbersFirst(frame.fields, ALERT_VALUE_FIELDS[query.queryType]);
  if (numbers.length === 0) {
    return [];
  }
  return rowsByDimensions(frame, TABLE_DIMENSIONS[query.queryType]).flatMap(({ labels: dimensions, rows }) => {
    const groups = time ? [rows] : rows.map((row) => [row]);
    return groups.map((group) => {
      const labels = { metric: numbers[0].name, ...base, ...numbers[0].labels, ...dimensions };
      return {
        name: Object.values(dimensions).join(' ') || frame.name,
        refId: frame.refId,
        length: group.length,
        meta: {
          ...frame.meta,
          type: time ? FRAME_TYPES.timeSeriesMulti : NUMERIC_MULTI,
          typeVersion: DATAPLANE_TYPE_VERSION,
        },
        fields: [...(time ? [pick(time, group)] : []), ...numbers.map((field) => pick(field, group, labels))],
      };
    });
  });
}

/** The frames of a query as an alert rule reads them (module comment). */
export function alertFrames(frames: FrameLike[], query: MonitorQuery): FrameLike[] {
  const base = queryLabels(query);
  return frames.flatMap((frame) => {
    if (frame.meta?.dataTopic === 'annotations') {
      return [frame];
    }
    return frame.meta?.type === FRAME_TYPES.timeSeriesMulti
      ? [labelledSeries(frame, base)]
      : splitByDimensions(frame, query, base);
  });
}

/**
 * The frame a live channel streams, kept up to date by recomputing only its newest buckets (live.ts): the frames of
 * a query joined into one (a Grafana Live channel carries one frame), and the window's rows with the newest buckets
 * replaced by a fresh computation of them.
 */
import { DATAPLANE_TYPE_VERSION, type Frame, type FrameField, type TimeField } from '../grafana/frames';

/** A field's identity within a frame: its name and labels (what validateFrame keeps unique). */
function fieldKey(field: FrameField): string {
  return `${field.name}${JSON.stringify(Object.entries(field.labels ?? {}).sort())}`;
}

function timeField(frame: Frame): TimeField | undefined {
  return frame.fields.find((field): field is TimeField => field.type === 'time');
}

/** The bucket size a handler put in its frame's meta (`custom.bucketMs`), if any. */
export function frameBucketMs(frame: Frame): number | undefined {
  const size = frame.meta?.custom?.bucketMs;
  return typeof size === 'number' && size > 0 ? size : undefined;
}

/**
 * One frame from a query's frames: the frame itself when there is one with fields; else a `timeseries-wide` frame of
 * the shared time field and every frame's other fields (drift and quality give one frame per feature, all on one
 * bucket grid), with the first frame's meta. Frames without fields (a "no data" notice) count only when all are.
 * Throws when the frames' times differ.
 */
export function combineFrames(frames: Frame[]): Frame {
  const withFields = frames.filter((frame) => frame.fields.length > 0);
  if (withFields.length <= 1) {
    return withFields[0] ?? frames[0] ?? { fields: [] };
  }
  const [first] = withFields;
  const times = timeField(first);
  if (!times) {
    throw new Error('the frames of this query have no time field to stream');
  }
  const sameTimes = (frame: Frame) => {
    const other = timeField(frame)?.values;
    return other?.length === times.values.length && other.every((t, i) => t === times.values[i]);
  };
  if (!withFields.every(sameTimes)) {
    throw new Error('the frames of this query are on different time buckets and cannot stream as one frame');
  }
  const others = withFields.flatMap((frame) => frame.fields.filter((field) => field.type !== 'time'));
  return {
    name: first.name,
    meta: { ...first.meta, type: 'timeseries-wide', typeVersion: DATAPLANE_TYPE_VERSION },
    fields: [times, ...others],
  };
}

/** The rows of a frame whose time passes `keep`, every field cut alike. */
function rowsWhere(frame: Frame, keep: (time: number) => boolean): Frame {
  const times = timeField(frame);
  if (!times) {
    return frame;
  }
  const rows = times.values.flatMap((time, row) => (keep(time) ? [row] : []));
  return {
    ...frame,
    fields: frame.fields.map((field) => ({ ...field, values: rows.map((row) => field.values[row]) }) as FrameField),
  };
}

/**
 * The window's frame with its buckets from `tailFrom` on replaced by the tail's (a fresh computation of
 * [tailFrom, now]) and the buckets that ended before `windowFrom` dropped. Undefined when the two frames do not have
 * the same fields (a feature appeared or went): the caller computes the whole window again.
 */
export function mergeTail(
  window: Frame,
  tail: Frame,
  tailFrom: number,
  windowFrom: number,
  bucketMs: number
): Frame | undefined {
  const keys = window.fields.map(fieldKey);
  const tailKeys = new Map(tail.fields.map((field, index) => [fieldKey(field), index]));
  if (keys.length !== tailKeys.size || keys.some((key) => !tailKeys.has(key))) {
    return undefined;
  }
  const kept = rowsWhere(window, (time) => time < tailFrom && time + bucketMs > windowFrom);
  const fresh = rowsWhere(tail, (time) => time >= tailFrom);
  return {
    ...window,
    fields: kept.fields.map((field, index) => {
      const added = fresh.fields[tailKeys.get(keys[index])!];
      const nullable = field.type !== 'time' && Boolean(field.nullable || ('nullable' in added && added.nullable));
      return { ...field, values: [...field.values, ...added.values], ...(nullable ? { nullable } : {}) } as FrameField;
    }),
  };
}

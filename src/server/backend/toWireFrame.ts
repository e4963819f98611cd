/**
 * Converts a frame of the shared contract (src/core/query/frames.ts, Grafana-shaped) into the protocol
 * layer's explicit frame. Number fields are always nullable (Grafana's `*float64`, what alerting reduces);
 * string and boolean fields are nullable only when they hold a null.
 */
import type { FieldLike, FrameLike } from '../../core/query/frames';
import { DATAPLANE_TYPE_VERSION, type Frame, type FrameField, type FrameMeta } from '../grafana/frames';

function wireField(field: FieldLike): FrameField {
  const common = {
    name: field.name,
    labels: field.labels,
    config: Object.keys(field.config ?? {}).length > 0 ? field.config : undefined,
  };
  const hasNull = field.values.some((v) => v === null || v === undefined);
  switch (field.type) {
    case 'time':
      return {
        ...common,
        type: 'time',
        values: field.values.map((v) => (v instanceof Date ? v.getTime() : (v as number))),
      };
    case 'number':
      return {
        ...common,
        type: 'number',
        nullable: true,
        values: field.values.map((v) => (typeof v === 'number' ? v : null)),
      };
    case 'string':
      return {
        ...common,
        type: 'string',
        nullable: hasNull,
        values: field.values.map((v) => (v === null || v === undefined ? null : String(v))),
      };
    case 'boolean':
      return {
        ...common,
        type: 'boolean',
        nullable: hasNull,
        values: field.values.map((v) => (v === null || v === undefined ? null : Boolean(v))),
      };
  }
}

export function toWireFrame(frame: FrameLike): Frame {
  const meta: FrameMeta | undefined = frame.meta
    ? ({
        ...frame.meta,
        typeVersion: frame.meta.type ? (frame.meta.typeVersion ?? DATAPLANE_TYPE_VERSION) : frame.meta.typeVersion,
      } as FrameMeta)
    : undefined;
  return { name: frame.name, meta, fields: frame.fields.map(wireField) };
}

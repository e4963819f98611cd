/**
 * Data frames as Grafana's Go SDK reads them (grafana-plugin-sdk-go `data/arrow.go`): one Arrow IPC *file*
 * per frame, built from an explicit schema. Frame metadata `name`, `refId`, `meta` (JSON) live on the
 * schema; field metadata `tstype`, `labels` (JSON string→string) and `config` (JSON) on each field.
 * Times are TimestampNanosecond, non-null, epoch-ns BigInts (Go reads every timestamp as ns).
 */
import {
  Bool,
  DataType,
  Field,
  Float64,
  Int64,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampNanosecond,
  Utf8,
  makeData,
  tableToIPC,
} from 'apache-arrow';

export type Labels = Record<string, string>;

export interface Threshold {
  value: number | null;
  color: string;
}

/** The subset of Grafana's FieldConfig (SDK `data/field_config.go`) that we emit. */
export interface FieldConfig {
  displayName?: string;
  displayNameFromDS?: string;
  unit?: string;
  decimals?: number;
  min?: number;
  max?: number;
  noValue?: string;
  thresholds?: { mode: 'absolute' | 'percentage'; steps: Threshold[] };
  links?: Array<{ title: string; url: string; targetBlank?: boolean }>;
  custom?: Record<string, unknown>;
}

export interface Notice {
  severity: 'info' | 'warning' | 'error';
  text: string;
}

/** Data-plane frame types (grafana/dataplane contract) that we produce. */
export type FrameType =
  | 'timeseries-multi'
  | 'timeseries-wide'
  | 'timeseries-long'
  | 'numeric-multi'
  | 'numeric-wide'
  | 'numeric-long'
  | 'table';

export interface FrameMeta {
  type?: FrameType;
  typeVersion?: [number, number];
  custom?: Record<string, unknown>;
  notices?: Notice[];
  executedQueryString?: string;
  preferredVisualisationType?: 'graph' | 'table' | 'logs' | 'trace' | 'nodeGraph' | 'flamegraph';
}

interface FieldBase {
  name: string;
  labels?: Labels;
  config?: FieldConfig;
}

/** Time column: epoch milliseconds (fractional ms keep their sub-ms part down to whole ns). Never null. */
export interface TimeField extends FieldBase {
  type: 'time';
  values: number[];
}
export interface NumberField extends FieldBase {
  type: 'number';
  values: Array<number | null>;
  nullable?: boolean;
}
export interface Int64Field extends FieldBase {
  type: 'int64';
  values: Array<number | bigint | null>;
  nullable?: boolean;
}
export interface StringField extends FieldBase {
  type: 'string';
  values: Array<string | null>;
  nullable?: boolean;
}
export interface BooleanField extends FieldBase {
  type: 'boolean';
  values: Array<boolean | null>;
  nullable?: boolean;
}

export type FrameField = TimeField | NumberField | Int64Field | StringField | BooleanField;

export interface Frame {
  name?: string;
  meta?: FrameMeta;
  fields: FrameField[];
}

/** The data-plane version we implement for every frame type. */
export const DATAPLANE_TYPE_VERSION: [number, number] = [0, 1];

const TSTYPE: Record<FrameField['type'], string> = {
  time: 'time',
  number: 'number',
  int64: 'number',
  string: 'string',
  boolean: 'boolean',
};

/** Checks a frame against the Go reader's and the data-plane rules; throws a message naming the problem. */
export function validateFrame(frame: Frame): void {
  const where = `frame '${frame.name ?? ''}'`;
  const length = frame.fields[0]?.values.length ?? 0;
  const seen = new Set<string>();
  for (const field of frame.fields) {
    const at = `${where}, field '${field.name}'`;
    if (field.values.length !== length) {
      throw new Error(`${at} has ${field.values.length} values but the frame has ${length} rows`);
    }
    const identity = `${field.name}${JSON.stringify(Object.entries(field.labels ?? {}).sort())}`;
    if (seen.has(identity)) {
      throw new Error(`${at} appears twice with the same labels`);
    }
    seen.add(identity);
    for (const [key, value] of Object.entries(field.labels ?? {})) {
      if (typeof value !== 'string') {
        throw new Error(`${at}: label '${key}' must be a string, got ${typeof value}`);
      }
    }
    validateValues(field, at);
  }
  validateMeta(frame, where);
}

function validateValues(field: FrameField, at: string): void {
  const nullable = field.type !== 'time' && field.nullable === true;
  field.values.forEach((value: unknown, row: number) => {
    if (value === null || value === undefined) {
      if (!nullable) {
        throw new Error(`${at}: row ${row} is null but the field is not declared nullable`);
      }
      return;
    }
    const ok =
      field.type === 'time'
        ? typeof value === 'number' && Number.isFinite(value)
        : field.type === 'number'
          ? typeof value === 'number'
          : field.type === 'int64'
            ? (typeof value === 'number' && Number.isSafeInteger(value)) || typeof value === 'bigint'
            : field.type === 'string'
              ? typeof value === 'string'
              : typeof value === 'boolean';
    if (!ok) {
      throw new Error(`${at}: row ${row} holds ${String(value)}, not a valid ${field.type} value`);
    }
  });
}

function validateMeta(frame: Frame, where: string): void {
  const meta = frame.meta;
  if (!meta) {
    return;
  }
  const version = meta.typeVersion;
  if (version !== undefined && !(version.length === 2 && version.every((v) => Number.isInteger(v) && v >= 0))) {
    throw new Error(`${where}: meta.typeVersion must be two non-negative integers, got ${JSON.stringify(version)}`);
  }
  if (meta.type?.startsWith('timeseries-') && frame.fields.length > 0) {
    const time = frame.fields.find((f): f is TimeField => f.type === 'time');
    if (!time) {
      throw new Error(`${where}: a ${meta.type} frame needs a time field`);
    }
    const strictlyAscending = meta.type !== 'timeseries-long';
    time.values.forEach((t, i) => {
      const previous = time.values[i - 1];
      if (i > 0 && (t < previous || (strictlyAscending && t === previous))) {
        throw new Error(`${where}: times must ascend${strictlyAscending ? ' without duplicates' : ''} (row ${i})`);
      }
    });
  }
}

const NANOS_PER_MILLI = BigInt(1_000_000);

/** Epoch milliseconds → epoch nanoseconds, exact for whole and fractional milliseconds down to 1 ns. */
export function millisToNanos(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * NANOS_PER_MILLI + BigInt(Math.round((ms - whole) * 1e6));
}

/** Arrow validity bitmap (LSB first, 1 = valid), or undefined when nothing is null. */
function validityBitmap(values: readonly unknown[]): { bitmap?: Uint8Array; nullCount: number } {
  const nullCount = values.filter((v) => v === null || v === undefined).length;
  if (nullCount === 0) {
    return { nullCount };
  }
  const bitmap = new Uint8Array(Math.ceil(values.length / 8));
  values.forEach((v, i) => {
    if (v !== null && v !== undefined) {
      bitmap[i >> 3] |= 1 << (i & 7);
    }
  });
  return { bitmap, nullCount };
}

function arrowType(field: FrameField): DataType {
  switch (field.type) {
    case 'time':
      return new TimestampNanosecond();
    case 'number':
      return new Float64();
    case 'int64':
      return new Int64();
    case 'string':
      return new Utf8();
    case 'boolean':
      return new Bool();
  }
}

function columnData(field: FrameField) {
  const length = field.values.length;
  const { bitmap: nullBitmap, nullCount } = validityBitmap(field.values);
  switch (field.type) {
    case 'time':
      return makeData({
        type: new TimestampNanosecond(),
        length,
        data: BigInt64Array.from(field.values, millisToNanos),
      });
    case 'number':
      return makeData({
        type: new Float64(),
        length,
        nullCount,
        nullBitmap,
        data: Float64Array.from(field.values, (v) => v ?? 0),
      });
    case 'int64':
      return makeData({
        type: new Int64(),
        length,
        nullCount,
        nullBitmap,
        data: BigInt64Array.from(field.values, (v) => BigInt(v ?? 0)),
      });
    case 'boolean': {
      const bits = new Uint8Array(Math.ceil(length / 8));
      field.values.forEach((v, i) => {
        if (v === true) {
          bits[i >> 3] |= 1 << (i & 7);
        }
      });
      return makeData({ type: new Bool(), length, nullCount, nullBitmap, data: bits });
    }
    case 'string': {
      const encoder = new TextEncoder();
      const encoded = field.values.map((v) => encoder.encode(v ?? ''));
      const valueOffsets = new Int32Array(length + 1);
      encoded.forEach((bytes, i) => (valueOffsets[i + 1] = valueOffsets[i] + bytes.length));
      const data = new Uint8Array(valueOffsets[length]);
      encoded.forEach((bytes, i) => data.set(bytes, valueOffsets[i]));
      return makeData({ type: new Utf8(), length, nullCount, nullBitmap, valueOffsets, data });
    }
  }
}

function arrowField(field: FrameField): Field {
  const metadata = new Map<string, string>([['tstype', TSTYPE[field.type]]]);
  if (field.labels && Object.keys(field.labels).length > 0) {
    metadata.set('labels', JSON.stringify(field.labels));
  }
  if (field.config && Object.keys(field.config).length > 0) {
    metadata.set('config', JSON.stringify(field.config));
  }
  const nullable = field.type !== 'time' && field.nullable === true;
  return new Field(field.name, arrowType(field), nullable, metadata);
}

/** Validates the frame and encodes it as one Arrow IPC file, tagged with the query's refId. */
export function encodeFrame(frame: Frame, refId: string): Uint8Array {
  validateFrame(frame);
  const metadata = new Map<string, string>([
    ['name', frame.name ?? ''],
    ['refId', refId],
  ]);
  if (frame.meta && Object.keys(frame.meta).length > 0) {
    metadata.set('meta', JSON.stringify(frame.meta));
  }
  const schema = new Schema(frame.fields.map(arrowField), metadata);
  const length = frame.fields[0]?.values.length ?? 0;
  const children = frame.fields.map(columnData);
  const batch = new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length, nullCount: 0, children }));
  return tableToIPC(new Table(schema, [batch]), 'file');
}

/** A frame with only a type and a notice: the data-plane way to say "no data". */
export function emptyFrame(name: string, meta: FrameMeta): Frame {
  return { name, meta, fields: [] };
}

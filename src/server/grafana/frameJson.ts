/**
 * Data frames as JSON, the form Grafana Live carries (grafana-plugin-sdk-go `data/frame_json.go`, `FrameToJSON`,
 * which `backend.StreamSender.SendFrame` sends): `{"schema": {...}, "data": {...}}`, either part alone when asked.
 *
 * - schema: `name`, `refId`, `meta` (each only when set), then `fields`: per field `name`, `type` (the TypeScript type:
 *   `time`, `number`, `string`, `boolean`), `typeInfo` (`frame`: the Go element type, `nullable: true` when the field
 *   is), `labels` and `config` when set.
 * - data: `values`, one array per field; times as epoch milliseconds with the sub-millisecond remainder in `nanos`
 *   (per field, omitted when every remainder is 0); NaN and ±Inf written as null, their rows listed in `entities`
 *   (per field `{"NaN": [rows], "Inf": [rows], "NegInf": [rows]}`, null for a field without any).
 *
 * Grafana's `StreamingDataFrame` takes a packet's schema when there is one and its values otherwise, so a stream
 * sends the schema with its first frame and again whenever it changes (see `FrameJsonSender`).
 */
import { validateFrame, type Frame, type FrameField } from './frames';

/** Go element type of each field type (SDK `FieldType.ItemTypeString`). */
const GO_ITEM_TYPE: Record<FrameField['type'], string> = {
  time: 'time.Time',
  number: 'float64',
  int64: 'int64',
  string: 'string',
  boolean: 'bool',
};

/** The TypeScript type Grafana's frontend reads (SDK `getTypeScriptTypeString`). */
const TS_TYPE: Record<FrameField['type'], string> = {
  time: 'time',
  number: 'number',
  int64: 'number',
  string: 'string',
  boolean: 'boolean',
};

/** The schema part: what does not change from one packet to the next unless the series do. */
export function frameSchemaJson(frame: Frame, refId: string): Record<string, unknown> {
  return {
    ...(frame.name ? { name: frame.name } : {}),
    ...(refId ? { refId } : {}),
    ...(frame.meta ? { meta: frame.meta } : {}),
    fields: frame.fields.map((field) => ({
      ...(field.name ? { name: field.name } : {}),
      type: TS_TYPE[field.type],
      typeInfo: {
        frame: GO_ITEM_TYPE[field.type],
        ...(field.type !== 'time' && field.nullable ? { nullable: true } : {}),
      },
      ...(field.labels ? { labels: field.labels } : {}),
      ...(field.config ? { config: field.config } : {}),
    })),
  };
}

interface Entities {
  NaN?: number[];
  Inf?: number[];
  NegInf?: number[];
}

/** A number's JSON value and, for NaN and ±Inf (which JSON lacks), the entity list its row goes to. */
function numberEntity(value: number): keyof Entities | undefined {
  if (Number.isNaN(value)) {
    return 'NaN';
  }
  if (value === Infinity) {
    return 'Inf';
  }
  return value === -Infinity ? 'NegInf' : undefined;
}

/** The data part: values per field, with `entities` and `nanos` when some value needs them. */
export function frameDataJson(frame: Frame): Record<string, unknown> {
  const entities: Array<Entities | null> = [];
  const nanos: Array<number[] | null> = [];
  const values = frame.fields.map((field, index) => {
    entities[index] = null;
    nanos[index] = null;
    if (field.type === 'time') {
      const remainders = field.values.map((ms) => Math.round((ms - Math.floor(ms)) * 1e6));
      nanos[index] = remainders.some((ns) => ns !== 0) ? remainders : null;
      return field.values.map(Math.floor);
    }
    if (field.type === 'number') {
      return field.values.map((value, row) => {
        const entity = value === null ? undefined : numberEntity(value);
        if (entity) {
          const lists = (entities[index] ??= {});
          (lists[entity] ??= []).push(row);
          return null;
        }
        return value;
      });
    }
    if (field.type === 'int64') {
      return field.values.map((value) => (value === null ? null : Number(value)));
    }
    return field.values;
  });
  return {
    values,
    ...(entities.some((entity) => entity !== null) ? { entities } : {}),
    ...(nanos.some((list) => list !== null) ? { nanos } : {}),
  };
}

/**
 * Turns the successive frames of one stream into packets: schema and data for the first frame and whenever the
 * schema changed since the last packet, data alone otherwise (what Grafana's Go data sources do with
 * `SendFrame(frame, IncludeAll)` first and `IncludeDataOnly` after).
 */
export class FrameJsonSender {
  private lastSchema: string | undefined;

  constructor(private readonly refId: string) {}

  packet(frame: Frame): string {
    validateFrame(frame);
    const schema = JSON.stringify(frameSchemaJson(frame, this.refId));
    const data = JSON.stringify(frameDataJson(frame));
    if (schema === this.lastSchema) {
      return `{"data":${data}}`;
    }
    this.lastSchema = schema;
    return `{"schema":${schema},"data":${data}}`;
  }
}

/**
 * Predictions in columns, as they were received: the form a batch of records takes between the collector and the
 * store. Numbers travel in Float64Arrays (handed to a worker thread without a copy, and copied into a DuckDB vector
 * or a RowBinary buffer in one go); a record's feature values are placed by the position of their names, worked out
 * once per distinct list of names ("shape"). No kind is decided here: the store's schema does that (schema.ts), so
 * the columns keep every value as it came — a finite number in `numbers`, anything else in `others`.
 */
import type { FeatureValue, PredictionRecord } from './types';

/** One feature name's values across a batch. */
export interface FeatureValues {
  name: string;
  /** Each row's finite number, NaN where it has none; undefined when no row has one. */
  numbers: Float64Array | undefined;
  /** Each row's value when it is not a finite number (string, boolean, null, ±Infinity, NaN); undefined elsewhere. */
  others: Array<FeatureValue | undefined> | undefined;
}

export interface PredictionColumns {
  rowCount: number;
  id: string[];
  ts: Float64Array;
  version: string[];
  /** The prediction when it is a finite number, else NaN. */
  predictionNumber: Float64Array;
  /** The prediction when it is a string (else null); undefined when no row has one. */
  predictionText: Array<string | null> | undefined;
  /** NaN for null (and for anything not a finite number). */
  score: Float64Array;
  latencyMs: Float64Array;
  /** Each row's error (null for none); undefined when no row has one. */
  error: Array<string | null> | undefined;
  samplingRate: Float64Array;
  /** The distinct lists of feature names (Object.keys of a record's features), in order of first appearance. */
  shapes: string[][];
  /** shapeOf[i] is the index in `shapes` of row i's names. */
  shapeOf: Uint32Array;
  /** One entry per feature name of any row, in order of first appearance. */
  features: FeatureValues[];
}

/** Records or their columns: what a store write takes. */
export type PredictionBatch = readonly PredictionRecord[] | PredictionColumns;

export function isPredictionColumns(batch: PredictionBatch): batch is PredictionColumns {
  return !Array.isArray(batch);
}

/** The batch as columns (records are converted; columns are returned as they are). */
export function predictionColumnsOf(batch: PredictionBatch): PredictionColumns {
  return isPredictionColumns(batch) ? batch : toPredictionColumns(batch);
}

function nanArray(n: number): Float64Array {
  return new Float64Array(n).fill(NaN);
}

function finiteOrNaN(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : NaN;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) {
    return false;
  }
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      return false;
    }
  }
  return true;
}

/** Finds or adds a shape: compared with the last one found first (consecutive records nearly always share it). */
class ShapeIndex {
  readonly shapes: string[][] = [];
  private readonly byKey = new Map<string, number>();
  private last = -1;

  /** The shape's index; a new shape keeps a copy of `names` (callers may reuse their array). */
  indexOf(names: readonly string[]): number {
    if (this.last >= 0 && sameNames(this.shapes[this.last], names)) {
      return this.last;
    }
    const key = names.join('\u0000');
    let index = this.byKey.get(key);
    if (index === undefined) {
      index = this.shapes.length;
      this.byKey.set(key, index);
      this.shapes.push(names.slice());
    }
    this.last = index;
    return index;
  }
}

/** Sets row i of a feature's values (allocating its arrays on first use). */
function setFeatureValue(values: FeatureValues, n: number, i: number, value: FeatureValue | undefined): void {
  if (typeof value === 'number' && Number.isFinite(value)) {
    (values.numbers ??= nanArray(n))[i] = value;
  } else {
    (values.others ??= new Array<FeatureValue | undefined>(n))[i] = value;
  }
}

/** Pivots records into columns: one pass; a record's feature values are read in one go (Object.values). */
export function toPredictionColumns(records: readonly PredictionRecord[]): PredictionColumns {
  const builder = new PredictionColumnsBuilder(records.length);
  for (const record of records) {
    builder.addRecord(record);
  }
  return builder.takeAll();
}

/**
 * Columns filled one row at a time, from validated records or straight from parsed values (the collector's line
 * parser, collector/prediction-lines.ts), for at most `capacity` rows; `take` then gathers the rows that were
 * accepted, in the order given, into a batch.
 */
export class PredictionColumnsBuilder {
  /** Rows added so far. */
  rows = 0;
  private readonly columns: PredictionColumns;
  private readonly shapes = new ShapeIndex();
  private readonly byName = new Map<string, FeatureValues>();
  /** For each shape, the values of each of its names, by position. */
  private readonly placement: FeatureValues[][] = [];

  constructor(readonly capacity: number) {
    this.columns = emptyColumns(capacity);
  }

  /** Adds a validated record; returns its row. */
  addRecord(record: PredictionRecord): number {
    const row = this.rows++;
    setSystemValues(this.columns, row, record);
    const targets = this.shapeRow(row, Object.keys(record.features));
    const values = Object.values(record.features);
    for (let p = 0; p < targets.length; p++) {
      setFeatureValue(targets[p], this.capacity, row, values[p]);
    }
    return row;
  }

  /**
   * Adds a row whose system values are already set with `setSystem` at row `rows`, with the features `names[p]` for
   * p < count: the finite number `numbers[p]` where `isNumber[p]`, else `others[p]` (the caller reuses these
   * arrays from row to row; `names` is copied when it is a new shape).
   */
  addParsedRow(
    names: readonly string[],
    count: number,
    isNumber: Uint8Array,
    numbers: Float64Array,
    others: readonly FeatureValue[]
  ): number {
    const row = this.rows++;
    const targets = this.shapeRow(row, names.length === count ? names : names.slice(0, count));
    const n = this.capacity;
    for (let p = 0; p < count; p++) {
      const target = targets[p];
      if (isNumber[p]) {
        (target.numbers ??= nanArray(n))[row] = numbers[p];
      } else {
        (target.others ??= new Array<FeatureValue | undefined>(n))[row] = others[p];
      }
    }
    return row;
  }

  /** Sets the system values of the next row (`rows`), before `addParsedRow` adds it. */
  setSystem(record: Omit<PredictionRecord, 'features'>): void {
    setSystemValues(this.columns, this.rows, record);
  }

  /** The id of a row. */
  idAt(row: number): string {
    return this.columns.id[row];
  }

  /** The version of a row. */
  versionAt(row: number): string {
    return this.columns.version[row];
  }

  /** The feature names of a row, in the order it sent them (shared: do not change the array). */
  namesAt(row: number): readonly string[] {
    return this.shapes.shapes[this.columns.shapeOf[row]];
  }

  /** The shape index of a row: rows with the same one have the same feature names in the same order. */
  shapeAt(row: number): number {
    return this.columns.shapeOf[row];
  }

  /** Every row, in order, when every row of the capacity was added (then without a copy). */
  takeAll(): PredictionColumns {
    if (this.rows === this.capacity) {
      this.columns.shapes = this.shapes.shapes;
      return this.columns;
    }
    return this.take(Array.from({ length: this.rows }, (_, i) => i));
  }

  /**
   * The given rows, in that order, as a batch (only the shapes and features those rows have). Call it once: when
   * the rows are all of them in order, the builder's own columns are returned.
   */
  take(rows: readonly number[]): PredictionColumns {
    if (rows.length === this.capacity && rows.every((row, i) => row === i)) {
      return this.takeAll();
    }
    const source = this.columns;
    const n = rows.length;
    const taken = emptyColumns(n);
    const shapes = new ShapeIndex();
    const byName = new Map<string, FeatureValues>();
    const shapeMap = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const row = rows[i];
      taken.id[i] = source.id[row];
      taken.version[i] = source.version[row];
      taken.ts[i] = source.ts[row];
      taken.predictionNumber[i] = source.predictionNumber[row];
      taken.score[i] = source.score[row];
      taken.latencyMs[i] = source.latencyMs[row];
      taken.samplingRate[i] = source.samplingRate[row];
      const text = source.predictionText?.[row];
      if (typeof text === 'string') {
        (taken.predictionText ??= new Array<string | null>(n).fill(null))[i] = text;
      }
      const error = source.error?.[row];
      if (typeof error === 'string') {
        (taken.error ??= new Array<string | null>(n).fill(null))[i] = error;
      }
      const shape = source.shapeOf[row];
      let mapped = shapeMap.get(shape);
      if (mapped === undefined) {
        mapped = shapes.indexOf(this.shapes.shapes[shape]);
        shapeMap.set(shape, mapped);
        for (const name of this.shapes.shapes[shape]) {
          featureValuesFor(byName, taken, name);
        }
      }
      taken.shapeOf[i] = mapped;
    }
    taken.shapes = shapes.shapes;
    for (const target of taken.features) {
      gatherFeature(this.byName.get(target.name)!, target, rows);
    }
    return taken;
  }

  /** Records the row's shape and returns where its feature values go. */
  private shapeRow(row: number, names: readonly string[]): FeatureValues[] {
    const shape = this.shapes.indexOf(names);
    this.columns.shapeOf[row] = shape;
    if (shape === this.placement.length) {
      this.placement.push(this.shapes.shapes[shape].map((name) => featureValuesFor(this.byName, this.columns, name)));
    }
    return this.placement[shape];
  }
}

/** Copies the values of `rows` (in that order) of one feature into `target`. */
function gatherFeature(source: FeatureValues, target: FeatureValues, rows: readonly number[]): void {
  const n = rows.length;
  if (source.numbers) {
    const numbers = nanArray(n);
    let any = false;
    for (let i = 0; i < n; i++) {
      const value = source.numbers[rows[i]];
      numbers[i] = value;
      any ||= !Number.isNaN(value);
    }
    target.numbers = any ? numbers : undefined;
  }
  if (source.others) {
    const others = new Array<FeatureValue | undefined>(n);
    let any = false;
    for (let i = 0; i < n; i++) {
      const value = source.others[rows[i]];
      others[i] = value;
      any ||= value !== undefined;
    }
    target.others = any ? others : undefined;
  }
}

function featureValuesFor(byName: Map<string, FeatureValues>, columns: PredictionColumns, name: string): FeatureValues {
  let values = byName.get(name);
  if (!values) {
    values = { name, numbers: undefined, others: undefined };
    byName.set(name, values);
    columns.features.push(values);
  }
  return values;
}

function emptyColumns(n: number): PredictionColumns {
  return {
    rowCount: n,
    id: new Array<string>(n),
    ts: new Float64Array(n),
    version: new Array<string>(n),
    predictionNumber: nanArray(n),
    predictionText: undefined,
    score: nanArray(n),
    latencyMs: nanArray(n),
    error: undefined,
    samplingRate: new Float64Array(n),
    shapes: [],
    shapeOf: new Uint32Array(n),
    features: [],
  };
}

function setSystemValues(columns: PredictionColumns, i: number, record: Omit<PredictionRecord, 'features'>): void {
  const n = columns.rowCount;
  columns.id[i] = record.id;
  columns.ts[i] = record.ts;
  columns.version[i] = record.version;
  columns.predictionNumber[i] = finiteOrNaN(record.prediction);
  if (typeof record.prediction === 'string') {
    (columns.predictionText ??= new Array<string | null>(n).fill(null))[i] = record.prediction;
  }
  columns.score[i] = finiteOrNaN(record.score);
  columns.latencyMs[i] = finiteOrNaN(record.latencyMs);
  if (record.error !== null && record.error !== undefined) {
    (columns.error ??= new Array<string | null>(n).fill(null))[i] = record.error;
  }
  columns.samplingRate[i] = record.samplingRate;
}

/** Row i as a record (for a dead letter: what the store refused). */
export function predictionRecordAt(columns: PredictionColumns, i: number): PredictionRecord {
  const features: Record<string, FeatureValue> = Object.create(null);
  const values = new Map(columns.features.map((f) => [f.name, f]));
  for (const name of columns.shapes[columns.shapeOf[i]]) {
    const feature = values.get(name)!;
    const number = feature.numbers?.[i];
    features[name] = number !== undefined && !Number.isNaN(number) ? number : (feature.others?.[i] ?? null);
  }
  const nullable = (value: number) => (Number.isNaN(value) ? null : value);
  return {
    id: columns.id[i],
    ts: columns.ts[i],
    version: columns.version[i],
    features,
    prediction: columns.predictionText?.[i] ?? nullable(columns.predictionNumber[i]),
    score: nullable(columns.score[i]),
    latencyMs: nullable(columns.latencyMs[i]),
    error: columns.error?.[i] ?? null,
    samplingRate: columns.samplingRate[i],
  };
}

/** The ArrayBuffers of the columns, to transfer them to another thread instead of copying them. */
export function transferableBuffers(columns: PredictionColumns): ArrayBuffer[] {
  const arrays = [
    columns.ts,
    columns.predictionNumber,
    columns.score,
    columns.latencyMs,
    columns.samplingRate,
    columns.shapeOf,
    ...columns.features.flatMap((f) => (f.numbers ? [f.numbers] : [])),
  ];
  return arrays.map((array) => array.buffer as ArrayBuffer);
}

/** Distinct strings per column that shareRepeatedStrings keeps to compare with; past them a column is left as it is. */
const SHARED_STRINGS_PER_COLUMN = 256;

/**
 * Makes the equal strings of each string column one string (versions, string predictions, errors, categorical
 * values; not the ids, which are all different). A structured clone (postMessage to the store worker) gives every
 * occurrence of a string a copy of its own, so a batch's few versions and categorical values arrive as a string per
 * row that lives as long as the batch is held (the whole backlog): shared, those copies die young instead.
 */
export function shareRepeatedStrings(columns: PredictionColumns): void {
  shareStrings(columns.version);
  shareStrings(columns.predictionText);
  shareStrings(columns.error);
  for (const feature of columns.features) {
    shareStrings(feature.others);
  }
}

function shareStrings(values: unknown[] | undefined): void {
  if (!values) {
    return;
  }
  const seen = new Map<string, string>();
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value !== 'string') {
      continue;
    }
    const known = seen.get(value);
    if (known !== undefined) {
      values[i] = known;
    } else if (seen.size < SHARED_STRINGS_PER_COLUMN) {
      seen.set(value, value);
    }
  }
}

/** One batch of the rows of several, in order (features and shapes united by name). */
export function concatPredictionColumns(parts: readonly PredictionColumns[]): PredictionColumns {
  if (parts.length === 1) {
    return parts[0];
  }
  const n = parts.reduce((sum, part) => sum + part.rowCount, 0);
  const columns = emptyColumns(n);
  const shapes = new ShapeIndex();
  const byName = new Map<string, FeatureValues>();
  let offset = 0;
  for (const part of parts) {
    const m = part.rowCount;
    for (let i = 0; i < m; i++) {
      columns.id[offset + i] = part.id[i];
      columns.version[offset + i] = part.version[i];
    }
    columns.ts.set(part.ts, offset);
    columns.predictionNumber.set(part.predictionNumber, offset);
    columns.score.set(part.score, offset);
    columns.latencyMs.set(part.latencyMs, offset);
    columns.samplingRate.set(part.samplingRate, offset);
    if (part.predictionText) {
      columns.predictionText ??= new Array<string | null>(n).fill(null);
      part.predictionText.forEach((value, i) => (columns.predictionText![offset + i] = value));
    }
    if (part.error) {
      columns.error ??= new Array<string | null>(n).fill(null);
      part.error.forEach((value, i) => (columns.error![offset + i] = value));
    }
    const shapeMap = part.shapes.map((names) => shapes.indexOf(names));
    for (let i = 0; i < m; i++) {
      columns.shapeOf[offset + i] = shapeMap[part.shapeOf[i]];
    }
    for (const feature of part.features) {
      const target = featureValuesFor(byName, columns, feature.name);
      if (feature.numbers) {
        (target.numbers ??= nanArray(n)).set(feature.numbers, offset);
      }
      if (feature.others) {
        const others = (target.others ??= new Array<FeatureValue | undefined>(n));
        feature.others.forEach((value, i) => (others[offset + i] = value));
      }
    }
    offset += m;
  }
  columns.shapes = shapes.shapes;
  return columns;
}

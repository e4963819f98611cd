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

  indexOf(names: string[]): number {
    if (this.last >= 0 && sameNames(this.shapes[this.last], names)) {
      return this.last;
    }
    const key = names.join('\u0000');
    let index = this.byKey.get(key);
    if (index === undefined) {
      index = this.shapes.length;
      this.byKey.set(key, index);
      this.shapes.push(names);
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
  const n = records.length;
  const columns = emptyColumns(n);
  const shapes = new ShapeIndex();
  const byName = new Map<string, FeatureValues>();
  // For each shape, the values of each of its names, by position.
  const placement: FeatureValues[][] = [];
  for (let i = 0; i < n; i++) {
    const record = records[i];
    setSystemValues(columns, i, record);
    const shape = shapes.indexOf(Object.keys(record.features));
    columns.shapeOf[i] = shape;
    if (shape === placement.length) {
      placement.push(shapes.shapes[shape].map((name) => featureValuesFor(byName, columns, name)));
    }
    const values = Object.values(record.features);
    const targets = placement[shape];
    for (let p = 0; p < targets.length; p++) {
      setFeatureValue(targets[p], n, i, values[p]);
    }
  }
  columns.shapes = shapes.shapes;
  return columns;
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

function setSystemValues(columns: PredictionColumns, i: number, record: PredictionRecord): void {
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

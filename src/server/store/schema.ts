/**
 * Pure logic shared by both stores: how a batch of records changes a model's feature schema, and how one record
 * becomes a stored row (feature values checked against their kind; wrong types stored NULL and named in
 * `type_errors`).
 */
import { featureColumn, featureKey, validateFeatureName } from './identifiers';
import {
  predictionColumnsOf,
  type FeatureValues,
  type PredictionBatch,
  type PredictionColumns,
} from './prediction-columns';
import {
  PREDICTION_SYSTEM_COLUMNS,
  type Baseline,
  FeatureKind,
  FeatureState,
  FeatureValue,
  RejectedRecord,
  SchemaChange,
} from './types';

/** Features a model may have by default (each is a column; thousands of columns exhaust a writer's memory). */
export const DEFAULT_MAX_FEATURES_PER_MODEL = 500;

/** Rows × columns a store writes at once by default (WriteOptions.maxCellsPerWrite). */
export const DEFAULT_MAX_CELLS_PER_WRITE = 2_000_000;

/** Splits rows into pieces of at most `maxCells` rows × columns (at least one row each). */
export function piecesOf<T>(rows: readonly T[], columns: number, maxCells = DEFAULT_MAX_CELLS_PER_WRITE): T[][] {
  const size = Math.max(1, Math.floor(maxCells / Math.max(1, columns)));
  const pieces: T[][] = [];
  for (let start = 0; start < rows.length; start += size) {
    pieces.push(rows.slice(start, start + size));
  }
  return pieces;
}

/**
 * Decides, record by record, whether a model's schema can take a record's feature names: no two names that differ
 * only in case (in the record, or against the model's features), and no new feature beyond `maxFeatures` per model
 * (a record with known features only is always taken, so a model at its cap still flushes). New names are
 * registered as records are admitted, so a batch is judged in order. The collector runs it at the door with its
 * view of the schema; the stores run it again under their schema lock, which makes it exact.
 */
export class FeatureAdmission {
  /** featureKey → spelling of every feature the model has (or was admitted in this run). */
  private readonly names = new Map<string, string>();
  /** The admitted spellings themselves: a record of known names (nearly every record) is admitted by lookups only. */
  private readonly spellings = new Set<string>();

  constructor(
    known: Iterable<string>,
    readonly maxFeatures: number
  ) {
    for (const name of known) {
      if (!this.names.has(featureKey(name))) {
        this.register(name);
      }
    }
  }

  private register(name: string): void {
    this.names.set(featureKey(name), name);
    this.spellings.add(name);
  }

  get size(): number {
    return this.names.size;
  }

  /** Undefined when the names fit (new ones are registered), else why the record is refused. */
  admit(names: readonly string[]): Omit<RejectedRecord, 'id'> | undefined {
    if (names.every((name) => this.spellings.has(name))) {
      return undefined;
    }
    const fresh = new Map<string, string>();
    for (const name of names) {
      const key = featureKey(name);
      const existing = this.names.get(key) ?? fresh.get(key);
      if (existing === name) {
        continue;
      }
      if (existing !== undefined) {
        return {
          code: 'invalid_feature_name',
          reason:
            `feature "${name}" differs only in case from feature "${existing}"; feature names are case-insensitive ` +
            '— send one spelling',
        };
      }
      fresh.set(key, name);
    }
    if (this.names.size + fresh.size > this.maxFeatures) {
      return {
        code: 'too_many_features',
        reason:
          `the record adds ${fresh.size} new feature(s) to a model that has ${this.names.size}; a model may have at most ` +
          `${this.maxFeatures} features (--max-features-per-model) — drop identifiers and free text from "features"`,
      };
    }
    fresh.forEach((name) => this.register(name));
    return undefined;
  }
}

/** Rows of a batch: indexes into its columns, in order. */
export type Rows = ArrayLike<number>;

/** Every row of a batch. */
export function allRows(columns: PredictionColumns): Uint32Array {
  return Uint32Array.from({ length: columns.rowCount }, (_, i) => i);
}

/**
 * Splits a batch's rows into those the schema takes and the refused ones, with reasons (see FeatureAdmission).
 * Admission is decided once per shape (list of feature names): a shape admitted once is admitted again (its names
 * are registered), and one refused stays refused (registered names only add conflicts, and the names of the model
 * with the shape only grow).
 */
export function admitRows(
  known: readonly FeatureState[],
  columns: PredictionColumns,
  maxFeatures: number
): { admitted: number[]; rejected: RejectedRecord[] } {
  const admission = new FeatureAdmission(
    known.map((f) => f.name),
    Math.max(maxFeatures, known.length)
  );
  const refusals = new Map<number, Omit<RejectedRecord, 'id'> | undefined>();
  const admitted: number[] = [];
  const rejected: RejectedRecord[] = [];
  for (let i = 0; i < columns.rowCount; i++) {
    const shape = columns.shapeOf[i];
    if (!refusals.has(shape)) {
      refusals.set(shape, admission.admit(columns.shapes[shape]));
    }
    const refusal = refusals.get(shape);
    if (refusal) {
      rejected.push({ id: columns.id[i], ...refusal });
    } else {
      admitted.push(i);
    }
  }
  return { admitted, rejected };
}

/** The feature kinds a baseline declares (they win over kinds guessed from traffic). */
export function baselineKinds(baseline: Baseline | undefined): Map<string, FeatureKind> {
  return new Map(Object.entries(baseline?.features ?? {}).map(([name, reference]) => [name, reference.kind]));
}

/**
 * A stored feature list without later spellings of a name already present in another case (a schema written
 * before names were compared without case could hold both `age` and `Age`; the first one seen stays).
 */
export function withoutCaseDuplicates(features: readonly FeatureState[]): FeatureState[] {
  const seen = new Set<string>();
  return [...features]
    .sort((a, b) => a.firstSeen - b.firstSeen)
    .filter((f) => !seen.has(featureKey(f.name)) && seen.add(featureKey(f.name)))
    .sort((a, b) => features.indexOf(a) - features.indexOf(b));
}

/** What a write does to a model's schema: the rows it takes, the plan for those, and the refused records. */
export interface SchemaUpdate {
  plan: SchemaPlan;
  admitted: number[];
  rejected: RejectedRecord[];
}

/**
 * Admits the rows against the stored features (FeatureAdmission) and plans the schema change of the admitted
 * ones; the latest baseline's kinds are read only when there are new features.
 */
export async function planWrite(
  stored: readonly FeatureState[],
  columns: PredictionColumns,
  maxFeatures: number,
  latestBaseline: () => Promise<Baseline | undefined>
): Promise<SchemaUpdate> {
  const known = withoutCaseDuplicates(stored);
  const { admitted, rejected } = admitRows(known, columns, maxFeatures);
  let plan = planSchema(known, columns, new Map(), admitted);
  if (plan.newFeatures.length > 0) {
    plan = planSchema(known, columns, baselineKinds(await latestBaseline()), admitted);
  }
  return { plan, admitted, rejected };
}

/** The kind of a name's first value (in row order) that has one (inferKind), or undefined. */
function firstKind(values: FeatureValues, rows: Rows): FeatureKind | undefined {
  for (let k = 0; k < rows.length; k++) {
    const i = rows[k];
    if (values.numbers !== undefined && !Number.isNaN(values.numbers[i])) {
      return 'numeric';
    }
    const other = values.others?.[i];
    const kind = other === undefined ? undefined : inferKind(other);
    if (kind) {
      return kind;
    }
  }
  return undefined;
}

/** Kind of a value seen in traffic: number → numeric; string or boolean → categorical; null → unknown. */
export function inferKind(value: FeatureValue): FeatureKind | undefined {
  if (typeof value === 'number') {
    return 'numeric';
  }
  return typeof value === 'string' || typeof value === 'boolean' ? 'categorical' : undefined;
}

export interface SchemaPlan {
  /** The model's features after the batch. */
  features: FeatureState[];
  /** Features seen for the first time (their columns must be created). */
  newFeatures: FeatureState[];
  changes: SchemaChange[];
}

/**
 * Applies a batch to the known schema. A feature is 'added' when it appears for the first time (kind from
 * `kindHints` — the baseline — else from its first non-null value; a feature with only nulls so far is not
 * registered, reading it yields NULL anyway) or reappears after removal; 'removed' when an active feature is
 * absent from every record of the batch. Change times are data times (record ts), so they line up with the
 * traffic they describe.
 */
export function planSchema(
  known: readonly FeatureState[],
  batch: PredictionBatch,
  kindHints: ReadonlyMap<string, FeatureKind> = new Map(),
  rows?: Rows
): SchemaPlan {
  const columns = predictionColumnsOf(batch);
  const planned = rows ?? allRows(columns);
  const byName = new Map(known.map((f) => [f.name, { ...f }]));
  // The time span of each shape's rows, and the shapes in order of their first row.
  const spans = new Map<number, { first: number; last: number }>();
  let batchStart = Infinity;
  for (let k = 0; k < planned.length; k++) {
    const i = planned[k];
    const ts = columns.ts[i];
    let span = spans.get(columns.shapeOf[i]);
    if (!span) {
      span = { first: ts, last: ts };
      spans.set(columns.shapeOf[i], span);
    }
    span.first = Math.min(span.first, ts);
    span.last = Math.max(span.last, ts);
    batchStart = Math.min(batchStart, ts);
  }
  const values = new Map(columns.features.map((f) => [f.name, f]));
  const seen = new Map<string, { firstTs: number; lastTs: number; kind?: FeatureKind }>();
  for (const [shape, span] of spans) {
    for (const name of columns.shapes[shape]) {
      let entry = seen.get(name);
      if (!entry) {
        validateFeatureName(name);
        entry = { firstTs: span.first, lastTs: span.last, kind: firstKind(values.get(name)!, planned) };
        seen.set(name, entry);
      }
      entry.firstTs = Math.min(entry.firstTs, span.first);
      entry.lastTs = Math.max(entry.lastTs, span.last);
    }
  }
  const changes: SchemaChange[] = [];
  const newFeatures: FeatureState[] = [];
  for (const [name, entry] of seen) {
    const existing = byName.get(name);
    if (existing) {
      existing.lastSeen = Math.max(existing.lastSeen, entry.lastTs);
      if (!existing.active) {
        existing.active = true;
        changes.push({ ts: entry.firstTs, feature: name, change: 'added', kind: existing.kind });
      }
      continue;
    }
    const kind = kindHints.get(name) ?? entry.kind;
    if (!kind) {
      continue;
    }
    const state: FeatureState = { name, kind, active: true, firstSeen: entry.firstTs, lastSeen: entry.lastTs };
    byName.set(name, state);
    newFeatures.push(state);
    changes.push({ ts: entry.firstTs, feature: name, change: 'added', kind });
  }
  if (planned.length > 0) {
    for (const state of byName.values()) {
      if (state.active && !seen.has(state.name)) {
        state.active = false;
        changes.push({ ts: batchStart, feature: state.name, change: 'removed', kind: state.kind });
      }
    }
  }
  return { features: [...byName.values()], newFeatures, changes };
}

export type StoredValue = string | number | null;

/**
 * One stored column: numbers in a Float64Array with a NULL mark per row (`nulls[i]` is 1 for NULL; `numbers[i]` is
 * then 0), or strings (null for NULL). Typed arrays make a column one memory copy away from a DuckDB vector or a
 * block of ClickHouse's Native format.
 */
export type StoredColumn =
  { type: 'number'; numbers: Float64Array; nulls: Uint8Array } | { type: 'string'; strings: Array<string | null> };

/** Stored rows in column-major form: `values[j]` holds column `columns[j]` of every row. */
export interface StoredColumns {
  columns: string[];
  values: StoredColumn[];
  rowCount: number;
}

/** Row i of a stored column. */
export function storedValue(column: StoredColumn, i: number): StoredValue {
  if (column.type === 'string') {
    return column.strings[i];
  }
  return column.nulls[i] ? null : column.numbers[i];
}

/** A number column of n rows, every row NULL until set. */
export function numberColumn(n: number): Extract<StoredColumn, { type: 'number' }> {
  return { type: 'number', numbers: new Float64Array(n), nulls: new Uint8Array(n).fill(1) };
}

/** A string column of n rows, every row NULL until set. */
export function stringColumn(n: number): Extract<StoredColumn, { type: 'string' }> {
  return { type: 'string', strings: new Array<string | null>(n).fill(null) };
}

/** Sets row i of a number column; a value that is not a finite number is stored NULL. */
function setNumber(column: Extract<StoredColumn, { type: 'number' }>, i: number, value: unknown): void {
  if (typeof value === 'number' && Number.isFinite(value)) {
    column.numbers[i] = value;
    column.nulls[i] = 0;
  }
}

/** A feature with its stored column name, computed (and validated) once per batch rather than once per row. */
export interface FeatureColumn {
  name: string;
  column: string;
  kind: FeatureKind;
}

export function featureColumns(features: ReadonlyArray<{ name: string; kind: FeatureKind }>): FeatureColumn[] {
  return features.map((f) => ({ name: f.name, column: featureColumn(f.name), kind: f.kind }));
}

/**
 * Flattens rows of a batch into stored columns: the system columns of PREDICTION_SYSTEM_COLUMNS, then one
 * `f_<feature>` column per feature. A feature value of the wrong kind is stored NULL and its feature named in
 * `type_errors` (in the order of `features`). Column by column over typed arrays: a numeric feature's finite numbers
 * are copied as they are, the other values looked at one by one.
 */
export function toStoredColumns(
  batch: PredictionBatch,
  features: readonly FeatureColumn[],
  ingestedAt: number,
  rows?: Rows
): StoredColumns {
  const columns = predictionColumnsOf(batch);
  const picked = rows ?? allRows(columns);
  const n = picked.length;
  const [ts, predictionNum, score, latency, isError, samplingRate, ingested] = Array.from({ length: 7 }, () =>
    numberColumn(n)
  );
  const [id, version, predictionCat, errorMessage] = Array.from({ length: 4 }, () => stringColumn(n));
  for (let k = 0; k < n; k++) {
    const i = picked[k];
    setNumber(ts, k, columns.ts[i]);
    id.strings[k] = columns.id[i];
    version.strings[k] = columns.version[i];
    setNumber(predictionNum, k, columns.predictionNumber[i]);
    predictionCat.strings[k] = columns.predictionText?.[i] ?? null;
    setNumber(score, k, columns.score[i]);
    setNumber(latency, k, columns.latencyMs[i]);
    const error = columns.error?.[i];
    setNumber(isError, k, error ? 1 : 0);
    errorMessage.strings[k] = error ? error : null;
    setNumber(samplingRate, k, columns.samplingRate[i]);
    setNumber(ingested, k, ingestedAt);
  }
  const wrong = new Array<string>(n).fill('');
  const byName = new Map(columns.features.map((f) => [f.name, f]));
  const featureValues = features.map((feature) => {
    const values = byName.get(feature.name);
    return feature.kind === 'numeric'
      ? numericFeature(values, picked, wrong)
      : categoricalFeature(values, picked, wrong);
  });
  const typeErrors = stringColumn(n);
  typeErrors.strings = wrong;
  return {
    columns: [...PREDICTION_SYSTEM_COLUMNS, ...features.map((f) => f.column)],
    // In the order of PREDICTION_SYSTEM_COLUMNS.
    values: [
      ts,
      id,
      version,
      predictionNum,
      predictionCat,
      score,
      latency,
      isError,
      errorMessage,
      samplingRate,
      typeErrors,
      ingested,
      ...featureValues,
    ],
    rowCount: n,
  };
}

/** Names a feature in the type errors of row k (comma-separated, in the order features are stored). */
function addTypeError(wrong: string[], k: number, name: string): void {
  wrong[k] = wrong[k] ? `${wrong[k]},${name}` : name;
}

/** A numeric feature's stored column: its finite numbers; strings, booleans and non-finite numbers are type errors. */
function numericFeature(values: FeatureValues | undefined, rows: Rows, wrong: string[]): StoredColumn {
  const column = numberColumn(rows.length);
  for (let k = 0; k < rows.length; k++) {
    const i = rows[k];
    const number = values?.numbers?.[i];
    if (number !== undefined && !Number.isNaN(number)) {
      column.numbers[k] = number;
      column.nulls[k] = 0;
      continue;
    }
    const other = values?.others?.[i];
    if (other !== undefined && coerceFeature(other, 'numeric') === undefined) {
      addTypeError(wrong, k, values!.name);
    }
  }
  return column;
}

/** A categorical feature's stored column: strings, booleans as text; numbers are type errors. */
function categoricalFeature(values: FeatureValues | undefined, rows: Rows, wrong: string[]): StoredColumn {
  const column = stringColumn(rows.length);
  for (let k = 0; k < rows.length; k++) {
    const i = rows[k];
    const number = values?.numbers?.[i];
    const value = number !== undefined && !Number.isNaN(number) ? number : values?.others?.[i];
    const stored = coerceFeature(value, 'categorical');
    if (stored === undefined) {
      addTypeError(wrong, k, values!.name);
    } else {
      column.strings[k] = stored as string | null;
    }
  }
  return column;
}

/**
 * The value stored for a feature of the given kind, or `undefined` when the value has the wrong type
 * (then NULL is stored and the feature is named in `type_errors`). Non-finite numbers are type errors too.
 */
export function coerceFeature(value: FeatureValue | undefined, kind: FeatureKind): StoredValue | undefined {
  if (value === null || value === undefined) {
    return null;
  }
  if (kind === 'numeric') {
    return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
  }
  if (typeof value === 'string') {
    return value;
  }
  return typeof value === 'boolean' ? String(value) : undefined;
}

/** UTC day (YYYY-MM-DD) of an epoch-ms time: the partition of a record. */
export function utcDay(ts: number): string {
  return new Date(ts).toISOString().slice(0, 10);
}

/**
 * Pure logic shared by both stores: how a batch of records changes a model's feature schema, and how one record
 * becomes a stored row (feature values checked against their kind; wrong types stored NULL and named in
 * `type_errors`).
 */
import { featureColumn, featureKey, validateFeatureName } from './identifiers';
import type {
  Baseline,
  FeatureKind,
  FeatureState,
  FeatureValue,
  PredictionRecord,
  RejectedRecord,
  SchemaChange,
} from './types';

/** Features a model may have by default (each is a column; thousands of columns exhaust a writer's memory). */
export const DEFAULT_MAX_FEATURES_PER_MODEL = 500;

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

/** Splits records into those the schema takes and the refused ones, with reasons (see FeatureAdmission). */
export function admitRecords(
  known: readonly FeatureState[],
  records: readonly PredictionRecord[],
  maxFeatures: number
): { admitted: PredictionRecord[]; rejected: RejectedRecord[] } {
  const admission = new FeatureAdmission(
    known.map((f) => f.name),
    Math.max(maxFeatures, known.length)
  );
  const admitted: PredictionRecord[] = [];
  const rejected: RejectedRecord[] = [];
  for (const record of records) {
    const refusal = admission.admit(Object.keys(record.features));
    if (refusal) {
      rejected.push({ id: record.id, ...refusal });
    } else {
      admitted.push(record);
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

/** What a write does to a model's schema: the records it takes, the plan for those, and the refused ones. */
export interface SchemaUpdate {
  plan: SchemaPlan;
  admitted: PredictionRecord[];
  rejected: RejectedRecord[];
}

/**
 * Admits the records against the stored features (FeatureAdmission) and plans the schema change of the admitted
 * ones; the latest baseline's kinds are read only when there are new features.
 */
export async function planWrite(
  stored: readonly FeatureState[],
  records: readonly PredictionRecord[],
  maxFeatures: number,
  latestBaseline: () => Promise<Baseline | undefined>
): Promise<SchemaUpdate> {
  const known = withoutCaseDuplicates(stored);
  const { admitted, rejected } = admitRecords(known, records, maxFeatures);
  let plan = planSchema(known, admitted);
  if (plan.newFeatures.length > 0) {
    plan = planSchema(known, admitted, baselineKinds(await latestBaseline()));
  }
  return { plan, admitted, rejected };
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
  records: readonly PredictionRecord[],
  kindHints: ReadonlyMap<string, FeatureKind> = new Map()
): SchemaPlan {
  const byName = new Map(known.map((f) => [f.name, { ...f }]));
  const seen = new Map<string, { firstTs: number; lastTs: number; kind?: FeatureKind }>();
  let batchStart = Infinity;
  for (const record of records) {
    batchStart = Math.min(batchStart, record.ts);
    for (const name of Object.keys(record.features)) {
      let entry = seen.get(name);
      if (!entry) {
        validateFeatureName(name);
        entry = { firstTs: record.ts, lastTs: record.ts };
        seen.set(name, entry);
      }
      entry.firstTs = Math.min(entry.firstTs, record.ts);
      entry.lastTs = Math.max(entry.lastTs, record.ts);
      entry.kind ??= inferKind(record.features[name]);
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
  if (records.length > 0) {
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

/** Stored rows in column-major form: `values[j][i]` is column `columns[j]` of row i. */
export interface StoredColumns {
  columns: string[];
  values: StoredValue[][];
  rowCount: number;
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
 * Flattens records into stored columns: the system columns of PREDICTION_SYSTEM_COLUMNS, then one `f_<feature>`
 * column per feature. A feature value of the wrong kind is stored NULL and its feature named in `type_errors`.
 * Column-major because both writers consume columns and it avoids one wide object per row.
 */
export function toStoredColumns(
  records: readonly PredictionRecord[],
  features: readonly FeatureColumn[],
  ingestedAt: number
): StoredColumns {
  const n = records.length;
  const column = (pick: (r: PredictionRecord) => StoredValue): StoredValue[] => records.map(pick);
  const typeErrors: string[][] = records.map(() => []);
  const featureValues = features.map((feature) =>
    records.map((record, i) => {
      const value = Object.hasOwn(record.features, feature.name) ? record.features[feature.name] : null;
      const stored = coerceFeature(value, feature.kind);
      if (stored === undefined) {
        typeErrors[i].push(feature.name);
        return null;
      }
      return stored;
    })
  );
  const system: Array<[string, StoredValue[]]> = [
    ['ts', column((r) => r.ts)],
    ['id', column((r) => r.id)],
    ['version', column((r) => r.version)],
    ['prediction_num', column((r) => (typeof r.prediction === 'number' ? finiteOrNull(r.prediction) : null))],
    ['prediction_cat', column((r) => (typeof r.prediction === 'string' ? r.prediction : null))],
    ['score', column((r) => finiteOrNull(r.score))],
    ['latency_ms', column((r) => finiteOrNull(r.latencyMs))],
    ['is_error', column((r) => (r.error ? 1 : 0))],
    ['error_message', column((r) => (r.error ? r.error : null))],
    ['sampling_rate', column((r) => r.samplingRate)],
    ['type_errors', typeErrors.map((names) => names.join(','))],
    ['ingested_at', column(() => ingestedAt)],
  ];
  return {
    columns: [...system.map(([name]) => name), ...features.map((f) => f.column)],
    values: [...system.map(([, values]) => values), ...featureValues],
    rowCount: n,
  };
}

/** Row objects of stored columns (for JSONEachRow inserts). */
export function toRowObjects(stored: StoredColumns): Array<Record<string, StoredValue>> {
  const rows: Array<Record<string, StoredValue>> = [];
  for (let i = 0; i < stored.rowCount; i++) {
    const row: Record<string, StoredValue> = {};
    stored.columns.forEach((name, j) => (row[name] = stored.values[j][i]));
    rows.push(row);
  }
  return rows;
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

function finiteOrNull(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** UTC day (YYYY-MM-DD) of an epoch-ms time: the partition of a record. */
export function utcDay(ts: number): string {
  return new Date(ts).toISOString().slice(0, 10);
}

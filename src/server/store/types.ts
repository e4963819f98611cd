/**
 * The store contract: what writers (collector, `mlmon ingest`, `mlmon simulate`, `mlmon baseline`) and
 * readers (the backend's query handlers) agree on. Two implementations: the embedded Parquet data
 * directory read by DuckDB, and ClickHouse. Writers and readers meet only here.
 *
 * Conventions
 * - Times are epoch milliseconds (integers) everywhere in this interface.
 * - Model and feature names are validated by `validateIdentifier` before they reach any SQL.
 * - A prediction's `id` is the request id; re-sent records with the same id are counted once.
 */

import type { CategoricalBaseline, NumericBaseline, ScoreCalibration } from '../../core/stats';
import type { PredictionBatch } from './prediction-columns';
import type { Params } from './sql-params';

export type FeatureKind = 'numeric' | 'categorical';
export type FeatureValue = number | string | boolean | null;

/** One logged prediction, as the collector accepted it. */
export interface PredictionRecord {
  id: string;
  /** Epoch milliseconds. */
  ts: number;
  version: string;
  features: Record<string, FeatureValue>;
  prediction: number | string | null;
  score?: number | null;
  latencyMs?: number | null;
  /** Error message when the model failed to answer; null or absent when it succeeded. */
  error?: string | null;
  /** Fraction of traffic kept at ingestion (1 = everything); counts are divided by it. */
  samplingRate: number;
}

/** A ground-truth label, arriving (often days) after its prediction; joined by request id. */
export interface LabelRecord {
  id: string;
  label: number | string;
  /** Epoch milliseconds when the label was recorded. */
  ts: number;
}

/** What the store knows of one feature of a model. */
export interface FeatureSchema {
  name: string;
  kind: FeatureKind;
  /** Declared range for numeric features (from the baseline or the user). */
  min?: number;
  max?: number;
  /** Declared categories for categorical features. */
  categories?: string[];
}

/** A feature that appeared in or disappeared from a model's traffic. */
export interface SchemaChange {
  ts: number;
  feature: string;
  change: 'added' | 'removed' | 'kind_changed';
  kind?: FeatureKind;
}

/**
 * Something a tool recorded about a model, shown by the `events` query as an annotation: `mlmon retrain-hook`'s
 * "retraining requested". Point events at `ts`; limits in MODEL_EVENT_LIMITS.
 */
export interface ModelEvent {
  ts: number;
  /** What happened, a short identifier such as `retrain_requested`. */
  kind: string;
  title: string;
  text: string;
  tags: string[];
}

/** The largest event a store keeps: longer text is cut by `boundedModelEvent`, more tags dropped. */
export const MODEL_EVENT_LIMITS = { kind: 64, title: 200, text: 4000, tags: 20, tag: 100 } as const;

/** The event within MODEL_EVENT_LIMITS (what both stores write), its time a whole number of milliseconds. */
export function boundedModelEvent(event: ModelEvent): ModelEvent {
  const cut = (text: string, length: number) => (text.length > length ? text.slice(0, length - 1) + '…' : text);
  if (!Number.isSafeInteger(event.ts) || event.ts < 0) {
    throw new RangeError(`event time ${event.ts} is not epoch milliseconds`);
  }
  return {
    ts: event.ts,
    kind: cut(event.kind, MODEL_EVENT_LIMITS.kind),
    title: cut(event.title, MODEL_EVENT_LIMITS.title),
    text: cut(event.text, MODEL_EVENT_LIMITS.text),
    tags: event.tags.slice(0, MODEL_EVENT_LIMITS.tags).map((tag) => cut(tag, MODEL_EVENT_LIMITS.tag)),
  };
}

/**
 * The write side the collector and the CLI use. Both stores implement it; the full store interface
 * (schema, baselines, reads for the query handlers, compaction, retention) extends it.
 */
export interface PredictionWriter {
  /**
   * Makes the records durable in the store, except those the model's schema cannot take (feature names that
   * differ only in case from others, new features beyond the per-model cap: schema.ts `FeatureAdmission`), which
   * are returned with the reason. Records whose id is already stored are not counted twice. The records come as
   * objects or already in columns (prediction-columns.ts), as the collector's flusher sends them.
   */
  writePredictions(model: string, records: PredictionBatch, options?: WriteOptions): Promise<WriteResult>;
  writeLabels(model: string, records: LabelRecord[]): Promise<void>;
  /** The model's features (empty for a model not stored yet). */
  getFeatures(model: string): Promise<FeatureState[]>;
  /**
   * Identities (predictionKey) of the model's most recently ingested predictions, at most `limit`, oldest first,
   * among those ingested within RECENT_IDS_WINDOW_MS of the newest (the collector's de-duplication horizon across
   * restarts).
   */
  recentIds(model: string, limit: number): Promise<string[]>;
}

/**
 * The identity of a prediction within its model: its version and request id, as one string (`<version> <id>`; a
 * version has no space: identifiers.ts validateVersion). Two versions scoring the same request (a champion and its
 * shadow challenger) make two predictions; a re-sent copy of one has its key.
 */
export function predictionKey(version: string, id: string): string {
  return `${version} ${id}`;
}

/**
 * Layout of the baseline document `mlmon baseline` writes. 2 added the score calibration (estimated performance);
 * documents without a `schemaVersion` are 1 and load as they are, without one.
 */
export const BASELINE_SCHEMA_VERSION = 2;

/** The schema version of a stored baseline: 1 for documents written before versions were recorded. */
export function baselineSchemaVersion(baseline: Pick<Baseline, 'schemaVersion'>): number {
  return baseline.schemaVersion ?? 1;
}

/**
 * A baseline as read back from JSON, with its per-feature maps given a null prototype, so that looking up a
 * feature named like an Object.prototype member (`constructor`, `toString`) finds only what the baseline holds.
 */
export function withOwnFeatures(baseline: Baseline): Baseline {
  return { ...baseline, features: Object.assign(Object.create(null), baseline.features) };
}

/** How far back from the newest ingestion `recentIds` looks: two days. */
export const RECENT_IDS_WINDOW_MS = 2 * 86_400_000;

export interface WriteOptions {
  /** Features a model may have (default schema.ts DEFAULT_MAX_FEATURES_PER_MODEL). */
  maxFeaturesPerModel?: number;
  /**
   * Rows × columns written at once at most (one Parquet file, one ClickHouse insert; default schema.ts
   * DEFAULT_MAX_CELLS_PER_WRITE), so that a wide model is written in smaller pieces in bounded memory.
   */
  maxCellsPerWrite?: number;
}

/** A record the store refused, with a stable code and a sentence for people. */
export interface RejectedRecord {
  id: string;
  code: 'invalid_feature_name' | 'too_many_features';
  reason: string;
}

export interface WriteResult {
  rejected: RejectedRecord[];
}

// ---------------------------------------------------------------------------------------------------------------
// Full store contract (read side, schema, baselines, maintenance). Owned by the store; read by the backend.
// ---------------------------------------------------------------------------------------------------------------

/**
 * Stored columns of a model's predictions relation (both stores):
 *   ts (Int64 epoch ms), id, version, prediction_num (Float64, numeric predictions), prediction_cat (String,
 *   class labels), score, latency_ms, is_error (UInt8 0/1), error_message, sampling_rate, type_errors (comma-separated
 *   names of features whose value had the wrong type and was stored NULL; '' when none), ingested_at (Int64 epoch ms),
 *   and one column per feature named `f_<feature>` (Float64 numeric, String categorical; booleans stored 'true'/'false').
 * Labels relation: id, label_num, label_cat, ts, ingested_at.
 */
export const PREDICTION_SYSTEM_COLUMNS = [
  'ts',
  'id',
  'version',
  'prediction_num',
  'prediction_cat',
  'score',
  'latency_ms',
  'is_error',
  'error_message',
  'sampling_rate',
  'type_errors',
  'ingested_at',
] as const;

export type StoreDialect = 'duckdb' | 'clickhouse';

/** A time range in epoch ms, start inclusive, end exclusive. */
export interface TimeRange {
  from: number;
  to: number;
}

export interface VersionSummary {
  version: string;
  /** Stored rows (after dedup by id). */
  count: number;
  firstTs: number;
  lastTs: number;
}

/** What the store knows of a feature, with its lifecycle. */
export interface FeatureState extends FeatureSchema {
  /** False once the feature stopped arriving (a 'removed' schema change was recorded). */
  active: boolean;
  firstSeen: number;
  lastSeen: number;
}

export interface PredictionCounts {
  /** Stored rows in the range (after dedup by version and id). */
  rows: number;
  /** Rows scaled back by the sampling rate: Σ 1/sampling_rate. */
  estimatedTotal: number;
  errors: number;
}

/**
 * A numeric column of a baseline: the stats core's NumericBaseline (edges and counts of the `reference-deciles`
 * bins, count, missing, mean, population std, min/max = observed range, spread, and a quantile sketch of 1 001
 * quantiles for KS and Wasserstein, whose CDF is within `ksCdfError` = 1/1000 + 1/n of the reference's) plus
 * the reference proportions and the declared range, if any.
 */
export type NumericReference = NumericBaseline & {
  proportions: number[];
  binning: string;
  ksCdfError: number;
  declaredMin?: number;
  declaredMax?: number;
};

/** A categorical column of a baseline: the stats core's CategoricalBaseline plus proportions and declared categories. */
export type CategoricalReference = CategoricalBaseline & {
  proportions: Record<string, number>;
  declaredCategories?: string[];
};

export type ColumnReference = NumericReference | CategoricalReference;

export type ClassifierPerformance = {
  task: 'classification';
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  /** Null when labels hold a single class or scores are missing. */
  auc: number | null;
  /** 'binary': metrics of `positiveLabel`; 'macro': unweighted mean over classes (AUC null). */
  averaging: 'binary' | 'macro';
  positiveLabel: string | null;
  count: number;
};
export type RegressorPerformance = {
  task: 'regression';
  mae: number;
  rmse: number;
  mape: number | null;
  count: number;
};

/** A stored baseline: the reference a model version's traffic is compared with. */
export interface Baseline {
  model: string;
  version: string;
  createdAt: number;
  /** Where the reference came from: a file path or "store:<from ISO>/<to ISO>". */
  source: string;
  rows: number;
  features: Record<string, ColumnReference>;
  /** Columns left out, with the reason (e.g. no non-missing value). */
  skipped: Record<string, string>;
  prediction?: ColumnReference;
  performance?: ClassifierPerformance | RegressorPerformance;
  /** BASELINE_SCHEMA_VERSION of the document (1 when absent). */
  schemaVersion?: number;
  /**
   * Calibration of a binary classifier's scores on the labelled reference rows, for estimated performance (CBPE);
   * absent when the reference had no labels or no scores, or the model is not a binary classifier.
   */
  calibration?: BaselineCalibration;
  /** Convention notes (binning, quantile type, KS error) so readers know how the numbers were made. */
  conventions: Record<string, string>;
  /** The model-registry version the baseline was built for (`mlmon baseline --from-registry`). */
  registry?: BaselineRegistryOrigin;
}

/** Where a baseline built from the model registry came from. */
export interface BaselineRegistryOrigin {
  /** Registered model name. */
  name: string;
  /** Registry version number. */
  version: string;
  /** The version string of the prediction logs (the `mlmon.version` tag, else the number). */
  logVersion: string;
  runId: string;
  /** The alias it was resolved through, when it was. */
  alias?: string;
  /** The reference data's URI. */
  reference: string;
}

/** A score calibration with the share of reference rows whose prediction is the positive class iff score ≥ threshold. */
export interface BaselineCalibration extends ScoreCalibration {
  predictionAgreement: number;
}

export interface BaselineSummary {
  model: string;
  version: string;
  createdAt: number;
  source: string;
  rows: number;
  features: number;
}

/**
 * One UTC day of a file-backed store: [start, end) in epoch ms, and its files in name order. A file never changes
 * under its name (a rewrite gets a new name) and never repeats an id; the day's rows are the kept copies of its files
 * (day-merge.ts), so counts over a file, or over the first files of a day, can be cached.
 */
export interface StoredDay {
  start: number;
  end: number;
  files: readonly string[];
}

/**
 * Counts prepared per hour for a set of counts keys (src/server/counting/clickhouse-hours.ts): for every hour and key,
 * the ingestion ledger's rows of that hour when it was counted, and the SELECT of the counted cells (columns
 * `counts_key, hour, bin, category, n, s`; bin −1 = missing, category '' for numeric bins) over the predictions of
 * `range`, which the store runs into its table (on every shard over the shard's rows, in cluster mode), all stamped
 * `preparedAt`.
 */
export interface PreparedHours {
  preparedAt: number;
  range: TimeRange;
  hours: Array<{ counts_key: string; hour: number; ingested: number }>;
  cellsOf(relation: string): { sql: string; params: Params };
}

/**
 * What the counting engine needs of one shard of a cluster store: queries that run on the shard, over the shard's
 * own rows (its local tables).
 */
export type ShardReader = Pick<PredictionStore, 'dialect' | 'query' | 'predictionsRelation'>;

/** How a store query may be stopped: Grafana's cancellation or the backend's per-query time limit. */
export interface QueryOptions {
  signal?: AbortSignal;
}

/** The full store: the write side plus what the backend and the CLI read. */
export interface PredictionStore extends PredictionWriter {
  readonly dialect: StoreDialect;
  /** A short description for logs (never contains secrets). */
  readonly description: string;

  listModels(): Promise<string[]>;
  listVersions(model: string): Promise<VersionSummary[]>;
  getSchemaChanges(model: string, range?: TimeRange): Promise<SchemaChange[]>;
  /** Appends an event (boundedModelEvent) to the model's event log; durable once the promise resolves. */
  recordEvent(model: string, event: ModelEvent): Promise<void>;
  /** The model's recorded events whose time is in the range (from inclusive, to exclusive), oldest first. */
  getEvents(model: string, range?: TimeRange): Promise<ModelEvent[]>;
  countPredictions(model: string, range: TimeRange, version?: string): Promise<PredictionCounts>;

  /**
   * A SQL relation (usable after FROM) over the model's predictions in the range, one row per id (dedup).
   * Columns as in PREDICTION_SYSTEM_COLUMNS plus `f_<feature>` for the model's known features.
   */
  predictionsRelation(model: string, range?: TimeRange): Promise<string>;
  /**
   * A SQL relation over the model's labels, one row per id (the latest label wins); with `since`, only of the labels
   * recorded at or after it (epoch ms), so that a window's labels are read without every older one.
   */
  labelsRelation(model: string, since?: number): Promise<string>;
  /**
   * File-backed stores only: the days of the model's predictions overlapping the range, ascending, with their files
   * (counts over them are cached: src/server/counting/window-counts.ts).
   */
  predictionDays?(model: string, range: TimeRange): Promise<StoredDay[]>;
  /**
   * File-backed stores only: a relation like predictionsRelation's over some files of `predictionDays` (the kept
   * copies of their rows, as if each day held only those of its files).
   */
  fileRelation?(model: string, files: readonly string[]): Promise<string>;
  /** File-backed stores only: whether `file` holds a prediction (its id and version) that one of `others` (of its day) holds. */
  filesSharePredictions?(file: string, others: readonly string[]): Promise<boolean>;
  /** File-backed stores only: the counts cached beside a file of `predictionDays` under each key, where kept. */
  readFileCounts?(file: string, keys: readonly string[]): Promise<Array<string | undefined>>;
  /**
   * File-backed stores only: caches counts beside a file under their keys (they go when the file goes). Best effort:
   * a read-only store writes nothing.
   */
  writeFileCounts?(file: string, counts: ReadonlyArray<readonly [key: string, text: string]>): Promise<void>;
  /**
   * A text that changes whenever predictions whose ts is in the range are written (or the files or parts holding them
   * are rewritten), read without counting rows: live panels poll it (src/server/backend/live.ts). The embedded store
   * names the files of the range's days; ClickHouse sums the ingestion ledger's rows of the range's hours.
   */
  changeMarker?(model: string, range: TimeRange): Promise<string>;
  /**
   * Stores that keep prepared counts in themselves (ClickHouse; src/server/counting/clickhouse-hours.ts): makes sure
   * the model's ingestion ledger (rows inserted per hour) is kept, so a changed hour is told from a prepared one.
   */
  ensureIngestLedger?(model: string): Promise<void>;
  /** Stores that keep prepared counts in themselves: appends the counts of prepared hours. */
  writePreparedCounts?(model: string, prepared: PreparedHours): Promise<void>;
  /**
   * Cluster stores: one reader per shard. Every copy of a request id, and its label, live on one shard, so counts
   * summed over the shards' readers are the store's counts: the counting engine runs its statements on every shard
   * and adds up the cells they return (counting pushed down; the rows stay on their shard).
   */
  shardReaders?(): ShardReader[];
  /**
   * Runs SQL produced by a query handler. Values are never spliced by the caller: write `{name}` placeholders
   * and pass `params` (see sql-params.ts). Int64 results come back as JS numbers. When `options.signal` aborts,
   * the engine stops the query (not only the wait for it) and the promise rejects.
   */
  query<T = Record<string, unknown>>(sql: string, params?: Params, options?: QueryOptions): Promise<T[]>;

  saveBaseline(baseline: Baseline): Promise<void>;
  getBaseline(model: string, version: string): Promise<Baseline | undefined>;
  listBaselines(model: string): Promise<BaselineSummary[]>;

  /** Merges small files / parts and removes duplicate ids. Returns rows kept. */
  compact(model: string): Promise<{ rowsKept: number }>;
  /** Drops whole days older than `beforeTs` (predictions by ts, labels by label ts). Returns the days dropped. */
  applyRetention(model: string, beforeTs: number): Promise<{ daysDropped: string[] }>;
  /**
   * Runs one model's upkeep (retention, compaction, preparing counts) exclusively among all processes using the
   * store, waiting up to `waitMs` for another holder (`onWait` is told who it is); then throws LockHeldError
   * (store/lock.ts).
   */
  withMaintenanceLock<T>(
    model: string,
    work: () => Promise<T>,
    options: { waitMs: number; onWait?: (holder: string) => void }
  ): Promise<T>;
  /**
   * Removes everything stored for the model: predictions, labels, schema, baselines, events (and prepared counts).
   * Resolves to false when the store holds nothing of that model.
   */
  deleteModel(model: string): Promise<boolean>;

  close(): Promise<void>;
}

/**
 * The query model of the Model Monitor datasource: one `as const` list of query types, the options of each, their
 * defaults and a validating parser. The frontend editors write these objects, the backend parses them with
 * {@link parseQuery} (alert rules reach the backend without the browser, so the backend must not trust the editor).
 *
 * Isomorphic: no Node, React or Grafana imports.
 */

/** Every query type, in the order the query editor lists them. */
export const QUERY_TYPES = [
  'drift',
  'prediction_drift',
  'distribution',
  'severity',
  'quality',
  'performance',
  'operational',
  'ranking',
  'compare',
  'events',
  'models',
  'versions',
  'features',
] as const;
export type QueryType = (typeof QUERY_TYPES)[number];

/** Drift metrics of METRICS.md; `psi` is the primary metric by default. */
export const DRIFT_METRICS = ['psi', 'js', 'ks', 'wasserstein', 'hellinger', 'linf', 'chi_square'] as const;
export type DriftMetric = (typeof DRIFT_METRICS)[number];

/** Data-quality rates (fractions of the rows in a bucket) and the schema-change count. */
export const QUALITY_METRICS = [
  'null_rate',
  'out_of_range_rate',
  'unseen_category_rate',
  'type_error_rate',
  'schema_changes',
] as const;
export type QualityMetric = (typeof QUALITY_METRICS)[number];

/** Performance metrics computed from late labels joined by request id. */
export const PERFORMANCE_METRICS = [
  'accuracy',
  'precision',
  'recall',
  'f1',
  'auc',
  'mae',
  'rmse',
  'mape',
  'label_coverage',
] as const;
export type PerformanceMetric = (typeof PERFORMANCE_METRICS)[number];

/** Operational metrics: latency percentiles, throughput scaled back by the sampling rate, error rate. */
export const OPERATIONAL_METRICS = ['latency_p50', 'latency_p95', 'latency_p99', 'throughput', 'error_rate'] as const;
export type OperationalMetric = (typeof OPERATIONAL_METRICS)[number];

export const SEGMENT_OPERATORS = ['=', '!=', '<', '<=', '>', '>='] as const;
export type SegmentOperator = (typeof SEGMENT_OPERATORS)[number];

/** One condition of a segment filter; conditions are AND-ed. The backend binds `value`, never splices it. */
export interface SegmentCondition {
  column: string;
  operator: SegmentOperator;
  value: string | number | boolean;
}

/** Options every query type shares (Grafana's `refId`, `hide` and `datasource` travel beside them). */
export interface QueryBase<T extends QueryType> {
  refId: string;
  queryType: T;
  hide?: boolean;
}

/** Options of the queries that read one model's predictions. */
export interface ModelScope {
  /** Model name; may hold a template variable such as `$model` in the editor. */
  model: string;
  /** Model version; empty means every version. */
  version?: string;
  /** Baseline id; empty means the model's latest baseline. */
  baseline?: string;
  /** Bucket size as a duration (`30s`, `5m`, `1h`, `1d`); empty means Grafana's interval. */
  bucket?: string;
  segment?: SegmentCondition[];
  /** Fraction of rows read, in (0, 1]; 1 reads everything. */
  sampleFraction?: number;
}

/**
 * What the first number field of a series holds, and so what a Grafana alert rule evaluates (server-side
 * expressions read the first number field of a data-plane series): the metric's value, the severity level 0–3
 * (after persistence, for drift), or the drift metric's noise floor (for an alert's summary to quote it).
 * QUERY_TYPE_SPECS says which of them each query type offers.
 */
export const ALERT_FIELDS = ['value', 'level', 'noise_floor'] as const;
export type AlertField = (typeof ALERT_FIELDS)[number];

/** The number an alert rule reads first. */
export interface AlertChoice {
  /**
   * Default `value`; `level` lets an alert rule fire on the severity (for drift the persisted, noise-floor-aware
   * level: "drifting for three days"; for rated metrics the level against the configured thresholds).
   */
  alertOn?: AlertField;
}

/** Persistence: a level counts only when reached in `persistence` consecutive buckets (1 = no persistence). */
export interface Persistence extends AlertChoice {
  persistence?: number;
}

export interface DriftQuery extends QueryBase<'drift'>, ModelScope, Persistence {
  features?: string[];
  metric?: DriftMetric;
}
export interface PredictionDriftQuery extends QueryBase<'prediction_drift'>, ModelScope, Persistence {
  metric?: DriftMetric;
}
export interface DistributionQuery extends QueryBase<'distribution'>, ModelScope {
  features?: string[];
}
export interface SeverityQuery extends QueryBase<'severity'>, ModelScope, Persistence {
  features?: string[];
  metric?: DriftMetric;
}
export interface QualityQuery extends QueryBase<'quality'>, ModelScope, AlertChoice {
  features?: string[];
  metric?: QualityMetric;
}
export interface PerformanceQuery extends QueryBase<'performance'>, ModelScope, AlertChoice {
  /** Default: the task's primary score, accuracy for a classifier and MAE for a regressor. */
  metric?: PerformanceMetric;
  /**
   * Estimate the metric of every bucket from the calibrated scores (CBPE, src/core/stats/cbpe.ts) beside the
   * realized one, before labels arrive: binary classifiers whose baseline has a score calibration.
   */
  estimate?: boolean;
}
export interface OperationalQuery extends QueryBase<'operational'>, ModelScope, AlertChoice {
  metric?: OperationalMetric;
}
export interface RankingQuery extends QueryBase<'ranking'>, ModelScope {
  metric?: DriftMetric;
}
/**
 * Champion vs challenger: two versions of one model serving the same traffic, side by side per bucket (compare.ts).
 * The scope's `version` does not apply (the two versions are the query's own).
 */
export interface CompareQuery extends QueryBase<'compare'>, Omit<ModelScope, 'version'>, AlertChoice {
  /** The version serving the traffic (a version name; the registry's `@alias` may name it). */
  champion: string;
  /** The version it is compared with, in shadow (same request ids) or on a split of the traffic. */
  challenger: string;
  /** Realized and estimated performance metric; default the task's primary score (accuracy or MAE). */
  metric?: PerformanceMetric;
  /**
   * Regressors: two predictions of one request agree when they differ by at most this much (prediction units);
   * default COMPARE_TOLERANCE_STD × the population standard deviation of the baseline's predictions.
   */
  tolerance?: number;
  /** Only one part of the comparison (a dashboard panel, an alert rule); default all of them. */
  part?: ComparePart;
}
/**
 * The parts of a comparison: the prediction distance (JS, PSI), the agreement of shadow pairs, realized and estimated
 * performance, latency p95 and error rate.
 */
export const COMPARE_PARTS = ['distance', 'agreement', 'performance', 'operational'] as const;
export type ComparePart = (typeof COMPARE_PARTS)[number];
/** Default agreement tolerance of regressors, in standard deviations of the baseline's predictions. */
export const COMPARE_TOLERANCE_STD = 0.1;
/** The lowest drift level that opens an event (Grafana annotation) episode. */
export const EVENT_LEVELS = ['warning', 'critical'] as const;
export type EventLevel = (typeof EVENT_LEVELS)[number];
/** Drift episodes and schema changes as annotation events. */
export interface EventsQuery extends QueryBase<'events'>, ModelScope, Persistence {
  features?: string[];
  metric?: DriftMetric;
  /** Default `warning`. */
  minLevel?: EventLevel;
}
export type ModelsQuery = QueryBase<'models'>;
export interface VersionsQuery extends QueryBase<'versions'> {
  model: string;
}
export interface FeaturesQuery extends QueryBase<'features'> {
  model: string;
  version?: string;
}

/** A query of the datasource, discriminated by `queryType`. */
export type MonitorQuery =
  | DriftQuery
  | PredictionDriftQuery
  | DistributionQuery
  | SeverityQuery
  | QualityQuery
  | PerformanceQuery
  | OperationalQuery
  | RankingQuery
  | CompareQuery
  | EventsQuery
  | ModelsQuery
  | VersionsQuery
  | FeaturesQuery;

/** The query of one type. */
export type QueryOf<T extends QueryType> = Extract<MonitorQuery, { queryType: T }>;

/** What each query type needs and offers; the editors and the parser read this table. */
export interface QueryTypeSpec {
  label: string;
  description: string;
  needsModel: boolean;
  /** Reads predictions in a time range (bucket, segment, sample fraction apply). */
  scoped: boolean;
  /** Returns values per time bucket (the others compare the whole range at once). */
  bucketed: boolean;
  features: boolean;
  persistence: boolean;
  /** The numbers `alertOn` may put first in each series (empty: the query type is not meant for alert rules). */
  alertFields: readonly AlertField[];
  metrics?: readonly string[];
  defaultMetric?: string;
}

/** Drift series carry the value, its noise floor and the noise-floor-aware level. */
const DRIFT_ALERT_FIELDS: readonly AlertField[] = ['value', 'level', 'noise_floor'];
/** Rated series (quality, performance, operational) carry the value and its level against the thresholds. */
const RATED_ALERT_FIELDS: readonly AlertField[] = ['value', 'level'];

export const QUERY_TYPE_SPECS: Record<QueryType, QueryTypeSpec> = {
  drift: {
    label: 'Drift',
    description: 'Per feature and bucket: the drift metric with its noise floor and severity',
    needsModel: true,
    scoped: true,
    bucketed: true,
    features: true,
    persistence: true,
    alertFields: DRIFT_ALERT_FIELDS,
    metrics: DRIFT_METRICS,
    defaultMetric: 'psi',
  },
  prediction_drift: {
    label: 'Prediction drift',
    description: "Drift of the model's output per bucket",
    needsModel: true,
    scoped: true,
    bucketed: true,
    features: false,
    persistence: true,
    alertFields: DRIFT_ALERT_FIELDS,
    metrics: DRIFT_METRICS,
    defaultMetric: 'psi',
  },
  distribution: {
    label: 'Distribution',
    description: 'Baseline vs current bins, CDFs and metric readouts per feature',
    needsModel: true,
    scoped: true,
    bucketed: false,
    features: true,
    persistence: false,
    alertFields: [],
  },
  severity: {
    label: 'Severity',
    description: 'Features × buckets → level 0–3 with the value behind it',
    needsModel: true,
    scoped: true,
    bucketed: true,
    features: true,
    persistence: true,
    alertFields: [],
    metrics: DRIFT_METRICS,
    defaultMetric: 'psi',
  },
  quality: {
    label: 'Data quality',
    description: 'Null, out-of-range, unseen-category and type-error rates, schema changes',
    needsModel: true,
    scoped: true,
    bucketed: true,
    features: true,
    persistence: false,
    alertFields: RATED_ALERT_FIELDS,
    metrics: QUALITY_METRICS,
    defaultMetric: 'null_rate',
  },
  performance: {
    label: 'Performance',
    description: 'Accuracy, F1, AUC or MAE, RMSE, MAPE from late labels; label coverage',
    needsModel: true,
    scoped: true,
    bucketed: true,
    features: false,
    persistence: false,
    alertFields: RATED_ALERT_FIELDS,
    metrics: PERFORMANCE_METRICS,
  },
  operational: {
    label: 'Operational',
    description: 'Latency percentiles, throughput, error rate',
    needsModel: true,
    scoped: true,
    bucketed: true,
    features: false,
    persistence: false,
    alertFields: RATED_ALERT_FIELDS,
    metrics: OPERATIONAL_METRICS,
    defaultMetric: 'latency_p95',
  },
  ranking: {
    label: 'Drift ranking',
    description: "Features ordered by drift, with each one's share in the prediction drift",
    needsModel: true,
    scoped: true,
    bucketed: false,
    features: false,
    persistence: false,
    alertFields: [],
    metrics: DRIFT_METRICS,
    defaultMetric: 'psi',
  },
  compare: {
    label: 'Champion vs challenger',
    description:
      'Two versions side by side: prediction distance, agreement, realized and estimated performance, latency, errors',
    needsModel: true,
    scoped: true,
    bucketed: true,
    features: false,
    persistence: false,
    alertFields: RATED_ALERT_FIELDS,
    metrics: PERFORMANCE_METRICS,
  },
  events: {
    label: 'Events',
    description: 'Drift episodes and schema changes as annotation events',
    needsModel: true,
    scoped: true,
    bucketed: true,
    features: true,
    persistence: true,
    alertFields: [],
    metrics: DRIFT_METRICS,
    defaultMetric: 'psi',
  },
  models: {
    label: 'Models',
    description: 'Model names (template variables)',
    needsModel: false,
    scoped: false,
    bucketed: false,
    features: false,
    persistence: false,
    alertFields: [],
  },
  versions: {
    label: 'Versions',
    description: "A model's versions (template variables)",
    needsModel: true,
    scoped: false,
    bucketed: false,
    features: false,
    persistence: false,
    alertFields: [],
  },
  features: {
    label: 'Features',
    description: "A model's features (template variables)",
    needsModel: true,
    scoped: false,
    bucketed: false,
    features: false,
    persistence: false,
    alertFields: [],
  },
};

export function isQueryType(value: unknown): value is QueryType {
  return typeof value === 'string' && (QUERY_TYPES as readonly string[]).includes(value);
}

/** A query of `queryType` with its defaults, keeping the model scope of `from` when it has one. */
export function defaultQuery<T extends QueryType>(queryType: T, from: Partial<ModelScope> & { refId?: string } = {}) {
  const spec = QUERY_TYPE_SPECS[queryType];
  const query: Record<string, unknown> = { refId: from.refId ?? 'A', queryType };
  if (spec.needsModel) {
    query.model = from.model ?? '';
  }
  if (spec.scoped) {
    for (const key of ['version', 'baseline', 'bucket', 'segment', 'sampleFraction'] as const) {
      if (from[key] !== undefined && !(key === 'version' && queryType === 'compare')) {
        query[key] = from[key];
      }
    }
  }
  if (queryType === 'compare') {
    // the template variables of the bundled dashboards (versions queries), which Grafana replaces
    query.champion = '$champion';
    query.challenger = '$challenger';
  }
  if (queryType === 'features' && from.version !== undefined) {
    query.version = from.version;
  }
  if (spec.defaultMetric) {
    query.metric = spec.defaultMetric;
  }
  if (spec.persistence) {
    query.persistence = 1;
  }
  return query as unknown as QueryOf<T>;
}

/** A query that cannot be run; the message says which option is wrong and what is allowed. */
export class QueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryError';
  }
}

const DURATION_UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/**
 * Seconds in a Grafana-style duration: `<number><unit>` with unit ms, s, m, h, d or w (`90s`, `1.5h`, `1d`).
 * Throws a QueryError for anything else, including zero and negative durations.
 */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/.exec(text);
  const seconds = match ? Number(match[1]) * DURATION_UNITS[match[2]] : NaN;
  if (!(seconds > 0)) {
    throw new QueryError(`bucket "${text}" is not a duration: write a number and a unit, e.g. 30s, 5m, 1h or 1d`);
  }
  return seconds;
}

function optionalString(raw: Record<string, unknown>, key: string): string | undefined {
  const value = raw[key];
  if (value === undefined || value === null || value === '') {
    return undefined;
  }
  if (typeof value !== 'string') {
    throw new QueryError(`"${key}" must be a string, got ${typeof value}`);
  }
  return value;
}

function oneOf<T extends string>(raw: Record<string, unknown>, key: string, allowed: readonly T[]): T | undefined {
  const value = optionalString(raw, key);
  if (value !== undefined && !allowed.includes(value as T)) {
    throw new QueryError(`"${key}" is "${value}"; use one of: ${allowed.join(', ')}`);
  }
  return value as T | undefined;
}

function stringList(raw: Record<string, unknown>, key: string): string[] | undefined {
  const value = raw[key];
  if (value === undefined || value === null) {
    return undefined;
  }
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item === '')) {
    throw new QueryError(`"${key}" must be a list of non-empty names`);
  }
  return value.length > 0 ? (value as string[]) : undefined;
}

function parseSegment(value: unknown): SegmentCondition[] | undefined {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (!Array.isArray(value)) {
    throw new QueryError('"segment" must be a list of {column, operator, value} conditions');
  }
  const conditions = value.map((item, index) => {
    const condition = (item ?? {}) as Record<string, unknown>;
    const where = `segment condition ${index + 1}`;
    if (typeof condition.column !== 'string' || condition.column === '') {
      throw new QueryError(`${where} has no column`);
    }
    if (!(SEGMENT_OPERATORS as readonly unknown[]).includes(condition.operator)) {
      throw new QueryError(`${where} has operator "${condition.operator}"; use one of ${SEGMENT_OPERATORS.join(' ')}`);
    }
    if (!['string', 'number', 'boolean'].includes(typeof condition.value)) {
      throw new QueryError(`${where} needs a string, number or boolean value`);
    }
    return condition as unknown as SegmentCondition;
  });
  return conditions.length > 0 ? conditions : undefined;
}

function optionalBoolean(raw: Record<string, unknown>, key: string): boolean | undefined {
  const value = raw[key];
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'boolean') {
    throw new QueryError(`"${key}" is ${JSON.stringify(value)}; it must be true or false`);
  }
  return value || undefined;
}

function numberInRange(raw: Record<string, unknown>, key: string, ok: (n: number) => boolean, rule: string) {
  const value = raw[key];
  if (value === undefined || value === null || value === '') {
    return undefined;
  }
  if (typeof value !== 'number' || !ok(value)) {
    throw new QueryError(`"${key}" is ${JSON.stringify(value)}; it must be ${rule}`);
  }
  return value;
}

/** The two versions of a compare query (both named, and different), its tolerance and part. */
function parseCompared(
  raw: Record<string, unknown>
): Pick<CompareQuery, 'champion' | 'challenger' | 'tolerance' | 'part'> {
  const champion = optionalString(raw, 'champion');
  const challenger = optionalString(raw, 'challenger');
  if (champion === undefined || challenger === undefined) {
    throw new QueryError(
      'a champion vs challenger query needs two versions: set "champion" and "challenger" (e.g. $champion, $challenger)'
    );
  }
  if (champion === challenger) {
    throw new QueryError(`champion and challenger are both "${champion}": pick two different versions`);
  }
  const tolerance = numberInRange(raw, 'tolerance', (n) => Number.isFinite(n) && n >= 0, 'a number ≥ 0');
  return { champion, challenger, tolerance, part: oneOf(raw, 'part', COMPARE_PARTS) };
}

/**
 * Validates a query as received in JSON and returns it typed, without unknown keys. Throws a QueryError naming the
 * wrong option. A missing metric or persistence gets the type's default.
 */
export function parseQuery(input: unknown): MonitorQuery {
  if (typeof input !== 'object' || input === null) {
    throw new QueryError('the query must be a JSON object');
  }
  const raw = input as Record<string, unknown>;
  if (!isQueryType(raw.queryType)) {
    throw new QueryError(`unknown queryType ${JSON.stringify(raw.queryType)}; use one of: ${QUERY_TYPES.join(', ')}`);
  }
  const spec = QUERY_TYPE_SPECS[raw.queryType];
  const query: Record<string, unknown> = {
    refId: typeof raw.refId === 'string' ? raw.refId : '',
    queryType: raw.queryType,
  };
  if (spec.needsModel) {
    const model = optionalString(raw, 'model');
    if (model === undefined) {
      throw new QueryError(`a ${spec.label.toLowerCase()} query needs a model: pick one in the query editor`);
    }
    query.model = model;
  }
  if ((spec.scoped && raw.queryType !== 'compare') || raw.queryType === 'features') {
    query.version = optionalString(raw, 'version');
  }
  if (spec.scoped) {
    query.baseline = optionalString(raw, 'baseline');
    const bucket = optionalString(raw, 'bucket');
    if (bucket !== undefined && !bucket.startsWith('$')) {
      parseDuration(bucket);
    }
    query.bucket = bucket;
    query.segment = parseSegment(raw.segment);
    query.sampleFraction = numberInRange(raw, 'sampleFraction', (n) => n > 0 && n <= 1, 'in (0, 1]');
  }
  if (spec.features) {
    query.features = stringList(raw, 'features');
  }
  if (spec.metrics) {
    query.metric = oneOf(raw, 'metric', spec.metrics) ?? spec.defaultMetric;
  }
  if (spec.persistence) {
    query.persistence =
      numberInRange(
        raw,
        'persistence',
        (n) => Number.isInteger(n) && n >= 1 && n <= 1000,
        'a whole number of buckets from 1 to 1000'
      ) ?? 1;
  }
  if (spec.alertFields.length > 0) {
    query.alertOn = oneOf(raw, 'alertOn', spec.alertFields);
  }
  if (raw.queryType === 'events') {
    query.minLevel = oneOf(raw, 'minLevel', EVENT_LEVELS);
  }
  if (raw.queryType === 'performance') {
    query.estimate = optionalBoolean(raw, 'estimate');
  }
  if (raw.queryType === 'compare') {
    Object.assign(query, parseCompared(raw));
  }
  for (const key of Object.keys(query)) {
    if (query[key] === undefined) {
      delete query[key];
    }
  }
  return query as unknown as MonitorQuery;
}

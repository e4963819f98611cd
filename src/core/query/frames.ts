/**
 * The frame contract between the backend (which builds Arrow frames) and the panels and alert rules (which read
 * them): frame shapes, field names, data-plane types, labels and units per query type.
 *
 * The types here are structural subsets of Grafana's `DataFrame` and `Field`, so a Grafana frame can be passed to
 * the readers as is, and a frame built here can be handed to a panel in a test. Isomorphic: no Grafana imports.
 *
 * | query type        | frames                                | meta.type           | fields (labels)                                                  |
 * | ----------------- | ------------------------------------- | ------------------- | ---------------------------------------------------------------- |
 * | drift             | one per feature                       | timeseries-multi    | time, value, noise_floor, level ({model, feature, metric})       |
 * | prediction_drift  | one                                   | timeseries-multi    | same, feature = `prediction`                                     |
 * | distribution      | one per feature, name = feature       | numeric-long        | bin, lower, upper, baseline, current, baseline_cdf, current_cdf; meta.custom = readouts |
 * | severity          | one                                   | timeseries-long     | time, feature, level, value, noise_floor, count                  |
 * | quality           | one per feature and metric            | timeseries-multi    | time, value, level, count ({model, feature, metric})             |
 * |                   | + schema_changes: one event frame     | (annotations)       | time, text, tags, feature, change, kind                          |
 * | performance       | one                                   | timeseries-multi    | time, value, level, change, coverage, labelled ({model, metric}) |
 * | operational       | one                                   | timeseries-multi    | time, value, level, count ({model, metric})                      |
 * | ranking           | one                                   | numeric-long        | feature, value, share, level                                     |
 * | compare           | one per series (compare.ts)           | timeseries-multi    | time, value, level?, extras ({model, metric, version?, role?})   |
 * | events            | one event frame                       | (annotations)       | time, timeEnd, title, text, tags                                 |
 * | models            | one                                   | (table)             | name, versions, features, predictions, last_seen, level          |
 * | versions          | one                                   | (table)             | version                                                          |
 * | features          | one                                   | (table)             | name, kind                                                       |
 *
 * Levels are numbers: 0 ok, 1 info, 2 warning, 3 critical; null means insufficient data. Quality, performance and
 * operational frames carry `level` only for metrics that have a threshold (then also in the value field's
 * `config.thresholds`); `count`, `change`, `coverage` and `labelled` are per-bucket extras (src/server/queries/series.ts).
 */
import type { DriftMetric, OperationalMetric, PerformanceMetric, QualityMetric, QueryType } from './queryTypes';

export type FieldKind = 'time' | 'number' | 'string' | 'boolean';

/** One step of Grafana's field thresholds; the base step has value null (Grafana's -Infinity). */
export interface ThresholdStep {
  value: number | null;
  color: string;
}

/** Grafana's `ThresholdsConfig`: the levels a value field is coloured (and alerted) by. */
export interface ThresholdsConfig {
  mode: 'absolute' | 'percentage';
  steps: ThresholdStep[];
}

/** The part of Grafana's `Field` the contract uses. Time values are epoch milliseconds. */
export interface FieldLike<T = unknown> {
  name: string;
  type: FieldKind;
  values: T[];
  labels?: Record<string, string>;
  config: {
    unit?: string;
    displayName?: string;
    /** Grafana's name for the field when the panel sets none (legends, tooltips). */
    displayNameFromDS?: string;
    min?: number;
    max?: number;
    decimals?: number;
    thresholds?: ThresholdsConfig;
  };
}

/** A message Grafana shows beside the data (e.g. that the result was computed from a sample). */
export interface FrameNotice {
  severity: 'info' | 'warning' | 'error';
  text: string;
}

/** The part of Grafana's `DataFrame` the contract uses. */
export interface FrameLike {
  name?: string;
  refId?: string;
  fields: FieldLike[];
  length: number;
  meta?: {
    type?: string;
    typeVersion?: [number, number];
    custom?: unknown;
    notices?: FrameNotice[];
    /** Grafana's data topic; `annotations` frames are drawn as events on time-series panels. */
    dataTopic?: 'annotations';
  };
}

/** The frame with `notices` added after the ones it has. */
export function withNotices(frame: FrameLike, notices: FrameNotice[]): FrameLike {
  return { ...frame, meta: { ...frame.meta, notices: [...(frame.meta?.notices ?? []), ...notices] } };
}

/** Grafana data-plane frame types used by the contract, with the version we write. */
export const FRAME_TYPES = {
  timeSeriesMulti: 'timeseries-multi',
  timeSeriesLong: 'timeseries-long',
  numericLong: 'numeric-long',
} as const;
export const DATAPLANE_TYPE_VERSION: [number, number] = [0, 1];

export const SEVERITY_NAMES = ['ok', 'info', 'warning', 'critical'] as const;
export type SeverityName = (typeof SEVERITY_NAMES)[number] | 'insufficient_data';
/** 0 ok, 1 info, 2 warning, 3 critical; null when the sample is too small to rate. */
export type SeverityLevel = 0 | 1 | 2 | 3 | null;

export function severityName(level: SeverityLevel): SeverityName {
  return level === null ? 'insufficient_data' : SEVERITY_NAMES[level];
}

export function severityLevel(name: SeverityName): SeverityLevel {
  return name === 'insufficient_data' ? null : (SEVERITY_NAMES.indexOf(name) as SeverityLevel);
}

/** The label put on the output in prediction-drift frames, where a feature name would be. */
export const PREDICTION_FEATURE = 'prediction';

/** Key of each drift metric in readouts and noise floors (the names `mlmon report --format json` prints). */
export const METRIC_READOUT_KEY: Record<DriftMetric, keyof DriftReadoutValues> = {
  psi: 'psi',
  js: 'jsDistance',
  ks: 'ks',
  wasserstein: 'wasserstein',
  hellinger: 'hellinger',
  linf: 'lInf',
  chi_square: 'chiSquare',
};

/** Grafana unit ids per metric; metrics not listed are unitless (`none`). */
export const METRIC_UNITS: Partial<Record<QualityMetric | PerformanceMetric | OperationalMetric, string>> = {
  null_rate: 'percentunit',
  out_of_range_rate: 'percentunit',
  unseen_category_rate: 'percentunit',
  type_error_rate: 'percentunit',
  accuracy: 'percentunit',
  precision: 'percentunit',
  recall: 'percentunit',
  f1: 'percentunit',
  mape: 'percentunit',
  label_coverage: 'percentunit',
  latency_p50: 'ms',
  latency_p95: 'ms',
  latency_p99: 'ms',
  throughput: 'reqps',
  error_rate: 'percentunit',
};

/** Field names per query type. */
export const FIELDS = {
  time: 'time',
  value: 'value',
  noiseFloor: 'noise_floor',
  level: 'level',
  feature: 'feature',
  count: 'count',
  share: 'share',
  bin: 'bin',
  lower: 'lower',
  upper: 'upper',
  baseline: 'baseline',
  current: 'current',
  baselineCdf: 'baseline_cdf',
  currentCdf: 'current_cdf',
  name: 'name',
  version: 'version',
  kind: 'kind',
} as const;

/** The frame type each query type returns (metadata queries return plain tables). */
export const FRAME_TYPE_OF: Record<QueryType, string | undefined> = {
  drift: FRAME_TYPES.timeSeriesMulti,
  prediction_drift: FRAME_TYPES.timeSeriesMulti,
  distribution: FRAME_TYPES.numericLong,
  severity: FRAME_TYPES.timeSeriesLong,
  quality: FRAME_TYPES.timeSeriesMulti,
  performance: FRAME_TYPES.timeSeriesMulti,
  operational: FRAME_TYPES.timeSeriesMulti,
  ranking: FRAME_TYPES.numericLong,
  compare: FRAME_TYPES.timeSeriesMulti,
  events: undefined,
  models: undefined,
  versions: undefined,
  features: undefined,
};

// ---------------------------------------------------------------------------------------------------------------
// distribution

/** One bin (numeric) or category (categorical). `lower`/`upper` are null for open ends and for categories. */
export interface DistributionBin {
  label: string;
  lower: number | null;
  upper: number | null;
  /** Proportion of the baseline in the bin, in [0, 1]. */
  baseline: number;
  /** Proportion of the current window in the bin, in [0, 1]. */
  current: number;
  /** Baseline CDF at the bin's upper edge (cumulative proportion), in [0, 1]. */
  baselineCdf: number;
  currentCdf: number;
}

/** Values of the drift metrics, keyed as in `mlmon report --format json`. */
export interface DriftReadoutValues {
  psi: number;
  jsDistance: number;
  hellinger: number;
  lInf: number;
  /** Numeric features: D, its p-value, and where the gap is (x and both CDFs there). */
  ks?: {
    statistic: number;
    pValue: number;
    location: number;
    baselineCdf: number;
    currentCdf: number;
    approximate?: boolean;
  };
  /** Numeric features: Wasserstein-1 divided by the baseline's population standard deviation. */
  wasserstein?: number;
  /** Categorical features: chi-square test of homogeneity. */
  chiSquare?: { statistic: number; pValue: number; dof: number };
}

/** `meta.custom` of a distribution frame: what the overlay panel prints beside the bars. */
export interface DistributionReadouts extends DriftReadoutValues {
  model: string;
  feature: string;
  kind: 'numeric' | 'categorical';
  /** Binning convention, e.g. `reference-deciles`. */
  convention: string;
  primaryMetric: DriftMetric;
  counts: { baseline: number; current: number; currentMissing?: number };
  /** Noise floor of each metric for these sample sizes (value exceeded with probability α under no drift). */
  noiseFloor: Partial<Record<keyof DriftReadoutValues, number>>;
  severity: SeverityName;
}

export interface DistributionView {
  bins: DistributionBin[];
  readouts: DistributionReadouts;
}

const DISTRIBUTION_NUMBER_FIELDS = [
  ['lower', FIELDS.lower, 'none'],
  ['upper', FIELDS.upper, 'none'],
  ['baseline', FIELDS.baseline, 'percentunit'],
  ['current', FIELDS.current, 'percentunit'],
  ['baselineCdf', FIELDS.baselineCdf, 'percentunit'],
  ['currentCdf', FIELDS.currentCdf, 'percentunit'],
] as const;

/** The distribution frame of one feature. */
export function distributionFrame(view: DistributionView, refId?: string): FrameLike {
  const labels = { model: view.readouts.model, feature: view.readouts.feature };
  return {
    name: view.readouts.feature,
    refId,
    length: view.bins.length,
    meta: { type: FRAME_TYPES.numericLong, typeVersion: DATAPLANE_TYPE_VERSION, custom: view.readouts },
    fields: [
      { name: FIELDS.bin, type: 'string', values: view.bins.map((bin) => bin.label), config: {} },
      ...DISTRIBUTION_NUMBER_FIELDS.map(([key, name, unit]) => ({
        name,
        type: 'number' as const,
        labels,
        values: view.bins.map((bin) => bin[key]),
        config: { unit },
      })),
    ],
  };
}

/** A frame that does not follow the contract; the message names the frame and what is missing. */
export class FrameContractError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameContractError';
  }
}

function requireField(frame: FrameLike, name: string, type: FieldKind): FieldLike {
  const field = frame.fields.find((candidate) => candidate.name === name);
  if (!field || field.type !== type) {
    const found = frame.fields.map((candidate) => `${candidate.name}:${candidate.type}`).join(', ') || 'none';
    throw new FrameContractError(
      `frame "${frame.name ?? frame.refId ?? '?'}" needs a ${type} field "${name}" (fields found: ${found}); ` +
        'is the query type the one this panel draws?'
    );
  }
  return field;
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Reads a distribution frame back into bins and readouts; throws FrameContractError when it is not one. */
export function readDistributionFrame(frame: FrameLike): DistributionView {
  const readouts = frame.meta?.custom as DistributionReadouts | undefined;
  if (!readouts || typeof readouts.feature !== 'string' || typeof readouts.counts !== 'object') {
    throw new FrameContractError(`frame "${frame.name ?? '?'}" has no distribution readouts in meta.custom`);
  }
  const labels = requireField(frame, FIELDS.bin, 'string').values;
  const columns = DISTRIBUTION_NUMBER_FIELDS.map(([, name]) => requireField(frame, name, 'number').values);
  const bins = labels.map((label, row) => {
    const [lower, upper, baseline, current, baselineCdf, currentCdf] = columns.map((values) =>
      numberOrNull(values[row])
    );
    return {
      label: String(label),
      lower,
      upper,
      baseline: baseline ?? 0,
      current: current ?? 0,
      baselineCdf: baselineCdf ?? 0,
      currentCdf: currentCdf ?? 0,
    };
  });
  return { bins, readouts };
}

/** True when the frame carries distribution readouts (used to pick distribution frames out of a panel's data). */
export function isDistributionFrame(frame: FrameLike): boolean {
  return (
    frame.meta?.type === FRAME_TYPES.numericLong && frame.fields.some((field) => field.name === FIELDS.baselineCdf)
  );
}

// ---------------------------------------------------------------------------------------------------------------
// severity

/** One cell of the heatmap: a feature in a time bucket. */
export interface SeverityCell {
  feature: string;
  /** Bucket start, epoch milliseconds. */
  time: number;
  level: SeverityLevel;
  /** Value of the metric behind the level (null when it could not be computed). */
  value: number | null;
  noiseFloor: number | null;
  /** Rows of the current window in the bucket. */
  count: number;
}

/** `meta.custom` of a severity frame. */
export interface SeverityMeta {
  model: string;
  metric: DriftMetric;
  /** Bucket size in milliseconds. */
  bucketMs: number;
  thresholds: { warning: number; critical: number };
}

export interface SeverityGrid {
  meta: SeverityMeta;
  cells: SeverityCell[];
}

/** The severity frame (long format: one row per feature and bucket). */
export function severityFrame(grid: SeverityGrid, refId?: string): FrameLike {
  const labels = { model: grid.meta.model, metric: grid.meta.metric };
  const column = <K extends keyof SeverityCell>(key: K) => grid.cells.map((cell) => cell[key]);
  return {
    name: 'severity',
    refId,
    length: grid.cells.length,
    meta: { type: FRAME_TYPES.timeSeriesLong, typeVersion: DATAPLANE_TYPE_VERSION, custom: grid.meta },
    fields: [
      { name: FIELDS.time, type: 'time', values: column('time'), config: {} },
      { name: FIELDS.feature, type: 'string', values: column('feature'), config: {} },
      { name: FIELDS.level, type: 'number', labels, values: column('level'), config: { min: 0, max: 3 } },
      { name: FIELDS.value, type: 'number', labels, values: column('value'), config: { unit: 'none' } },
      { name: FIELDS.noiseFloor, type: 'number', labels, values: column('noiseFloor'), config: { unit: 'none' } },
      { name: FIELDS.count, type: 'number', labels, values: column('count'), config: { unit: 'short' } },
    ],
  };
}

function toLevel(value: unknown): SeverityLevel {
  return value === 0 || value === 1 || value === 2 || value === 3 ? value : null;
}

/** Reads a severity frame back into cells; throws FrameContractError when it is not one. */
export function readSeverityFrame(frame: FrameLike): SeverityGrid {
  const meta = frame.meta?.custom as SeverityMeta | undefined;
  if (!meta || typeof meta.metric !== 'string' || !meta.thresholds) {
    throw new FrameContractError(`frame "${frame.name ?? '?'}" has no severity metadata in meta.custom`);
  }
  const times = requireField(frame, FIELDS.time, 'time').values;
  const features = requireField(frame, FIELDS.feature, 'string').values;
  const levels = requireField(frame, FIELDS.level, 'number').values;
  const values = requireField(frame, FIELDS.value, 'number').values;
  const floors = requireField(frame, FIELDS.noiseFloor, 'number').values;
  const counts = requireField(frame, FIELDS.count, 'number').values;
  const cells = times.map((time, row) => ({
    feature: String(features[row]),
    time: Number(time),
    level: toLevel(levels[row]),
    value: numberOrNull(values[row]),
    noiseFloor: numberOrNull(floors[row]),
    count: numberOrNull(counts[row]) ?? 0,
  }));
  return { meta, cells };
}

export function isSeverityFrame(frame: FrameLike): boolean {
  return frame.meta?.type === FRAME_TYPES.timeSeriesLong && frame.fields.some((field) => field.name === FIELDS.level);
}

// ---------------------------------------------------------------------------------------------------------------
// annotation events

/** One Grafana annotation event; a point event has `timeEnd` equal to `time`. */
export interface AnnotationEventRow {
  /** Start, epoch milliseconds. */
  time: number;
  /** End, epoch milliseconds (≥ time). */
  timeEnd: number;
  title: string;
  text: string;
  /** Tags without commas (they travel comma-joined, as Grafana's annotation field mapping splits them). */
  tags: string[];
}

/** Field names of an event frame: Grafana's annotation event fields. */
export const EVENT_FIELDS = { time: 'time', timeEnd: 'timeEnd', title: 'title', text: 'text', tags: 'tags' } as const;

/** An event frame (`meta.dataTopic: 'annotations'`): Grafana draws each row as an annotation on time-series panels. */
export function annotationEventsFrame(
  name: string,
  events: AnnotationEventRow[],
  refId?: string,
  custom?: unknown
): FrameLike {
  const badTag = events.flatMap((event) => event.tags).find((tag) => tag.includes(','));
  if (badTag !== undefined) {
    throw new FrameContractError(`event tag "${badTag}" holds a comma; tags travel comma-joined: rename the tag`);
  }
  const column = <T>(pick: (event: AnnotationEventRow) => T) => events.map(pick);
  return {
    name,
    refId,
    length: events.length,
    meta: { dataTopic: 'annotations', ...(custom === undefined ? {} : { custom }) },
    fields: [
      { name: EVENT_FIELDS.time, type: 'time', values: column((e) => e.time), config: {} },
      { name: EVENT_FIELDS.timeEnd, type: 'time', values: column((e) => e.timeEnd), config: {} },
      { name: EVENT_FIELDS.title, type: 'string', values: column((e) => e.title), config: {} },
      { name: EVENT_FIELDS.text, type: 'string', values: column((e) => e.text), config: {} },
      { name: EVENT_FIELDS.tags, type: 'string', values: column((e) => e.tags.join(',')), config: {} },
    ],
  };
}

/** True for frames Grafana treats as annotations rather than data. */
export function isAnnotationFrame(frame: FrameLike): boolean {
  return frame.meta?.dataTopic === 'annotations';
}

/**
 * Reads an event frame back into events; `timeEnd`, `title` and `tags` are optional (a schema-change frame of the
 * quality query has only time and text). Throws FrameContractError when it is not an annotations frame.
 */
export function readAnnotationEventsFrame(frame: FrameLike): AnnotationEventRow[] {
  if (!isAnnotationFrame(frame)) {
    throw new FrameContractError(`frame "${frame.name ?? frame.refId ?? '?'}" is not an annotations frame`);
  }
  const times = requireField(frame, EVENT_FIELDS.time, 'time').values;
  const texts = requireField(frame, EVENT_FIELDS.text, 'string').values;
  const optional = (name: string) => frame.fields.find((field) => field.name === name)?.values;
  const ends = optional(EVENT_FIELDS.timeEnd);
  const titles = optional(EVENT_FIELDS.title);
  const tags = optional(EVENT_FIELDS.tags);
  return times.map((time, row) => ({
    time: Number(time),
    timeEnd: numberOrNull(ends?.[row]) ?? Number(time),
    title: String(titles?.[row] ?? ''),
    text: String(texts[row] ?? ''),
    tags: typeof tags?.[row] === 'string' && tags[row] !== '' ? (tags[row] as string).split(',') : [],
  }));
}

/**
 * Rated time series of the quality, performance and operational queries: one `timeseries-multi` frame per series
 * with the value, its severity level and the thresholds behind it in the value field's config (so a Grafana
 * panel colours it and an alert rule sees the same levels), and extra per-bucket fields such as the row count.
 *
 * Levels (frames.ts): 0 ok, 2 warning, 3 critical, null when the bucket has too few rows to rate. DESIGN.md gives
 * one threshold per metric (quality rate > 2 %, latency p95 > 200 ms, error rate > 0.5 %, accuracy more than 5 %
 * below the baseline); it is the warning level, and twice as far from the good side is critical.
 */
import type { AlertField } from '../../core/query/queryTypes';
import {
  DATAPLANE_TYPE_VERSION,
  FIELDS,
  FRAME_TYPES,
  type FieldLike,
  type FrameLike,
  type FrameNotice,
  type SeverityLevel,
  type ThresholdsConfig,
} from '../../core/query/frames';

/** How far past the warning threshold critical starts: twice the warning distance from the good side. */
export const CRITICAL_FACTOR = 2;

/** Where a metric turns bad: above `warning` (rates, latency) or below it (accuracy); no critical when absent. */
export interface LevelRule {
  warning: number;
  critical?: number;
  worse: 'higher' | 'lower';
}

/** Warning above `limit`, critical above CRITICAL_FACTOR · limit (rates, latency). */
export function upperLimitRule(limit: number): LevelRule {
  return { warning: limit, critical: CRITICAL_FACTOR * limit, worse: 'higher' };
}

/**
 * Rule of a score compared with its reference (the baseline's validation score) allowing a relative change
 * `tolerance`: for higher-is-better scores warning below r·(1 − t) and critical below r·(1 − 2t); for errors
 * (lower is better) warning above r·(1 + t), critical above r·(1 + 2t).
 */
export function relativeRule(reference: number, tolerance: number, worse: LevelRule['worse']): LevelRule {
  const sign = worse === 'lower' ? -1 : 1;
  return {
    warning: reference * (1 + sign * tolerance),
    critical: reference * (1 + sign * CRITICAL_FACTOR * tolerance),
    worse,
  };
}

/** Level of a value under a rule: critical past `critical`, warning past `warning` (strictly), else ok. */
export function rateValue(value: number | null, rule: LevelRule): SeverityLevel {
  if (value === null || !Number.isFinite(value)) {
    return null;
  }
  const past = (limit: number | undefined) =>
    limit !== undefined && (rule.worse === 'higher' ? value > limit : value < limit);
  return past(rule.critical) ? 3 : past(rule.warning) ? 2 : 0;
}

/** Grafana thresholds of a rule (green ok, orange warning, red critical). */
export function thresholdSteps(rule: LevelRule): ThresholdsConfig {
  const critical = rule.critical === undefined ? [] : [rule.critical];
  const steps =
    rule.worse === 'higher'
      ? [
          { value: null, color: 'green' },
          { value: rule.warning, color: 'orange' },
          ...critical.map((value) => ({ value, color: 'red' })),
        ]
      : [
          { value: null, color: critical.length ? 'red' : 'orange' },
          ...critical.map((value) => ({ value, color: 'orange' })),
          { value: rule.warning, color: 'green' },
        ];
  return { mode: 'absolute', steps };
}

/** A per-bucket column beside the value (e.g. rows in the bucket). */
export interface ExtraColumn {
  name: string;
  values: Array<number | null>;
  unit: string;
}

export interface RatedSeries {
  name: string;
  labels: Record<string, string>;
  unit: string;
  times: number[];
  values: Array<number | null>;
  /** Absent for metrics that have no threshold (then no level field is written). */
  rule?: LevelRule;
  /** Buckets whose value may not be rated (too few rows): level null there. */
  unrated?: boolean[];
  extras?: ExtraColumn[];
  notices?: FrameNotice[];
  custom?: Record<string, unknown>;
}

/** Grafana thresholds of a level field that an alert rule reads first: warning at 2, critical at 3. */
export const LEVEL_THRESHOLDS = thresholdSteps({ warning: 2, critical: 3, worse: 'higher' });

/**
 * The fields with the number `alertOn` names moved right after the time field: Grafana's server-side expressions
 * read the first number field of a data-plane series (the others are its remainder), so this is what an alert rule
 * evaluates. A level moved first gets the level thresholds in its config. `value` (the default) or a field the frame
 * lacks leave the order as it is.
 */
export function alertFieldFirst(fields: FieldLike[], alertOn: AlertField | undefined): FieldLike[] {
  const chosen =
    alertOn === undefined || alertOn === 'value'
      ? -1
      : fields.findIndex((f) => f.name === FIELDS[ALERT_FIELD_NAMES[alertOn]]);
  if (chosen < 0) {
    return fields;
  }
  const field = fields[chosen];
  const first = alertOn === 'level' ? { ...field, config: { ...field.config, thresholds: LEVEL_THRESHOLDS } } : field;
  const rest = fields.filter((_, i) => i !== chosen);
  const afterTime = rest.findIndex((f) => f.type !== 'time');
  const at = afterTime < 0 ? rest.length : afterTime;
  return [...rest.slice(0, at), first, ...rest.slice(at)];
}

/** The frame-contract key (FIELDS) of each alert field's column. */
const ALERT_FIELD_NAMES: Record<AlertField, keyof typeof FIELDS> = {
  value: 'value',
  level: 'level',
  noise_floor: 'noiseFloor',
};

/**
 * The `timeseries-multi` frame of a rated series: time, value, level (when rated), extras; `alertOn: 'level'` puts
 * the level first (alertFieldFirst).
 */
export function ratedSeriesFrame(series: RatedSeries, refId?: string, alertOn?: AlertField): FrameLike {
  const { labels, rule } = series;
  const fields: FieldLike[] = [
    { name: FIELDS.time, type: 'time', values: series.times, config: {} },
    {
      name: FIELDS.value,
      type: 'number',
      labels,
      values: series.values,
      config: { unit: series.unit, ...(rule ? { thresholds: thresholdSteps(rule) } : {}) },
    },
  ];
  if (rule) {
    fields.push({
      name: FIELDS.level,
      type: 'number',
      labels,
      values: series.values.map((value, i) => (series.unrated?.[i] ? null : rateValue(value, rule))),
      config: { min: 0, max: 3 },
    });
  }
  for (const extra of series.extras ?? []) {
    fields.push({ name: extra.name, type: 'number', labels, values: extra.values, config: { unit: extra.unit } });
  }
  const meta: FrameLike['meta'] = { type: FRAME_TYPES.timeSeriesMulti, typeVersion: DATAPLANE_TYPE_VERSION };
  if (series.notices?.length) {
    meta.notices = series.notices;
  }
  if (series.custom) {
    meta.custom = series.custom;
  }
  return { name: series.name, refId, length: series.times.length, meta, fields: alertFieldFirst(fields, alertOn) };
}

/** A number from a store row (ClickHouse may return 64-bit numbers as text); null stays null. */
export function numberOrNull(value: unknown): number | null {
  if (value === null || value === undefined) {
    return null;
  }
  const number = Number(value);
  return Number.isFinite(number) ? number : null;
}

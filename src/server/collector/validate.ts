/**
 * Validation of the records the collector receives. Each function takes one decoded JSON value and returns either
 * the normalised record or a rejection with a stable reason code (used as a metric label) and a sentence for people.
 */
import { validateFeatureName, validateIdentifier, validateVersion } from '../store/identifiers';
import type { FeatureValue, LabelRecord, PredictionRecord } from '../store/types';

export type RejectCode =
  | 'invalid_json'
  | 'too_deep'
  | 'not_an_object'
  | 'missing_field'
  | 'wrong_type'
  | 'invalid_value'
  | 'invalid_feature_name'
  | 'too_many_features';

export interface Rejection {
  code: RejectCode;
  reason: string;
}

export type Checked<T> = { ok: true; record: T } | { ok: false; rejection: Rejection };

/**
 * Runs one of the store's validators (the single gate for names reaching SQL or file names); returns its message
 * when the value is refused, undefined when it is accepted. Accepted names are cached: a model sends the same
 * feature names in every record.
 */
function nameChecker(validate: (value: string) => unknown): (value: string) => string | undefined {
  const accepted = new Set<string>();
  return (value) => {
    if (accepted.has(value)) {
      return undefined;
    }
    try {
      validate(value);
    } catch (err) {
      return (err as Error).message;
    }
    if (accepted.size < 100_000) {
      accepted.add(value);
    }
    return undefined;
  };
}

export const checkModelName = nameChecker((name) => validateIdentifier(name, 'model name'));
export const checkFeatureName = nameChecker(validateFeatureName);
export const checkVersionName = nameChecker(validateVersion);

export const LIMITS = {
  idLength: 256,
  versionLength: 128,
  stringValueLength: 4096,
  featuresPerRecord: 1000,
} as const;

/** Epoch milliseconds below this (1973-03-03) are almost surely epoch seconds sent by mistake. */
const EARLIEST_EPOCH_MS = 1e11;
/** Year 2286: anything later is not a real timestamp. */
const LATEST_EPOCH_MS = 1e13;
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|z|[+-]\d{2}:?\d{2}))?$/;

/** A rejection found by a field check (a class, so that no user value can be mistaken for one). */
class Problem implements Rejection {
  constructor(
    readonly code: RejectCode,
    readonly reason: string
  ) {}
}

function reject<T>(code: RejectCode, reason: string): Checked<T> {
  return { ok: false, rejection: { code, reason } };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  return Array.isArray(value) ? 'array' : typeof value;
}

/** True when YYYY-MM-DD names a real day (Date.parse accepts 2026-02-30 and rolls it over to March). */
function isCalendarDate(date: string): boolean {
  const [year, month, day] = date.split('-').map(Number);
  return month >= 1 && month <= 12 && day >= 1 && day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Parses a timestamp: an ISO 8601 date or date-time with an explicit zone (`Z` or `±hh:mm`), or epoch milliseconds.
 * Returns epoch milliseconds, or a sentence saying what is wrong.
 */
export function parseTimestamp(value: unknown): number | string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < EARLIEST_EPOCH_MS || value > LATEST_EPOCH_MS) {
      return `"ts" ${value} is not epoch milliseconds between 1973 and 2286 (epoch seconds must be multiplied by 1000)`;
    }
    return Math.round(value);
  }
  if (typeof value === 'string') {
    if (!ISO_DATE_TIME.test(value)) {
      return `"ts" "${value.slice(0, 64)}" is not ISO 8601 with a time zone (e.g. 2026-03-01T12:00:00Z) nor epoch milliseconds`;
    }
    const ms = Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value);
    if (!Number.isFinite(ms) || !isCalendarDate(value.slice(0, 10))) {
      return `"ts" "${value.slice(0, 64)}" is not a real date`;
    }
    return ms;
  }
  return `"ts" must be an ISO 8601 string or epoch milliseconds, not ${describe(value)}`;
}

function checkString(record: Record<string, unknown>, field: string, maxLength: number): string | Problem {
  const value = record[field];
  if (value === undefined) {
    return new Problem('missing_field', `"${field}" is missing`);
  }
  if (typeof value !== 'string') {
    return new Problem('wrong_type', `"${field}" must be a string, not ${describe(value)}`);
  }
  if (value.length === 0 || value.length > maxLength) {
    return new Problem('invalid_value', `"${field}" must have 1 to ${maxLength} characters`);
  }
  return value;
}

/** An optional number field: absent → undefined, null → null. */
function checkOptionalNumber(record: Record<string, unknown>, field: string): number | null | undefined | Problem {
  const value = record[field];
  if (value === undefined || value === null) {
    return value;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return new Problem('wrong_type', `"${field}" must be a number or null, not ${describe(value)}`);
  }
  return value;
}

function isRejection(value: unknown): value is Problem {
  return value instanceof Problem;
}

function toRejection(problem: Problem): Rejection {
  return { code: problem.code, reason: problem.reason };
}

function checkFeatures(value: unknown): Record<string, FeatureValue> | Problem {
  if (value === undefined) {
    return new Problem('missing_field', '"features" is missing');
  }
  if (!isPlainObject(value)) {
    return new Problem('wrong_type', `"features" must be an object of name → value, not ${describe(value)}`);
  }
  const names = Object.keys(value);
  if (names.length > LIMITS.featuresPerRecord) {
    return new Problem('invalid_value', `"features" has ${names.length} entries; at most ${LIMITS.featuresPerRecord}`);
  }
  for (const name of names) {
    const problem = checkFeatureName(name);
    if (problem) {
      return new Problem('invalid_feature_name', problem);
    }
    const v = value[name];
    const t = typeof v;
    if (v !== null && t !== 'number' && t !== 'boolean' && t !== 'string') {
      return new Problem(
        'wrong_type',
        `feature "${name}" must be a number, string, boolean or null, not ${describe(v)}`
      );
    }
    if (t === 'string' && (v as string).length > LIMITS.stringValueLength) {
      return new Problem('invalid_value', `feature "${name}" is longer than ${LIMITS.stringValueLength} characters`);
    }
  }
  return value as Record<string, FeatureValue>;
}

/** Validates one prediction record as sent by a model server; `samplingRate` is set by the collector. */
export function checkPrediction(value: unknown, samplingRate: number): Checked<PredictionRecord> {
  if (!isPlainObject(value)) {
    return reject('not_an_object', `a prediction must be a JSON object, not ${describe(value)}`);
  }
  const id = checkString(value, 'id', LIMITS.idLength);
  if (isRejection(id)) {
    return { ok: false, rejection: toRejection(id) };
  }
  if (value.ts === undefined) {
    return reject('missing_field', '"ts" is missing');
  }
  const ts = parseTimestamp(value.ts);
  if (typeof ts === 'string') {
    return reject(typeof value.ts === 'number' || typeof value.ts === 'string' ? 'invalid_value' : 'wrong_type', ts);
  }
  const version = checkString(value, 'version', LIMITS.versionLength);
  if (isRejection(version)) {
    return { ok: false, rejection: toRejection(version) };
  }
  const versionProblem = checkVersionName(version);
  if (versionProblem) {
    return reject('invalid_value', versionProblem);
  }
  const features = checkFeatures(value.features);
  if (isRejection(features)) {
    return { ok: false, rejection: toRejection(features) };
  }
  const prediction = value.prediction;
  if (prediction === undefined) {
    return reject('missing_field', '"prediction" is missing');
  }
  if (
    prediction !== null &&
    typeof prediction !== 'string' &&
    !(typeof prediction === 'number' && Number.isFinite(prediction))
  ) {
    return reject('wrong_type', `"prediction" must be a number, string or null, not ${describe(prediction)}`);
  }
  const score = checkOptionalNumber(value, 'score');
  if (isRejection(score)) {
    return { ok: false, rejection: toRejection(score) };
  }
  const latencyMs = checkOptionalNumber(value, 'latency_ms');
  if (isRejection(latencyMs)) {
    return { ok: false, rejection: toRejection(latencyMs) };
  }
  if (typeof latencyMs === 'number' && latencyMs < 0) {
    return reject('invalid_value', '"latency_ms" must not be negative');
  }
  const error = value.error;
  if (error !== undefined && error !== null && typeof error !== 'string') {
    return reject('wrong_type', `"error" must be a string or null, not ${describe(error)}`);
  }
  return {
    ok: true,
    record: {
      id,
      ts,
      version,
      features,
      prediction,
      score: score ?? null,
      latencyMs: latencyMs ?? null,
      error: typeof error === 'string' ? error.slice(0, LIMITS.stringValueLength) : null,
      samplingRate,
    },
  };
}

/** Validates one late label; a missing `ts` means "now". */
export function checkLabel(value: unknown, now: number): Checked<LabelRecord> {
  if (!isPlainObject(value)) {
    return reject('not_an_object', `a label must be a JSON object, not ${describe(value)}`);
  }
  const id = checkString(value, 'id', LIMITS.idLength);
  if (isRejection(id)) {
    return { ok: false, rejection: toRejection(id) };
  }
  const label = value.label;
  if (label === undefined) {
    return reject('missing_field', '"label" is missing');
  }
  const normalised = typeof label === 'boolean' ? Number(label) : label;
  const validString =
    typeof normalised === 'string' && normalised.length > 0 && normalised.length <= LIMITS.stringValueLength;
  const validNumber = typeof normalised === 'number' && Number.isFinite(normalised);
  if (!validString && !validNumber) {
    return reject('wrong_type', `"label" must be a number, boolean or non-empty string, not ${describe(label)}`);
  }
  const ts = value.ts === undefined ? now : parseTimestamp(value.ts);
  if (typeof ts === 'string') {
    return reject('invalid_value', ts);
  }
  return { ok: true, record: { id, label: normalised as number | string, ts } };
}

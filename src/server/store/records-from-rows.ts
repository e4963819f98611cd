/**
 * Turning rows of a bulk file (CSV/Parquet/NDJSON, as DuckDB reads them) into prediction records, for
 * `mlmon ingest`. Recognised columns (the rest are features; a nested `features` object is spread):
 *   id | request_id          request id (when absent: "<file>:<row number>", so re-ingesting a file dedups)
 *   ts | timestamp           epoch ms number, a timestamp, or an ISO string
 *   version                  model version (else --version)
 *   prediction, score, latency_ms | latencyMs, error, sampling_rate | samplingRate
 */
import type { FeatureValue, PredictionRecord } from './types';

const SYSTEM_COLUMNS: Readonly<Record<string, keyof PredictionRecord>> = {
  id: 'id',
  request_id: 'id',
  ts: 'ts',
  timestamp: 'ts',
  version: 'version',
  prediction: 'prediction',
  score: 'score',
  latency_ms: 'latencyMs',
  latencyMs: 'latencyMs',
  error: 'error',
  sampling_rate: 'samplingRate',
  samplingRate: 'samplingRate',
};

/** True for a column holding one of the record's own fields (id, ts, version, ...): it is never a feature. */
export function isRecordFieldColumn(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(SYSTEM_COLUMNS, name);
}

/** True for a column holding the record's id or time (id, request_id, ts, timestamp): never compared as data. */
export function isIdOrTimeColumn(name: string): boolean {
  return isRecordFieldColumn(name) && (SYSTEM_COLUMNS[name] === 'id' || SYSTEM_COLUMNS[name] === 'ts');
}

export interface RowMapping {
  /** Used when the row has no version column. */
  version?: string;
  /** Prefix of generated ids, e.g. the file name. */
  idPrefix: string;
  /** Columns to ignore. */
  exclude?: ReadonlySet<string>;
}

/** Epoch ms of a ts cell: a number (epoch ms), a Date, or a parseable string; undefined when unusable. */
export function toEpochMs(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) {
    return Math.trunc(value);
  }
  if (typeof value === 'bigint') {
    return Number(value);
  }
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? undefined : value.getTime();
  }
  if (typeof value === 'string' && value.trim() !== '') {
    const text = value.trim();
    const hasTime = /\d:\d/.test(text);
    const hasZone = /([zZ]|[+-]\d\d:?\d\d)$/.test(text);
    const parsed = Date.parse(hasTime && !hasZone ? `${text.replace(' ', 'T')}Z` : text);
    return Number.isNaN(parsed) ? undefined : parsed;
  }
  return undefined;
}

function featureValue(value: unknown): FeatureValue {
  if (typeof value === 'bigint') {
    return Number(value);
  }
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') {
    return value;
  }
  return value instanceof Date ? value.toISOString() : null;
}

function optionalNumber(value: unknown): number | null {
  const n = typeof value === 'bigint' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
}

/**
 * Maps one row to a record, or returns the reason it cannot be stored. Times without a zone are taken as UTC.
 */
export function recordFromRow(
  row: Record<string, unknown>,
  rowNumber: number,
  mapping: RowMapping
): PredictionRecord | { rejected: string } {
  // Null prototype: a column named like an Object.prototype member (`__proto__`, `constructor`) is a plain key.
  const features: Record<string, FeatureValue> = Object.create(null);
  const system: Partial<Record<keyof PredictionRecord, unknown>> = {};
  for (const [column, value] of Object.entries(row)) {
    if (mapping.exclude?.has(column)) {
      continue;
    }
    const field = Object.hasOwn(SYSTEM_COLUMNS, column) ? SYSTEM_COLUMNS[column] : undefined;
    if (field) {
      system[field] = value;
    } else if (column === 'features' && value && typeof value === 'object' && !(value instanceof Date)) {
      for (const [name, nested] of Object.entries(value as Record<string, unknown>)) {
        features[name] = featureValue(nested);
      }
    } else {
      features[column] = featureValue(value);
    }
  }
  const ts = toEpochMs(system.ts);
  if (ts === undefined) {
    return {
      rejected: `row ${rowNumber}: no usable ts (give epoch ms, a timestamp or an ISO time), got ${JSON.stringify(featureValue(system.ts))}`,
    };
  }
  const version = system.version === null || system.version === undefined ? mapping.version : String(system.version);
  if (!version) {
    return { rejected: `row ${rowNumber}: no version column and no --version` };
  }
  const prediction = featureValue(system.prediction);
  const samplingRate =
    system.samplingRate === undefined || system.samplingRate === null ? 1 : optionalNumber(system.samplingRate);
  if (samplingRate === null || samplingRate <= 0 || samplingRate > 1) {
    return {
      rejected: `row ${rowNumber}: sampling_rate must be in (0, 1], got ${JSON.stringify(featureValue(system.samplingRate))}`,
    };
  }
  const id =
    system.id === null || system.id === undefined || system.id === ''
      ? `${mapping.idPrefix}:${rowNumber}`
      : String(system.id);
  return {
    id,
    ts,
    version,
    features,
    prediction: typeof prediction === 'boolean' ? String(prediction) : prediction,
    score: optionalNumber(system.score),
    latencyMs: optionalNumber(system.latencyMs),
    error:
      system.error === null || system.error === undefined || system.error === '' || system.error === false
        ? null
        : String(system.error),
    samplingRate,
  };
}

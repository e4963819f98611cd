/**
 * The part of a query's SQL that selects the current window: version and segment conditions, with every
 * identifier validated and quoted and every value bound as a `{name}` parameter (src/server/store/sql-params.ts).
 */
import { QueryError, type SegmentCondition } from '../../core/query/queryTypes';
import { featureColumn, quoteIdentifier, type SqlDialect } from '../store/identifiers';
import type { Params } from '../store/sql-params';

/** System columns a segment may filter on; any other name is a feature. */
const SEGMENT_SYSTEM_COLUMNS = new Set([
  'version',
  'prediction_num',
  'prediction_cat',
  'score',
  'latency_ms',
  'is_error',
]);

export interface WhereClause {
  /** `WHERE …` or '' when nothing is filtered. */
  sql: string;
  params: Params;
}

/**
 * Checks that every segment condition names a system column or one of the model's features (names are compared
 * exactly, as the collector admits them), so that a wrong name is a QueryError listing the valid ones rather than a
 * store error.
 */
export function checkSegmentColumns(model: string, segment: SegmentCondition[], features: string[]): void {
  const known = new Set(features);
  for (const { column } of segment) {
    if (SEGMENT_SYSTEM_COLUMNS.has(column) || known.has(column)) {
      continue;
    }
    const sameButCase = [...features, ...SEGMENT_SYSTEM_COLUMNS].find(
      (name) => name.toLowerCase() === column.toLowerCase()
    );
    throw new QueryError(
      `segment column "${column}" is not a feature of model "${model}" nor a system column` +
        (sameButCase ? ` (did you mean "${sameButCase}"?)` : '') +
        `; features: ${features.join(', ') || 'none yet'}; system columns: ${[...SEGMENT_SYSTEM_COLUMNS].join(', ')}`
    );
  }
}

/** The stored column a segment condition names: a system column, or the feature's `f_<name>` column. */
export function segmentColumn(column: string, dialect: SqlDialect): string {
  const stored = SEGMENT_SYSTEM_COLUMNS.has(column) ? column : featureColumn(column);
  return quoteIdentifier(stored, dialect, 'segment column');
}

/** WHERE clause for an optional version and AND-ed segment conditions. */
export function scopeWhere(
  dialect: SqlDialect,
  version: string | undefined,
  segment: SegmentCondition[] = []
): WhereClause {
  const conditions: string[] = [];
  const params: Params = {};
  if (version) {
    conditions.push(`${quoteIdentifier('version', dialect)} = {version}`);
    params.version = version;
  }
  segment.forEach((condition, i) => {
    conditions.push(`${segmentColumn(condition.column, dialect)} ${condition.operator} {segment_${i}}`);
    params[`segment_${i}`] = condition.value;
  });
  return { sql: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '', params };
}

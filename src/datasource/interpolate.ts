import type { MonitorQuery } from '../core/query';

/** Grafana's template replacement, as `getTemplateSrv().replace(text, scopedVars, format)` bound to a request. */
export type Replace = (text: string, format?: string) => string;

/**
 * The query with template variables replaced in every option a user can type a variable into: model, version,
 * baseline, bucket, segment columns and string values, and features — a multi-value variable in `features` expands
 * to one feature per value (Grafana's `csv` format), duplicates removed. A segment condition whose column or value is
 * empty after that is dropped: a dashboard's segment variables left empty mean "all rows".
 */
export function interpolateQuery<Q extends MonitorQuery>(query: Q, replace: Replace): Q {
  const result: Record<string, unknown> = { ...query };
  for (const key of ['model', 'version', 'baseline', 'bucket'] as const) {
    const value = result[key];
    if (typeof value === 'string' && value !== '') {
      result[key] = replace(value);
    }
  }
  if ('features' in query && query.features) {
    const expanded = query.features.flatMap((feature) => replace(feature, 'csv').split(','));
    result.features = Array.from(new Set(expanded.map((feature) => feature.trim()).filter(Boolean)));
  }
  if ('segment' in query && query.segment) {
    const conditions = query.segment
      .map((condition) => ({
        ...condition,
        column: replace(condition.column),
        value: typeof condition.value === 'string' ? replace(condition.value) : condition.value,
      }))
      .filter((condition) => condition.column !== '' && condition.value !== '');
    if (conditions.length > 0) {
      result.segment = conditions;
    } else {
      delete result.segment;
    }
  }
  return result as Q;
}

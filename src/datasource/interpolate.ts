import type { MonitorQuery } from '../core/query';

/** Grafana's template replacement, as `getTemplateSrv().replace(text, scopedVars, format)` bound to a request. */
export type Replace = (text: string, format?: string) => string;

/**
 * The query with template variables replaced in every option a user can type a variable into: model, version,
 * baseline, bucket, string segment values, and features — a multi-value variable in `features` expands to one
 * feature per value (Grafana's `csv` format), duplicates removed.
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
    result.segment = query.segment.map((condition) =>
      typeof condition.value === 'string' ? { ...condition, value: replace(condition.value) } : condition
    );
  }
  return result as Q;
}

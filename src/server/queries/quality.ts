/**
 * `quality`: per feature and time bucket, the data-quality rate the query asks for, as a fraction of the rows in
 * the bucket (METRICS.md "Other conventions"), or the schema changes:
 * - null_rate: the value is missing (NULL; for categorical features also '') and was not a type error;
 * - type_error_rate: the value had the wrong type and was stored NULL (the feature is named in `type_errors`);
 * - out_of_range_rate (numeric): outside the baseline's declared range, else its observed [min, max];
 * - unseen_category_rate (categorical): a category outside the baseline's declared categories, else its observed ones;
 * - schema_changes: features added, removed or changed per bucket (from the store's schema log), plus one
 *   annotation frame listing each change as an event.
 * One GROUP BY bucket per store counts every requested feature in a single scan.
 */
import { sumOverShards } from '../counting/shard-sums';
import { METRIC_UNITS, type FrameLike } from '../../core/query/frames';
import type { QualityMetric } from '../../core/query/queryTypes';
import { DEFAULT_MIN_COUNT } from '../../core/stats';
import { notFound } from '../grafana/errors';
import type { QueryRequest } from '../backend/registry';
import { thresholdsFor } from '../backend/settings';
import { featureColumn, quoteIdentifier, type SqlDialect } from '../store/identifiers';
import type { Params } from '../store/sql-params';
import type { Baseline, ColumnReference, FeatureState, PredictionStore, SchemaChange } from '../store/types';
import { chooseBaseline } from '../counting/targets';
import { requireModel } from './metadata';
import { ratedSeriesFrame, upperLimitRule, type LevelRule } from './series';
import { bucketOf, sampleNotices, windowWhere, type WindowClause } from '../counting/window';
import { planWindow } from './plan';

type RateMetric = Exclude<QualityMetric, 'schema_changes'>;

/** Rate metrics that compare with the baseline, and the feature kind each applies to. */
const BASELINE_METRICS: Partial<Record<RateMetric, FeatureState['kind']>> = {
  out_of_range_rate: 'numeric',
  unseen_category_rate: 'categorical',
};

/** A schema change is a warning: any change in a bucket (count ≥ 1) rates it. */
const SCHEMA_CHANGE_RULE: LevelRule = { warning: 0.5, worse: 'higher' };

/**
 * SQL true when the row's `type_errors` list names the feature: `,<type_errors>,` contains `,<feature>,` (the
 * needle bound as {name}; a substring search, far cheaper than splitting the list on every row).
 */
function typeErrorSql(dialect: SqlDialect, name: string): string {
  const haystack = "concat(',', type_errors, ',')";
  return dialect === 'duckdb' ? `contains(${haystack}, {${name}})` : `position(${haystack}, {${name}}) > 0`;
}

/** The range a numeric value must lie in: the declared bounds, else the observed ones of the reference. */
export function validRange(reference: ColumnReference): { min: number; max: number } {
  if (reference.kind !== 'numeric') {
    throw new Error('a valid range exists only for numeric features');
  }
  return { min: reference.declaredMin ?? reference.min, max: reference.declaredMax ?? reference.max };
}

/** The categories a value may take: the declared ones, else those of the reference. */
export function validCategories(reference: ColumnReference): string[] {
  if (reference.kind !== 'categorical') {
    throw new Error('valid categories exist only for categorical features');
  }
  return reference.declaredCategories ?? Object.keys(reference.counts);
}

/** The condition counted for one feature (index i, its params bound under names ending in _i). */
export function qualityCondition(
  dialect: SqlDialect,
  metric: RateMetric,
  feature: FeatureState,
  index: number,
  reference: ColumnReference | undefined,
  params: Params
): string {
  const column = quoteIdentifier(featureColumn(feature.name), dialect, 'feature column');
  params[`needle_${index}`] = `,${feature.name},`;
  const typeError = typeErrorSql(dialect, `needle_${index}`);
  const missing = feature.kind === 'categorical' ? `(${column} IS NULL OR ${column} = '')` : `${column} IS NULL`;
  switch (metric) {
    case 'null_rate':
      return `${missing} AND NOT ${typeError}`;
    case 'type_error_rate':
      return typeError;
    case 'out_of_range_rate': {
      const { min, max } = validRange(reference!);
      params[`min_${index}`] = min;
      params[`max_${index}`] = max;
      return `(${column} < {min_${index}} OR ${column} > {max_${index}})`;
    }
    case 'unseen_category_rate': {
      const names = validCategories(reference!).map((category, k) => {
        params[`cat_${index}_${k}`] = category;
        return `{cat_${index}_${k}}`;
      });
      return `(NOT ${missing} AND ${column} NOT IN (${names.join(', ')}))`;
    }
  }
}

/** SQL of rows per bucket of `grid` and, per feature i, the rows meeting its condition as `hit_i`. */
export function qualitySql(relation: string, window: WindowClause, conditions: string[]): string {
  const hits = conditions.map((condition, i) => `sum(CASE WHEN ${condition} THEN 1 ELSE 0 END) AS hit_${i}`);
  return (
    `SELECT ${[`${window.bucket} AS bucket`, 'count(*) AS n', ...hits].join(', ')} ` +
    `FROM ${relation} AS current_window ${window.sql} GROUP BY bucket ORDER BY bucket`
  );
}

/** The features the query covers: those it names (they must be known), else all the model's features. */
function selectFeatures(model: string, known: FeatureState[], named: string[] | undefined): FeatureState[] {
  if (!named) {
    return known;
  }
  const unknown = named.filter((name) => !known.some((f) => f.name === name));
  if (unknown.length > 0) {
    throw notFound(
      `feature(s) ${unknown.join(', ')} of model "${model}" never appeared in its traffic; known: ${known.map((f) => f.name).join(', ')}`
    );
  }
  return named.map((name) => known.find((f) => f.name === name)!);
}

/** The features a baseline metric applies to: of its kind and in the baseline (named ones must be). */
function baselineFeatures(
  metric: RateMetric,
  features: FeatureState[],
  baseline: Baseline,
  named: boolean
): FeatureState[] {
  const kind = BASELINE_METRICS[metric];
  const fit = (f: FeatureState) => f.kind === kind && baseline.features[f.name]?.kind === kind;
  const misfits = features.filter((f) => !fit(f));
  if (named && misfits.length > 0) {
    throw notFound(
      `${metric} needs ${kind} features of the baseline ${baseline.version}; ${misfits.map((f) => f.name).join(', ')} ` +
        'is not one: pick other features or leave them empty for all'
    );
  }
  return features.filter(fit);
}

async function rateFrames(request: QueryRequest<'quality'>, metric: RateMetric, features: FeatureState[]) {
  const { query, instance } = request;
  const store = await instance.store();
  const baseline = BASELINE_METRICS[metric]
    ? await chooseBaseline(store, query.model, query.baseline, query.version)
    : undefined;
  const covered = baseline ? baselineFeatures(metric, features, baseline, query.features !== undefined) : features;
  if (covered.length === 0) {
    return [];
  }
  const plan = await planWindow(request, store, query.model, query.bucket, covered.length);
  const where = windowWhere(store.dialect, query, plan.grid);
  const params: Params = { ...where.params };
  const conditions = covered.map((feature, i) =>
    qualityCondition(store.dialect, metric, feature, i, baseline?.features[feature.name], params)
  );
  request.signal.throwIfAborted();
  const rows = await sumOverShards({
    store,
    model: query.model,
    range: plan.range,
    sql: (relation) => qualitySql(relation, where, conditions),
    params,
    keys: ['bucket'],
    signal: request.signal,
  });
  const byBucket = new Map(rows.map((row) => [Number(row.bucket), row]));
  const times = plan.starts;
  const counts = times.map((t) => Number(byBucket.get(t)?.n ?? 0));
  return covered.map((feature, i) =>
    ratedSeriesFrame(
      {
        name: feature.name,
        labels: { model: query.model, feature: feature.name, metric },
        unit: METRIC_UNITS[metric] ?? 'percentunit',
        times,
        values: times.map((t, k) => (counts[k] > 0 ? Number(byBucket.get(t)![`hit_${i}`]) / counts[k] : null)),
        rule: upperLimitRule(thresholdsFor(instance.settings, query.model).qualityRate),
        unrated: counts.map((n) => n < DEFAULT_MIN_COUNT),
        extras: [{ name: 'count', values: counts, unit: 'short' }],
        notices: [...plan.notices, ...sampleNotices(query.sampleFraction)],
        custom: {
          bucketMs: plan.grid.sizeMs,
          minCount: DEFAULT_MIN_COUNT,
          ...(baseline ? { baseline: baseline.version } : {}),
          ...(metric === 'out_of_range_rate' ? { validRange: validRange(baseline!.features[feature.name]) } : {}),
        },
      },
      query.refId,
      query.alertOn
    )
  );
}

/** How a schema change reads in an event: `<feature> <change> (<kind>)`. */
export function describeSchemaChange(change: SchemaChange): string {
  return `${change.feature} ${change.change} (${change.kind ?? 'unknown'})`;
}

/** The model's schema changes inside the range (from inclusive, to exclusive), of the named features only. */
export async function schemaChangesIn(
  store: PredictionStore,
  model: string,
  range: { from: number; to: number },
  features: Set<string> | undefined
): Promise<SchemaChange[]> {
  return (await store.getSchemaChanges(model, range)).filter(
    (c) => (features === undefined || features.has(c.feature)) && c.ts >= range.from && c.ts < range.to
  );
}

/** The annotation frame of schema changes: one event per change, with its feature, change and kind. */
export function schemaChangeEvents(model: string, changes: SchemaChange[], refId?: string): FrameLike {
  const column = <T>(pick: (c: SchemaChange) => T) => changes.map(pick);
  return {
    name: 'schema_changes',
    refId,
    length: changes.length,
    meta: { dataTopic: 'annotations', custom: { model } },
    fields: [
      { name: 'time', type: 'time', values: column((c) => c.ts), config: {} },
      {
        name: 'text',
        type: 'string',
        values: column(describeSchemaChange),
        config: {},
      },
      { name: 'feature', type: 'string', values: column((c) => c.feature), config: {} },
      { name: 'change', type: 'string', values: column((c) => c.change), config: {} },
      { name: 'kind', type: 'string', values: column((c) => c.kind ?? null), config: {} },
    ],
  };
}

async function schemaChangeFrames(request: QueryRequest<'quality'>, features: FeatureState[]) {
  const { query, instance } = request;
  const store = await instance.store();
  const plan = await planWindow(request, store, query.model, query.bucket, features.length);
  const changes = await schemaChangesIn(store, query.model, plan.range, new Set(features.map((f) => f.name)));
  const times = plan.starts;
  const series = features.map((feature) => {
    const perBucket = new Map<number, number>();
    for (const change of changes.filter((c) => c.feature === feature.name)) {
      const bucket = bucketOf(plan.grid, change.ts);
      perBucket.set(bucket, (perBucket.get(bucket) ?? 0) + 1);
    }
    return ratedSeriesFrame(
      {
        name: feature.name,
        labels: { model: query.model, feature: feature.name, metric: 'schema_changes' },
        unit: 'short',
        times,
        values: times.map((t) => perBucket.get(t) ?? 0),
        rule: SCHEMA_CHANGE_RULE,
        notices: plan.notices,
        custom: { bucketMs: plan.grid.sizeMs },
      },
      query.refId,
      query.alertOn
    );
  });
  return [...series, schemaChangeEvents(query.model, changes, query.refId)];
}

export async function qualityQuery(request: QueryRequest<'quality'>): Promise<FrameLike[]> {
  const { query, instance } = request;
  const metric = query.metric ?? 'null_rate';
  const store = await instance.store();
  await requireModel(store, query.model);
  const features = selectFeatures(query.model, await store.getFeatures(query.model), query.features);
  return metric === 'schema_changes' ? schemaChangeFrames(request, features) : rateFrames(request, metric, features);
}

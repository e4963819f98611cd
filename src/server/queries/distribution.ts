/**
 * `distribution`: per feature, the baseline's bins (numeric, reference-decile edges stored with the baseline) or
 * categories against the current window's, with both CDFs and the drift readouts (METRICS.md). Counting is pushed
 * down to the store: one GROUP BY per feature returns at most one row per bin or category.
 */
import { compareCounts, alignCategories, binLabels, BINNING_CONVENTION } from '../../core/stats';
import {
  distributionFrame,
  type DistributionBin,
  type DistributionReadouts,
  type FrameLike,
} from '../../core/query/frames';
import { notFound } from '../grafana/errors';
import { featureColumn, quoteIdentifier, type SqlDialect } from '../store/identifiers';
import type {
  Baseline,
  CategoricalReference,
  ColumnReference,
  NumericReference,
  PredictionStore,
} from '../store/types';
import type { Thresholds } from '../../core/query/settings';
import { requireModel } from './metadata';
import type { QueryRequest } from '../backend/registry';
import { scopeWhere } from './scope';

/** SQL counting a numeric column per right-closed bin of `edgeCount` inner edges (bin -1 = missing). */
export function numericBinCountSql(relation: string, column: string, edgeCount: number, where: string): string {
  const cases = Array.from({ length: edgeCount }, (_, k) => `WHEN ${column} <= {edge_${k}} THEN ${k}`).join(' ');
  return (
    `SELECT CASE WHEN ${column} IS NULL THEN -1 ${cases} ELSE ${edgeCount} END AS bin, count(*) AS n ` +
    `FROM ${relation} AS current_window ${where} GROUP BY bin`
  );
}

/** SQL counting a categorical column per category (NULL = missing). */
export function categoryCountSql(relation: string, column: string, where: string): string {
  return `SELECT ${column} AS category, count(*) AS n FROM ${relation} AS current_window ${where} GROUP BY ${column}`;
}

/** Running sums of proportions: the CDF at each bin's upper edge. */
export function cumulative(proportions: number[]): number[] {
  let total = 0;
  return proportions.map((p) => (total += p));
}

const proportionsOf = (counts: number[]) => {
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => (total > 0 ? c / total : 0));
};

/**
 * The baseline to compare with: the one the query names (it must exist), else the baseline of the queried
 * version when there is one, else the model's newest.
 */
export async function chooseBaseline(
  store: PredictionStore,
  model: string,
  named: string | undefined,
  version: string | undefined
): Promise<Baseline> {
  if (named) {
    const baseline = await store.getBaseline(model, named);
    if (!baseline) {
      throw notFound(`model "${model}" has no baseline "${named}"; create it with \`mlmon baseline\` or pick another`);
    }
    return baseline;
  }
  const ofVersion = version ? await store.getBaseline(model, version) : undefined;
  if (ofVersion) {
    return ofVersion;
  }
  const newest = (await store.listBaselines(model)).sort((a, b) => b.createdAt - a.createdAt)[0];
  const baseline = newest && (await store.getBaseline(model, newest.version));
  if (!baseline) {
    throw notFound(
      `model "${model}" has no baseline yet; create one with \`mlmon baseline\` to compare its traffic with`
    );
  }
  return baseline;
}

interface Counted {
  labels: string[];
  lower: Array<number | null>;
  upper: Array<number | null>;
  reference: number[];
  current: number[];
  currentMissing: number;
}

async function countNumeric(
  store: PredictionStore,
  relation: string,
  column: string,
  reference: NumericReference,
  where: { sql: string; params: Record<string, unknown> }
): Promise<Counted> {
  const params = { ...where.params } as Record<string, number | string>;
  reference.edges.forEach((edge, k) => (params[`edge_${k}`] = edge));
  const rows = await store.query<{ bin: number; n: number }>(
    numericBinCountSql(relation, column, reference.edges.length, where.sql),
    params
  );
  const current = reference.counts.map(() => 0);
  let currentMissing = 0;
  for (const row of rows) {
    if (Number(row.bin) < 0) {
      currentMissing = Number(row.n);
    } else {
      current[Number(row.bin)] = Number(row.n);
    }
  }
  return {
    labels: binLabels(reference.edges),
    lower: reference.counts.map((_, k) => (k === 0 ? null : reference.edges[k - 1])),
    upper: reference.counts.map((_, k) => (k === reference.edges.length ? null : reference.edges[k])),
    reference: [...reference.counts],
    current,
    currentMissing,
  };
}

async function countCategorical(
  store: PredictionStore,
  relation: string,
  column: string,
  reference: CategoricalReference,
  where: { sql: string; params: Record<string, unknown> }
): Promise<Counted> {
  const rows = await store.query<{ category: string | null; n: number }>(
    categoryCountSql(relation, column, where.sql),
    where.params as never
  );
  const currentCounts = new Map<string, number>();
  let currentMissing = 0;
  for (const row of rows) {
    if (row.category === null || row.category === '') {
      currentMissing += Number(row.n);
    } else {
      currentCounts.set(String(row.category), Number(row.n));
    }
  }
  const aligned = alignCategories(reference.counts, currentCounts);
  return {
    labels: aligned.labels,
    lower: aligned.labels.map(() => null),
    upper: aligned.labels.map(() => null),
    reference: aligned.reference,
    current: aligned.current,
    currentMissing,
  };
}

/** Readouts of one feature from its aligned counts (binned metrics, noise floors, chi-square for categories). */
export function readouts(
  model: string,
  feature: string,
  reference: ColumnReference,
  counted: Counted,
  thresholds: Thresholds
): DistributionReadouts {
  const comparison = compareCounts(
    reference.kind,
    counted.reference,
    counted.current,
    { reference: reference.missing, current: counted.currentMissing },
    { primaryMetric: 'psi', thresholds: { psi: { warning: thresholds.psiWarning, critical: thresholds.psiCritical } } }
  );
  const { metrics, noiseFloor } = comparison;
  return {
    model,
    feature,
    kind: reference.kind,
    convention: reference.kind === 'numeric' ? reference.binning || BINNING_CONVENTION : 'categories',
    primaryMetric: 'psi',
    counts: {
      baseline: comparison.reference.count,
      current: comparison.current.count,
      currentMissing: counted.currentMissing,
    },
    psi: metrics.psi,
    jsDistance: metrics.jsDistance,
    hellinger: metrics.hellinger,
    lInf: metrics.lInf,
    ...(metrics.chiSquare ? { chiSquare: metrics.chiSquare } : {}),
    noiseFloor: {
      psi: noiseFloor.psi,
      jsDistance: noiseFloor.jsDistance,
      hellinger: noiseFloor.hellinger,
      lInf: noiseFloor.lInf,
      ...(noiseFloor.chiSquare !== undefined ? { chiSquare: noiseFloor.chiSquare } : {}),
    },
    severity: comparison.severity,
  };
}

export function bins(counted: Counted): DistributionBin[] {
  const baseline = proportionsOf(counted.reference);
  const current = proportionsOf(counted.current);
  const baselineCdf = cumulative(baseline);
  const currentCdf = cumulative(current);
  return counted.labels.map((label, k) => ({
    label,
    lower: counted.lower[k],
    upper: counted.upper[k],
    baseline: baseline[k],
    current: current[k],
    baselineCdf: baselineCdf[k],
    currentCdf: currentCdf[k],
  }));
}

function quotedFeature(feature: string, dialect: SqlDialect): string {
  return quoteIdentifier(featureColumn(feature), dialect, 'feature column');
}

export async function distributionQuery(request: QueryRequest<'distribution'>): Promise<FrameLike[]> {
  const { query, instance, range } = request;
  const store = await instance.store();
  await requireModel(store, query.model);
  const baseline = await chooseBaseline(store, query.model, query.baseline, query.version);
  const known = new Set((await store.getFeatures(query.model)).map((f) => f.name));
  const features = query.features ?? Object.keys(baseline.features).filter((name) => known.has(name));
  const missing = features.filter((name) => !baseline.features[name] || !known.has(name));
  if (missing.length > 0) {
    throw notFound(
      `feature(s) ${missing.join(', ')} of model "${query.model}" are not in both the baseline ${baseline.version} and the stored traffic`
    );
  }
  const relation = await store.predictionsRelation(query.model, range);
  const where = scopeWhere(store.dialect, query.version, query.segment);
  const frames: FrameLike[] = [];
  for (const feature of features) {
    request.signal.throwIfAborted();
    const reference = baseline.features[feature];
    const column = quotedFeature(feature, store.dialect);
    const counted =
      reference.kind === 'numeric'
        ? await countNumeric(store, relation, column, reference, where)
        : await countCategorical(store, relation, column, reference, where);
    frames.push(
      distributionFrame(
        {
          bins: bins(counted),
          readouts: readouts(query.model, feature, reference, counted, instance.settings.thresholds),
        },
        query.refId
      )
    );
  }
  return frames;
}

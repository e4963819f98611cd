/**
 * The columns a drift-family or distribution query compares with the baseline: the features it names (each must be
 * in both the baseline and the stored traffic), else every feature the two share.
 */
import { PREDICTION_FEATURE } from '../../core/query/frames';
import { notFound } from '../grafana/errors';
import { featureColumn, quoteIdentifier, type SqlDialect } from '../store/identifiers';
import type { Baseline, ColumnReference, NumericReference, PredictionStore } from '../store/types';
import type { CountedColumn } from './cells';
import { sketchGrid } from './sketch-grid';

/** A column compared with its baseline reference: a feature, or the model's output. */
export interface DriftTarget {
  /** Feature name, or `prediction`. */
  name: string;
  /** Quoted stored column. */
  column: string;
  reference: ColumnReference;
}

/** The quoted column of a feature. */
export function featureTarget(name: string, reference: ColumnReference, dialect: SqlDialect): DriftTarget {
  return { name, column: quoteIdentifier(featureColumn(name), dialect, 'feature column'), reference };
}

/** The features a query compares: the ones it names (each must be in the baseline and the traffic), else all. */
export async function featureTargets(
  store: PredictionStore,
  model: string,
  baseline: Baseline,
  named: string[] | undefined
): Promise<DriftTarget[]> {
  const known = new Set((await store.getFeatures(model)).map((f) => f.name));
  const names = named ?? Object.keys(baseline.features).filter((name) => known.has(name));
  const missing = names.filter((name) => !baseline.features[name] || !known.has(name));
  if (missing.length > 0) {
    throw notFound(
      `feature(s) ${missing.join(', ')} of model "${model}" are not in both the baseline ${baseline.version} and the stored traffic`
    );
  }
  return names.map((name) => featureTarget(name, baseline.features[name], store.dialect));
}

/**
 * The KS / Wasserstein grid of a numeric target (sketch-grid.ts): the distinct knots of its baseline's quantile sketch
 * as bin edges, with the column's own values summed in the two outer cells (the Wasserstein tails).
 */
export function gridColumn(target: DriftTarget & { reference: NumericReference }): CountedColumn {
  const knots = sketchGrid(target.reference.sketch);
  return { column: target.column, kind: 'numeric', edges: knots, sumOf: target.column, sumCells: 'outer' };
}

/** The counted column of a target: its baseline bins (numbers) or categories, and the sum per cell when asked. */
export function countedColumn(target: DriftTarget, sumOf?: string): CountedColumn {
  const { reference } = target;
  return {
    column: target.column,
    kind: reference.kind,
    ...(reference.kind === 'numeric' ? { edges: reference.edges } : {}),
    ...(sumOf !== undefined ? { sumOf } : {}),
  };
}

/** The output column compared with the baseline's prediction distribution; an error when the baseline has none. */
export function predictionTarget(baseline: Baseline, dialect: SqlDialect): DriftTarget {
  const reference = baseline.prediction;
  if (!reference) {
    throw notFound(
      `baseline ${baseline.version} of model "${baseline.model}" has no prediction distribution; ` +
        'create it with `mlmon baseline --prediction COLUMN`'
    );
  }
  const column = reference.kind === 'numeric' ? 'prediction_num' : 'prediction_cat';
  return { name: PREDICTION_FEATURE, column: quoteIdentifier(column, dialect), reference };
}

/** The output summed per cell: the score when logged, else the numeric prediction. */
export function outputExpression(dialect: SqlDialect): string {
  return `coalesce(${quoteIdentifier('score', dialect)}, ${quoteIdentifier('prediction_num', dialect)})`;
}

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

/**
 * The columns a drift-family or distribution query compares with the baseline: the features it names (each must be
 * in both the baseline and the stored traffic), else every feature the two share.
 */
import { notFound } from '../grafana/errors';
import { featureColumn, quoteIdentifier, type SqlDialect } from '../store/identifiers';
import type { Baseline, ColumnReference, PredictionStore } from '../store/types';
import type { CountedColumn } from './binned-counts';

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

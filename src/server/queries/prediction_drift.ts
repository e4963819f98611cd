/**
 * `prediction_drift`: drift of the model's output against the baseline's prediction distribution, per bucket, in the
 * frame of `drift` with feature = `prediction`. Numeric outputs are read from `prediction_num`, class labels from
 * `prediction_cat`.
 */
import { PREDICTION_FEATURE, type FrameLike } from '../../core/query/frames';
import { quoteIdentifier, type SqlDialect } from '../store/identifiers';
import type { Baseline } from '../store/types';
import { notFound } from '../grafana/errors';
import type { QueryRequest } from '../backend/registry';
import { driftFrames, evaluateDrift } from './drift';
import type { DriftTarget } from './targets';

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

export async function predictionDriftQuery(request: QueryRequest<'prediction_drift'>): Promise<FrameLike[]> {
  const { query } = request;
  const evaluation = await evaluateDrift(
    request as QueryRequest,
    query,
    query.metric ?? 'psi',
    async (store, baseline) => [predictionTarget(baseline, store.dialect)],
    { bucket: query.bucket }
  );
  return driftFrames(query.model, evaluation, query, query.refId);
}

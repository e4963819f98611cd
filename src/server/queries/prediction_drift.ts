/**
 * `prediction_drift`: drift of the model's output against the baseline's prediction distribution, per bucket, in the
 * frame of `drift` with feature = `prediction`. Numeric outputs are read from `prediction_num`, class labels from
 * `prediction_cat`.
 */
import type { FrameLike } from '../../core/query/frames';
import type { QueryRequest } from '../backend/registry';
import { driftFrames, evaluateDrift } from './drift';
import { predictionTarget } from '../counting/targets';

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

/**
 * `ranking`: the features ordered by drift over the whole range, each with its share in the prediction drift.
 *
 * Share (root cause): how much of the shift of the model's mean output the shift of each feature alone explains,
 * by reweighting. With p_k, q_k the baseline and window proportions of the feature's bin or category k, μ_k the
 * window's mean output in k and μ its overall mean, moving the feature from p to q while keeping the model's
 * response μ_k moves the mean output by Δ_f = Σ_k (q_k − p_k)(μ_k − μ) (bins the window does not reach get μ_k = μ).
 * share_f = |Δ_f| / Σ_g |Δ_g|; null when no feature moves the output (or the output is not a number). The output is
 * `score` when logged, else the numeric prediction. It is a first-order estimate: one feature at a time, no
 * interactions, and the model's response read from the window itself.
 */
import { DATAPLANE_TYPE_VERSION, FIELDS, FRAME_TYPES, type FrameLike } from '../../core/query/frames';
import { proportions } from '../../core/stats';
import type { QueryRequest } from '../backend/registry';
import { evaluateDrift, evaluationMeta, notices, type DriftPoint } from './drift';
import { featureTargets, outputExpression } from '../counting/targets';

/** Δ_f of one feature from its aligned counts and output sums (see the module comment). */
export function outputShift(point: Pick<DriftPoint, 'reference' | 'current' | 'sums'>): number {
  const m = point.current.reduce((a, b) => a + b, 0);
  if (m === 0) {
    return NaN;
  }
  const mean = point.sums.reduce((a, b) => a + b, 0) / m;
  const p = proportions(point.reference);
  const q = proportions(point.current);
  return p.reduce((shift, pk, k) => {
    const binMean = point.current[k] > 0 ? point.sums[k] / point.current[k] : mean;
    return shift + (q[k] - pk) * (binMean - mean);
  }, 0);
}

/** Shares |Δ_f| / Σ|Δ_g|, null when the total is 0 or not a number. */
export function shares(shifts: number[]): Array<number | null> {
  const total = shifts.reduce((a, b) => a + (Number.isFinite(b) ? Math.abs(b) : 0), 0);
  return shifts.map((shift) => (total > 0 && Number.isFinite(shift) ? Math.abs(shift) / total : null));
}

export async function rankingQuery(request: QueryRequest<'ranking'>): Promise<FrameLike[]> {
  const { query } = request;
  const metric = query.metric ?? 'psi';
  const evaluation = await evaluateDrift(
    request as QueryRequest,
    query,
    metric,
    (store, baseline) => featureTargets(store, query.model, baseline, undefined),
    { bucket: 'whole', sumOf: outputExpression((await request.instance.store()).dialect) }
  );
  const points = evaluation.series.map((series) => series.points[0]);
  const featureShares = shares(points.map(outputShift));
  const rows = evaluation.series
    .map((series, i) => ({
      feature: series.target.name,
      metric: series.metric,
      value: points[i].value,
      share: featureShares[i],
      level: points[i].level,
    }))
    .sort((a, b) => (b.value ?? -Infinity) - (a.value ?? -Infinity) || a.feature.localeCompare(b.feature));
  const labels = { model: query.model, metric };
  return [
    {
      name: 'ranking',
      refId: query.refId,
      length: rows.length,
      meta: {
        type: FRAME_TYPES.numericLong,
        typeVersion: DATAPLANE_TYPE_VERSION,
        custom: {
          ...evaluationMeta(evaluation, 1),
          metric,
          metricPerFeature: Object.fromEntries(rows.map((row) => [row.feature, row.metric])),
          share: 'share of |Δ mean output| explained by reweighting each feature alone (ranking.ts)',
        },
        ...notices(evaluation),
      },
      fields: [
        { name: FIELDS.feature, type: 'string', values: rows.map((row) => row.feature), config: {} },
        { name: FIELDS.value, type: 'number', labels, values: rows.map((row) => row.value), config: { unit: 'none' } },
        {
          name: FIELDS.share,
          type: 'number',
          labels,
          values: rows.map((row) => row.share),
          config: { unit: 'percentunit', min: 0, max: 1 },
        },
        {
          name: FIELDS.level,
          type: 'number',
          labels,
          values: rows.map((row) => row.level),
          config: { min: 0, max: 3 },
        },
      ],
    },
  ];
}

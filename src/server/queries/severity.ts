/**
 * `severity`: features × buckets → level 0–3 with the value behind it, its noise floor and the bucket's row count,
 * in one long frame (frames.ts `severityFrame`) that the heatmap panel draws. Levels are after persistence.
 */
import { severityFrame, type FrameLike } from '../../core/query/frames';
import type { QueryRequest } from '../backend/registry';
import { evaluateDrift, evaluationMeta, notices } from './drift';
import { featureTargets } from '../counting/targets';

export async function severityQuery(request: QueryRequest<'severity'>): Promise<FrameLike[]> {
  const { query } = request;
  const metric = query.metric ?? 'psi';
  const persistence = query.persistence ?? 1;
  const evaluation = await evaluateDrift(
    request as QueryRequest,
    query,
    metric,
    (store, baseline) => featureTargets(store, query.model, baseline, query.features),
    { bucket: query.bucket }
  );
  // timeseries-long: rows ascend by time; within a bucket, features in query order
  const cells = evaluation.series.flatMap((series) =>
    series.points.map((point) => ({
      feature: series.target.name,
      time: point.time,
      level: point.level,
      value: point.value,
      noiseFloor: point.noiseFloor,
      count: point.count,
    }))
  );
  cells.sort((a, b) => a.time - b.time);
  const frame = severityFrame(
    {
      meta: {
        model: query.model,
        metric,
        ...evaluationMeta(evaluation, persistence),
      },
      cells,
    },
    query.refId
  );
  return [{ ...frame, meta: { ...frame.meta, ...notices(evaluation) } }];
}

/**
 * Counts prepared ahead of the first query (window-counts.ts): what the default drift, severity, distribution and
 * prediction-drift queries of a model count — every feature of its newest baseline on the baseline's bins, and the
 * model's output — and what `ranking` counts — the same features with the model's output summed per bin —, and on
 * ClickHouse the KS / Wasserstein grids of the numeric ones, over every stored day, unfiltered, per hour. `mlmon maintain` and the collector's maintenance run it after compaction,
 * so a dashboard's first load reads kilobytes instead of every row. Days already prepared are skipped (their counts
 * sit beside their files); on ClickHouse, hours already prepared and unchanged since (clickhouse-hours.ts).
 */
import type { Baseline, PredictionStore } from '../store/types';
import type { CountedColumn } from './cells';
import {
  chooseBaseline,
  countedColumn,
  featureTargets,
  gridColumn,
  outputExpression,
  predictionTarget,
} from './targets';
import { HOUR_MS, prepareHours } from './clickhouse-hours';
import { countsKey, countWindow } from './window-counts';
import { epochGrid, wholeRangeGrid, windowWhere } from './window';

/** What prepareCounts did for a model. */
export interface PreparedCounts {
  model: string;
  /** The baseline whose bins were counted; undefined when the model has none (nothing to prepare). */
  baseline?: string;
  columns: number;
}

/**
 * The columns the default queries of a model count on a baseline: drift's (and the output's), ranking's, and the
 * KS / Wasserstein grids of its numeric features (and numeric output).
 */
export async function preparedColumns(
  store: PredictionStore,
  model: string,
  baseline: Baseline
): Promise<{ drift: CountedColumn[]; ranking: CountedColumn[]; grids: CountedColumn[] }> {
  const features = await featureTargets(store, model, baseline, undefined);
  const targets = baseline.prediction ? [...features, predictionTarget(baseline, store.dialect)] : features;
  const drift = targets.map((target) => countedColumn(target));
  const ranking = features.map((target) => countedColumn(target, outputExpression(store.dialect)));
  const grids = targets.flatMap((target) =>
    target.reference.kind === 'numeric' ? [gridColumn({ ...target, reference: target.reference })] : []
  );
  return { drift, ranking, grids };
}

/**
 * Counts `columns` unfiltered per hour, where the store keeps prepared counts: over every stored day, per day file
 * (kept beside the files), on the embedded store; over every ended hour not prepared yet or changed since, in
 * ClickHouse's own tables (clickhouse-hours.ts).
 */
export async function prepareColumns(store: PredictionStore, model: string, columns: CountedColumn[]): Promise<void> {
  if (columns.length === 0) {
    return;
  }
  if (store.predictionDays) {
    const days = await store.predictionDays(model, { from: 0, to: Number.MAX_SAFE_INTEGER });
    const range = { from: days[0]?.start ?? 0, to: days[days.length - 1]?.end ?? 0 };
    const grid = wholeRangeGrid(range);
    await countWindow({ store, model, range, columns, where: windowWhere(store.dialect, { model }, grid), grid });
  } else if (store.writePreparedCounts) {
    const where = windowWhere(store.dialect, { model }, epochGrid(HOUR_MS));
    const byKey = new Map(columns.map((column) => [countsKey(HOUR_MS, where, column), column]));
    await prepareHours(store, model, [...byKey.values()], [...byKey.keys()], Date.now());
  }
}

export async function prepareCounts(store: PredictionStore, model: string): Promise<PreparedCounts> {
  if (!(store.predictionDays || store.writePreparedCounts) || (await store.listBaselines(model)).length === 0) {
    return { model, columns: 0 };
  }
  const baseline = await chooseBaseline(store, model, undefined, undefined);
  const { drift, ranking, grids } = await preparedColumns(store, model, baseline);
  // The embedded store counts a day file's grids on the first KS / Wasserstein query over it and keeps them beside
  // the file; preparing them for every file made `mlmon maintain` over the 10 M-row benchmark take 91 s (6.6 s
  // without them, in an earlier and quieter run). ClickHouse prepares nothing at query time, so it gets them here.
  const columns = [...drift, ...ranking, ...(store.writePreparedCounts ? grids : [])];
  await prepareColumns(store, model, columns);
  return { model, baseline: baseline.version, columns: columns.length };
}

/**
 * Counts prepared ahead of the first query (window-counts.ts): what the default drift, severity, distribution and
 * prediction-drift queries of a model count — every feature of its newest baseline on the baseline's bins, and the
 * model's output — and what `ranking` counts — the same features with the model's output summed per bin —, over
 * every stored day, unfiltered, per hour. `mlmon maintain` and the collector's maintenance run it after compaction,
 * so a dashboard's first load reads kilobytes instead of every row. Days already prepared are skipped (their counts
 * sit beside their files).
 */
import type { Baseline, PredictionStore } from '../store/types';
import type { CountedColumn } from './cells';
import { chooseBaseline, countedColumn, featureTargets, outputExpression, predictionTarget } from './targets';
import { countWindow } from './window-counts';
import { wholeRangeGrid, windowWhere } from './window';

/** What prepareCounts did for a model. */
export interface PreparedCounts {
  model: string;
  /** The baseline whose bins were counted; undefined when the model has none (nothing to prepare). */
  baseline?: string;
  columns: number;
}

/** The columns the default queries of a model count on a baseline: drift's (and the output's), and ranking's. */
export async function preparedColumns(
  store: PredictionStore,
  model: string,
  baseline: Baseline
): Promise<{ drift: CountedColumn[]; ranking: CountedColumn[] }> {
  const targets = await featureTargets(store, model, baseline, undefined);
  const drift = targets.map((target) => countedColumn(target));
  if (baseline.prediction) {
    drift.push(countedColumn(predictionTarget(baseline, store.dialect)));
  }
  const ranking = targets.map((target) => countedColumn(target, outputExpression(store.dialect)));
  return { drift, ranking };
}

/** Counts `columns` over every stored day of a model, per hour and day file, unfiltered (kept beside the files). */
export async function prepareColumns(store: PredictionStore, model: string, columns: CountedColumn[]): Promise<void> {
  if (!store.predictionDays || columns.length === 0) {
    return;
  }
  const days = await store.predictionDays(model, { from: 0, to: Number.MAX_SAFE_INTEGER });
  const range = { from: days[0]?.start ?? 0, to: days[days.length - 1]?.end ?? 0 };
  const grid = wholeRangeGrid(range);
  await countWindow({ store, model, range, columns, where: windowWhere(store.dialect, { model }, grid), grid });
}

export async function prepareCounts(store: PredictionStore, model: string): Promise<PreparedCounts> {
  if (!store.predictionDays || (await store.listBaselines(model)).length === 0) {
    return { model, columns: 0 };
  }
  const baseline = await chooseBaseline(store, model, undefined, undefined);
  const { drift, ranking } = await preparedColumns(store, model, baseline);
  await prepareColumns(store, model, [...drift, ...ranking]);
  return { model, baseline: baseline.version, columns: drift.length + ranking.length };
}

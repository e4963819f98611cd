/**
 * Counts prepared ahead of the first query (window-counts.ts): what the default drift, severity, distribution and
 * prediction-drift queries of a model count — every feature of its newest baseline on the baseline's bins, and the
 * model's output — over every stored day, unfiltered, per hour. `mlmon maintain` and the collector's maintenance
 * run it after compaction, so a dashboard's first load reads kilobytes instead of every row. Days already
 * prepared are skipped (their counts sit beside their files).
 */
import type { PredictionStore } from '../store/types';
import { chooseBaseline } from './distribution';
import { predictionTarget } from './prediction_drift';
import { countedColumn, featureTargets } from './targets';
import { countWindow } from './window-counts';
import { wholeRangeGrid, windowWhere } from './window';

/** What prepareCounts did for a model. */
export interface PreparedCounts {
  model: string;
  /** The baseline whose bins were counted; undefined when the model has none (nothing to prepare). */
  baseline?: string;
  columns: number;
}

export async function prepareCounts(store: PredictionStore, model: string): Promise<PreparedCounts> {
  if (!store.predictionDays || (await store.listBaselines(model)).length === 0) {
    return { model, columns: 0 };
  }
  const baseline = await chooseBaseline(store, model, undefined, undefined);
  const targets = await featureTargets(store, model, baseline, undefined);
  const columns = targets.map((target) => countedColumn(target));
  if (baseline.prediction) {
    columns.push(countedColumn(predictionTarget(baseline, store.dialect)));
  }
  if (columns.length > 0) {
    const days = await store.predictionDays(model, { from: 0, to: Number.MAX_SAFE_INTEGER });
    const range = { from: days[0]?.start ?? 0, to: days[days.length - 1]?.end ?? 0 };
    const grid = wholeRangeGrid(range);
    await countWindow({ store, model, range, columns, where: windowWhere(store.dialect, { model }, grid), grid });
  }
  return { model, baseline: baseline.version, columns: columns.length };
}

/**
 * Store upkeep for a scheduler (the collector, a cron job): drop days past retention, then compact what is left,
 * for every model. Compaction first would merge files that retention then deletes.
 */
import type { PredictionStore } from './types';

const DAY_MS = 86_400_000;

export interface MaintenanceOptions {
  /** Keep this many whole days before `now` (days ending at or before now − retentionDays are dropped); undefined keeps all. */
  retentionDays?: number;
  now?: number;
}

export interface ModelMaintenance {
  model: string;
  daysDropped: string[];
  rowsKept: number;
}

/** Applies retention and compaction to every model of the store and says what it did per model. */
export async function runMaintenance(
  store: PredictionStore,
  options: MaintenanceOptions = {}
): Promise<ModelMaintenance[]> {
  if (options.retentionDays !== undefined && !(Number.isInteger(options.retentionDays) && options.retentionDays >= 1)) {
    throw new Error(`retentionDays must be a whole number of days >= 1, got ${options.retentionDays}`);
  }
  const now = options.now ?? Date.now();
  const results: ModelMaintenance[] = [];
  for (const model of await store.listModels()) {
    const { daysDropped } =
      options.retentionDays === undefined
        ? { daysDropped: [] }
        : await store.applyRetention(model, now - options.retentionDays * DAY_MS);
    const { rowsKept } = await store.compact(model);
    results.push({ model, daysDropped, rowsKept });
  }
  return results;
}

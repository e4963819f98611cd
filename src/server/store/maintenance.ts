/**
 * Store upkeep for a scheduler (the collector, a cron job): drop days past retention, then compact what is left,
 * for every model. Compaction first would merge files that retention then deletes. One model's upkeep runs in one
 * process at a time (the store's maintenance lock): the collector's schedule skips a model that `mlmon maintain`
 * is working on, and `mlmon maintain` waits for the collector's round to finish.
 */
import { describeHolder, LockHeldError } from './lock';
import type { PredictionStore } from './types';

const DAY_MS = 86_400_000;

export interface MaintenanceOptions {
  /** Keep this many whole days before `now` (days ending at or before now − retentionDays are dropped); undefined keeps all. */
  retentionDays?: number;
  now?: number;
  /** How long to wait for another process maintaining the same model before skipping it (default 0). */
  lockWaitMs?: number;
  /** Told when a model's upkeep waits for another process. */
  onWait?: (model: string, holder: string) => void;
  /** Runs after each model's compaction, still holding its lock (preparing the counts of the default queries). */
  afterCompaction?: (model: string) => Promise<void>;
}

export interface ModelMaintenance {
  model: string;
  daysDropped: string[];
  rowsKept: number;
  /** Set when another process was maintaining the model, which was therefore left alone: who that was. */
  skippedFor?: string;
}

function validRetention(retentionDays: number | undefined): void {
  if (retentionDays !== undefined && !(Number.isInteger(retentionDays) && retentionDays >= 1)) {
    throw new Error(`retentionDays must be a whole number of days >= 1, got ${retentionDays}`);
  }
}

/**
 * One model's upkeep under its maintenance lock: retention (days ending at or before now − retentionDays go), then
 * compaction, then `afterCompaction`. A model another process is maintaining is waited for up to `lockWaitMs`, then
 * skipped (`skippedFor` says who had it).
 */
async function maintainModel(
  store: PredictionStore,
  model: string,
  options: MaintenanceOptions
): Promise<ModelMaintenance> {
  const now = options.now ?? Date.now();
  const upkeep = async (): Promise<ModelMaintenance> => {
    const { daysDropped } =
      options.retentionDays === undefined
        ? { daysDropped: [] }
        : await store.applyRetention(model, now - options.retentionDays * DAY_MS);
    const { rowsKept } = await store.compact(model);
    await options.afterCompaction?.(model);
    return { model, daysDropped, rowsKept };
  };
  try {
    return await store.withMaintenanceLock(model, upkeep, {
      waitMs: options.lockWaitMs ?? 0,
      onWait: (holder) => options.onWait?.(model, holder),
    });
  } catch (err) {
    if (!(err instanceof LockHeldError)) {
      throw err;
    }
    return { model, daysDropped: [], rowsKept: 0, skippedFor: describeHolder(err.holder) };
  }
}

/** Applies retention and compaction to every model of the store and says what it did per model. */
export async function runMaintenance(
  store: PredictionStore,
  options: MaintenanceOptions = {}
): Promise<ModelMaintenance[]> {
  validRetention(options.retentionDays);
  const results: ModelMaintenance[] = [];
  for (const model of await store.listModels()) {
    results.push(await maintainModel(store, model, options));
  }
  return results;
}

export interface MaintenanceRoundOptions {
  retentionDays?: number;
  log: (line: string) => void;
  /** Runs after each model's compaction (preparing the counts of the default queries). */
  afterCompaction?: (model: string) => Promise<void>;
  /** How long to wait for another process maintaining a model (default 0: skip it this round). */
  lockWaitMs?: number;
}

/**
 * One round of maintenance with a line per model. A model that fails (a damaged file, a full disk) gets its line
 * and does not stop the others; the round then fails naming them.
 */
export async function maintenanceRound(store: PredictionStore, options: MaintenanceRoundOptions): Promise<void> {
  validRetention(options.retentionDays);
  const failed: string[] = [];
  for (const model of await store.listModels()) {
    try {
      const { daysDropped, rowsKept, skippedFor } = await maintainModel(store, model, {
        retentionDays: options.retentionDays,
        lockWaitMs: options.lockWaitMs,
        onWait: (_model, holder) => options.log(`${model}: waiting for ${holder} to finish maintaining it`),
        afterCompaction: options.afterCompaction,
      });
      if (skippedFor) {
        options.log(`${model}: skipped, ${skippedFor} is maintaining it`);
        continue;
      }
      const dropped = daysDropped.length > 0 ? `, dropped ${daysDropped.join(', ')}` : '';
      options.log(`${model}: compacted, ${rowsKept} prediction rows kept${dropped}`);
    } catch (error) {
      failed.push(model);
      options.log(`${model}: maintenance failed: ${(error as Error).message}`);
    }
  }
  if (failed.length > 0) {
    throw new Error(`maintenance failed for ${failed.join(', ')} (see the lines above); the other models are done`);
  }
}

export interface MaintenanceSchedule {
  /** Waits for a run under way, then stops. */
  stop(): Promise<void>;
}

/**
 * Runs maintenanceRound every `intervalMs` (the first run one interval after the start) until stopped; a failed
 * round is logged and the next one tries again. Without it the embedded store keeps one file per flush, and every
 * read has to deduplicate them.
 */
export function scheduleMaintenance(
  store: PredictionStore,
  options: MaintenanceRoundOptions & { intervalMs: number }
): MaintenanceSchedule {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    running = maintenanceRound(store, { ...options, log: (line) => options.log(`maintenance: ${line}`) })
      .catch((error) => options.log(`maintenance failed (tried again in ${options.intervalMs} ms): ${error.message}`))
      .finally(() => {
        if (!stopped) {
          timer = setTimeout(tick, options.intervalMs);
        }
      });
  };
  timer = setTimeout(tick, options.intervalMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

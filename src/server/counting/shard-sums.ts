/**
 * Additive statements pushed down to the shards: a statement whose rows are counts (or sums) per key, over the
 * model's predictions in a range, runs on the store, or on every shard of a cluster store over the shard's own rows
 * (shardReaders), and rows with the same key are summed column by column. Every copy of a prediction lives on one
 * shard, so the sums are the store's counts; only the per-key rows cross the network.
 */
import type { Params } from '../store/sql-params';
import type { PredictionStore, ShardReader, TimeRange } from '../store/types';

export interface ShardSumsRequest {
  store: PredictionStore;
  model: string;
  range: TimeRange;
  /** The statement over a predictions relation (`FROM <relation>`); its rows carry `keys` and additive numbers. */
  sql: (relation: string) => string;
  params: Params;
  /** The columns naming a row; every other column is summed. */
  keys: readonly string[];
  signal?: AbortSignal;
}

/**
 * Runs `run` on the store, or at once on every shard of a cluster store (shardReaders), with the predictions
 * relation of the model over the range that reader sees; the answers in reader order.
 */
export async function onEveryShard<T>(
  store: PredictionStore,
  model: string,
  range: TimeRange,
  run: (reader: ShardReader, relation: string) => Promise<T>
): Promise<T[]> {
  const readers = store.shardReaders?.() ?? [store];
  return Promise.all(readers.map(async (reader) => run(reader, await reader.predictionsRelation(model, range))));
}

/** The statement's rows over the whole store: per shard, then summed by key (first-seen key order). */
export async function sumOverShards(request: ShardSumsRequest): Promise<Array<Record<string, unknown>>> {
  const { store, model, range, sql, params, keys, signal } = request;
  const answers = await onEveryShard(store, model, range, (reader, relation) =>
    reader.query<Record<string, unknown>>(sql(relation), params, { signal })
  );
  if (answers.length === 1) {
    return answers[0];
  }
  const summed = new Map<string, Record<string, unknown>>();
  for (const rows of answers) {
    for (const row of rows) {
      const key = JSON.stringify(keys.map((name) => row[name]));
      const into = summed.get(key);
      if (!into) {
        summed.set(key, { ...row });
        continue;
      }
      for (const [name, value] of Object.entries(row)) {
        if (!keys.includes(name)) {
          into[name] = Number(into[name] ?? 0) + Number(value ?? 0);
        }
      }
    }
  }
  return [...summed.values()];
}

/**
 * The collector thread of `mlmon serve` (started by start-collector-thread.ts): opens the store, runs the
 * collector — HTTP, write-ahead log, maintenance — and its store writes in another thread (store-worker.ts), and
 * stops when the main thread tells it to.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startCollector, type CollectorOptions } from '../collector/collector';
import type { KafkaSourceConfig } from '../collector/kafka/config';
import { startKafkaSource, type KafkaSource } from '../collector/kafka/consumer';
import { prepareCounts } from '../counting/prepare-counts';
import { scheduleMaintenance } from '../store/maintenance';
import { openStore, type StoreOptions } from '../store/open';
import { moduleWorkerData } from '../worker-thread';
import { isInputError } from './command';
import { MlflowRegistry } from '../registry/mlflow';
import { ModelRegistryView } from '../registry/resolve';
import { scheduleRegistryWatch } from '../registry/events';
import type { RegistryFlags } from './registry-flags';
import { logHeapPeriodically } from '../heap-log';

/** Everything the collector thread needs, as plain data. */
export interface CollectorThreadConfig {
  store: StoreOptions;
  collector: Omit<CollectorOptions, 'store' | 'storeWorker' | 'log'>;
  maintenance: { intervalMs: number; retentionDays?: number };
  /** The model registry whose alias moves are recorded (registry/events.ts), polled every `intervalMs`. */
  registry?: RegistryFlags & { intervalMs: number };
  /** Topics the collector consumes besides HTTP (collector/kafka/consumer.ts). */
  kafka?: KafkaSourceConfig;
}

export type ToThread = { type: 'stop'; signal: string };
export type FromThread =
  | { type: 'listening'; url: string; description: string }
  | { type: 'failed'; message: string; input: boolean }
  | { type: 'stopped'; code: number };

/** The collector thread itself: opens the store, starts the collector and maintenance, stops when told. */
export async function runCollectorThread(): Promise<void> {
  const config = moduleWorkerData<CollectorThreadConfig>(workerData);
  logHeapPeriodically('collector');
  const port = parentPort!;
  const post = (message: FromThread) => port.postMessage(message);
  const log = (line: string) => process.stderr.write(line + '\n');
  const stop = new Promise<string>((resolve) => port.once('message', (message: ToThread) => resolve(message.signal)));
  let store: Awaited<ReturnType<typeof openStore>>;
  let collector: Awaited<ReturnType<typeof startCollector>>;
  try {
    store = await openStore(config.store);
    collector = await startCollector({ ...config.collector, store, storeWorker: { store: config.store }, log }).catch(
      async (err) => {
        await store.close();
        throw err;
      }
    );
  } catch (err) {
    post({ type: 'failed', message: (err as Error).message, input: isInputError(err) });
    port.close();
    return;
  }
  let kafka: KafkaSource | undefined;
  if (config.kafka) {
    try {
      kafka = await startKafkaSource(config.kafka, collector.source, log);
    } catch (err) {
      await collector.stop().catch(() => undefined);
      await store.close().catch(() => undefined);
      post({ type: 'failed', message: (err as Error).message, input: false });
      port.close();
      return;
    }
  }
  post({ type: 'listening', url: collector.url, description: store.description });
  const maintenance = scheduleMaintenance(store, {
    ...config.maintenance,
    log: (line) => log(`mlmon serve: ${line}`),
    afterCompaction: async (model) => {
      await prepareCounts(store, model);
    },
  });
  const registry = config.registry;
  const registryWatch =
    registry &&
    scheduleRegistryWatch(store, new ModelRegistryView(new MlflowRegistry(registry.client), registry.registeredNames), {
      intervalMs: registry.intervalMs,
      mappedModels: Object.keys(registry.registeredNames),
      log: (line) => log(`mlmon serve: ${line}`),
    });
  const signal = await stop;
  log(`mlmon serve: ${signal}: no longer accepting, flushing the write-ahead log into the store`);
  let code = 0;
  try {
    await kafka?.stop();
    await registryWatch?.stop();
    await maintenance.stop();
    await collector.stop();
    await store.close();
  } catch (err) {
    log(
      `mlmon serve: could not finish the flush (${(err as Error).message}); the WAL is kept and replayed on the next start`
    );
    code = 1;
  }
  post({ type: 'stopped', code });
  port.close();
}

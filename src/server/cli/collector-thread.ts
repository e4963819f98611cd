/**
 * `mlmon serve` runs the collector — HTTP, write-ahead log, maintenance — in a worker thread of its own, and its
 * store writes in another (store-worker.ts). A worker's V8 heap can be bounded (`resourceLimits`), the main
 * thread's cannot once the process runs: left alone, V8 sizes the young generation for the whole machine (134 MB on
 * 24 GB) and a collector receiving 25 MB/s of JSON keeps it full. The main thread only turns signals into a stop
 * and says how the collector ended; a kill -9 still ends the one process and everything in it.
 */
import { parentPort, workerData, type Worker } from 'node:worker_threads';
import { startCollector, type CollectorOptions } from '../collector/collector';
import type { KafkaSourceConfig } from '../collector/kafka/config';
import { startKafkaSource, type KafkaSource } from '../collector/kafka/consumer';
import { prepareCounts } from '../counting/prepare-counts';
import { scheduleMaintenance } from '../store/maintenance';
import { openStore, type StoreOptions } from '../store/open';
import { moduleWorkerData, startModuleWorker } from '../worker-thread';
import { InputError, isInputError } from './command';
import { MlflowRegistry } from '../registry/mlflow';
import { ModelRegistryView } from '../registry/resolve';
import { scheduleRegistryWatch } from '../registry/events';
import type { RegistryFlags } from './registry-flags';

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

type ToThread = { type: 'stop'; signal: string };
type FromThread =
  | { type: 'listening'; url: string; description: string }
  | { type: 'failed'; message: string; input: boolean }
  | { type: 'stopped'; code: number };

/**
 * The collector thread's young generation: a request's parsed records die within milliseconds, so a young generation
 * that holds the requests under way collects them before they are copied into the old generation. Measured under
 * the ingest benchmark (4 connections × 1 000 records), with JSON.parse and record objects: 16 MB spent 16-18 % of
 * the thread's time collecting garbage, 32 MB 16 %, 64 MB 5 % (+20 MB of heap). Since NDJSON lines are parsed straight
 * into columns (collector/prediction-lines.ts) a request makes little garbage: 16 MB spends 4 % (64 MB: 3 %), and the
 * 48 MB of semi-spaces are not worth that 1 %. The old generation keeps V8's limit, so that a burst of large bodies
 * is never the thread running out of memory.
 */
const COLLECTOR_HEAP_LIMITS = { maxYoungGenerationSizeMb: 16 };

export interface CollectorThread {
  /** Resolves once the collector listens (after replaying its log); rejects with why it could not start. */
  listening: Promise<{ url: string; description: string }>;
  /** Resolves with a message if the thread ends without being asked to (an uncaught error, out of memory). */
  ended: Promise<string>;
  /** Stops the collector (it flushes its log into the store); resolves with the exit code once the thread ended. */
  stop(signal: string): Promise<number>;
}

/** Starts the collector in its thread (main thread side). */
export function startCollectorThread(config: CollectorThreadConfig): CollectorThread {
  const worker: Worker = startModuleWorker(__filename, 'runCollectorThread', config, COLLECTOR_HEAP_LIMITS);
  let listened!: (where: { url: string; description: string }) => void;
  let failed!: (err: Error) => void;
  const listening = new Promise<{ url: string; description: string }>((resolve, reject) => {
    listened = resolve;
    failed = reject;
  });
  listening.catch(() => undefined);
  let stopped!: (code: number) => void;
  const code = new Promise<number>((resolve) => (stopped = resolve));
  worker.on('message', (message: FromThread) => {
    if (message.type === 'listening') {
      listened({ url: message.url, description: message.description });
    } else if (message.type === 'failed') {
      failed(message.input ? new InputError(message.message) : new Error(message.message));
    } else {
      stopped(message.code);
    }
  });
  const ended = new Promise<string>((resolve) => {
    worker.on('error', (err) => resolve(`the collector stopped: ${err.message}`));
    worker.on('exit', (exitCode) => resolve(`the collector thread exited with code ${exitCode}`));
  });
  void ended.then((why) => {
    failed(new Error(why));
    stopped(1);
  });
  return {
    listening,
    ended,
    async stop(signal) {
      worker.postMessage({ type: 'stop', signal } satisfies ToThread);
      await ended;
      return code;
    },
  };
}

/** The collector thread itself: opens the store, starts the collector and maintenance, stops when told. */
export async function runCollectorThread(): Promise<void> {
  const config = moduleWorkerData<CollectorThreadConfig>(workerData);
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

/**
 * The store worker: a worker thread that opens its own connection to the store and runs the flusher's segment
 * writes (segment-writer.ts) there, so that decoding the log, pivoting records into columns and writing the store
 * never hold the thread that answers requests — on two cores the two run side by side.
 *
 * The worker holds nothing that is not in the write-ahead log: it reads the sealed segments the flusher names from
 * disk, and the flusher deletes a segment only once the worker reported its records written. A worker that dies
 * (an uncaught error, running out of memory, `process.exit` in a store library) fails the round under way; the
 * flusher reports it in /healthz and the next round starts a new worker, which writes the same segments again (the
 * store counts a request id once).
 */
import { parentPort, workerData, type Worker } from 'node:worker_threads';
import { openStore, type StoreOptions } from '../store/open';
import { shareRepeatedStrings, transferableBuffers } from '../store/prediction-columns';
import type { PredictionWriter } from '../store/types';
import { moduleWorkerData, startModuleWorker } from '../worker-thread';
import { DeadLetterArea } from './deadletter';
import { logHeapPeriodically } from '../heap-log';
import type { SegmentSink } from './flusher';
import {
  SegmentWriter,
  type DeliveredBatch,
  type FlushReport,
  type FlushRequest,
  type SegmentWriterOptions,
} from './segment-writer';

export interface StoreWorkerOptions {
  /** The store the worker opens for itself. */
  store: StoreOptions;
  /**
   * A module exporting `wrapStore(store: PredictionWriter, options): PredictionWriter`, applied to the worker's store
   * with these options: the tests inject store failures and worker deaths with it.
   */
  storeWrapper?: { module: string; options?: unknown };
}

/** What a `storeWrapper` module exports. */
interface StoreWrapperModule {
  wrapStore(store: PredictionWriter, options: unknown): PredictionWriter;
}

/** What the worker is started with. */
interface StoreWorkerData extends StoreWorkerOptions {
  deadLetterDir: string;
  writer: Omit<SegmentWriterOptions, 'log'>;
}

type ToWorker =
  | { type: 'deliver'; file: string; entry: number; batch: DeliveredBatch; bytes: number }
  | { type: 'flush'; id: number; request: FlushRequest }
  | { type: 'close' };
type FromWorker =
  | { type: 'ready' }
  | { type: 'log'; line: string }
  | { type: 'report'; id: number; report?: FlushReport; error?: string };

/**
 * The worker's V8 heap: a small young generation (its objects die young: a round's columns are written and dropped)
 * and an old generation that holds the delivered records (SegmentWriterOptions.maxMemoryBytes: the whole backlog,
 * collector.ts deliveryBudget, ~120 MB of columns by default) and a round's concatenated copy with room to spare.
 * Without limits V8 sizes both for the whole machine and lets the heap grow to hundreds of megabytes.
 */
const WORKER_HEAP_LIMITS = { maxYoungGenerationSizeMb: 16, maxOldGenerationSizeMb: 384 };

/** How long close() waits for the worker to close its store before it is terminated. */
const CLOSE_TIMEOUT_MS = 10_000;

/** A running worker: `ready` resolves once its store is open, and rejects if it stops before. */
interface Running {
  worker: Worker;
  ready: Promise<void>;
}

/** The flusher's side of the worker: starts it when first needed and again after it stopped. */
export class StoreWorker implements SegmentSink {
  private running: Running | undefined;
  private readonly pending = new Map<
    number,
    { resolve: (report: FlushReport) => void; reject: (err: Error) => void }
  >();
  private nextId = 1;

  constructor(
    private readonly options: StoreWorkerData,
    private readonly log: (line: string) => void
  ) {}

  /** Posts the records to the worker; their typed arrays move to it (they are unusable here afterwards). */
  deliver(file: string, entry: number, batch: DeliveredBatch, bytes: number): void {
    const transfer = batch.kind === 'predictions' ? transferableBuffers(batch.columns) : [];
    this.start().worker.postMessage({ type: 'deliver', file, entry, batch, bytes } satisfies ToWorker, transfer);
  }

  async write(request: FlushRequest): Promise<FlushReport> {
    const { worker, ready } = this.start();
    await ready;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ type: 'flush', id, request } satisfies ToWorker);
    });
  }

  /** Asks the worker to close its store and waits for it to end (terminating it after CLOSE_TIMEOUT_MS). */
  async close(): Promise<void> {
    const running = this.running;
    if (!running) {
      return;
    }
    const exited = new Promise((resolve) => running.worker.once('exit', resolve));
    running.worker.postMessage({ type: 'close' } satisfies ToWorker);
    const timer = setTimeout(() => void running.worker.terminate(), CLOSE_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  private start(): Running {
    if (this.running) {
      return this.running;
    }
    const worker = startModuleWorker(__filename, 'runStoreWorker', this.options, WORKER_HEAP_LIMITS);
    let stopped = false;
    const running: Running = {
      worker,
      ready: new Promise<void>((resolve, reject) => {
        const stop = (why: string) => {
          if (stopped) {
            return;
          }
          stopped = true;
          if (this.running === running) {
            this.running = undefined;
          }
          const error = new Error(`the store worker stopped (${why})`);
          reject(error);
          this.pending.forEach(({ reject: fail }) => fail(error));
          this.pending.clear();
        };
        worker.on('message', (message: FromWorker) => {
          if (message.type === 'ready') {
            resolve();
          } else if (message.type === 'log') {
            this.log(message.line);
          } else {
            const waiting = this.pending.get(message.id);
            this.pending.delete(message.id);
            if (message.report) {
              waiting?.resolve(message.report);
            } else {
              waiting?.reject(new Error(message.error));
            }
          }
        });
        worker.on('error', (err) => stop(err.message));
        worker.on('exit', (code) => stop(`exit code ${code}`));
      }),
    };
    running.ready.catch(() => undefined); // a failed start is reported to the write waiting for it
    this.running = running;
    return running;
  }
}

/** The worker's side: opens the store, then runs each flush request it is sent. */
export async function runStoreWorker(): Promise<void> {
  const data = moduleWorkerData<StoreWorkerData>(workerData);
  logHeapPeriodically('store');
  const port = parentPort!;
  const store = await openStore(data.store);
  const wrapper = data.storeWrapper;
  const writer: PredictionWriter = wrapper
    ? (require(wrapper.module) as StoreWrapperModule).wrapStore(store, wrapper.options)
    : store;
  const segments = new SegmentWriter(writer, new DeadLetterArea(data.deadLetterDir), {
    ...data.writer,
    log: (line) => port.postMessage({ type: 'log', line } satisfies FromWorker),
  });
  port.on('message', (message: ToWorker) => {
    if (message.type === 'close') {
      void store.close().finally(() => port.close());
      return;
    }
    if (message.type === 'deliver') {
      if (message.batch.kind === 'predictions') {
        shareRepeatedStrings(message.batch.columns);
      }
      segments.deliver(message.file, message.entry, message.batch, message.bytes);
      return;
    }
    segments.write(message.request).then(
      (report) => port.postMessage({ type: 'report', id: message.id, report } satisfies FromWorker),
      (err: Error) => port.postMessage({ type: 'report', id: message.id, error: err.message } satisfies FromWorker)
    );
  });
  port.postMessage({ type: 'ready' } satisfies FromWorker);
}

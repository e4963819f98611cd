/**
 * `mlmon serve` runs the collector — HTTP, write-ahead log, maintenance — in a worker thread of its own
 * (collector-thread.ts), and its store writes in another (store-worker.ts). A worker's V8 heap can be bounded
 * (`resourceLimits`), the main thread's cannot once the process runs: left alone, V8 sizes the young generation for
 * the whole machine (134 MB on 24 GB) and a collector receiving 25 MB/s of JSON keeps it full. The main thread only
 * turns signals into a stop and says how the collector ended; a kill -9 still ends the one process and everything
 * in it. This module is the main thread's side: it imports the collector thread's module only for its types, so the
 * main thread loads neither the collector nor a store (each loaded module costs every thread that loads it).
 */
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../worker-thread';
import { InputError } from './command';
import type { CollectorThreadConfig, FromThread, ToThread } from './collector-thread';

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
  const worker: Worker = startModuleWorker(
    require.resolve('./collector-thread'),
    'runCollectorThread',
    config,
    COLLECTOR_HEAP_LIMITS
  );
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

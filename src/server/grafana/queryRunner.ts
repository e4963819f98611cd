/**
 * Runs the queries of one QueryData request: each query in isolation (a malformed or failing query
 * gets its own error, never its neighbours'), at most `concurrency` queries at a time across the whole
 * process, each within a time limit that also honours the gRPC deadline, cancellation and the process's
 * shutdown. A stopped query is answered at once; its signal tells the work behind it to stop (the store
 * interrupts its statement, the handlers stop at their next slice). Frames are encoded in slices too
 * (src/server/slices.ts).
 */
import { mapError, timeoutError } from './errors';
import { mapSliced } from '../slices';
import { encodeFrame, type Frame } from './frames';
import type { Logger } from './logger';
import type { QueryMetrics } from './metrics';
import type { DataQuery, DataResponse, PluginContext, QueryDataRequest, QueryDataResponse } from './types';

export interface QueryCall {
  query: DataQuery;
  pluginContext: PluginContext | null;
  headers: Record<string, string>;
  /** Aborted when the time limit passes or the caller goes away. */
  signal: AbortSignal;
}

export type QueryExecutor = (call: QueryCall) => Promise<Frame[]>;

export interface QueryRunnerOptions {
  execute: QueryExecutor;
  /** At most this many queries run at once in the process. */
  concurrency: number;
  /** Time limit per query, in milliseconds. */
  timeoutMs: number;
  metrics: QueryMetrics;
  logger: Logger;
  /** The metrics label for a query (keep it to a closed set of values). */
  metricLabel: (query: DataQuery) => string;
  /**
   * Whether a query reads and counts data (heavy). Heavy queries may hold all but one of the `concurrency` slots, so
   * that a light query (metadata, a malformed query) never waits behind heavy ones. Without it every query is light.
   */
  isHeavy?: (query: DataQuery, headers: Record<string, string>) => boolean;
  /** Aborted when the process shuts down: every running and waiting query stops. */
  shutdown?: AbortSignal;
}

/** A counting semaphore: `run` waits for a free slot, then runs the task. */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly slots: number) {
    if (!Number.isInteger(slots) || slots < 1) {
      throw new Error(`concurrency must be a positive integer, got ${slots}`);
    }
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.slots) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active += 1;
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) {
        next();
      } else {
        this.active -= 1;
      }
    }
  }
}

/** Rejects with a timeout error when the signal aborts first. */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal, refId: string, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () =>
      reject(
        timeoutError(
          `query ${refId} was stopped after ${timeoutMs} ms or when the request was cancelled; ` +
            'narrow the time range or the list of features'
        )
      );
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export function success(frames: Uint8Array[]): DataResponse {
  return { frames, error: '', status: 200, errorSource: '' };
}

export function failure(error: unknown): DataResponse {
  const mapped = mapError(error);
  return { frames: [], error: mapped.message, status: mapped.status, errorSource: mapped.source };
}

export function createQueryRunner(options: QueryRunnerOptions) {
  const limiter = new Limiter(options.concurrency);
  const heavyLimiter = new Limiter(Math.max(1, options.concurrency - 1));
  const stopping = options.shutdown ? [options.shutdown] : [];

  /** Runs a task in a slot: heavy tasks first wait for one of the heavy slots. */
  const inSlot = <T>(heavy: boolean, task: () => Promise<T>) =>
    heavy ? heavyLimiter.run(() => limiter.run(task)) : limiter.run(task);

  async function runOne(query: DataQuery, request: QueryDataRequest, callerSignal: AbortSignal): Promise<DataResponse> {
    const started = process.hrtime.bigint();
    const label = options.metricLabel(query);
    // The time limit and cancellation count from the request's arrival, waiting for a slot included.
    const signal = AbortSignal.any([callerSignal, ...stopping, AbortSignal.timeout(options.timeoutMs)]);
    const work = inSlot(options.isHeavy?.(query, request.headers) ?? false, async () => {
      signal.throwIfAborted();
      const frames = await options.execute({
        query,
        pluginContext: request.pluginContext,
        headers: request.headers,
        signal,
      });
      return mapSliced(frames, (frame) => encodeFrame(frame, query.refId), signal);
    });
    const response = await raceAbort(work, signal, query.refId, options.timeoutMs).then(success, failure);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    options.metrics.observe(label, seconds, response.errorSource || undefined);
    if (response.status >= 500 && response.errorSource === 'plugin') {
      options.logger.error('query failed', { refId: query.refId, queryType: label, error: response.error });
    } else if (response.status !== 200) {
      options.logger.debug('query rejected', { refId: query.refId, queryType: label, error: response.error });
    }
    return response;
  }

  /** Answers every refId of the request. */
  return async function queryData(request: QueryDataRequest, signal: AbortSignal): Promise<QueryDataResponse> {
    const answers = await Promise.all(request.queries.map((query) => runOne(query, request, signal)));
    const responses: Record<string, DataResponse> = {};
    request.queries.forEach((query, i) => (responses[query.refId] = answers[i]));
    return { responses };
  };
}

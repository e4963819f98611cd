/**
 * Moves sealed write-ahead-log segments into the store, a group of segments at a time. The writing itself is done by
 * a segment sink — a SegmentWriter in this thread, or a store worker thread (store-worker.ts) so that store writes
 * never hold the thread that answers requests; the flusher keeps the bookkeeping: a segment is deleted only after
 * every record in it was written to the store (or refused by it, and then kept as a dead letter). When the store
 * fails, the segment stays and is retried, and records that were written before the failure may be written again —
 * the store counts a request id once, so that is harmless. When the sink itself fails (the worker died), nothing of
 * the round is taken as written and the next round retries it all.
 *
 * Nothing in one model's data can hold up another's: records are written per model and kind ("target"), a failing
 * target is retried on its own backoff while the others go on, and a segment is deleted as soon as every target
 * it holds is written. The flusher reports its state for /healthz.
 */
import type { CollectorMetrics } from './metrics';
import type { DeliveredBatch, FlushReport, FlushRequest } from './segment-writer';
import type { WriteAheadLog } from './wal';

/** Writes groups of sealed segments into the store (segment-writer.ts), here or in a worker thread. */
export interface SegmentSink {
  /** Hands over the records of a durable log entry (entry `entry` of segment `file`, `bytes` long). */
  deliver(file: string, entry: number, batch: DeliveredBatch, bytes: number): void;
  write(request: FlushRequest): Promise<FlushReport>;
  close(): Promise<void>;
}

export interface FlusherOptions {
  /** WAL bytes sent to the sink at once at most (a segment larger than this goes alone). */
  maxGroupBytes?: number;
  log?: (line: string) => void;
  now?: () => number;
}

/** What /healthz and /metrics say about the flusher. */
export interface FlusherStatus {
  /** Flush rounds in a row that left something unwritten because the store failed. */
  consecutiveFailures: number;
  /** Since when (epoch ms) the store has been failing, undefined when the last round wrote everything. */
  failingSince: number | undefined;
  lastError: string | undefined;
  lastSuccessAt: number | undefined;
  /** `kind/model` of each target whose writes are failing. */
  failingTargets: string[];
  /** Why the segment sink itself failed in the last round (a store worker that stopped), if it did. */
  sinkError: string | undefined;
}

interface Failure {
  failures: number;
  retryAt: number;
  since: number;
  error: string;
}

export class WalFlusher {
  private readonly maxGroupBytes: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private intervalMs = 1000;
  /** Targets already written from each segment, so a retry does not write them again. */
  private readonly done = new Map<string, Set<string>>();
  /** Records already written from segments that are kept for other targets (not part of the backlog). */
  private readonly doneRecords = new Map<string, number>();
  private readonly failing = new Map<string, Failure>();
  private sinkFailure: Failure | undefined;
  private consecutiveFailures = 0;
  private lastSuccessAt: number | undefined;

  constructor(
    private readonly wal: WriteAheadLog,
    private readonly sink: SegmentSink,
    private readonly metrics: CollectorMetrics,
    private readonly options: FlusherOptions = {}
  ) {
    this.maxGroupBytes = options.maxGroupBytes ?? 16 * 1024 * 1024;
    this.now = options.now ?? Date.now;
  }

  /**
   * Flushes every `intervalMs` from the start of one round to the start of the next (a round that takes longer is
   * followed at once, so a store that is slow to write is not also left idle); a failing target waits on its own
   * backoff (up to 30 s), the others do not.
   */
  start(intervalMs: number): void {
    this.intervalMs = intervalMs;
    const tick = async () => {
      const started = Date.now();
      await this.flush(false).catch(() => undefined);
      if (!this.stopped) {
        this.timer = setTimeout(tick, Math.max(0, started + intervalMs - Date.now()));
      }
    };
    this.timer = setTimeout(tick, intervalMs);
  }

  /** Stops the timer and waits for a flush under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /**
   * Seals the open segment and moves every sealed segment into the store. Concurrent calls share one run. Rejects
   * when something could not be written (it stays in the log); `retryNow` ignores the backoffs.
   */
  flush(retryNow = true): Promise<void> {
    if (!this.running) {
      this.running = this.flushSegments(retryNow).finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  /** Records in the log's segments that are already in the store (their segment waits for another target). */
  writtenButKept(): number {
    let records = 0;
    this.doneRecords.forEach((n) => (records += n));
    return records;
  }

  status(): FlusherStatus {
    const failures = [...this.failing.values(), ...(this.sinkFailure ? [this.sinkFailure] : [])];
    return {
      consecutiveFailures: this.consecutiveFailures,
      failingSince: failures.reduce<number | undefined>((min, f) => Math.min(min ?? f.since, f.since), undefined),
      lastError: failures.length ? failures[failures.length - 1].error : undefined,
      lastSuccessAt: this.lastSuccessAt,
      failingTargets: [...this.failing.keys()],
      sinkError: this.sinkFailure?.error,
    };
  }

  private async flushSegments(retryNow: boolean): Promise<void> {
    await this.wal.seal();
    let segments = this.wal.sealedSegments();
    let failure: Error | undefined;
    if (segments.length && this.sinkFailure && !retryNow && this.sinkFailure.retryAt > this.now()) {
      segments = [];
      failure = new Error(`waiting to retry the store writer (${this.sinkFailure.error})`);
    }
    while (segments.length) {
      const started = process.hrtime.bigint();
      const group = this.takeGroup(segments);
      const request: FlushRequest = {
        segments: group.map((file) => ({
          file,
          done: [...(this.done.get(file) ?? [])],
          entries: this.wal.entriesOf(file),
        })),
        skip: [...this.failing].filter(([, f]) => !retryNow && f.retryAt > this.now()).map(([key]) => key),
      };
      let report: FlushReport;
      try {
        report = await this.sink.write(request);
      } catch (err) {
        failure ??= err as Error;
        this.sinkFailure = this.nextFailure(this.sinkFailure, (err as Error).message);
        this.options.log?.(
          `collector: the store writer failed (attempt ${this.sinkFailure.failures}); the write-ahead log keeps ` +
            `every record and the next round retries: ${(err as Error).message}`
        );
        break;
      }
      this.sinkFailure = undefined;
      failure ??= this.apply(report);
      this.metrics.flushLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
      segments = segments.slice(group.length);
    }
    if (failure) {
      this.consecutiveFailures += 1;
      throw failure;
    }
    this.consecutiveFailures = 0;
    this.lastSuccessAt = this.now();
  }

  /** The first segments, up to maxGroupBytes (at least one). */
  private takeGroup(segments: string[]): string[] {
    let bytes = 0;
    let i = 0;
    while (i < segments.length && (i === 0 || bytes + this.wal.bytesOf(segments[i]) <= this.maxGroupBytes)) {
      bytes += this.wal.bytesOf(segments[i]);
      i += 1;
    }
    return segments.slice(0, i);
  }

  /**
   * Takes in what a round wrote: deletes the segments whose every target is written, remembers the targets written
   * from the others, counts, and notes the failures. Returns the first failure.
   */
  private apply(report: FlushReport): Error | undefined {
    let failure: Error | undefined;
    for (const failed of report.failures) {
      const failures = this.nextFailure(this.failing.get(failed.key), failed.error);
      this.failing.set(failed.key, failures);
      this.metrics.storeErrors.inc({ model: failed.model, kind: failed.kind });
      this.options.log?.(
        `collector: could not write ${failed.records} ${failed.kind} of model ${failed.model} to the store ` +
          `(attempt ${failures.failures}); keeping their WAL segment(s) to retry: ${failed.error}`
      );
      failure ??= new Error(`${failed.key}: ${failed.error}`);
    }
    for (const key of report.skipped) {
      failure ??= new Error(`${key}: waiting to retry the store (${this.failing.get(key)?.error})`);
    }
    report.written.forEach((key) => this.failing.delete(key));
    for (const { file, records, done } of report.segments) {
      const keys = Object.keys(records);
      if (keys.every((key) => done.includes(key))) {
        this.wal.removeSegment(file);
        this.done.delete(file);
        this.doneRecords.delete(file);
        continue;
      }
      let total = 0;
      keys.forEach((key) => (total += records[key]));
      this.wal.noteRecords(file, total);
      this.done.set(file, new Set(done));
      let written = 0;
      done.forEach((key) => (written += records[key] ?? 0));
      this.doneRecords.set(file, written);
    }
    this.metrics.flushedSegments.inc({ source: 'memory' }, report.fromMemory);
    this.metrics.flushedSegments.inc({ source: 'disk' }, report.fromDisk);
    for (const { model, kind, records } of report.flushed) {
      this.metrics.flushedRecords.inc({ model, kind }, records);
    }
    for (const { model, kind, code, count } of report.rejected) {
      this.metrics.rejected.inc({ model, kind, reason: code }, count);
    }
    return failure;
  }

  /** The failure after `previous` (or the first): retried after intervalMs × 2^failures, at most 30 s. */
  private nextFailure(previous: Failure | undefined, error: string): Failure {
    const failures = (previous?.failures ?? 0) + 1;
    return {
      failures,
      retryAt: this.now() + Math.min(30_000, this.intervalMs * 2 ** failures),
      since: previous?.since ?? this.now(),
      error,
    };
  }
}

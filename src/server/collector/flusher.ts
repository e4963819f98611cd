/**
 * Moves sealed write-ahead-log segments into the store in large batches. A segment is deleted only after every
 * record in it was written to the store; when the store fails, the segment stays and is retried, and records that
 * were written before the failure are written again — the store counts a request id once, so that is harmless.
 */
import type { LabelRecord, PredictionRecord, PredictionWriter } from '../store/types';
import { decodeBatch, type BodyFormat } from './body';
import type { CollectorMetrics } from './metrics';
import { checkLabel, checkPrediction } from './validate';
import type { WriteAheadLog } from './wal';

/** The accepted records of one request: a WAL entry decoded (and the in-memory memo kept beside it). */
export interface WalBatch {
  model: string;
  kind: 'predictions' | 'labels';
  records: PredictionRecord[] | LabelRecord[];
}

/**
 * The accepted part of one request as the collector logs it: the request body exactly as received, with what is
 * needed to validate it again identically on replay (the indexes of the accepted items, the sampling rate and the
 * clock used when it was accepted). Logging the received bytes spares re-serialising every accepted record.
 */
export interface RequestEntry {
  model: string;
  kind: WalBatch['kind'];
  format: BodyFormat;
  /** Indexes (in the body) of the accepted items, in the order they were accepted. */
  accepted: number[];
  samplingRate: number;
  now: number;
}

/** Entry = one JSON header line, `\n`, the raw body. A header never holds a raw newline (JSON escapes them). */
export function encodeRequestEntry(entry: RequestEntry, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(JSON.stringify(entry) + '\n'), body]);
}

/** The records form of an entry (a JSON WalBatch, no newline), which earlier versions of the collector wrote. */
export function encodeBatch(batch: WalBatch): Buffer {
  return Buffer.from(JSON.stringify(batch));
}

/** Decodes either entry form; a request entry is validated again exactly as when it was accepted. */
export function decodeBatchEntry(payload: Buffer): WalBatch {
  const newline = payload.indexOf(0x0a);
  if (newline < 0) {
    return JSON.parse(payload.toString('utf8')) as WalBatch;
  }
  const entry = JSON.parse(payload.toString('utf8', 0, newline)) as RequestEntry;
  const items = decodeBatch(payload.subarray(newline + 1), entry.format, Number.MAX_SAFE_INTEGER);
  const records = entry.accepted.map((index) => {
    const item = items[index];
    const checked =
      item && 'value' in item
        ? entry.kind === 'predictions'
          ? checkPrediction(item.value, entry.samplingRate)
          : checkLabel(item.value, entry.now)
        : undefined;
    if (!checked?.ok) {
      throw new Error(
        `write-ahead log entry for ${entry.kind} of model ${entry.model}: item ${index} no longer validates; ` +
          'the segment is damaged — move it out of the wal directory and re-send that batch'
      );
    }
    return checked.record;
  });
  return { model: entry.model, kind: entry.kind, records: records as WalBatch['records'] };
}

export interface FlusherOptions {
  /** Records per store write at most (segments are grouped until this many records are gathered). */
  maxRecordsPerWrite?: number;
  log?: (line: string) => void;
}

export class WalFlusher {
  private readonly maxRecords: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly wal: WriteAheadLog<WalBatch>,
    private readonly store: PredictionWriter,
    private readonly metrics: CollectorMetrics,
    private readonly options: FlusherOptions = {}
  ) {
    this.maxRecords = options.maxRecordsPerWrite ?? 25_000;
  }

  /** Flushes every `intervalMs` (and backs off up to 30 s while the store fails). */
  start(intervalMs: number): void {
    const tick = async () => {
      try {
        await this.flush();
        this.failures = 0;
      } catch {
        this.failures += 1;
      }
      if (!this.stopped) {
        const delay = this.failures ? Math.min(30_000, intervalMs * 2 ** this.failures) : intervalMs;
        this.timer = setTimeout(tick, delay);
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

  /** Seals the open segment and moves every sealed segment into the store. Concurrent calls share one run. */
  flush(): Promise<void> {
    if (!this.running) {
      this.running = this.flushSegments().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  private async flushSegments(): Promise<void> {
    await this.wal.seal();
    let segments = this.wal.sealedSegments();
    while (segments.length) {
      const started = process.hrtime.bigint();
      const { group, rest } = this.takeGroup(segments);
      try {
        await this.writeGroup(group.batches);
      } catch (err) {
        this.metrics.storeErrors.inc();
        this.options.log?.(
          `collector: could not write to the store, keeping ${group.files.length} WAL segment(s) to retry: ${(err as Error).message}`
        );
        throw err;
      }
      group.files.forEach((file) => this.wal.removeSegment(file));
      this.metrics.flushLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
      segments = rest;
    }
  }

  /** Reads segments until about maxRecords records are gathered. */
  private takeGroup(segments: string[]): { group: { files: string[]; batches: WalBatch[] }; rest: string[] } {
    const files: string[] = [];
    const batches: WalBatch[] = [];
    let records = 0;
    let i = 0;
    for (; i < segments.length && (records < this.maxRecords || files.length === 0); i++) {
      for (const batch of this.batchesOf(segments[i])) {
        batches.push(batch);
        records += batch.records.length;
      }
      files.push(segments[i]);
    }
    return { group: { files, batches }, rest: segments.slice(i) };
  }

  /** A segment's batches: kept in memory when this process wrote it, else read and decoded from disk. */
  private batchesOf(file: string): WalBatch[] {
    const memos = this.wal.memosOf(file);
    if (memos) {
      return memos;
    }
    const { entries, tornBytes } = this.wal.readSegment(file);
    if (tornBytes) {
      this.options.log?.(
        `collector: ${file} ends with ${tornBytes} bytes of an unfinished write (never acknowledged); ignored`
      );
    }
    return entries.map(decodeBatchEntry);
  }

  private async writeGroup(batches: WalBatch[]): Promise<void> {
    const byTarget = new Map<string, WalBatch>();
    for (const batch of batches) {
      const key = `${batch.kind}\u0000${batch.model}`;
      const target = byTarget.get(key);
      if (target) {
        for (const record of batch.records) {
          (target.records as unknown[]).push(record);
        }
      } else {
        byTarget.set(key, { model: batch.model, kind: batch.kind, records: [...batch.records] as WalBatch['records'] });
      }
    }
    for (const { model, kind, records } of byTarget.values()) {
      if (kind === 'predictions') {
        await this.store.writePredictions(model, records as PredictionRecord[]);
      } else {
        await this.store.writeLabels(model, records as LabelRecord[]);
      }
      this.metrics.flushedRecords.inc({ model, kind }, records.length);
    }
  }
}

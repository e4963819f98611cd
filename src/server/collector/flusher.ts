/**
 * Moves sealed write-ahead-log segments into the store in large batches. A segment is deleted only after every
 * record in it was written to the store (or refused by it, and then kept as a dead letter); when the store fails,
 * the segment stays and is retried, and records that were written before the failure may be written again — the
 * store counts a request id once, so that is harmless.
 *
 * Nothing in one model's data can hold up another's: records are written per model and kind ("target"), a failing
 * target is retried on its own backoff while the others go on, and a segment is deleted as soon as every target
 * it holds is written. Records the store's schema cannot take come back as refusals and become dead letters; an
 * entry that cannot be decoded at all is quarantined whole. The flusher reports its state for /healthz.
 */
import type { LabelRecord, PredictionRecord, PredictionWriter } from '../store/types';
import { decodeBatch, type BodyFormat } from './body';
import type { DeadLetter, DeadLetterArea } from './deadletter';
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

/** A decoded entry: the records to store, and the items that no longer validate (kept as dead letters). */
export interface DecodedEntry {
  batch: WalBatch;
  letters: DeadLetter[];
}

/**
 * Decodes either entry form; a request entry is validated again exactly as when it was accepted, and an item that
 * no longer validates (the rules changed between versions) becomes a dead letter instead of stopping the replay.
 * Throws only for an entry that cannot be decoded at all.
 */
export function decodeBatchEntry(payload: Buffer): DecodedEntry {
  const newline = payload.indexOf(0x0a);
  if (newline < 0) {
    return { batch: JSON.parse(payload.toString('utf8')) as WalBatch, letters: [] };
  }
  const entry = JSON.parse(payload.toString('utf8', 0, newline)) as RequestEntry;
  const items = decodeBatch(payload.subarray(newline + 1), entry.format, Number.MAX_SAFE_INTEGER);
  const records: Array<PredictionRecord | LabelRecord> = [];
  const letters: DeadLetter[] = [];
  for (const index of entry.accepted) {
    const item = items[index];
    const checked =
      item && 'value' in item
        ? entry.kind === 'predictions'
          ? checkPrediction(item.value, entry.samplingRate)
          : checkLabel(item.value, entry.now)
        : undefined;
    if (checked?.ok) {
      records.push(checked.record);
      continue;
    }
    const rejection = checked?.rejection ?? {
      code: 'invalid_json',
      reason: 'the item is missing from the logged body',
    };
    letters.push({
      model: entry.model,
      kind: entry.kind,
      index,
      code: rejection.code,
      reason: `no longer valid when replayed from the write-ahead log: ${rejection.reason}`,
      raw: item && 'value' in item ? item.value : item?.invalidLine,
    });
  }
  return { batch: { model: entry.model, kind: entry.kind, records: records as WalBatch['records'] }, letters };
}

export interface FlusherOptions {
  /** Records gathered per round of segments (segments are grouped until this many records are gathered). */
  maxRecordsPerWrite?: number;
  /** Records × columns per store write at most, so a wide model is written in smaller pieces. */
  maxCellsPerWrite?: number;
  /** Features a model may have (passed to the store, which refuses records beyond it). */
  maxFeaturesPerModel?: number;
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
}

/** Columns every prediction row has besides its features (store/types.ts PREDICTION_SYSTEM_COLUMNS). */
const SYSTEM_COLUMNS = 12;

interface Target {
  key: string;
  model: string;
  kind: WalBatch['kind'];
  records: Array<PredictionRecord | LabelRecord>;
  /** Records of this target per segment file. */
  files: Map<string, number>;
}

interface GroupPart {
  file: string;
  batch: WalBatch;
}

interface TargetFailure {
  failures: number;
  retryAt: number;
  since: number;
  error: string;
}

function targetKey(batch: { kind: string; model: string }): string {
  return `${batch.kind}/${batch.model}`;
}

export class WalFlusher {
  private readonly maxRecords: number;
  private readonly maxCells: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private intervalMs = 1000;
  /** Targets already written from each segment, so a retry does not write them again. */
  private readonly done = new Map<string, Set<string>>();
  /** Records already written from segments that are kept for other targets (not part of the backlog). */
  private readonly doneRecords = new Map<string, number>();
  private readonly failing = new Map<string, TargetFailure>();
  private consecutiveFailures = 0;
  private lastSuccessAt: number | undefined;

  constructor(
    private readonly wal: WriteAheadLog<WalBatch>,
    private readonly store: PredictionWriter,
    private readonly deadLetters: DeadLetterArea,
    private readonly metrics: CollectorMetrics,
    private readonly options: FlusherOptions = {}
  ) {
    this.maxRecords = options.maxRecordsPerWrite ?? 25_000;
    this.maxCells = options.maxCellsPerWrite ?? 2_000_000;
    this.now = options.now ?? Date.now;
  }

  /** Flushes every `intervalMs`; a failing target waits on its own backoff (up to 30 s), the others do not. */
  start(intervalMs: number): void {
    this.intervalMs = intervalMs;
    const tick = async () => {
      await this.flush(false).catch(() => undefined);
      if (!this.stopped) {
        this.timer = setTimeout(tick, intervalMs);
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
   * when something could not be written (it stays in the log); `retryNow` ignores the targets' backoff.
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
    const failures = [...this.failing.values()];
    return {
      consecutiveFailures: this.consecutiveFailures,
      failingSince: failures.reduce<number | undefined>((min, f) => Math.min(min ?? f.since, f.since), undefined),
      lastError: failures.length ? failures[failures.length - 1].error : undefined,
      lastSuccessAt: this.lastSuccessAt,
      failingTargets: [...this.failing.keys()],
    };
  }

  private async flushSegments(retryNow: boolean): Promise<void> {
    await this.wal.seal();
    let segments = this.wal.sealedSegments();
    let failure: Error | undefined;
    while (segments.length) {
      const started = process.hrtime.bigint();
      const { parts, files, rest } = await this.takeGroup(segments);
      const written = await this.writeGroup(parts, retryNow);
      failure ??= written.failure;
      for (const file of files) {
        const keys = new Set(parts.filter((p) => p.file === file).map((p) => targetKey(p.batch)));
        if ([...keys].every((key) => this.done.get(file)?.has(key))) {
          this.wal.removeSegment(file);
          this.done.delete(file);
          this.doneRecords.delete(file);
        }
      }
      this.metrics.flushLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
      segments = rest;
    }
    if (failure) {
      this.consecutiveFailures += 1;
      throw failure;
    }
    this.consecutiveFailures = 0;
    this.lastSuccessAt = this.now();
  }

  /** Reads segments until about maxRecords records are gathered. */
  private async takeGroup(segments: string[]): Promise<{ parts: GroupPart[]; files: string[]; rest: string[] }> {
    const parts: GroupPart[] = [];
    const files: string[] = [];
    let records = 0;
    let i = 0;
    for (; i < segments.length && (records < this.maxRecords || files.length === 0); i++) {
      for (const batch of await this.batchesOf(segments[i])) {
        parts.push({ file: segments[i], batch });
        records += batch.records.length;
      }
      files.push(segments[i]);
    }
    return { parts, files, rest: segments.slice(i) };
  }

  /**
   * A segment's batches: kept in memory when this process wrote it, else read and decoded from disk (items that no
   * longer validate become dead letters, entries that cannot be decoded are quarantined).
   */
  private async batchesOf(file: string): Promise<WalBatch[]> {
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
    const batches: WalBatch[] = [];
    let records = 0;
    for (let i = 0; i < entries.length; i++) {
      let decoded: DecodedEntry;
      try {
        decoded = decodeBatchEntry(entries[i]);
      } catch (err) {
        const reason = `cannot be decoded: ${(err as Error).message}`;
        await this.deadLetters.quarantine(file, i, entries[i], reason);
        this.options.log?.(`collector: entry ${i} of ${file} ${reason}; kept in the dead-letter area's wal-quarantine`);
        continue;
      }
      if (decoded.letters.length) {
        await this.deadLetters.write(decoded.batch.model, decoded.letters);
        this.countRejections(decoded.batch.model, decoded.batch.kind, decoded.letters);
      }
      batches.push(decoded.batch);
      records += decoded.batch.records.length;
    }
    this.wal.noteRecords(file, records);
    return batches;
  }

  /** Writes every target of the group that is not written yet and not waiting for its retry; returns the first error. */
  private async writeGroup(parts: GroupPart[], retryNow: boolean): Promise<{ failure: Error | undefined }> {
    const targets = new Map<string, Target>();
    for (const { file, batch } of parts) {
      const key = targetKey(batch);
      if (this.done.get(file)?.has(key)) {
        continue;
      }
      let target = targets.get(key);
      if (!target) {
        target = { key, model: batch.model, kind: batch.kind, records: [], files: new Map() };
        targets.set(key, target);
      }
      for (const record of batch.records) {
        target.records.push(record);
      }
      target.files.set(file, (target.files.get(file) ?? 0) + batch.records.length);
    }
    let failure: Error | undefined;
    for (const target of targets.values()) {
      const failed = this.failing.get(target.key);
      if (failed && !retryNow && failed.retryAt > this.now()) {
        failure ??= new Error(`${target.key}: waiting to retry the store (${failed.error})`);
        continue;
      }
      try {
        await this.writeTarget(target);
      } catch (err) {
        failure ??= err as Error;
        this.noteFailure(target, err as Error);
        continue;
      }
      this.failing.delete(target.key);
      for (const [file, records] of target.files) {
        const done = this.done.get(file) ?? new Set<string>();
        done.add(target.key);
        this.done.set(file, done);
        this.doneRecords.set(file, (this.doneRecords.get(file) ?? 0) + records);
      }
    }
    return { failure };
  }

  private noteFailure(target: Target, err: Error): void {
    const previous = this.failing.get(target.key);
    const failures = (previous?.failures ?? 0) + 1;
    this.failing.set(target.key, {
      failures,
      retryAt: this.now() + Math.min(30_000, this.intervalMs * 2 ** failures),
      since: previous?.since ?? this.now(),
      error: err.message,
    });
    this.metrics.storeErrors.inc({ model: target.model, kind: target.kind });
    this.options.log?.(
      `collector: could not write ${target.records.length} ${target.kind} of model ${target.model} to the store ` +
        `(attempt ${failures}); keeping their WAL segment(s) to retry: ${err.message}`
    );
  }

  /** Writes one target: labels in one go, predictions in pieces of at most maxCells cells; refusals become dead letters. */
  private async writeTarget(target: Target): Promise<void> {
    const { model, kind } = target;
    if (kind === 'labels') {
      await this.store.writeLabels(model, target.records as LabelRecord[]);
      this.metrics.flushedRecords.inc({ model, kind }, target.records.length);
      return;
    }
    const records = target.records as PredictionRecord[];
    const rowsPerWrite = Math.max(1, Math.floor(this.maxCells / (await this.columnsOf(model, records))));
    for (let start = 0; start < records.length; start += rowsPerWrite) {
      const piece = records.slice(start, start + rowsPerWrite);
      const { rejected } = await this.store.writePredictions(model, piece, {
        maxFeaturesPerModel: this.options.maxFeaturesPerModel,
      });
      if (rejected.length) {
        const byId = new Map(piece.map((r) => [r.id, r]));
        const letters: DeadLetter[] = rejected.map((r) => ({
          model,
          kind,
          index: -1,
          code: r.code,
          reason: `refused by the store: ${r.reason}`,
          raw: byId.get(r.id),
        }));
        await this.deadLetters.write(model, letters);
        this.countRejections(model, kind, letters);
      }
      this.metrics.flushedRecords.inc({ model, kind }, piece.length - rejected.length);
    }
  }

  /** Columns a write of these records fills: the model's stored features or the batch's names, and the system columns. */
  private async columnsOf(model: string, records: PredictionRecord[]): Promise<number> {
    const names = new Set<string>();
    for (const record of records) {
      for (const name of Object.keys(record.features)) {
        names.add(name);
      }
    }
    const stored = (await this.store.getFeatures(model)).length;
    return Math.max(stored, names.size) + SYSTEM_COLUMNS;
  }

  /** Counts records refused after their acknowledgement (the request already counted them as accepted). */
  private countRejections(model: string, kind: string, letters: DeadLetter[]): void {
    for (const letter of letters) {
      this.metrics.rejected.inc({ model, kind, reason: letter.code });
    }
  }
}

/**
 * Moves a group of sealed write-ahead-log segments into the store: gathers each segment's records per model and kind
 * ("target") and writes each target to the store. It runs on the flusher's behalf, in a worker thread
 * (store-worker.ts) or in the collector's own thread, and reports what it wrote; deciding which segments may be
 * deleted stays with the flusher (flusher.ts).
 *
 * Where the records come from: the collector delivers each accepted request's records once its log entry is durable
 * (predictions already pivoted into columns, prediction-columns.ts), and the writer keeps them per segment up to a
 * memory budget. A segment whose every entry was delivered is written from memory; any other one — left by an
 * earlier process, delivered in part (a worker started mid-segment), or over the budget — is read from disk and its
 * entries decoded (wal-entry.ts: validated again exactly as when they were accepted). Either way the records are
 * those of the durable log.
 *
 * Nothing in one model's data holds up another's: a failing target is reported and the others are still written.
 * Records the store's schema cannot take come back as refusals and become dead letters; items that no longer
 * validate become dead letters too; an entry that cannot be decoded at all is quarantined whole.
 */
import { readFile } from 'node:fs/promises';
import {
  concatPredictionColumns,
  predictionRecordAt,
  toPredictionColumns,
  type PredictionColumns,
} from '../store/prediction-columns';
import type { LabelRecord, PredictionRecord, PredictionWriter } from '../store/types';
import type { DeadLetter, DeadLetterArea } from './deadletter';
import { parseSegment } from './wal';
import { decodePredictions } from './prediction-lines';
import { checkPrediction } from './validate';
import { decodeBatchEntry, replayLetter, requestEntryHeader, type WalBatch } from './wal-entry';

/** `kind/model`: the unit the flusher writes, retries and reports. */
export function targetKey(batch: { kind: string; model: string }): string {
  return `${batch.kind}/${batch.model}`;
}

/** The accepted records of one request, as the writer keeps them: predictions in columns, labels as records. */
export type DeliveredBatch =
  | { model: string; kind: 'predictions'; columns: PredictionColumns }
  | { model: string; kind: 'labels'; records: LabelRecord[] };

/** One segment of a group, with the targets already written from it by an earlier round (not written again). */
export interface SegmentJob {
  file: string;
  done: string[];
  /** Entries the collector wrote to the segment (undefined for a segment left by an earlier process). */
  entries: number | undefined;
}

export interface FlushRequest {
  segments: SegmentJob[];
  /** Targets waiting for their retry after a failure: left unwritten this round. */
  skip: string[];
}

/** What a round found in one segment and wrote from it. */
export interface SegmentOutcome {
  file: string;
  /** Records per target key in the segment. */
  records: Record<string, number>;
  /** Targets written from the segment, this round or before. */
  done: string[];
}

export interface FlushReport {
  segments: SegmentOutcome[];
  /** Targets written in full this round. */
  written: string[];
  /** Targets present but left for their retry (`skip`). */
  skipped: string[];
  failures: Array<{ key: string; model: string; kind: WalBatch['kind']; records: number; error: string }>;
  /** Records moved into the store, per target. */
  flushed: Array<{ model: string; kind: WalBatch['kind']; records: number }>;
  /** Records refused after their acknowledgement (dead letters), per reason. */
  rejected: Array<{ model: string; kind: WalBatch['kind']; code: string; count: number }>;
  /** Segments written from delivered records, and those read from disk. */
  fromMemory: number;
  fromDisk: number;
}

export interface SegmentWriterOptions {
  /** Records × columns per store write at most (WriteOptions.maxCellsPerWrite). */
  maxCellsPerWrite?: number;
  /** Features a model may have (passed to the store, which refuses records beyond it). */
  maxFeaturesPerModel?: number;
  /** Log bytes of delivered records kept at most (default 64 MiB); past it, segments are read from disk. */
  maxMemoryBytes?: number;
  log?: (line: string) => void;
}

/** The delivered entries of one segment, in order. */
interface HeldSegment {
  batches: DeliveredBatch[];
  bytes: number;
}

interface Target {
  key: string;
  model: string;
  kind: WalBatch['kind'];
  batches: DeliveredBatch[];
  records: number;
  /** Segments holding records of the target. */
  files: Set<string>;
}

function recordsIn(batch: DeliveredBatch): number {
  return batch.kind === 'predictions' ? batch.columns.rowCount : batch.records.length;
}

/**
 * Decodes a log entry into the delivered form. The predictions of a request entry go through the fast path
 * (prediction-lines.ts) straight into columns, as when they were accepted; the other entries are decoded by
 * decodeBatchEntry (predictions of the old records form pivoted into columns).
 */
function decodeDelivered(payload: Buffer): { batch: DeliveredBatch; letters: DeadLetter[] } {
  const newline = payload.indexOf(0x0a);
  const entry = newline < 0 ? undefined : requestEntryHeader(payload, newline);
  if (entry?.kind !== 'predictions') {
    const { batch, letters } = decodeBatchEntry(payload);
    return {
      batch:
        batch.kind === 'predictions'
          ? {
              model: batch.model,
              kind: 'predictions',
              columns: toPredictionColumns(batch.records as PredictionRecord[]),
            }
          : { model: batch.model, kind: 'labels', records: batch.records as LabelRecord[] },
      letters,
    };
  }
  const decoded = decodePredictions(
    payload.subarray(newline + 1),
    entry.format,
    Number.MAX_SAFE_INTEGER,
    entry.samplingRate
  );
  const rows: number[] = [];
  const letters: DeadLetter[] = [];
  for (const index of entry.accepted) {
    const item = decoded.items[index];
    if (item && 'row' in item) {
      rows.push(item.row);
      continue;
    }
    const checked = item && 'value' in item ? checkPrediction(item.value, entry.samplingRate) : undefined;
    if (checked?.ok) {
      rows.push(decoded.rows.addRecord(checked.record));
    } else {
      letters.push(replayLetter(entry, index, item, checked?.rejection));
    }
  }
  return { batch: { model: entry.model, kind: 'predictions', columns: decoded.rows.take(rows) }, letters };
}

export class SegmentWriter {
  private readonly held = new Map<string, HeldSegment>();
  private heldBytes = 0;
  private readonly maxMemoryBytes: number;

  constructor(
    private readonly store: PredictionWriter,
    private readonly deadLetters: DeadLetterArea,
    private readonly options: SegmentWriterOptions = {}
  ) {
    this.maxMemoryBytes = options.maxMemoryBytes ?? 64 * 1024 * 1024;
  }

  /**
   * Keeps the records of entry `entry` of a segment (`bytes`: its size in the log). Entries must come in order from
   * the first; a segment that misses one, or would pass the memory budget, is given up (read from disk later).
   */
  deliver(file: string, entry: number, batch: DeliveredBatch, bytes: number): void {
    let segment = this.held.get(file);
    if (!segment) {
      if (entry !== 0) {
        return;
      }
      segment = { batches: [], bytes: 0 };
      this.held.set(file, segment);
    }
    if (segment.batches.length !== entry || this.heldBytes + bytes > this.maxMemoryBytes) {
      this.forget(file);
      return;
    }
    segment.batches.push(batch);
    segment.bytes += bytes;
    this.heldBytes += bytes;
  }

  /** Nothing to release: the store belongs to the caller. */
  async close(): Promise<void> {}

  /** Writes every target of the group not written yet and not waiting for its retry. */
  async write(request: FlushRequest): Promise<FlushReport> {
    const report: FlushReport = {
      segments: [],
      written: [],
      skipped: [],
      failures: [],
      flushed: [],
      rejected: [],
      fromMemory: 0,
      fromDisk: 0,
    };
    const skip = new Set(request.skip);
    const targets = new Map<string, Target>();
    for (const job of request.segments) {
      const done = new Set(job.done);
      const outcome: SegmentOutcome = { file: job.file, records: {}, done: [...job.done] };
      for (const batch of await this.batchesOf(job, report)) {
        const key = targetKey(batch);
        outcome.records[key] = (outcome.records[key] ?? 0) + recordsIn(batch);
        if (done.has(key)) {
          continue;
        }
        let target = targets.get(key);
        if (!target) {
          target = { key, model: batch.model, kind: batch.kind, batches: [], records: 0, files: new Set() };
          targets.set(key, target);
        }
        target.batches.push(batch);
        target.records += recordsIn(batch);
        target.files.add(job.file);
      }
      report.segments.push(outcome);
    }
    for (const target of targets.values()) {
      if (skip.has(target.key)) {
        report.skipped.push(target.key);
        continue;
      }
      try {
        await this.writeTarget(target, report);
      } catch (err) {
        const { key, model, kind, records } = target;
        report.failures.push({ key, model, kind, records, error: (err as Error).message });
        continue;
      }
      report.written.push(target.key);
      for (const outcome of report.segments) {
        if (target.files.has(outcome.file)) {
          outcome.done.push(target.key);
        }
      }
    }
    for (const outcome of report.segments) {
      if (Object.keys(outcome.records).every((key) => outcome.done.includes(key))) {
        this.forget(outcome.file);
      }
    }
    return report;
  }

  private forget(file: string): void {
    this.heldBytes -= this.held.get(file)?.bytes ?? 0;
    this.held.delete(file);
  }

  /** A segment's batches: those delivered when every entry was, else read and decoded from disk. */
  private async batchesOf(job: SegmentJob, report: FlushReport): Promise<DeliveredBatch[]> {
    const segment = this.held.get(job.file);
    if (segment && segment.batches.length === job.entries) {
      report.fromMemory += 1;
      return segment.batches;
    }
    this.forget(job.file);
    report.fromDisk += 1;
    const { entries, tornBytes } = parseSegment(await readFile(job.file));
    if (tornBytes) {
      this.options.log?.(
        `collector: ${job.file} ends with ${tornBytes} bytes of an unfinished write (never acknowledged); ignored`
      );
    }
    const batches: DeliveredBatch[] = [];
    for (let i = 0; i < entries.length; i++) {
      let decoded: ReturnType<typeof decodeDelivered>;
      try {
        decoded = decodeDelivered(entries[i]);
      } catch (err) {
        const reason = `cannot be decoded: ${(err as Error).message}`;
        await this.deadLetters.quarantine(job.file, i, entries[i], reason);
        this.options.log?.(
          `collector: entry ${i} of ${job.file} ${reason}; kept in the dead-letter area's wal-quarantine`
        );
        continue;
      }
      if (decoded.letters.length) {
        await this.deadLetters.write(decoded.batch.model, decoded.letters);
        countRejections(report, decoded.batch.model, decoded.batch.kind, decoded.letters);
      }
      batches.push(decoded.batch);
    }
    return batches;
  }

  /** Writes one target (the store writes it in pieces of at most maxCellsPerWrite); refusals become dead letters. */
  private async writeTarget(target: Target, report: FlushReport): Promise<void> {
    const { model, kind } = target;
    if (kind === 'labels') {
      const records = target.batches.flatMap((batch) => (batch.kind === 'labels' ? batch.records : []));
      await this.store.writeLabels(model, records);
      report.flushed.push({ model, kind, records: records.length });
      return;
    }
    const columns = concatPredictionColumns(
      target.batches.flatMap((batch) => (batch.kind === 'predictions' ? [batch.columns] : []))
    );
    const { rejected } = await this.store.writePredictions(model, columns, {
      maxFeaturesPerModel: this.options.maxFeaturesPerModel,
      maxCellsPerWrite: this.options.maxCellsPerWrite,
    });
    if (rejected.length) {
      const rowOf = new Map(columns.id.map((id, i) => [id, i]));
      const letters: DeadLetter[] = rejected.map((r) => ({
        model,
        kind,
        index: -1,
        code: r.code,
        reason: `refused by the store: ${r.reason}`,
        raw: predictionRecordAt(columns, rowOf.get(r.id)!),
      }));
      await this.deadLetters.write(model, letters);
      countRejections(report, model, kind, letters);
    }
    report.flushed.push({ model, kind, records: columns.rowCount - rejected.length });
  }
}

/** Counts records refused after their acknowledgement (the request already counted them as accepted). */
function countRejections(report: FlushReport, model: string, kind: WalBatch['kind'], letters: DeadLetter[]): void {
  for (const letter of letters) {
    const entry = report.rejected.find((r) => r.model === model && r.kind === kind && r.code === letter.code);
    if (entry) {
      entry.count += 1;
    } else {
      report.rejected.push({ model, kind, code: letter.code, count: 1 });
    }
  }
}

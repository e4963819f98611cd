/**
 * The write-ahead log's entries. An entry is the accepted part of one request: a JSON header line (model, kind, body
 * format, the indexes of the accepted items, the sampling rate and clock of the acceptance), `\n`, and the request
 * body exactly as received — logging the received bytes spares re-serialising every accepted record. Decoding
 * validates the accepted items again exactly as when they were accepted, so replay yields the same records.
 */
import type { LabelRecord, PredictionRecord } from '../store/types';
import { decodeBatch, type BatchItem, type BodyFormat } from './body';
import type { DeadLetter } from './deadletter';
import { checkLabel, checkPrediction, type Rejection } from './validate';

/** The accepted records of one request: a WAL entry decoded. */
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

/**
 * Entry = one JSON header line, `\n`, the raw body, as the parts of one write-ahead log entry (the body is not
 * copied). A header never holds a raw newline (JSON escapes them).
 */
export function encodeRequestEntry(entry: RequestEntry, body: Buffer): Buffer[] {
  return [Buffer.from(JSON.stringify(entry) + '\n'), body];
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
  const entry = requestEntryHeader(payload, newline);
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
    } else {
      letters.push(replayLetter(entry, index, item, checked?.rejection));
    }
  }
  return { batch: { model: entry.model, kind: entry.kind, records: records as WalBatch['records'] }, letters };
}

/** The header of a request entry whose header line ends at `newline`. */
export function requestEntryHeader(payload: Buffer, newline: number): RequestEntry {
  return JSON.parse(payload.toString('utf8', 0, newline)) as RequestEntry;
}

/**
 * The dead letter of an accepted item that does not validate when replayed (`rejection`), or is missing from the
 * logged body (no rejection).
 */
export function replayLetter(
  entry: RequestEntry,
  index: number,
  item: BatchItem | undefined,
  rejection: Rejection | undefined
): DeadLetter {
  const why = rejection ?? { code: 'invalid_json', reason: 'the item is missing from the logged body' };
  return {
    model: entry.model,
    kind: entry.kind,
    index,
    code: why.code,
    reason: `no longer valid when replayed from the write-ahead log: ${why.reason}`,
    raw: item && 'value' in item ? item.value : item?.invalidLine,
  };
}

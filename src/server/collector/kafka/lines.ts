/**
 * Kafka record values into the collector's accept path: values of one model and kind become the lines of one NDJSON
 * body, the same body an HTTP client would POST, so the write-ahead log, its replay and the validation are the HTTP
 * path's own. A value that cannot be one line of such a body is refused here, with the same kind of reason.
 */
import { isUtf8 } from 'node:buffer';
import { MAX_RAW_BODY_CHARS, type DeadLetter } from '../deadletter';
import type { RecordKind } from './config';

const LINE_FEED = 0x0a;
const TAB = 0x09;

/** Why a value cannot be a line of an NDJSON body, or undefined when it can. */
export function lineProblem(value: Buffer | undefined | null): { code: string; reason: string } | undefined {
  if (!value || value.length === 0) {
    return { code: 'empty_record', reason: 'the Kafka record has no value (a tombstone or an empty message)' };
  }
  if (!isUtf8(value)) {
    return { code: 'invalid_utf8', reason: 'the Kafka record value is not valid UTF-8; encode records as UTF-8 JSON' };
  }
  // body.ts skips a line that starts with a control character or space and is blank once trimmed
  if (value[0] <= 0x20 && value.toString('utf8').trim() === '') {
    return { code: 'empty_record', reason: 'the Kafka record value is blank' };
  }
  return undefined;
}

/**
 * The value as one NDJSON line: a line feed inside it (a pretty-printed record) becomes a tab. Both are JSON
 * whitespace between tokens, and both are invalid raw inside a string, so the line parses exactly as the value
 * does — or fails as it does.
 */
export function asLine(value: Buffer): Buffer {
  if (value.indexOf(LINE_FEED) < 0) {
    return value;
  }
  const copy = Buffer.from(value);
  for (let i = copy.indexOf(LINE_FEED); i >= 0; i = copy.indexOf(LINE_FEED, i + 1)) {
    copy[i] = TAB;
  }
  return copy;
}

/** A value kept as a dead letter's `raw`: its text when it is UTF-8, else its bytes in base64; truncated. */
export function rawForLetter(value: Buffer | undefined | null): string | null {
  if (!value) {
    return null;
  }
  const head = value.subarray(0, MAX_RAW_BODY_CHARS);
  return isUtf8(head) ? head.toString('utf8') : `base64:${head.toString('base64')}`;
}

/** The dead letter of a record refused before it reached a batch. */
export function letterFor(
  model: string,
  kind: RecordKind,
  where: { topic: string; partition: number; offset: bigint },
  problem: { code: string; reason: string },
  value: Buffer | undefined | null
): DeadLetter {
  return {
    model,
    kind,
    index: -1,
    code: problem.code,
    reason: `${problem.reason} (topic ${where.topic}, partition ${where.partition}, offset ${where.offset})`,
    raw: rawForLetter(value),
  };
}

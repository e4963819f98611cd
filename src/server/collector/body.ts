/**
 * Decoding of a request body into the list of records it carries: a JSON array (`application/json`) or
 * newline-delimited JSON (`application/x-ndjson`, one record per line; blank lines are skipped). A leading UTF-8
 * byte-order mark is ignored in both. A bad NDJSON line rejects that record only; a body that is not valid UTF-8,
 * or a JSON body that does not parse, rejects the batch.
 *
 * Records are counted and measured while the body is split, before any of them is parsed: a batch over the record
 * limit is refused (413) after reading only as far as its first surplus record, and a record nested deeper than a
 * record can be (MAX_RECORD_DEPTH) is refused on its own, unparsed, with its text kept for the dead letter — so no
 * body can make the collector build millions of objects or recurse thousands of levels deep.
 */
import { isUtf8 } from 'node:buffer';

export type BodyFormat = 'json' | 'ndjson';

/** One element of a batch: its decoded value, or why it could not be decoded (with its text, truncated). */
export type BatchItem = { value: unknown } | { invalidLine: string; reason: string; code: 'invalid_json' | 'too_deep' };

export class BodyError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string
  ) {
    super(message);
  }
}

/**
 * Deepest nesting of a record's JSON: a record is an object whose `features` is an object of scalars (depth 2);
 * the margin leaves room for clients that send extra fields, which validation then explains.
 */
export const MAX_RECORD_DEPTH = 8;

/** Longest text of an unparsed record kept in its rejection. */
const MAX_ITEM_TEXT = 4096;

const NDJSON_TYPES = new Set([
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
  'application/x-jsonlines',
]);

/** Picks the body format from a Content-Type header (parameters such as charset=utf-8 are allowed). */
export function bodyFormat(contentType: string | undefined): BodyFormat {
  const mediaType = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (mediaType === 'application/json') {
    return 'json';
  }
  if (NDJSON_TYPES.has(mediaType)) {
    return 'ndjson';
  }
  throw new BodyError(
    415,
    'unsupported_media_type',
    `Content-Type ${JSON.stringify(mediaType || '(none)')} is not supported: send a JSON array as application/json ` +
      'or one JSON record per line as application/x-ndjson'
  );
}

/** Decodes a body; throws BodyError for a body that cannot be read as a batch at all. */
export function decodeBatch(body: Buffer, format: BodyFormat, maxRecords: number): BatchItem[] {
  if (!isUtf8(body)) {
    throw new BodyError(400, 'invalid_utf8', 'the body is not valid UTF-8; encode records as UTF-8 JSON');
  }
  let text = body.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) {
    text = text.slice(1);
  }
  const spans = format === 'json' ? splitJsonArray(text, maxRecords) : splitLines(text, maxRecords);
  return spans.map(([start, end]) => decodeItem(text.slice(start, end), format));
}

function tooLong(maxRecords: number): BodyError {
  return new BodyError(
    413,
    'batch_too_long',
    `the batch has more than ${maxRecords} records; at most ${maxRecords} are accepted per request — split it into smaller batches`
  );
}

function invalidJson(detail: string): BodyError {
  return new BodyError(400, 'invalid_json', `the body is not valid JSON (${detail}); send a JSON array of records`);
}

/**
 * Nesting depth of a JSON text, scanning brackets outside strings; stops counting past `limit` (returns limit + 1).
 * Malformed text gets some depth: it is parsed afterwards, which reports it.
 */
export function jsonDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i = stringEnd(text, i);
    } else if (c === 0x7b || c === 0x5b) {
      depth += 1;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) {
          return deepest;
        }
      }
    } else if (c === 0x7d || c === 0x5d) {
      depth -= 1;
    }
  }
  return deepest;
}

/** Index of the quote that closes the string opened at `open` (or the text's end when it is unterminated). */
function stringEnd(text: string, open: number): number {
  for (let i = open + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) {
      i += 1;
    } else if (c === 0x22) {
      return i;
    }
  }
  return text.length;
}

/** True when every string, object and array of the text is closed (without parsing it). */
function isBalanced(text: string): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i = stringEnd(text, i);
      if (i >= text.length) {
        return false;
      }
    } else if (c === 0x7b || c === 0x5b) {
      depth += 1;
    } else if ((c === 0x7d || c === 0x5d) && --depth < 0) {
      return false;
    }
  }
  return depth === 0;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * The [start, end) spans of the elements of a JSON array, found by tracking strings and brackets without parsing;
 * throws 413 at the first element past `maxRecords`, 400 when the text is not an array.
 */
export function splitJsonArray(text: string, maxRecords: number): Array<[number, number]> {
  let i = 0;
  while (i < text.length && isSpace(text.charCodeAt(i))) {
    i++;
  }
  if (text.charCodeAt(i) !== 0x5b) {
    if (i >= text.length) {
      throw invalidJson('the body is empty');
    }
    if (!isBalanced(text)) {
      throw invalidJson('a string, object or array is not closed');
    }
    throw new BodyError(
      400,
      'not_an_array',
      'the body must be a JSON array of records (or NDJSON with Content-Type application/x-ndjson)'
    );
  }
  const spans: Array<[number, number]> = [];
  let depth = 0;
  let start = -1;
  let expectElement = true;
  for (i = i + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      start = start < 0 ? i : start;
      i = stringEnd(text, i);
    } else if (c === 0x7b || c === 0x5b) {
      start = start < 0 ? i : start;
      depth += 1;
    } else if ((c === 0x7d || c === 0x5d) && depth > 0) {
      depth -= 1;
    } else if (depth === 0 && (c === 0x2c || c === 0x5d)) {
      if (start >= 0) {
        spans.push([start, i]);
        if (spans.length > maxRecords) {
          throw tooLong(maxRecords);
        }
      } else if (!expectElement || c === 0x2c || spans.length > 0) {
        throw invalidJson(`unexpected "${String.fromCharCode(c)}" at position ${i}`);
      }
      start = -1;
      expectElement = c === 0x2c;
      if (c === 0x5d) {
        if (text.slice(i + 1).trim() !== '') {
          throw invalidJson(`unexpected text after the array at position ${i + 1}`);
        }
        return spans;
      }
    } else if (start < 0 && !isSpace(c)) {
      start = i;
    }
  }
  throw invalidJson('the array is not closed');
}

/** The [start, end) spans of the non-blank lines; throws 413 at the first line past `maxRecords`. */
function splitLines(text: string, maxRecords: number): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) {
      end = text.length;
    }
    if (text.slice(start, end).trim() !== '') {
      spans.push([start, end]);
      if (spans.length > maxRecords) {
        throw tooLong(maxRecords);
      }
    }
    start = end + 1;
  }
  return spans;
}

/** Parses one element; a JSON array's element that does not parse makes the whole body invalid, as before. */
function decodeItem(raw: string, format: BodyFormat): BatchItem {
  const text = raw.trim();
  const depth = jsonDepth(text, MAX_RECORD_DEPTH);
  if (depth > MAX_RECORD_DEPTH) {
    return {
      invalidLine: text.slice(0, MAX_ITEM_TEXT),
      code: 'too_deep',
      reason:
        `the record is nested more than ${MAX_RECORD_DEPTH} levels deep; a record is a flat object whose ` +
        '"features" is an object of numbers, strings, booleans or nulls',
    };
  }
  try {
    return { value: JSON.parse(text) };
  } catch (err) {
    if (format === 'json') {
      throw invalidJson((err as Error).message);
    }
    return {
      invalidLine: text.slice(0, MAX_ITEM_TEXT),
      code: 'invalid_json',
      reason: `the line is not valid JSON (${(err as Error).message})`,
    };
  }
}

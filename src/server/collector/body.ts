/**
 * Decoding of a request body into the list of records it carries: a JSON array (`application/json`) or
 * newline-delimited JSON (`application/x-ndjson`, one record per line; blank lines are skipped). A bad NDJSON line
 * rejects that record only; a body that is not valid UTF-8, or a JSON body that does not parse, rejects the batch.
 */
import { isUtf8 } from 'node:buffer';

export type BodyFormat = 'json' | 'ndjson';

/** One element of a batch: its decoded value, or why its NDJSON line could not be decoded. */
export type BatchItem = { value: unknown } | { invalidLine: string; reason: string };

export class BodyError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string
  ) {
    super(message);
  }
}

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
  const text = body.toString('utf8');
  const items = format === 'json' ? decodeJsonArray(text) : decodeNdjson(text);
  if (items.length > maxRecords) {
    throw new BodyError(
      413,
      'batch_too_long',
      `the batch has ${items.length} records; at most ${maxRecords} are accepted per request — split it into smaller batches`
    );
  }
  return items;
}

function decodeJsonArray(text: string): BatchItem[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new BodyError(
      400,
      'invalid_json',
      `the body is not valid JSON (${(err as Error).message}); send a JSON array of records`
    );
  }
  if (!Array.isArray(parsed)) {
    throw new BodyError(
      400,
      'not_an_array',
      'the body must be a JSON array of records (or NDJSON with Content-Type application/x-ndjson)'
    );
  }
  return parsed.map((value) => ({ value }));
}

function decodeNdjson(text: string): BatchItem[] {
  const items: BatchItem[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed) {
      continue;
    }
    try {
      items.push({ value: JSON.parse(trimmed) });
    } catch (err) {
      items.push({ invalidLine: trimmed, reason: `the line is not valid JSON (${(err as Error).message})` });
    }
  }
  return items;
}

/**
 * The fast path of prediction batches: NDJSON lines parsed straight into columns (store/prediction-columns.ts), with
 * no object per record. A line is taken by the fast path only when it has the common form — one flat object of the
 * known fields (id, ts, version, features, prediction, score, latency_ms, error), each once, strings without escapes,
 * `features` an object of scalars — and when every value passes the same checks as `checkPrediction`
 * (validate.ts), which it calls for the timestamp and the names. Any other line (an escape, an extra field, a
 * repeated key, a `__proto__` feature, a value that would be refused…) goes the slow way, `JSON.parse` then
 * `checkPrediction`, so every refusal is that of the slow path, word for word; the fast path only ever accepts
 * what the slow path accepts, with the same values (numbers converted with correct rounding, as JSON.parse does).
 */
import { PredictionColumnsBuilder } from '../store/prediction-columns';
import type { FeatureValue } from '../store/types';
import {
  bodyText,
  countLines,
  decodeBatch,
  decodeNdjsonLine,
  forEachNdjsonRange,
  lineEncoding,
  type BatchItem,
  type BodyFormat,
} from './body';
import { checkFeatureName, checkVersionName, LIMITS, parseTimestamp } from './validate';

/** An item of a prediction batch: a row the fast path added to the columns, or an item for the slow path. */
export type PredictionItem = BatchItem | { row: number };

/** A decoded prediction batch: its items in body order, and the columns holding the fast rows. */
export interface DecodedPredictions {
  items: PredictionItem[];
  /** Room for one row per item: the slow path adds the records it accepts (addRecord). */
  rows: PredictionColumnsBuilder;
  /** The JSON value of a fast row's line, as JSON.parse gives it (for a dead letter). */
  valueOfRow(row: number): unknown;
}

/**
 * Decodes a prediction batch: NDJSON through the fast path line by line, a JSON array the slow way. Throws
 * BodyError as decodeBatch does (the same checks, in the same order).
 */
export function decodePredictions(
  body: Buffer,
  format: BodyFormat,
  maxRecords: number,
  samplingRate: number
): DecodedPredictions {
  if (format === 'json') {
    const items = decodeBatch(body, format, maxRecords);
    return { items, rows: new PredictionColumnsBuilder(items.length), valueOfRow: noFastRows };
  }
  const bytes = bodyText(body);
  const encoding = lineEncoding(bytes);
  const rows = new PredictionColumnsBuilder(Math.min(countLines(bytes), maxRecords));
  const parser = new PredictionLineParser(bytes, encoding, rows, samplingRate);
  const items: PredictionItem[] = [];
  const lineStarts = new Int32Array(rows.capacity);
  const lineEnds = new Int32Array(rows.capacity);
  forEachNdjsonRange(bytes, encoding, maxRecords, (start, end) => {
    const row = parser.parse(start, end);
    if (row >= 0) {
      lineStarts[row] = start;
      lineEnds[row] = end;
      items.push({ row });
    } else {
      items.push(decodeNdjsonLine(bytes.toString(encoding, start, end)));
    }
  });
  return {
    items,
    rows,
    valueOfRow: (row) => JSON.parse(bytes.toString(encoding, lineStarts[row], lineEnds[row])) as unknown,
  };
}

function noFastRows(): never {
  throw new Error('a JSON array body has no fast rows');
}

/** The fields of a prediction, as the fast path knows them; a bit each in the mask of the fields seen. */
const FIELDS = ['id', 'ts', 'version', 'features', 'prediction', 'score', 'latency_ms', 'error'] as const;
const [ID, TS, VERSION, FEATURES, PREDICTION, SCORE, LATENCY, ERROR] = FIELDS.map((_, i) => i);
/** id, ts, version, features and prediction must be present. */
const REQUIRED = (1 << ID) | (1 << TS) | (1 << VERSION) | (1 << FEATURES) | (1 << PREDICTION);
/** Each field's name followed by its closing quote, by the name's first letter. */
const FIELD_BY_INITIAL: Array<{ quoted: string; field: number } | undefined> = [];
FIELDS.forEach((name, field) => (FIELD_BY_INITIAL[name.charCodeAt(0)] = { quoted: `${name}"`, field }));

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const DIGIT_0 = 0x30;
const DIGIT_1 = 0x31;
const DIGIT_9 = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

/** Why a value cannot be taken by the fast path (a unique value no JSON value equals). */
const SLOW = Symbol('slow path');
type Slow = typeof SLOW;

/** Significant digits up to which a decimal is an exact double mantissa (10^15 < 2^53). */
const EXACT_DIGITS = 15;
/** 10^0 … 10^15, each exact in a double. */
const POWERS_OF_TEN = Array.from({ length: EXACT_DIGITS + 1 }, (_, i) => 10 ** i);
/** Distinct short strings a parser keeps to hand out again instead of decoding them (versions, categories). */
const INTERNED_STRINGS = 64;
const INTERNED_MAX_BYTES = 32;

function isDigit(c: number): boolean {
  return c >= DIGIT_0 && c <= DIGIT_9;
}

/**
 * Parses lines of the common form, straight from the body's bytes, into rows of a builder. One parser per batch:
 * it remembers the last row's feature names and the short strings it has seen, to compare bytes with them rather
 * than decode new strings.
 */
export class PredictionLineParser {
  private at = 0;
  private end = 0;
  /** The feature names and values of the line being parsed (reused from line to line): see addParsedRow. */
  private readonly names: string[] = [];
  private readonly isNumber = new Uint8Array(LIMITS.featuresPerRecord);
  private readonly numbers = new Float64Array(LIMITS.featuresPerRecord);
  private readonly others: FeatureValue[] = [];
  private count = 0;
  /** The feature names of the last row: a line sending the same ones is read without a string per name. */
  private expected: readonly string[] = [];
  /** True when a name of the line differs from `expected`. */
  private newNames = false;
  private readonly interned: string[] = [];

  constructor(
    private readonly bytes: Buffer,
    private readonly encoding: BufferEncoding,
    private readonly rows: PredictionColumnsBuilder,
    private readonly samplingRate: number
  ) {}

  /** Adds the line [start, end) as a row when the fast path can take it; returns the row, or −1 for the slow path. */
  parse(start: number, end: number): number {
    this.at = start;
    this.end = end;
    let seen = 0;
    let id = '';
    let ts = 0;
    let version = '';
    let prediction: number | string | null = null;
    let score: number | null = null;
    let latencyMs: number | null = null;
    let error: string | null = null;
    if (!this.punctuation(OPEN_OBJECT)) {
      return -1;
    }
    do {
      const field = this.fieldName();
      if (field < 0 || seen & (1 << field) || !this.punctuation(COLON)) {
        return -1;
      }
      seen |= 1 << field;
      const value = field === FEATURES ? this.features() : this.scalar(field === VERSION);
      if (value === SLOW) {
        return -1;
      }
      if (field === ID) {
        if (typeof value !== 'string' || value.length === 0 || value.length > LIMITS.idLength) {
          return -1;
        }
        id = value;
      } else if (field === TS) {
        const parsed = typeof value === 'number' || typeof value === 'string' ? parseTimestamp(value) : '';
        if (typeof parsed !== 'number') {
          return -1;
        }
        ts = parsed;
      } else if (field === VERSION) {
        if (typeof value !== 'string' || value.length > LIMITS.versionLength || checkVersionName(value) !== undefined) {
          return -1;
        }
        version = value;
      } else if (field === PREDICTION) {
        if (typeof value === 'boolean' || (typeof value === 'number' && !Number.isFinite(value))) {
          return -1;
        }
        prediction = value as number | string | null;
      } else if (field === SCORE || field === LATENCY) {
        const number = optionalNumber(value);
        if (number === SLOW || (field === LATENCY && number !== null && number < 0)) {
          return -1;
        }
        if (field === SCORE) {
          score = number;
        } else {
          latencyMs = number;
        }
      } else if (field === ERROR) {
        if (value !== null && typeof value !== 'string') {
          return -1;
        }
        error = value === null ? null : value.slice(0, LIMITS.stringValueLength);
      }
    } while (this.punctuation(COMMA));
    if (!this.punctuation(CLOSE_OBJECT) || this.at !== end || (seen & REQUIRED) !== REQUIRED) {
      return -1;
    }
    this.rows.setSystem({ id, ts, version, prediction, score, latencyMs, error, samplingRate: this.samplingRate });
    const row = this.rows.addParsedRow(this.names, this.count, this.isNumber, this.numbers, this.others);
    this.expected = this.rows.namesAt(row);
    return row;
  }

  /** The byte at `at`, or −1 past the end of the line. */
  private peek(): number {
    return this.at < this.end ? this.bytes[this.at] : -1;
  }

  /** Skips JSON's whitespace (space, tab, carriage return; a line holds no line feed), then `c` and whitespace. */
  private punctuation(c: number): boolean {
    this.skipSpace();
    if (this.peek() !== c) {
      return false;
    }
    this.at++;
    this.skipSpace();
    return true;
  }

  private skipSpace(): void {
    const bytes = this.bytes;
    let at = this.at;
    while (at < this.end) {
      const c = bytes[at];
      if (c !== 0x20 && c !== 0x09 && c !== 0x0d) {
        break;
      }
      at++;
    }
    this.at = at;
  }

  /** True when the bytes at `at` are the ASCII `text` (without moving). */
  private startsWith(text: string, at: number): boolean {
    if (at + text.length > this.end) {
      return false;
    }
    const bytes = this.bytes;
    for (let i = 0; i < text.length; i++) {
      if (bytes[at + i] !== text.charCodeAt(i)) {
        return false;
      }
    }
    return true;
  }

  /** The known field whose quoted name is next (its index in FIELDS), or −1. */
  private fieldName(): number {
    if (this.peek() !== QUOTE) {
      return -1;
    }
    const known = this.at + 1 < this.end ? FIELD_BY_INITIAL[this.bytes[this.at + 1]] : undefined;
    if (!known || !this.startsWith(known.quoted, this.at + 1)) {
      return -1;
    }
    this.at += 1 + known.quoted.length;
    return known.field;
  }

  /**
   * A string without escapes or control characters, from the opening quote at `at`; a short one seen before in
   * the batch is handed out again when `intern` (versions, categorical values) instead of being decoded.
   */
  private string(intern: boolean): string | Slow {
    const bytes = this.bytes;
    const start = this.at + 1;
    let i = start;
    for (; i < this.end; i++) {
      const c = bytes[i];
      if (c === QUOTE) {
        break;
      }
      if (c < 0x20 || c === BACKSLASH) {
        return SLOW;
      }
    }
    if (i >= this.end) {
      return SLOW;
    }
    this.at = i + 1;
    return intern && i - start <= INTERNED_MAX_BYTES ? this.internedString(start, i) : this.decode(start, i);
  }

  private decode(start: number, end: number): string {
    return this.bytes.toString(this.encoding, start, end);
  }

  /** The string of bytes [start, end): one already decoded when the same bytes were seen (ASCII only). */
  private internedString(start: number, end: number): string {
    const length = end - start;
    for (const known of this.interned) {
      if (known.length === length && this.startsWith(known, start)) {
        return known;
      }
    }
    const text = this.decode(start, end);
    if (this.interned.length < INTERNED_STRINGS && text.length === length) {
      this.interned.push(text);
    }
    return text;
  }

  /**
   * A JSON number. Up to 15 significant digits without an exponent it is computed as mantissa ÷ 10^decimals: both
   * are exact doubles and one IEEE division rounds correctly (Clinger's fast path, "How to read floating point
   * numbers accurately", PLDI 1990), so the value is the one JSON.parse gives; other numbers are read by Number().
   */
  private number(): number | Slow {
    const bytes = this.bytes;
    const end = this.end;
    const start = this.at;
    let i = start;
    const negative = bytes[i] === MINUS;
    if (negative) {
      i++;
    }
    let c = i < end ? bytes[i] : -1;
    let mantissa = 0;
    let digits = 0;
    let decimals = 0;
    if (c === DIGIT_0) {
      c = ++i < end ? bytes[i] : -1;
    } else if (c >= DIGIT_1 && c <= DIGIT_9) {
      for (; isDigit(c); c = ++i < end ? bytes[i] : -1, digits++) {
        mantissa = mantissa * 10 + (c - DIGIT_0);
      }
    } else {
      return SLOW;
    }
    if (c === DOT) {
      c = ++i < end ? bytes[i] : -1;
      if (!isDigit(c)) {
        return SLOW;
      }
      for (; isDigit(c); c = ++i < end ? bytes[i] : -1, digits++, decimals++) {
        mantissa = mantissa * 10 + (c - DIGIT_0);
      }
    } else if (isDigit(c)) {
      return SLOW; // a leading zero
    }
    let exponent = false;
    if (c === LOWER_E || c === UPPER_E) {
      exponent = true;
      c = ++i < end ? bytes[i] : -1;
      if (c === PLUS || c === MINUS) {
        c = ++i < end ? bytes[i] : -1;
      }
      if (!isDigit(c)) {
        return SLOW;
      }
      while (isDigit(c)) {
        c = ++i < end ? bytes[i] : -1;
      }
    }
    this.at = i;
    if (exponent || digits > EXACT_DIGITS) {
      return Number(this.decode(start, i));
    }
    const magnitude = decimals ? mantissa / POWERS_OF_TEN[decimals] : mantissa;
    return negative ? -magnitude : magnitude;
  }

  /** A string, number, true, false or null (`intern`: a string is likely to repeat). */
  private scalar(intern: boolean): FeatureValue | Slow {
    const c = this.peek();
    if (c === QUOTE) {
      return this.string(intern);
    }
    if (c === MINUS || isDigit(c)) {
      return this.number();
    }
    for (const [word, value] of LITERALS) {
      if (this.startsWith(word, this.at)) {
        this.at += word.length;
        return value;
      }
    }
    return SLOW;
  }

  /**
   * The `features` object into `names`/`values` (`count` of them), checked as checkFeatures checks it; SLOW for
   * anything else. Returns null (a placeholder: the values stay in the parser).
   */
  private features(): null | Slow {
    this.count = 0;
    this.newNames = false;
    if (!this.punctuation(OPEN_OBJECT)) {
      return SLOW;
    }
    if (this.peek() === CLOSE_OBJECT) {
      this.at++;
      return null;
    }
    do {
      if (this.count === LIMITS.featuresPerRecord || this.peek() !== QUOTE) {
        return SLOW;
      }
      const name = this.featureName();
      if (name === SLOW || !this.punctuation(COLON)) {
        return SLOW;
      }
      const value = this.scalar(true);
      if (typeof value === 'number') {
        if (!Number.isFinite(value)) {
          return SLOW;
        }
        this.isNumber[this.count] = 1;
        this.numbers[this.count] = value;
      } else if (value === SLOW || (typeof value === 'string' && value.length > LIMITS.stringValueLength)) {
        return SLOW;
      } else {
        this.isNumber[this.count] = 0;
        this.others[this.count] = value;
      }
      this.names[this.count] = name;
      this.count++;
    } while (this.punctuation(COMMA));
    if (!this.punctuation(CLOSE_OBJECT) || (this.newNames && !allDistinct(this.names, this.count))) {
      return SLOW;
    }
    return null;
  }

  /**
   * The name of the next feature: the last row's name at this position when it is the same (no new string), else
   * the name read and checked as checkFeatures does; `__proto__` is left to the slow path.
   */
  private featureName(): string | Slow {
    const expected = this.expected[this.count];
    const start = this.at + 1;
    if (
      expected !== undefined &&
      this.startsWith(expected, start) &&
      start + expected.length < this.end &&
      this.bytes[start + expected.length] === QUOTE
    ) {
      this.at = start + expected.length + 1;
      return expected;
    }
    this.newNames = true;
    const name = this.string(false);
    if (name === SLOW || name === '__proto__' || checkFeatureName(name) !== undefined) {
      return SLOW;
    }
    return name;
  }
}

const LITERALS: ReadonlyArray<[string, FeatureValue]> = [
  ['true', true],
  ['false', false],
  ['null', null],
];

/** An optional number field's value (null or a finite number), else SLOW. */
function optionalNumber(value: FeatureValue | Slow | null): number | null | Slow {
  return value === null || (typeof value === 'number' && Number.isFinite(value)) ? value : SLOW;
}

/** True when the first `count` names are all different. */
function allDistinct(names: readonly string[], count: number): boolean {
  return new Set(names.slice(0, count)).size === count;
}

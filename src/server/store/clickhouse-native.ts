/**
 * Stored columns (schema.ts) encoded as one block of ClickHouse's Native format, the column-oriented binary form the
 * server reads with the least work and the one closest to StoredColumns: a Float64 column is its Float64Array copied
 * as it is, a Nullable column's null map is the column's `nulls` array, strings are their UTF-8 bytes. No object per
 * row and no text of numbers (so no rounding either: -0, denormals and 1e308 arrive bit for bit).
 *
 * Layout (https://clickhouse.com/docs/en/interfaces/formats#native; NativeWriter in ClickHouse's source, the same in
 * 18.16 and current servers when the HTTP request names no client protocol revision, so no block info is written):
 *   VarUInt columns, VarUInt rows, then per column: String name, String type, the column's rows in bulk —
 *   Int64/UInt64/Float64 8 bytes little-endian per row, UInt8 one byte, String a VarUInt byte length and the bytes,
 *   Nullable(T) a UInt8 null map (1 = NULL) for every row followed by every row of T (a placeholder where NULL).
 * VarUInt is LEB128 (7 bits per byte, low bits first, high bit set when more bytes follow).
 */
import type { StoredColumn, StoredColumns } from './schema';

/** The ClickHouse types the encoder writes (those of the predictions tables, clickhouse.ts). */
export type NativeType = 'Int64' | 'UInt64' | 'UInt8' | 'Float64' | 'Nullable(Float64)' | 'String' | 'Nullable(String)';

/** Bytes per chunk of the encoded block (a column larger than this spans chunks). */
const CHUNK_BYTES = 1_048_576;

/** Longest string (UTF-16 code units) whose UTF-8 length surely fits in one VarUInt byte: 3 bytes per unit ≤ 127. */
const ONE_BYTE_LENGTH_CHARS = 42;

const TWO_TO_32 = 4_294_967_296;

/** True when this machine stores numbers little-endian (typed arrays are then copied as the format wants them). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Appends bytes to a list of chunks, allocating a new chunk when the current one is full. */
class ChunkWriter {
  private readonly chunks: Buffer[] = [];
  private chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  private offset = 0;

  /** Makes sure the current chunk has `bytes` more bytes free (a new chunk, at least that large, when not). */
  private reserve(bytes: number): void {
    if (this.offset + bytes > this.chunk.length) {
      this.closeChunk();
      this.chunk = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, bytes));
    }
  }

  private closeChunk(): void {
    if (this.offset > 0) {
      this.chunks.push(this.chunk.subarray(0, this.offset));
    }
    this.offset = 0;
  }

  /** LEB128 of a non-negative integer below 2^53. */
  varUInt(value: number): void {
    this.reserve(8);
    let rest = value;
    while (rest >= 0x80) {
      this.chunk[this.offset++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.chunk[this.offset++] = rest;
  }

  /** A String: the VarUInt byte length of its UTF-8, then the bytes. */
  string(value: string): void {
    if (value.length <= ONE_BYTE_LENGTH_CHARS) {
      this.reserve(1 + 3 * value.length);
      const written = this.chunk.write(value, this.offset + 1, 'utf8');
      this.chunk[this.offset] = written;
      this.offset += 1 + written;
      return;
    }
    const length = Buffer.byteLength(value, 'utf8');
    this.varUInt(length);
    this.reserve(length);
    this.offset += this.chunk.write(value, this.offset, length, 'utf8');
  }

  uint8(value: number): void {
    this.reserve(1);
    this.chunk[this.offset++] = value;
  }

  /** A 64-bit two's-complement integer from a safe integer, as its low and high 32-bit halves (no BigInt per row). */
  int64(value: number): void {
    this.reserve(8);
    const high = Math.floor(value / TWO_TO_32);
    this.chunk.writeUInt32LE(value - high * TWO_TO_32, this.offset);
    this.chunk.writeInt32LE(high, this.offset + 4);
    this.offset += 8;
  }

  /** Copies bytes as they are, across chunks when they do not fit in the current one. */
  bytes(source: Uint8Array): void {
    let from = 0;
    while (from < source.length) {
      if (this.offset === this.chunk.length) {
        this.reserve(Math.min(CHUNK_BYTES, source.length - from));
      }
      const count = Math.min(source.length - from, this.chunk.length - this.offset);
      this.chunk.set(source.subarray(from, from + count), this.offset);
      this.offset += count;
      from += count;
    }
  }

  /** The chunks written, in order. */
  finish(): Buffer[] {
    this.closeChunk();
    return this.chunks;
  }
}

/** The bytes of a Float64Array, little-endian as the format wants them. */
function float64Bytes(numbers: Float64Array): Uint8Array {
  return new Uint8Array(numbers.buffer, numbers.byteOffset, numbers.byteLength);
}

function nullError(name: string, type: NativeType, row: number): Error {
  return new Error(`Column ${name} (${type}) has no value in row ${row}; a ${type} column cannot hold NULL`);
}

/** Writes a number column's rows as integers of the type (Int64, UInt64, UInt8); anything else is refused. */
function writeIntegers(out: ChunkWriter, name: string, type: NativeType, column: StoredColumn): void {
  if (column.type !== 'number') {
    throw new Error(`Column ${name} is ${type} but holds strings`);
  }
  const { numbers, nulls } = column;
  const [min, max] =
    type === 'UInt8' ? [0, 255] : type === 'UInt64' ? [0, Number.MAX_SAFE_INTEGER] : [-Infinity, Infinity];
  for (let i = 0; i < numbers.length; i++) {
    const value = numbers[i];
    if (nulls[i]) {
      throw nullError(name, type, i);
    }
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new Error(`Column ${name} (${type}) cannot hold ${value} (row ${i}): send whole numbers in its range`);
    }
    if (type === 'UInt8') {
      out.uint8(value);
    } else {
      out.int64(value);
    }
  }
}

/** Writes a column's rows in the bulk form of its type (see the module comment). */
function writeColumn(out: ChunkWriter, name: string, type: NativeType, column: StoredColumn): void {
  if (type === 'String' || type === 'Nullable(String)') {
    if (column.type !== 'string') {
      throw new Error(`Column ${name} is ${type} but holds numbers`);
    }
    const { strings } = column;
    if (type === 'Nullable(String)') {
      for (let i = 0; i < strings.length; i++) {
        out.uint8(strings[i] === null ? 1 : 0);
      }
    }
    for (let i = 0; i < strings.length; i++) {
      const value = strings[i];
      if (value === null && type === 'String') {
        throw nullError(name, type, i);
      }
      out.string(value ?? '');
    }
    return;
  }
  if (type === 'Float64' || type === 'Nullable(Float64)') {
    if (column.type !== 'number') {
      throw new Error(`Column ${name} is ${type} but holds strings`);
    }
    if (type === 'Nullable(Float64)') {
      out.bytes(column.nulls);
    } else {
      const row = column.nulls.indexOf(1);
      if (row >= 0) {
        throw nullError(name, type, row);
      }
    }
    out.bytes(float64Bytes(column.numbers)); // a NULL row's number is 0 (schema.ts), the placeholder the format wants
    return;
  }
  writeIntegers(out, name, type, column);
}

/**
 * The stored columns as one Native block, in chunks; `types[j]` is the ClickHouse type of `stored.columns[j]` (the
 * INSERT must name the columns in this order).
 */
export function encodeNativeBlock(stored: StoredColumns, types: readonly NativeType[]): Buffer[] {
  if (!LITTLE_ENDIAN) {
    throw new Error('The ClickHouse Native encoder needs a little-endian machine');
  }
  if (types.length !== stored.columns.length) {
    throw new Error(`${stored.columns.length} columns but ${types.length} types`);
  }
  const out = new ChunkWriter();
  out.varUInt(stored.columns.length);
  out.varUInt(stored.rowCount);
  stored.columns.forEach((name, j) => {
    out.string(name);
    out.string(types[j]);
    writeColumn(out, name, types[j], stored.values[j]);
  });
  return out.finish();
}

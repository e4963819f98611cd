/**
 * The Native block's bytes, checked against the layout in ClickHouse's documentation written out by hand, and the
 * errors for values a column's type cannot hold. test/store/clickhouse-values.test.ts sends real blocks to 18.16 and
 * ClickHouse 26.
 */
import { encodeNativeBlock } from './clickhouse-native';
import { numberColumn, stringColumn, type StoredColumns } from './schema';

function block(stored: StoredColumns, types: Parameters<typeof encodeNativeBlock>[1]): string {
  return Buffer.concat(encodeNativeBlock(stored, types)).toString('hex');
}

/** Hex of a Native String (one-byte length, then UTF-8). */
const text = (s: string) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]).toString('hex');

test('columns are written as the documented layout: counts, then name, type and rows in bulk per column', () => {
  const ts = numberColumn(2);
  ts.numbers.set([-1, 2 ** 40]);
  ts.nulls.fill(0);
  const score = numberColumn(2);
  score.numbers[1] = -0;
  score.nulls[1] = 0;
  const id = stringColumn(2);
  id.strings = ['é', ''];
  const label = stringColumn(2);
  label.strings = [null, 'x'];
  const hex = block({ columns: ['ts', 'score', 'id', 'label'], values: [ts, score, id, label], rowCount: 2 }, [
    'Int64',
    'Nullable(Float64)',
    'String',
    'Nullable(String)',
  ]);
  expect(hex).toBe(
    '04' + // 4 columns
      '02' + // 2 rows
      text('ts') +
      text('Int64') +
      'ffffffffffffffff' + // -1
      '0000000000010000' + // 2^40, little-endian
      text('score') +
      text('Nullable(Float64)') +
      '0100' + // null map: NULL, value
      '0000000000000000' + // the NULL row's placeholder
      '0000000000000080' + // -0: the sign bit only
      text('id') +
      text('String') +
      '02c3a9' + // é in UTF-8
      '00' + // ''
      text('label') +
      text('Nullable(String)') +
      '0100' +
      '00' + // the NULL row's placeholder: ''
      '0178'
  );
});

test('a string of 128 bytes gets a two-byte length (LEB128)', () => {
  const column = stringColumn(1);
  column.strings = ['é'.repeat(64)];
  const hex = block({ columns: ['s'], values: [column], rowCount: 1 }, ['String']);
  expect(hex.slice(0, 4 + text('s').length + text('String').length + 4)).toBe(
    '0101' + text('s') + text('String') + '8001'
  );
});

test('values a column type cannot hold are refused with the column, the row and what to send', () => {
  const ts = numberColumn(2);
  ts.numbers.set([1, 1.5]);
  ts.nulls.fill(0);
  expect(() => block({ columns: ['ts'], values: [ts], rowCount: 2 }, ['Int64'])).toThrow(
    'Column ts (Int64) cannot hold 1.5 (row 1): send whole numbers in its range'
  );
  const id = stringColumn(1);
  expect(() => block({ columns: ['id'], values: [id], rowCount: 1 }, ['String'])).toThrow(
    'Column id (String) has no value in row 0; a String column cannot hold NULL'
  );
  expect(() => block({ columns: ['id'], values: [id], rowCount: 1 }, ['Float64'])).toThrow(
    'Column id is Float64 but holds strings'
  );
});

test('a column larger than a chunk spans chunks with every byte in order', () => {
  const rows = 300_000; // 2.4 MB of numbers: three chunks of 1 MiB
  const column = numberColumn(rows);
  column.nulls.fill(0);
  column.numbers.forEach((_, i) => (column.numbers[i] = i * 1.5 - 7));
  const chunks = encodeNativeBlock({ columns: ['x'], values: [column], rowCount: rows }, ['Float64']);
  expect(chunks.length).toBeGreaterThan(2);
  // 1 column, 300 000 rows (LEB128: 0x60 | 0x80, 0x27 | 0x80, 0x12)
  const header = Buffer.concat([Buffer.from([1, 0xe0, 0xa7, 0x12]), Buffer.from(text('x') + text('Float64'), 'hex')]);
  expect(Buffer.concat(chunks).equals(Buffer.concat([header, Buffer.from(column.numbers.buffer)]))).toBe(true);
});

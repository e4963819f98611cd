import { decodeBatch } from '../body';
import { asLine, lineProblem } from './lines';

/** Lines joined as an NDJSON body (as fetched-batch.ts lays them out). */
const ndjsonBody = (lines: Buffer[]) => Buffer.from(lines.map((line) => line.toString('utf8') + '\n').join(''));

test('a value with line feeds (pretty-printed) is one line that parses as the value does', () => {
  const pretty = Buffer.from(JSON.stringify({ id: 'a', features: { x: 1 } }, null, 2));
  const items = decodeBatch(ndjsonBody([asLine(pretty), Buffer.from('{"id":"b"}')]), 'ndjson', 10);
  expect(items).toEqual([{ value: { id: 'a', features: { x: 1 } } }, { value: { id: 'b' } }]);
  expect(pretty.includes(0x0a)).toBe(true); // the original value is not changed
});

test('a raw line feed inside a string stays invalid JSON, as in the value', () => {
  const value = Buffer.from('{"id":"a\nb"}');
  expect(() => JSON.parse(value.toString())).toThrow();
  const [item] = decodeBatch(ndjsonBody([asLine(value)]), 'ndjson', 10);
  expect(item).toMatchObject({ code: 'invalid_json' });
});

test('values that cannot be a line are refused with a reason; lines stay aligned with the values', () => {
  expect(lineProblem(undefined)?.code).toBe('empty_record');
  expect(lineProblem(Buffer.alloc(0))?.code).toBe('empty_record');
  expect(lineProblem(Buffer.from(' \t '))?.code).toBe('empty_record');
  expect(lineProblem(Buffer.from([0x7b, 0xff, 0x7d]))?.code).toBe('invalid_utf8');
  expect(lineProblem(Buffer.from('{"id":"x"}'))).toBeUndefined();
  // Every value lineProblem lets through is exactly one item of the body (body.ts skips blank lines).
  const values = ['{"a":1}', '\u00a0{"b":2}', 'not json', '"\u2028"'].map((v) => Buffer.from(v));
  expect(values.every((v) => lineProblem(v) === undefined)).toBe(true);
  expect(decodeBatch(ndjsonBody(values.map(asLine)), 'ndjson', 10)).toHaveLength(values.length);
});

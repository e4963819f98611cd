import { decodeBatch } from '../body';
import { UNROUTED_MODEL_DIR, type KafkaRoute } from './config';
import { buildBatch, groupLetters, type FetchedRecord } from './fetched-batch';

const routes = new Map<string, KafkaRoute>([
  ['preds', { topic: 'preds', kind: 'predictions', model: 'fraud' }],
  ['labels', { topic: 'labels', kind: 'labels', model: 'fraud' }],
  ['shared', { topic: 'shared', kind: 'predictions' }],
]);

let nextOffset = BigInt(0);
const record = (topic: string, partition: number, value: string | Buffer | null): FetchedRecord => ({
  topic,
  partition,
  offset: (nextOffset += BigInt(1)),
  value: typeof value === 'string' ? Buffer.from(value) : value,
});

/** The NDJSON of a group, as the collector thread reads it. */
const groupText = (body: Uint8Array, start: number, end: number) => Buffer.from(body).toString('utf8', start, end);

test('records are grouped by model and kind into one buffer of its own, one line per record, in order', () => {
  const records = [
    record('preds', 0, '{"id":"a"}'),
    record('shared', 1, '{"id":"b","model":"churn"}'),
    record('labels', 2, '{"id":"a","label":1}'),
    record('preds', 1, '{\n"id": "c"\n}'),
  ];
  const { batch, kept } = buildBatch(7, records, routes, 'model');
  expect(batch.id).toBe(7);
  expect(batch.body.byteOffset).toBe(0);
  expect(batch.body.buffer.byteLength).toBe(batch.body.byteLength); // transferable without sending other bytes
  expect(batch.groups.map(({ model, kind }) => `${kind}/${model}`)).toEqual([
    'predictions/fraud',
    'predictions/churn',
    'labels/fraud',
  ]);
  const [fraud, churn, labels] = batch.groups;
  expect(groupText(batch.body, fraud.start, fraud.end)).toBe('{"id":"a"}\n{\t"id": "c"\t}\n');
  expect(groupText(batch.body, churn.start, churn.end)).toBe('{"id":"b","model":"churn"}\n');
  expect(groupText(batch.body, labels.start, labels.end)).toBe('{"id":"a","label":1}\n');
  expect(kept.groups).toEqual([[records[0], records[3]], [records[1]], [records[2]]]);
  expect([...fraud.offsets]).toEqual([records[0].offset, records[3].offset]);
  expect(Array.from(fraud.partitionOf, (p) => batch.partitions[p])).toEqual([
    { topic: 'preds', partition: 0 },
    { topic: 'preds', partition: 1 },
  ]);
  expect(batch.perTopic).toEqual([
    ['preds', 2],
    ['shared', 1],
    ['labels', 1],
  ]);
  expect(batch.letters).toEqual([]);
});

test('records that cannot be a line or name no model are refused in the batch, as letters, not lines', () => {
  const records = [
    record('preds', 0, null),
    record('preds', 0, Buffer.from([0x7b, 0xff, 0x7d])),
    record('shared', 0, '{"id":"x"}'),
    record('shared', 0, '{"id":"y","model":"no such/model"}'),
    record('shared', 0, '{"id":'),
    record('preds', 0, '{"id":"ok"}'),
  ];
  const { batch, kept } = buildBatch(1, records, routes, 'model');
  expect(batch.letters.map(({ model, code }) => `${model}:${code}`)).toEqual([
    'fraud:empty_record',
    'fraud:invalid_utf8',
    `${UNROUTED_MODEL_DIR}:missing_field`,
    `${UNROUTED_MODEL_DIR}:invalid_value`,
    `${UNROUTED_MODEL_DIR}:invalid_json`,
  ]);
  expect(batch.letters[2].reason).toContain(`(topic shared, partition 0, offset ${records[2].offset})`);
  expect(kept.refused.map((r) => r.record)).toEqual(records.slice(0, 5));
  expect(batch.groups).toHaveLength(1);
  expect(groupText(batch.body, batch.groups[0].start, batch.groups[0].end)).toBe('{"id":"ok"}\n');
  expect(batch.perTopic).toEqual([
    ['preds', 3],
    ['shared', 3],
  ]);
});

test('each line of a body parses as its value does, and a group refused whole has a letter per line', () => {
  const values = ['{"a":1}', '\u00a0{"b":2}', 'not json', '"\u2028"', '{"id":"a\nb"}'];
  const records = values.map((value, i) => record('preds', i % 2, value));
  const { batch } = buildBatch(2, records, routes, 'model');
  const [group] = batch.groups;
  const items = decodeBatch(Buffer.from(batch.body).subarray(group.start, group.end), 'ndjson', 10);
  expect(items).toHaveLength(values.length);
  expect(items[0]).toEqual({ value: { a: 1 } });
  expect(() => JSON.parse(values[1])).toThrow(); // no-break space is not JSON whitespace: refused as the value is
  expect(items[1]).toMatchObject({ code: 'invalid_json' });
  expect(items[2]).toMatchObject({ code: 'invalid_json' });
  expect(items[3]).toEqual({ value: '\u2028' });
  expect(items[4]).toMatchObject({ code: 'invalid_json' }); // a raw line feed in a string stays invalid

  const letters = groupLetters(batch, group, { code: 'unknown_model', reason: 'not served here' });
  expect(letters.map((letter) => letter.raw)).toEqual([
    '{"a":1}',
    '\u00a0{"b":2}',
    'not json',
    '"\u2028"',
    '{"id":"a\tb"}',
  ]);
  expect(letters[3]).toMatchObject({ model: UNROUTED_MODEL_DIR, code: 'unknown_model', kind: 'predictions' });
  expect(letters[3].reason).toBe(`not served here (topic preds, partition 1, offset ${records[3].offset})`);
});

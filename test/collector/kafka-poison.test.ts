/**
 * Poison messages on a Kafka topic: a value that is not JSON, a record failing validation, a hostile feature name,
 * bytes that are not UTF-8, a tombstone, a record on a shared topic naming no model. Each goes to the dead-letter
 * topic (reason in its headers; read back here) and to the local dead-letter area, and the partition moves on: the
 * records after them are stored and the offsets committed past them.
 */
import * as path from 'node:path';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { stopCollector } from './harness';
import { readDeadLetters } from './support';
import {
  committedOn,
  predictionJson,
  produce,
  readTopic,
  spawnKafkaCollector,
  storedPredictions,
  waitFor,
  type ProducedRecord,
  useKafka,
} from './kafka-support';

const fixture = useKafka('poison');

test('poison messages go to the dead-letter topic and area, and the partition moves on', async () => {
  const kafka = fixture.kafka();
  const dir = fixture.dir();
  await kafka.createTopic('poison', 1);
  await kafka.createTopic('shared', 1);
  await kafka.createTopic('poison-dlq', 1);
  const valid = (n: number): ProducedRecord => ({ key: `ok-${n}`, value: predictionJson(`ok-${n}`, n) });
  const hostile = JSON.parse(predictionJson('hostile', 99));
  hostile.features = { 'x"; DROP TABLE predictions; --': 1 };
  const pretty = JSON.stringify(JSON.parse(predictionJson('pretty', 7)), null, 2);
  await produce(kafka.bootstrap, 'poison', [
    valid(1),
    { key: 'bad-json', value: '{"id": "bad-json", "ts": ' },
    { key: 'no-ts', value: JSON.stringify({ id: 'no-ts', version: 'v1', features: {}, prediction: 1 }) },
    { key: 'hostile', value: JSON.stringify(hostile) },
    { key: 'latin1', value: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) },
    { key: 'tombstone', value: null },
    { key: 'pretty', value: pretty },
    valid(2),
    valid(3),
  ]);
  const shared = JSON.parse(predictionJson('shared-1', 11));
  await produce(kafka.bootstrap, 'shared', [
    { key: 'shared-1', value: JSON.stringify({ ...shared, model: 'poison_model' }) },
    { key: 'nameless', value: predictionJson('nameless', 12) },
  ]);

  const data = path.join(dir, 'data');
  const state = path.join(dir, 'state');
  const collector = await spawnKafkaCollector(
    ['--data-dir', data, '--state-dir', state],
    ['--kafka-brokers', kafka.bootstrap, '--kafka-topic', 'poison=poison_model,shared'].concat([
      '--kafka-dead-letter-topic',
      'poison-dlq',
      '--kafka-group',
      'poison',
    ])
  );
  await waitFor('the topics committed to their end', async () => {
    return (await committedOn(collector.url, 'poison')) === 9 && (await committedOn(collector.url, 'shared')) === 2;
  });
  expect(await stopCollector(collector)).toBe(0);

  const letters = readTopic(kafka.bootstrap, 'poison-dlq', 6);
  const byKey = new Map(letters.map((letter) => [letter.key, letter]));
  expect([...byKey.keys()].sort()).toEqual(['bad-json', 'hostile', 'latin1', 'nameless', 'no-ts', 'tombstone']);
  expect(byKey.get('bad-json')!.headers['mlmon-code']).toBe('invalid_json');
  expect(byKey.get('no-ts')!.headers['mlmon-code']).toBe('missing_field');
  expect(byKey.get('hostile')!.headers['mlmon-code']).toBe('invalid_feature_name');
  expect(byKey.get('latin1')!.headers['mlmon-code']).toBe('invalid_utf8');
  expect(byKey.get('latin1')!.value).toEqual(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
  expect(byKey.get('tombstone')!.headers['mlmon-code']).toBe('empty_record');
  expect(byKey.get('nameless')!.headers['mlmon-code']).toBe('missing_field');
  expect(byKey.get('nameless')!.headers['mlmon-reason']).toMatch(/"model"/);
  for (const letter of letters) {
    expect(letter.headers['mlmon-reason']).toBeTruthy();
    expect(letter.headers['mlmon-source']).toMatch(/^(poison|shared)\/0\/\d+$/);
  }

  const local = readDeadLetters(dir, 'poison_model').map((letter: { code: string }) => letter.code);
  expect(local.sort()).toEqual([
    'empty_record',
    'invalid_feature_name',
    'invalid_json',
    'invalid_utf8',
    'missing_field',
  ]);
  expect(readDeadLetters(dir, 'kafka-unrouted').map((letter: { code: string }) => letter.code)).toEqual([
    'missing_field',
  ]);

  const store = await EmbeddedStore.open(data);
  try {
    const stored = await storedPredictions(store, 'poison_model');
    expect([...stored.ids].sort()).toEqual(['ok-1', 'ok-2', 'ok-3', 'pretty', 'shared-1']);
    expect(stored.rows).toBe(5);
  } finally {
    await store.close();
  }
}, 300_000);

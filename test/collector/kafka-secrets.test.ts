/**
 * The SASL password of the Kafka consumer (a broker with a SASL PLAIN listener) never reaches the collector's log,
 * /healthz, /metrics, its errors or its command line: it is read from a file. A wrong password fails the start with
 * a message that does not quote it either.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnCollector } from './harness';
import {
  committedOn,
  predictions,
  produce,
  spawnKafkaCollector,
  stopShowingExposed,
  useKafka,
  waitFor,
} from './kafka-support';

const PASSWORD = 'kafka-Secret-7f3e91c2';
const WRONG_PASSWORD = 'wrong-Secret-4b8d02aa';
const fixture = useKafka('secrets', { saslUsers: { mlmon: PASSWORD } });

beforeAll(async () => {
  const dir = fixture.dir();
  fs.writeFileSync(path.join(dir, 'password'), PASSWORD + '\n', { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'wrong'), WRONG_PASSWORD + '\n', { mode: 0o600 });
  await fixture.kafka().createTopic('secret-preds', 1);
  await produce(fixture.kafka().bootstrap, 'secret-preds', predictions('secret', 200));
}, 180_000);

const saslArgs = (file: string, group: string) => [
  '--kafka-brokers',
  fixture.kafka().saslBootstrap!,
  '--kafka-topic',
  'secret-preds=secret_model',
  '--kafka-group',
  group,
  '--kafka-sasl-mechanism',
  'PLAIN',
  '--kafka-sasl-username',
  'mlmon',
  '--kafka-sasl-password-file',
  file,
];

test('with SASL PLAIN the password is in no log, health, metrics or command line', async () => {
  const dir = fixture.dir();
  const collector = await spawnKafkaCollector(
    ['--data-dir', path.join(dir, 'data'), '--state-dir', path.join(dir, 'state')],
    saslArgs(path.join(dir, 'password'), 'secrets')
  );
  await waitFor('the records committed', async () => (await committedOn(collector.url, 'secret-preds')) >= 200);
  const { code, texts: seen } = await stopShowingExposed(collector);
  expect(code).toBe(0);
  expect(seen.filter((text) => text.includes(PASSWORD))).toEqual([]);
  expect(seen[0]).toContain('"connected":true');
}, 300_000);

test('a wrong password fails the start without quoting the password', async () => {
  const dir = fixture.dir();
  const failed = await spawnCollector(
    ['--data-dir', path.join(dir, 'data-wrong'), '--state-dir', path.join(dir, 'state-wrong')],
    saslArgs(path.join(dir, 'wrong'), 'secrets-wrong')
  ).then(
    () => undefined,
    (err: Error) => err.message
  );
  expect(failed).toMatch(/cannot consume from Kafka/);
  expect(failed).not.toContain(WRONG_PASSWORD);
  expect(failed).not.toContain(PASSWORD);
}, 300_000);

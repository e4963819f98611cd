/**
 * Kafka ingestion against a real broker, embedded store: `mlmon serve` killed with SIGKILL mid-consumption, and the
 * broker killed and restarted mid-consumption — every produced record is stored exactly once (rows and distinct
 * (id, version) in the store), none lost. MLMON_KAFKA_RECORDS sets the number of records (default 60 000).
 */
import * as path from 'node:path';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { stopCollector } from './harness';
import {
  committedOn,
  predictions,
  produce,
  spawnKafkaCollector,
  expectEachStoredOnce,
  waitFor,
  useKafka,
} from './kafka-support';

const RECORDS = Number(process.env.MLMON_KAFKA_RECORDS ?? 60_000);

const fixture = useKafka('delivery');

test('kill -9 of the collector mid-consumption: every record stored once, none lost', async () => {
  const kafka = fixture.kafka();
  const dir = fixture.dir();
  await kafka.createTopic('kill-preds', 4);
  await produce(kafka.bootstrap, 'kill-preds', predictions('kill', RECORDS));
  const data = path.join(dir, 'kill-data');
  const storeArgs = ['--data-dir', data, '--state-dir', path.join(dir, 'kill-state')];
  const kafkaArgs = [
    '--kafka-brokers',
    kafka.bootstrap,
    '--kafka-topic',
    'kill-preds=kill_model',
    '--kafka-group',
    'kill',
  ];

  const first = await spawnKafkaCollector(storeArgs, kafkaArgs);
  await waitFor(
    'a third of the records committed',
    async () => (await committedOn(first.url, 'kill-preds')) >= RECORDS / 3
  );
  first.child.kill('SIGKILL');
  const committedAtKill = await committedOn(first.url, 'kill-preds');
  await first.exited;

  const second = await spawnKafkaCollector(storeArgs, kafkaArgs);
  await waitFor('every record committed', async () => (await committedOn(second.url, 'kill-preds')) >= RECORDS);
  // Killed again right after the last commit: the tail is only in the write-ahead log.
  second.child.kill('SIGKILL');
  await second.exited;
  const third = await spawnKafkaCollector(storeArgs, kafkaArgs);
  expect(await stopCollector(third)).toBe(0);
  expect(committedAtKill).toBeLessThan(RECORDS);
  await expectEachStoredOnce(() => EmbeddedStore.open(data), 'kill_model', 'kill', RECORDS);
}, 600_000);

test('broker killed and restarted mid-consumption: every record stored once, none lost', async () => {
  const kafka = fixture.kafka();
  const dir = fixture.dir();
  await kafka.createTopic('restart-preds', 4);
  await produce(kafka.bootstrap, 'restart-preds', predictions('restart', RECORDS));
  const data = path.join(dir, 'restart-data');
  const collector = await spawnKafkaCollector(
    ['--data-dir', data, '--state-dir', path.join(dir, 'restart-state')],
    ['--kafka-brokers', kafka.bootstrap, '--kafka-topic', 'restart-preds=restart_model', '--kafka-group', 'restart']
  );
  await waitFor(
    'a third of the records committed',
    async () => (await committedOn(collector.url, 'restart-preds')) >= RECORDS / 3
  );
  await kafka.kill();
  const committedAtKill = await committedOn(collector.url, 'restart-preds');
  await new Promise((resolve) => setTimeout(resolve, 2000));
  await kafka.restart();
  await waitFor(
    'every record committed',
    async () => (await committedOn(collector.url, 'restart-preds')) >= RECORDS,
    300_000
  );
  expect(await stopCollector(collector)).toBe(0);
  expect(committedAtKill).toBeLessThan(RECORDS);
  expect(collector.stderr()).toMatch(/kafka: .*reconnect|kafka: .*fail/i);
  await expectEachStoredOnce(() => EmbeddedStore.open(data), 'restart_model', 'restart', RECORDS);
}, 600_000);

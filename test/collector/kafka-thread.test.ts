/**
 * The Kafka client runs in a thread of its own (collector/kafka/fetch-thread.ts). A test hook makes that thread throw
 * right after it posted a batch to the collector thread, before the batch's offsets are committed: the collector
 * starts the thread again, which re-reads what was not committed, and every record is stored once (the re-read ones
 * answered as duplicates), none lost.
 */
import * as path from 'node:path';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { stopCollector } from './harness';
import {
  committedOn,
  expectEachStoredOnce,
  metricsText,
  predictions,
  produce,
  spawnKafkaCollector,
  useKafka,
  waitFor,
} from './kafka-support';

const RECORDS = 30_000;
const THROW_AFTER_ENV = 'MLMON_TEST_KAFKA_THREAD_THROW_AFTER';

const fixture = useKafka('thread');

/** The sum of a counter's samples whose labels match `labels`. */
function counter(metrics: string, name: string, labels: RegExp): number {
  return metrics
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && labels.test(line))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

test('the Kafka thread dies after posting a batch: started again, every record stored once, none lost', async () => {
  const kafka = fixture.kafka();
  const dir = fixture.dir();
  await kafka.createTopic('thread-preds', 4);
  await produce(kafka.bootstrap, 'thread-preds', predictions('thread', RECORDS));
  const data = path.join(dir, 'data');
  process.env[THROW_AFTER_ENV] = '2';
  const collector = await spawnKafkaCollector(
    ['--data-dir', data, '--state-dir', path.join(dir, 'state')],
    ['--kafka-brokers', kafka.bootstrap, '--kafka-topic', 'thread-preds=thread_model', '--kafka-group', 'thread'],
    ['--max-batch', '1000']
  ).finally(() => delete process.env[THROW_AFTER_ENV]);
  await waitFor(
    'every record committed',
    async () => (await committedOn(collector.url, 'thread-preds')) >= RECORDS,
    120_000
  );
  const metrics = await metricsText(collector.url);
  expect(await stopCollector(collector)).toBe(0);

  expect(collector.stderr()).toMatch(/kafka: the Kafka thread ended .*test hook.*starting it again/);
  // The batch posted before the thread died was made durable and read again: answered as duplicates.
  expect(counter(metrics, 'mlmon_collector_records_total', /outcome="duplicate"/)).toBeGreaterThan(0);
  expect(counter(metrics, 'mlmon_collector_records_total', /outcome="accepted"/)).toBe(RECORDS);
  await expectEachStoredOnce(() => EmbeddedStore.open(data), 'thread_model', 'thread', RECORDS);
}, 300_000);

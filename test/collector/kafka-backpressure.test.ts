/**
 * Back-pressure from Kafka: while the collector's backlog is over --max-backlog-bytes, the consumer pauses its
 * partitions (seen in /metrics and /healthz) instead of dropping records; it resumes once the store catches up —
 * also when nothing fetched is left to hand over — and every record is stored once.
 */
import * as path from 'node:path';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { stopCollector } from './harness';
import {
  committedOn,
  expectEachStoredOnce,
  healthz,
  metricsText,
  predictions,
  produce,
  spawnKafkaCollector,
  waitFor,
  useKafka,
} from './kafka-support';

const RECORDS = 20_000;
const LATE = 1_000;
const TOTAL = RECORDS + LATE;

const fixture = useKafka('pressure');

test('a backlog over its bound pauses the partitions; nothing is dropped', async () => {
  const kafka = fixture.kafka();
  const dir = fixture.dir();
  await kafka.createTopic('pressure', 2);
  await produce(kafka.bootstrap, 'pressure', predictions('pressure', RECORDS));
  const data = path.join(dir, 'data');
  // A bound of one byte, and a store written every 2 s: every accepted batch puts the backlog over the bound.
  const collector = await spawnKafkaCollector(
    ['--data-dir', data, '--state-dir', path.join(dir, 'state')],
    ['--kafka-brokers', kafka.bootstrap, '--kafka-topic', 'pressure=pressure_model', '--kafka-group', 'pressure'],
    ['--max-backlog-bytes', '1', '--flush-interval-ms', '2000']
  );
  let pausedInMetrics = false;
  let pausedInHealth = false;
  await waitFor('the consumer paused (metrics and health)', async () => {
    pausedInMetrics ||= /^mlmon_collector_kafka_paused 1$/m.test(await metricsText(collector.url));
    const health = await healthz(collector.url);
    pausedInHealth ||= health.kafka?.paused === true && health.problems.some((p) => /paused/.test(p));
    return pausedInMetrics && pausedInHealth;
  });
  await waitFor('every record committed', async () => (await committedOn(collector.url, 'pressure')) >= RECORDS);
  // Records produced after the backlog drained, with nothing fetched left to hand over: fetching must resume.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  await produce(kafka.bootstrap, 'pressure', predictions('pressure', LATE, RECORDS));
  await waitFor('the late records committed', async () => (await committedOn(collector.url, 'pressure')) >= TOTAL);
  expect(/^mlmon_collector_kafka_errors_total 0$/m.test(await metricsText(collector.url))).toBe(true);
  expect(await stopCollector(collector)).toBe(0);

  await expectEachStoredOnce(() => EmbeddedStore.open(data), 'pressure_model', 'pressure', TOTAL);
}, 600_000);

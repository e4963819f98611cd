/**
 * Two collectors in one consumer group split the partitions of a topic and together store each record once. They
 * write one ClickHouse store (the product's way to run several collectors: the embedded store takes one writer per
 * data directory), each with its own state directory. The second joins mid-consumption, so the group rebalances
 * while records flow; what a rebalance re-delivers is stored once.
 */
import * as path from 'node:path';
import { ClickHouseStore } from '../../src/server/store/clickhouse';
import { startClickHouse, type ClickHouseHandle } from '../support/clickhouse';
import { stopCollector } from './harness';
import {
  committedOn,
  expectEachStoredOnce,
  healthz,
  predictions,
  produce,
  spawnKafkaCollector,
  useKafka,
  waitFor,
} from './kafka-support';

const RECORDS = 40_000;
const fixture = useKafka('group');
let clickhouse: ClickHouseHandle;

beforeAll(async () => {
  clickhouse = await startClickHouse();
}, 120_000);
afterAll(() => clickhouse?.stop());

test('two collectors in one group split the partitions and store each record once', async () => {
  const kafka = fixture.kafka();
  const dir = fixture.dir();
  await kafka.createTopic('group-preds', 4);
  const storeArgs = (name: string) => [
    '--clickhouse',
    clickhouse.url,
    '--clickhouse-database',
    clickhouse.database,
    '--state-dir',
    path.join(dir, name),
  ];
  const kafkaArgs = ['--kafka-brokers', kafka.bootstrap, '--kafka-topic', 'group-preds=group_model'].concat([
    '--kafka-group',
    'shared-group',
  ]);
  await produce(kafka.bootstrap, 'group-preds', predictions('group', RECORDS / 2));
  const first = await spawnKafkaCollector(storeArgs('state-a'), kafkaArgs);
  await waitFor('the first collector consuming', async () => (await committedOn(first.url, 'group-preds')) > 0);
  const second = await spawnKafkaCollector(storeArgs('state-b'), kafkaArgs);
  await produce(kafka.bootstrap, 'group-preds', predictions('group', RECORDS / 2, RECORDS / 2));

  const assigned = async (url: string) =>
    ((await healthz(url)).kafka?.assignments ?? []).flatMap((a) => a.partitions.map((p) => `${a.topic}/${p}`));
  let split: string[][] = [];
  await waitFor('both collectors assigned partitions', async () => {
    split = [await assigned(first.url), await assigned(second.url)];
    return split[0].length > 0 && split[1].length > 0;
  });
  expect(split[0].filter((p) => split[1].includes(p))).toEqual([]);
  expect(split.flat().sort()).toEqual(['group-preds/0', 'group-preds/1', 'group-preds/2', 'group-preds/3']);
  await waitFor('every record committed by the group', async () => {
    const health = [await healthz(first.url), await healthz(second.url)];
    const latest = new Map<number, number>();
    for (const { kafka: k } of health) {
      for (const c of k?.committed ?? []) {
        latest.set(c.partition, Math.max(latest.get(c.partition) ?? 0, c.offset));
      }
    }
    return [...latest.values()].reduce((sum, offset) => sum + offset, 0) >= RECORDS;
  });
  expect(await stopCollector(second)).toBe(0);
  expect(await stopCollector(first)).toBe(0);

  await expectEachStoredOnce(
    () => ClickHouseStore.open({ url: clickhouse.url, database: clickhouse.database }),
    'group_model',
    'group',
    RECORDS
  );
}, 600_000);

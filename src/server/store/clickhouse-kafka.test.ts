/**
 * The Kafka engine's statements (clickhouse-kafka.ts) without a server: names validated before any SQL is made,
 * values written as literals, and the two forms (settings in the table, or in an old server's default profile). The
 * statements run for real in test/store/clickhouse-kafka-engine.test.ts (18.16 and chdb).
 */
import { kafkaIngestionStatements, kafkaSettingsPlace, type KafkaIngestionOptions } from './clickhouse-kafka';

const OPTIONS: KafkaIngestionOptions = {
  model: 'churn',
  features: [
    { name: 'age', kind: 'numeric' },
    { name: 'plan', kind: 'categorical' },
  ],
  brokers: 'kafka-1:9092,kafka-2:9092',
  topic: 'churn.predictions',
  labelsTopic: 'churn.labels',
  group: 'mlmon_churn',
  predictionKind: 'categorical',
  labelKind: 'categorical',
  database: 'monitor',
  settingsPlace: 'table',
};

test('names that are not identifiers and values that are not broker lists or topics are refused', () => {
  const refused: Array<[Partial<KafkaIngestionOptions>, RegExp]> = [
    [{ model: 'churn; DROP TABLE x' }, /Invalid model name/],
    [{ features: [{ name: 'petal width', kind: 'numeric' }] }, /Invalid feature name/],
    [{ database: 'a`b' }, /Invalid ClickHouse database name/],
    [{ brokers: "k:9092', kafka_format = 'CSV" }, /Invalid broker list/],
    [{ topic: "t'" }, /Invalid topic/],
    [{ group: 'g\\' }, /Invalid consumer group/],
    [{ model: 'm'.repeat(65) }, /Invalid model name/],
    [{ labelKind: undefined }, /labels topic needs the JSON type/],
  ];
  for (const [change, error] of refused) {
    expect(() => kafkaIngestionStatements({ ...OPTIONS, ...change })).toThrow(error);
  }
});

test('a model with the longest legal name gets table names of at most 64 characters, each its own', () => {
  const model = `m${'x'.repeat(63)}`;
  const statements = kafkaIngestionStatements({ ...OPTIONS, model }).join('\n');
  const names = new Set([...statements.matchAll(/`monitor`\.`([^`]+)`/g)].map((match) => match[1]));
  expect(names.size).toBe(11); // 8 Kafka tables and views, predictions, labels, the ledger
  for (const name of names) {
    expect(name.length).toBeLessThanOrEqual(64);
  }
  expect(statements).toMatch(/CREATE TABLE `monitor`\.`kafka_predictions_mx{32}_[0-9a-f]{12}`/);
  expect(statements).toMatch(/ TO `monitor`\.`predictions_mx{38}_[0-9a-f]{12}`/);
});

test('each form puts the format settings where its servers read them', () => {
  const current = kafkaIngestionStatements(OPTIONS).join('\n');
  expect(current).toMatch(/kafka_handle_error_mode = 'stream', input_format_import_nested_json = 1/);
  expect(current).toContain("_error = ''");
  expect(current).toContain('`monitor`.`kafka_dead_letters_churn`');
  const old = kafkaIngestionStatements({ ...OPTIONS, settingsPlace: 'profile' }).join('\n');
  expect(old).not.toMatch(/input_format|\b_error\b|dead_letters/);
  expect(old).toContain("kafka_topic_list = 'churn.predictions', kafka_group_name = 'mlmon_churn'");
  expect(old).toContain("kafka_topic_list = 'churn.labels', kafka_group_name = 'mlmon_churn_labels'");
  expect(old).toContain('`features.plan` AS `f_plan`');
  expect(kafkaSettingsPlace('18.16.1')).toBe('profile');
  expect(kafkaSettingsPlace('26.9.2.1')).toBe('table');
});

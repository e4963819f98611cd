/**
 * ClickHouse's own Kafka engine feeding a model's tables: the alternative to the collector for ClickHouse users
 * (`mlmon clickhouse kafka-ddl`). The statements, made from the model's schema:
 *
 *   kafka_predictions_<model>        ENGINE = Kafka, JSONEachRow: the collector's record format (HTTP NDJSON), one
 *                                    record per message; `features` is read into one column per known feature
 *                                    (`features.<name>`, input_format_import_nested_json)
 *   from_kafka_predictions_<model>   materialized view INTO predictions_<model>: the stored columns, rows whose
 *                                    system fields the collector would refuse left out
 *   from_kafka_ledger_<model>        materialized view over the one above INTO the ingestion ledger
 *                                    (mlmon_ingested_hours, ingestLedgerDDL), which the prepared counts read to see
 *                                    an hour change: on 18.16 rows inserted by a materialized view do not reach the
 *                                    views of its target table (the store's own ledger view); a view over the view
 *                                    does, after the rows are written. Servers that do reach them count the rows
 *                                    twice in the ledger, which only makes an hour look changed, never complete.
 *                                    The queue starts consuming when the rows' view exists, a moment before the
 *                                    ledger's (and the dead letters' view, made between them): the last statement
 *                                    counts the rows ingested in the last hour into the ledger once more (run the
 *                                    statements together).
 *   kafka_labels_<model>, from_kafka_labels_<model>   the same for labels (`id`, `label`, optional `ts`)
 *
 * Broken messages (not JSON, or a value of the wrong JSON type for its column) are not stored. Where the Kafka table
 * takes format settings (current ClickHouse) it reads with `kafka_handle_error_mode = 'stream'`: a broken message is
 * a row with `_error` set, which the views leave out and `from_kafka_dead_letters_<model>` keeps in
 * `kafka_dead_letters_<model>` (topic, partition, offset, message, error). Old servers such as 18.16 refuse format
 * settings in a Kafka table and read with the server's default profile, where `input_format_allow_errors_num`
 * makes them skip broken messages without a trace (`kafkaSettingsPlace`, PROFILE_SETTINGS). Only types and
 * functions ClickHouse 18.16 has are used; the statements are run on a current engine too
 * (test/store/clickhouse-kafka-engine.test.ts).
 *
 * Where a new consumer group starts: current servers read a group without committed offsets from the beginning;
 * 18.16 sets no `auto.offset.reset`, so librdkafka's default starts it at the end of each partition as of the moment
 * its consumer is assigned the partition (seconds after the table is made, longer on a busy server) — records
 * already on the topic, or produced meanwhile, are skipped. On 18.16 commit the groups' offsets first
 * (`kafka-consumer-groups --reset-offsets --to-earliest --execute`, README).
 */
import { ingestLedgerDDL, ledgerCatchUpSql } from './clickhouse';
import { labelsTableName, modelTableName, predictionsTableName } from './clickhouse-names';
import {
  featureColumn,
  InvalidIdentifierError,
  quoteIdentifier,
  validateIdentifier,
  validateFeatureName,
} from './identifiers';
import { clickHouseLiteral } from './sql-params';
import type { FeatureKind } from './types';

/** Broken messages an old server skips per block before it gives up on the block (and retries it). */
export const SKIP_BROKEN_MESSAGES = 1_000_000;

/**
 * Format settings of the Kafka tables: nested `features` into `features.<name>` columns; numbers and booleans are
 * not read as text nor booleans as numbers, so on every server a value of the wrong JSON type makes its message
 * broken (18.16 reads JSON types strictly; current servers would otherwise convert).
 */
const TABLE_FORMAT_SETTINGS: Record<string, number> = {
  input_format_import_nested_json: 1,
  input_format_skip_unknown_fields: 1,
  input_format_json_read_numbers_as_strings: 0,
  input_format_json_read_bools_as_strings: 0,
  input_format_json_read_bools_as_numbers: 0,
};

/** What an old server's default profile must hold instead (its Kafka engine always skips unknown fields). */
export const PROFILE_SETTINGS: Readonly<Record<string, number>> = {
  input_format_import_nested_json: 1,
  input_format_allow_errors_num: SKIP_BROKEN_MESSAGES,
};

/** Where the format settings go: the Kafka table's SETTINGS, or (old servers) the server's default profile. */
export type SettingsPlace = 'table' | 'profile';

/**
 * Where a server of this version (`SELECT version()`) takes the format settings. 18.16 refuses them in a Kafka
 * table ("Unknown setting … for storage Kafka", seen) and 26.9 takes them (seen); servers from 21 on are taken to
 * take them (the Kafka engine's error mode came with 21.6), older ones to read the default profile as 18.16 does.
 */
export function kafkaSettingsPlace(version: string): SettingsPlace {
  return Number.parseInt(version, 10) >= 21 ? 'table' : 'profile';
}

export interface KafkaIngestionOptions {
  model: string;
  /** The model's features (its schema): one column each. */
  features: ReadonlyArray<{ name: string; kind: FeatureKind }>;
  /** `host:port[,host:port…]` */
  brokers: string;
  topic: string;
  /** The labels' topic; no label statements without it. */
  labelsTopic?: string;
  /** The consumer group (offsets are kept per group on the broker). */
  group: string;
  /** The JSON type of `prediction`: a number or a string (a Kafka table column has one type). */
  predictionKind: FeatureKind;
  /** The JSON type of `label`, with labelsTopic. */
  labelKind?: FeatureKind;
  /** The database the tables are in. */
  database: string;
  settingsPlace: SettingsPlace;
}

const BROKERS = /^[A-Za-z0-9.-]+:\d{1,5}(,[A-Za-z0-9.-]+:\d{1,5})*$/;
/** Kafka's own rule for topic names (and the same characters for group names). */
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

/** Returns `value` when it matches `pattern`, else throws saying what is expected. */
function checked(value: string, pattern: RegExp, what: string, expected: string): string {
  if (!pattern.test(value)) {
    throw new InvalidIdentifierError(`Invalid ${what} ${JSON.stringify(value)}: ${expected}`);
  }
  return value;
}

/** The table names of a model's Kafka ingestion (validated identifiers, fitted to 64 characters: clickhouse-names.ts). */
export function kafkaTableNames(model: string): {
  predictionsQueue: string;
  predictionsView: string;
  ledgerView: string;
  labelsQueue: string;
  labelsView: string;
  deadLetters: string;
  deadPredictionsView: string;
  deadLabelsView: string;
} {
  return {
    predictionsQueue: modelTableName('kafka_predictions_', model),
    predictionsView: modelTableName('from_kafka_predictions_', model),
    ledgerView: modelTableName('from_kafka_ledger_', model),
    labelsQueue: modelTableName('kafka_labels_', model),
    labelsView: modelTableName('from_kafka_labels_', model),
    deadLetters: modelTableName('kafka_dead_letters_', model),
    deadPredictionsView: modelTableName('from_kafka_dead_letters_', model),
    deadLabelsView: modelTableName('from_kafka_dead_labels_', model),
  };
}

const TYPE: Record<FeatureKind, string> = { numeric: 'Nullable(Float64)', categorical: 'Nullable(String)' };
const NULL_OF: Record<FeatureKind, string> = {
  numeric: 'CAST(NULL AS Nullable(Float64))',
  categorical: 'CAST(NULL AS Nullable(String))',
};

/** A JSON field read from a message: `features.<name>` for a feature, quoted. */
function featureField(name: string): string {
  return `\`features.${validateFeatureName(name)}\``;
}

/** `column IS NULL OR isFinite(column)`: JSON has no NaN or Infinity, which ClickHouse's parser accepts. */
function finiteOrNull(column: string): string {
  return `(${column} IS NULL OR isFinite(${column}))`;
}

/** The Kafka engine clause of a queue table. */
function engineClause(options: KafkaIngestionOptions, topic: string, group: string): string {
  const settings: Array<[string, string]> = [
    [
      'kafka_broker_list',
      clickHouseLiteral(checked(options.brokers, BROKERS, 'broker list', 'host:port[,host:port…]')),
    ],
    [
      'kafka_topic_list',
      clickHouseLiteral(checked(topic, TOPIC, 'topic', 'use 1-249 characters from A-Z a-z 0-9 . _ -')),
    ],
    [
      'kafka_group_name',
      clickHouseLiteral(checked(group, TOPIC, 'consumer group', 'use 1-249 characters from A-Z a-z 0-9 . _ -')),
    ],
    ['kafka_format', "'JSONEachRow'"],
    ['kafka_row_delimiter', "'\\n'"],
  ];
  if (options.settingsPlace === 'table') {
    settings.push(['kafka_handle_error_mode', "'stream'"]);
    settings.push(...Object.entries(TABLE_FORMAT_SETTINGS).map(([k, v]): [string, string] => [k, String(v)]));
  }
  return `ENGINE = Kafka SETTINGS ${settings.map(([k, v]) => `${k} = ${v}`).join(', ')}`;
}

/** The condition that a message was read (the table reads broken messages as rows with `_error` set). */
function parsedCheck(options: KafkaIngestionOptions): string[] {
  return options.settingsPlace === 'table' ? ["_error = ''"] : [];
}

/**
 * Where the table keeps broken messages (settingsPlace 'table'): their table, made before the queue, and a view per
 * queue into it, made at once after the queue's rows view: a queue starts consuming when its first view exists, and
 * a broken message consumed before its view exists is lost. (With the ledger's statements between the two, twice in
 * six runs at load average 23, ClickHouse 26 stored every prediction and none of the predictions' dead letters.) The
 * window is one statement long, not closed.
 */
function deadLetterStatements(
  options: KafkaIngestionOptions,
  table: (name: string) => string,
  queue: string,
  view: string
): { table: string[]; view: string[] } {
  if (options.settingsPlace !== 'table') {
    return { table: [], view: [] };
  }
  const deadLetters = table(kafkaTableNames(options.model).deadLetters);
  return {
    table: [
      `CREATE TABLE IF NOT EXISTS ${deadLetters} (received_at DateTime, topic String, partition UInt64, ` +
        'offset UInt64, message String, error String) ENGINE = MergeTree ORDER BY (topic, partition, offset)',
    ],
    view: [
      `CREATE MATERIALIZED VIEW ${table(view)} TO ${deadLetters} AS SELECT now() AS received_at, _topic AS topic, ` +
        `_partition AS partition, _offset AS offset, _raw_message AS message, _error AS error FROM ${table(queue)} ` +
        "WHERE _error != ''",
    ],
  };
}

/** Conditions of the collector's checks of the system fields (validate.ts) that a row must meet to be stored. */
const RECORD_CHECKS = [
  "id != ''",
  'lengthUTF8(id) <= 256',
  // Epoch milliseconds between 1973 and 2286 (validate.ts EARLIEST_EPOCH_MS, LATEST_EPOCH_MS).
  'ts >= 100000000000',
  'ts <= 10000000000000',
  // validateVersion
  "match(version, '^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$')",
  finiteOrNull('score'),
  finiteOrNull('latency_ms'),
  '(latency_ms IS NULL OR latency_ms >= 0)',
];

/** The statements of the predictions' queue table and view. */
function predictionStatements(options: KafkaIngestionOptions, table: (name: string) => string): string[] {
  const names = kafkaTableNames(options.model);
  const features = options.features.map((f) => ({ ...f, field: featureField(f.name) }));
  const columns = [
    '`id` String',
    '`ts` Int64',
    '`version` String',
    `\`prediction\` ${TYPE[options.predictionKind]}`,
    '`score` Nullable(Float64)',
    '`latency_ms` Nullable(Float64)',
    '`error` Nullable(String)',
    ...features.map((f) => `${f.field} ${TYPE[f.kind]}`),
  ];
  const numeric = options.predictionKind === 'numeric';
  const [predictions, ledger] = [table(predictionsTableName(options.model)), table('mlmon_ingested_hours')];
  const selected = [
    'ts',
    'id',
    'version',
    `${numeric ? 'prediction' : NULL_OF.numeric} AS prediction_num`,
    `${numeric ? NULL_OF.categorical : 'prediction'} AS prediction_cat`,
    'score',
    'latency_ms',
    // The collector: an error is a non-empty string, kept to 4096 characters.
    "if(ifNull(error, '') = '', 0, 1) AS is_error",
    `if(ifNull(error, '') = '', ${NULL_OF.categorical}, substringUTF8(error, 1, 4096)) AS error_message`,
    // Nothing is sampled, and a value of the wrong type never arrives (its message is broken).
    'toFloat64(1) AS sampling_rate',
    "'' AS type_errors",
    'toUInt64(now()) * 1000 AS ingested_at',
    ...features.map((f) => `${f.field} AS ${quoteIdentifier(featureColumn(f.name), 'clickhouse')}`),
  ];
  const checks = [
    ...parsedCheck(options),
    ...RECORD_CHECKS,
    ...(numeric ? [finiteOrNull('prediction')] : []),
    ...features.filter((f) => f.kind === 'numeric').map((f) => finiteOrNull(f.field)),
  ];
  const deadLetters = deadLetterStatements(options, table, names.predictionsQueue, names.deadPredictionsView);
  return [
    ...deadLetters.table,
    `CREATE TABLE ${table(names.predictionsQueue)} (${columns.join(', ')}) ${engineClause(options, options.topic, options.group)}`,
    `CREATE MATERIALIZED VIEW ${table(names.predictionsView)} TO ${predictions} AS ` +
      `SELECT ${selected.join(', ')} FROM ${table(names.predictionsQueue)} WHERE ${checks.join(' AND ')}`,
    ...deadLetters.view,
    ingestLedgerDDL(table(names.ledgerView), ledger, table(names.predictionsView), options.model),
    ledgerCatchUpSql(ledger, predictions, options.model, 'ingested_at >= (toUInt64(now()) - 3600) * 1000'),
  ];
}

/** The statements of the labels' queue table and view (a label without `ts` is dated when it is read). */
function labelStatements(options: KafkaIngestionOptions, topic: string, table: (name: string) => string): string[] {
  const names = kafkaTableNames(options.model);
  const kind = options.labelKind;
  if (!kind) {
    throw new InvalidIdentifierError('A labels topic needs the JSON type of its labels (numeric or categorical).');
  }
  const numeric = kind === 'numeric';
  const selected = [
    'id',
    `${numeric ? 'label' : NULL_OF.numeric} AS label_num`,
    `${numeric ? NULL_OF.categorical : 'label'} AS label_cat`,
    'ifNull(ts, toInt64(now()) * 1000) AS ts',
    'toUInt64(now()) * 1000 AS ingested_at',
  ];
  const checks = [
    ...parsedCheck(options),
    "id != ''",
    'lengthUTF8(id) <= 256',
    'label IS NOT NULL',
    numeric ? finiteOrNull('label') : "label != ''",
    '(ts IS NULL OR (ts >= 100000000000 AND ts <= 10000000000000))',
  ];
  const deadLetters = deadLetterStatements(options, table, names.labelsQueue, names.deadLabelsView);
  return [
    ...deadLetters.table,
    `CREATE TABLE ${table(names.labelsQueue)} (\`id\` String, \`label\` ${TYPE[kind]}, \`ts\` Nullable(Int64)) ` +
      engineClause(options, topic, `${options.group}_labels`),
    `CREATE MATERIALIZED VIEW ${table(names.labelsView)} TO ${table(labelsTableName(options.model))} AS ` +
      `SELECT ${selected.join(', ')} FROM ${table(names.labelsQueue)} WHERE ${checks.join(' AND ')}`,
    ...deadLetters.view,
  ];
}

/**
 * The statements making a model's Kafka ingestion, in the order to run them (each view after what it reads; a queue
 * starts consuming when its first view exists, so the ledger's view comes at once after the rows' view). Names are validated and quoted, values written as literals.
 */
export function kafkaIngestionStatements(options: KafkaIngestionOptions): string[] {
  validateIdentifier(options.model, 'model name');
  const table = (name: string) =>
    `${quoteIdentifier(options.database, 'clickhouse', 'ClickHouse database name')}.${quoteIdentifier(name, 'clickhouse')}`;
  return [
    ...predictionStatements(options, table),
    ...(options.labelsTopic === undefined ? [] : labelStatements(options, options.labelsTopic, table)),
  ];
}

/**
 * The statements removing a model's Kafka ingestion (views first, so nothing is consumed and then lost); the dead
 * letters table stays.
 */
export function dropKafkaIngestionStatements(model: string, database: string): string[] {
  const names = kafkaTableNames(model);
  const db = quoteIdentifier(database, 'clickhouse', 'ClickHouse database name');
  const views = [
    names.ledgerView,
    names.predictionsView,
    names.deadPredictionsView,
    names.labelsView,
    names.deadLabelsView,
  ];
  return [...views, names.predictionsQueue, names.labelsQueue].map(
    (name) => `DROP TABLE IF EXISTS ${db}.${quoteIdentifier(name, 'clickhouse')}`
  );
}

/** The users.xml snippet an old server's default profile needs (settingsPlace 'profile'). */
export function profileSnippet(): string {
  const lines = Object.entries(PROFILE_SETTINGS).map(([name, value]) => `      <${name}>${value}</${name}>`);
  return ['<yandex><profiles><default>', ...lines, '</default></profiles></yandex>'].join('\n');
}

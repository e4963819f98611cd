/**
 * `mlmon clickhouse kafka-ddl`: the statements with which ClickHouse's own Kafka engine feeds a model's tables
 * (src/server/store/clickhouse-kafka.ts), made from the model's schema in the store; printed, or run with --apply.
 */
import { parseArgs } from 'node:util';
import { ClickHouseStore } from '../store/clickhouse';
import {
  dropKafkaIngestionStatements,
  kafkaIngestionStatements,
  kafkaSettingsPlace,
  PROFILE_SETTINGS,
  profileSnippet,
} from '../store/clickhouse-kafka';
import { labelsTableName, predictionsTableName } from '../store/clickhouse-names';
import { quoteIdentifier, validateIdentifier } from '../store/identifiers';
import { openStore, STORE_FLAGS, STORE_FLAGS_HELP, storeOptionsFromFlags } from '../store/open';
import type { FeatureKind } from '../store/types';
import { handleErrors, InputError, UsageError, type Command } from './command';

const HELP = `Usage: mlmon clickhouse kafka-ddl --model NAME --brokers HOST:PORT[,…] --topic TOPIC [options] --clickhouse URL
       mlmon clickhouse kafka-ddl --model NAME --drop [--apply] --clickhouse URL

Prints (or runs, with --apply) the statements with which ClickHouse's Kafka engine reads the collector's record
format (JSON, one record per message) from TOPIC into the model's tables: a Kafka table and a materialized view
into predictions_<model> (and the same for labels with --labels-topic). The model must exist in the store (one
record ingested, e.g. with 'mlmon ingest'): its features make the columns. Features added later are not read
until the statements are made again (--replace). What this path does not do that the collector does: README,
"ClickHouse's Kafka engine (alternative)".

Options:
  --model NAME                  the model
  --brokers LIST                Kafka bootstrap servers, host:port[,host:port…]
  --topic TOPIC                 the predictions' topic
  --labels-topic TOPIC          the labels' topic (records {"id", "label", "ts"?})
  --group NAME                  consumer group (default mlmon_<model>; labels use <group>_labels)
  --prediction-type numeric|categorical   JSON type of "prediction" (default: what the model's rows hold)
  --label-type numeric|categorical        JSON type of "label" (default: what the model's labels hold)
  --apply                       run the statements instead of printing them
  --replace                     drop the model's Kafka tables and views first (offsets stay with the group)
  --drop                        only drop them (before 'mlmon models delete'); the dead letters table stays

${STORE_FLAGS_HELP}
`;

const FLAGS = {
  ...STORE_FLAGS,
  model: { type: 'string' },
  brokers: { type: 'string' },
  topic: { type: 'string' },
  'labels-topic': { type: 'string' },
  group: { type: 'string' },
  'prediction-type': { type: 'string' },
  'label-type': { type: 'string' },
  apply: { type: 'boolean' },
  replace: { type: 'boolean' },
  drop: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A required string flag, or a usage error naming it. */
function required(value: string | undefined, flag: string): string {
  if (!value) {
    throw new UsageError(`--${flag} is required`);
  }
  return value;
}

/** A --…-type flag's kind, or undefined when not given. */
function kindFlag(value: string | undefined, flag: string): FeatureKind | undefined {
  if (value !== undefined && value !== 'numeric' && value !== 'categorical') {
    throw new UsageError(`--${flag} must be numeric or categorical, not ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * The kind a column pair holds in a sample of the table's rows: numeric when only `num` has values, categorical
 * when only `cat` has; undefined when neither or both (the user must say).
 */
async function storedKind(
  store: ClickHouseStore,
  table: string,
  num: string,
  cat: string
): Promise<FeatureKind | undefined> {
  const [row] = await store.query<{ num: number; cat: number }>(
    `SELECT countIf(${num} IS NOT NULL) AS num, countIf(${cat} IS NOT NULL) AS cat FROM ` +
      `(SELECT ${num}, ${cat} FROM ${table} LIMIT 100000)`
  );
  const [hasNum, hasCat] = [Number(row?.num) > 0, Number(row?.cat) > 0];
  return hasNum === hasCat ? undefined : hasNum ? 'numeric' : 'categorical';
}

/** The given kind, else the stored one, else a usage error asking for the flag. */
async function kindOf(given: FeatureKind | undefined, flag: string, stored: () => Promise<FeatureKind | undefined>) {
  const kind = given ?? (await stored());
  if (!kind) {
    throw new UsageError(`the model's rows do not tell the JSON type: give --${flag} numeric or categorical`);
  }
  return kind;
}

/** Settings of this session that differ from what an old server's default profile needs. */
async function missingProfileSettings(store: ClickHouseStore): Promise<string[]> {
  const rows = await store.query<{ name: string; value: string }>(
    'SELECT name, value FROM system.settings WHERE has({names}, name)',
    { names: Object.keys(PROFILE_SETTINGS) }
  );
  const values = new Map(rows.map((r) => [r.name, r.value]));
  return Object.entries(PROFILE_SETTINGS)
    .filter(([name, value]) => values.get(name) !== String(value))
    .map(([name, value]) => `${name}=${value}`);
}

type Flags = ReturnType<typeof parseArgs<{ options: typeof FLAGS }>>['values'];

/** The statements making the model's Kafka ingestion, from its schema and the flags. */
async function ingestionStatements(store: ClickHouseStore, values: Flags, model: string, database: string) {
  const features = await store.getFeatures(model);
  if (features.length === 0 || !(await store.listModels()).includes(model)) {
    throw new InputError(`model ${model} has no schema in ${store.description}: ingest one of its records first`);
  }
  const predictionKind = await kindOf(kindFlag(values['prediction-type'], 'prediction-type'), 'prediction-type', () =>
    storedKind(store, quoteIdentifier(predictionsTableName(model), 'clickhouse'), 'prediction_num', 'prediction_cat')
  );
  const labelsTopic = values['labels-topic'];
  const labelKind =
    labelsTopic === undefined
      ? undefined
      : await kindOf(kindFlag(values['label-type'], 'label-type'), 'label-type', () =>
          storedKind(store, quoteIdentifier(labelsTableName(model), 'clickhouse'), 'label_num', 'label_cat')
        );
  return kafkaIngestionStatements({
    model,
    features,
    brokers: required(values.brokers, 'brokers'),
    topic: required(values.topic, 'topic'),
    labelsTopic,
    group: values.group ?? `mlmon_${model}`,
    predictionKind,
    labelKind,
    database,
    settingsPlace: kafkaSettingsPlace(store.serverVersion),
  });
}

/** What an old server's default profile needs, and the users.d snippet that sets it. */
function profileNote(version: string): string {
  const settings = Object.entries(PROFILE_SETTINGS).map(([k, v]) => `${k}=${v}`);
  return (
    `ClickHouse ${version} reads Kafka messages with the server's default profile, which needs ` +
    `${settings.join(', ')} (users.xml or users.d/, then the server reloads it):\n${profileSnippet()}`
  );
}

async function kafkaDdl(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const model = validateIdentifier(required(values.model, 'model'), 'model name');
  const options = storeOptionsFromFlags(values);
  if (options.kind !== 'clickhouse') {
    throw new UsageError("the Kafka engine is ClickHouse's: give --clickhouse URL (the store of the model)");
  }
  const database = options.database ?? 'default';
  const store = (await openStore(options)) as ClickHouseStore;
  try {
    const drop = values.drop || values.replace ? dropKafkaIngestionStatements(model, database) : [];
    const statements = values.drop ? drop : [...drop, ...(await ingestionStatements(store, values, model, database))];
    const needsProfile = !values.drop && kafkaSettingsPlace(store.serverVersion) === 'profile';
    if (!values.apply) {
      const note = needsProfile ? profileNote(store.serverVersion).replace(/^/gm, '-- ') + '\n' : '';
      process.stdout.write(`${note}${statements.map((s) => `${s};\n`).join('\n')}`);
      return 0;
    }
    const missing = needsProfile ? await missingProfileSettings(store) : [];
    if (missing.length > 0) {
      throw new InputError(
        `this session lacks ${missing.join(', ')}; nothing applied. ${profileNote(store.serverVersion)}`
      );
    }
    await store.runStatements(statements);
    process.stderr.write(`mlmon clickhouse: ${statements.length} statements applied for model ${model}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<number>> = { 'kafka-ddl': kafkaDdl };

async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const subcommand = sub === undefined ? undefined : SUBCOMMANDS[sub];
  if (!subcommand) {
    if (sub === '--help' || sub === '-h') {
      process.stdout.write(HELP);
      return 0;
    }
    throw new UsageError(`unknown sub-command ${JSON.stringify(sub ?? '')}: use kafka-ddl`);
  }
  return subcommand(rest);
}

export const command: Command = {
  summary: "ClickHouse's own Kafka engine feeding a model's tables (kafka-ddl)",
  run: handleErrors('clickhouse', run),
};

/**
 * `mlmon serve`'s Kafka flags: brokers, topics (one per model, or shared with the model named in each record), the
 * consumer group, the dead-letter topic, and SASL/TLS. Secrets (the SASL password, the TLS key) come from files or
 * the environment, never from a command-line value that other users could read in the process list.
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { KafkaRoute, KafkaSourceConfig } from '../collector/kafka/config';
import { checkModelName } from '../collector/validate';
import { UsageError } from './command';

export const KAFKA_FLAGS = {
  'kafka-brokers': { type: 'string' },
  'kafka-topic': { type: 'string', multiple: true },
  'kafka-labels-topic': { type: 'string', multiple: true },
  'kafka-group': { type: 'string' },
  'kafka-model-field': { type: 'string' },
  'kafka-dead-letter-topic': { type: 'string' },
  'kafka-client-id': { type: 'string' },
  'kafka-sasl-mechanism': { type: 'string' },
  'kafka-sasl-username': { type: 'string' },
  'kafka-sasl-password-file': { type: 'string' },
  'kafka-tls': { type: 'boolean' },
  'kafka-tls-ca-file': { type: 'string' },
  'kafka-tls-cert-file': { type: 'string' },
  'kafka-tls-key-file': { type: 'string' },
  'kafka-tls-key-password-file': { type: 'string' },
} as const;

export const KAFKA_FLAGS_HELP = `Kafka (records consumed as well as, or instead of, POSTed):
  --kafka-brokers H:P,H:P   bootstrap brokers; turns the Kafka consumer on
  --kafka-topic T[=MODEL]   a topic of prediction records (repeat, or comma-separate): T=MODEL when the topic
                            holds one model's records; T alone when each record names its model in the field
                            --kafka-model-field (default "model"; the record is parsed once more to read it)
  --kafka-labels-topic T[=MODEL]
                            a topic of late labels {"id", "label", "ts"?}, mapped the same way
  --kafka-group G           consumer group (default mlmon-collector): collectors in one group share the
                            partitions; give each its own --state-dir (and, on the embedded store, its own
                            --data-dir — several collectors writing one store need ClickHouse)
  --kafka-model-field F     record field naming the model on topics without =MODEL (default model)
  --kafka-dead-letter-topic T
                            refused records are also produced to T (same key and value; headers mlmon-reason,
                            mlmon-code, mlmon-model, mlmon-source = topic/partition/offset)
  --kafka-client-id ID      client id shown to the brokers (default mlmon-collector)
  --kafka-sasl-mechanism M  PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
  --kafka-sasl-username U   SASL user (or $MLMON_KAFKA_SASL_USERNAME)
  --kafka-sasl-password-file F
                            file holding the SASL password (or $MLMON_KAFKA_SASL_PASSWORD); never a flag value
  --kafka-tls               connect with TLS (the system's certificate authorities unless --kafka-tls-ca-file)
  --kafka-tls-ca-file F     PEM certificate authorities for the brokers
  --kafka-tls-cert-file F   PEM client certificate (mutual TLS), with --kafka-tls-key-file F (its private key)
  --kafka-tls-key-password-file F
                            file holding the password of an encrypted --kafka-tls-key-file
                            (or $MLMON_KAFKA_TLS_KEY_PASSWORD); never a flag value

Delivery from Kafka: offsets are committed only after a batch's records are durable — accepted ones fsynced in
the write-ahead log, refused ones in the dead-letter area (and on the dead-letter topic) — so a crash, a broker
restart or a rebalance re-delivers what was not committed: at least once from Kafka. The collector stores a
re-delivered prediction once, since a (model, version, id) it has seen is a duplicate: exactly once in the store
within the de-duplication horizon — the latest 500 000 predictions per model, and after a restart those the store
ingested within two days of its newest record. A re-delivered label replaces the same label. While the backlog is
over --max-backlog-bytes (or the disk below --min-free-bytes) the consumer pauses its partitions — nothing is
dropped — and resumes once it drains. /healthz and /metrics show the lag per partition, paused, the last commit
and the errors.`;

type FlagValues = {
  [K in keyof typeof KAFKA_FLAGS]?: (typeof KAFKA_FLAGS)[K]['type'] extends 'boolean'
    ? boolean
    : (typeof KAFKA_FLAGS)[K] extends { multiple: true }
      ? string[]
      : string;
};

const MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

/** Reads a secret or certificate file, saying which flag named it when it cannot be read (never its content). */
function readFlagFile(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --${flag} ${file}: ${(error as NodeJS.ErrnoException).code}`);
  }
}

/** Topics of one kind from repeated, comma-separated T[=MODEL] values. */
export function parseRoutes(values: string[] | undefined, kind: KafkaRoute['kind'], flag: string): KafkaRoute[] {
  return (values ?? [])
    .flatMap((value) => value.split(','))
    .map((spec) => spec.trim())
    .filter(Boolean)
    .map((spec) => {
      const match = /^([A-Za-z0-9._-]{1,249})(?:=(.+))?$/.exec(spec);
      if (!match) {
        throw new UsageError(`--${flag} ${spec} is not TOPIC or TOPIC=MODEL (topic names: letters, digits, . _ -)`);
      }
      const model = match[2];
      const problem = model === undefined ? undefined : checkModelName(model);
      if (problem) {
        throw new UsageError(`--${flag} ${spec}: ${problem}`);
      }
      return { topic: match[1], kind, ...(model === undefined ? {} : { model }) };
    });
}

/** The Kafka source the flags and environment describe, or undefined without --kafka-brokers. */
/** PEM markers of an encrypted private key (PKCS#8, and the traditional OpenSSL header). */
const ENCRYPTED_PEM = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/;

/**
 * Refuses, before any connection, a client key that cannot be read: an encrypted one without its password or with a
 * wrong one, or no PEM private key at all. The messages name the flags, never the key or the password.
 */
function checkClientKey(key: string, passphrase: string | undefined): void {
  try {
    createPrivateKey({ key, format: 'pem', passphrase });
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'unreadable';
    if (!ENCRYPTED_PEM.test(key)) {
      throw new UsageError(`--kafka-tls-key-file holds no PEM private key that can be read (${code})`);
    }
    throw new UsageError(
      passphrase === undefined
        ? 'the key in --kafka-tls-key-file cannot be read: it is encrypted; give its password in ' +
            '--kafka-tls-key-password-file (or $MLMON_KAFKA_TLS_KEY_PASSWORD), or the key unencrypted'
        : 'the password in --kafka-tls-key-password-file does not decrypt the key in --kafka-tls-key-file: give ' +
            'the password the key was encrypted with'
    );
  }
}

export function kafkaFromFlags(
  values: FlagValues,
  env: NodeJS.ProcessEnv = process.env
): KafkaSourceConfig | undefined {
  const given = Object.keys(KAFKA_FLAGS).filter((flag) => values[flag as keyof FlagValues] !== undefined);
  if (!values['kafka-brokers']) {
    if (given.length) {
      throw new UsageError(`${given.map((flag) => `--${flag}`).join(', ')} need --kafka-brokers`);
    }
    return undefined;
  }
  const brokers = values['kafka-brokers']
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  const badBroker = brokers.find((broker) => !/^(?:\[[^\]]+\]|[^:\s]+):\d{1,5}$/.test(broker));
  if (badBroker !== undefined || !brokers.length) {
    throw new UsageError(`--kafka-brokers ${values['kafka-brokers']} is not HOST:PORT[,HOST:PORT…]`);
  }
  const routes = [
    ...parseRoutes(values['kafka-topic'], 'predictions', 'kafka-topic'),
    ...parseRoutes(values['kafka-labels-topic'], 'labels', 'kafka-labels-topic'),
  ];
  if (!routes.length) {
    throw new UsageError('--kafka-brokers needs at least one --kafka-topic (or --kafka-labels-topic)');
  }
  const repeated = routes.find((route, i) => routes.findIndex((r) => r.topic === route.topic) !== i);
  if (repeated) {
    throw new UsageError(`topic ${repeated.topic} is given twice: a topic holds one model's (or one kind of) records`);
  }
  const config: KafkaSourceConfig = {
    brokers,
    routes,
    groupId: values['kafka-group'] ?? 'mlmon-collector',
    clientId: values['kafka-client-id'] ?? 'mlmon-collector',
    modelField: values['kafka-model-field'] ?? 'model',
    ...(values['kafka-dead-letter-topic'] ? { deadLetterTopic: values['kafka-dead-letter-topic'] } : {}),
  };
  if (config.deadLetterTopic && routes.some((route) => route.topic === config.deadLetterTopic)) {
    throw new UsageError('--kafka-dead-letter-topic must not be one of the consumed topics');
  }
  const mechanism = values['kafka-sasl-mechanism']?.toUpperCase();
  if (mechanism !== undefined) {
    if (!(MECHANISMS as readonly string[]).includes(mechanism)) {
      throw new UsageError(
        `--kafka-sasl-mechanism ${values['kafka-sasl-mechanism']} is not one of ${MECHANISMS.join(', ')}`
      );
    }
    const username = values['kafka-sasl-username'] ?? env.MLMON_KAFKA_SASL_USERNAME;
    const file = values['kafka-sasl-password-file'];
    const password = file ? readFlagFile('kafka-sasl-password-file', file).trim() : env.MLMON_KAFKA_SASL_PASSWORD;
    if (!username || !password) {
      throw new UsageError(
        '--kafka-sasl-mechanism needs a user (--kafka-sasl-username or $MLMON_KAFKA_SASL_USERNAME) and a password ' +
          '(--kafka-sasl-password-file or $MLMON_KAFKA_SASL_PASSWORD)'
      );
    }
    config.sasl = { mechanism: mechanism as (typeof MECHANISMS)[number], username, password };
  } else if (values['kafka-sasl-username'] || values['kafka-sasl-password-file']) {
    throw new UsageError('--kafka-sasl-username and --kafka-sasl-password-file need --kafka-sasl-mechanism');
  }
  const tlsFiles = { ca: 'kafka-tls-ca-file', cert: 'kafka-tls-cert-file', key: 'kafka-tls-key-file' } as const;
  if (values['kafka-tls'] || Object.values(tlsFiles).some((flag) => values[flag])) {
    if (!values['kafka-tls-cert-file'] !== !values['kafka-tls-key-file']) {
      throw new UsageError('--kafka-tls-cert-file and --kafka-tls-key-file go together (mutual TLS)');
    }
    config.tls = {};
    for (const [key, flag] of Object.entries(tlsFiles)) {
      const file = values[flag];
      if (file) {
        config.tls[key as keyof typeof tlsFiles] = readFlagFile(flag, file);
      }
    }
    const passwordFile = values['kafka-tls-key-password-file'];
    const keyPassword = passwordFile
      ? readFlagFile('kafka-tls-key-password-file', passwordFile).trim()
      : env.MLMON_KAFKA_TLS_KEY_PASSWORD;
    if (keyPassword) {
      config.tls.passphrase = keyPassword;
    }
    if (config.tls.key !== undefined) {
      checkClientKey(config.tls.key, config.tls.passphrase);
    }
  }
  if (values['kafka-tls-key-password-file'] && !values['kafka-tls-key-file']) {
    throw new UsageError('--kafka-tls-key-password-file is the password of --kafka-tls-key-file: give that too');
  }
  return config;
}

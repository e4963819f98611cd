/**
 * What the Kafka source of the collector is told (plain data: it crosses into the collector thread and the Kafka thread). Built from
 * `mlmon serve --kafka-…` by cli/kafka-flags.ts.
 */
export type RecordKind = 'predictions' | 'labels';

/** A subscribed topic: its records are predictions or labels, of `model`, or of the model named in each record. */
export interface KafkaRoute {
  topic: string;
  kind: RecordKind;
  /** Undefined: each record names its model in the field `KafkaSourceConfig.modelField`. */
  model?: string;
}

export interface KafkaSourceConfig {
  brokers: string[];
  routes: KafkaRoute[];
  groupId: string;
  clientId: string;
  /** The record field naming the model on topics without a model of their own. */
  modelField: string;
  /** Refused records are also produced here, with the reason in headers. */
  deadLetterTopic?: string;
  sasl?: { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: string };
  /**
   * PEM texts (read from files by the flags) and the password of an encrypted key; `{}` is TLS with the system's
   * certificate authorities.
   */
  tls?: { ca?: string; cert?: string; key?: string; passphrase?: string };
  /** Longest wait for more records before a partial batch is written (default 100 ms). */
  batchWaitMs?: number;
}

/** A partition's key in the maps both threads keep per partition (Kafka topic names are [a-zA-Z0-9._-]). */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** The topic and partition of a partitionKey. */
export function partitionOfKey(key: string): { topic: string; partition: number } {
  const at = key.lastIndexOf('\u0000');
  return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)) };
}

/**
 * The wait before the `attempt`-th (from 0) restart of something that failed — a consumer, a connection, the Kafka
 * thread: 0.5 s, doubling, at most 10 s.
 */
export function restartDelayMs(attempt: number): number {
  return Math.min(10_000, 500 * 2 ** attempt);
}

/** The dead-letter area's directory for records whose model could not be read (not a valid model name: a `-`). */
export const UNROUTED_MODEL_DIR = 'kafka-unrouted';

/** Replaces every occurrence of the configuration's secrets in a text (error messages may quote configuration). */
export function secretRedactor(config: KafkaSourceConfig): (text: string) => string {
  const present = [config.sasl?.password, config.tls?.key, config.tls?.passphrase].filter(
    (s): s is string => !!s && s.length >= 4
  );
  return (text) => present.reduce((out, secret) => out.split(secret).join('[redacted]'), text);
}

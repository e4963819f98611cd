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
  /** PEM texts (read from files by the flags); `{}` is TLS with the system's certificate authorities. */
  tls?: { ca?: string; cert?: string; key?: string };
  /** Longest wait for more records before a partial batch is written (default 100 ms). */
  batchWaitMs?: number;
}

/** The dead-letter area's directory for records whose model could not be read (not a valid model name: a `-`). */
export const UNROUTED_MODEL_DIR = 'kafka-unrouted';

/** Replaces every occurrence of the configuration's secrets in a text (error messages may quote configuration). */
export function secretRedactor(config: KafkaSourceConfig): (text: string) => string {
  const present = [config.sasl?.password, config.tls?.key].filter((s): s is string => !!s && s.length >= 4);
  return (text) => present.reduce((out, secret) => out.split(secret).join('[redacted]'), text);
}

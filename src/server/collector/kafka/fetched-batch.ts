/**
 * A batch of fetched Kafka records as it crosses from the Kafka thread (fetch-thread.ts) to the collector thread
 * (consumer.ts): the values that can be lines, grouped by model and kind, concatenated as NDJSON in one buffer that
 * is transferred, not copied — the accept path parses each group's bytes like an HTTP body, and no JavaScript
 * object per record crosses threads. Per line only two typed arrays travel (where it came from: partition and
 * offset), for the dead letters of a group refused whole. Records that cannot be a line, or name no model, are
 * refused here, in the Kafka thread, and travel as dead letters (rare).
 */
import { checkModelName } from '../validate';
import type { DeadLetter } from '../deadletter';
import { partitionKey, UNROUTED_MODEL_DIR, type KafkaRoute, type RecordKind } from './config';
import { asLine, letterFor, lineProblem } from './lines';

/** The part of a fetched record the batch needs (a `@platformatic/kafka` message has these fields). */
export interface FetchedRecord {
  topic: string;
  partition: number;
  offset: bigint;
  value: Buffer | undefined | null;
}

/** One model and kind's lines: `body.subarray(start, end)` is their NDJSON, one line per record. */
export interface BatchGroup {
  model: string;
  kind: RecordKind;
  start: number;
  end: number;
  /** Per line: the index in `FetchedBatch.partitions` of the partition it was read from. */
  partitionOf: Uint16Array;
  /** Per line: its offset in that partition. */
  offsets: BigInt64Array;
}

/** What is posted to the collector thread (`body` is transferred). */
export interface FetchedBatch {
  id: number;
  body: Uint8Array;
  groups: BatchGroup[];
  partitions: Array<{ topic: string; partition: number }>;
  /** Records refused before they could be a line, as dead letters of the local area. */
  letters: DeadLetter[];
  /** Records of the batch per topic (handled = made durable or dead-lettered). */
  perTopic: Array<[string, number]>;
}

/** A record refused in either thread, on its way to the dead-letter topic. */
export interface Refusal<R> {
  record: R;
  model: string;
  code: string;
  reason: string;
}

/** The Kafka thread's side of a posted batch: the records behind each group's lines and the records refused. */
export interface BatchRecords<R> {
  groups: R[][];
  refused: Array<Refusal<R>>;
}

/** The model a record names in `field` (topics shared by several models), or why it names none. */
export function modelOfRecord(value: Buffer, field: string): { model: string } | { code: string; reason: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (err) {
    return { code: 'invalid_json', reason: `the record is not valid JSON (${(err as Error).message})` };
  }
  const model = (parsed as Record<string, unknown> | null)?.[field];
  if (typeof model !== 'string') {
    return { code: 'missing_field', reason: `the record has no "${field}" string naming its model` };
  }
  const problem = checkModelName(model);
  return problem ? { code: 'invalid_value', reason: problem } : { model };
}

/** A group under construction: the lines (views of the values) and the records behind them. */
interface OpenGroup<R> {
  model: string;
  kind: RecordKind;
  lines: Buffer[];
  records: R[];
  bytes: number;
}

/**
 * Builds the batch of `records` (at most the collector's batch size, so each group fits one accept): routes each
 * record by its topic (or the model field of a shared topic), refuses what cannot be a line, and copies the lines
 * into one buffer, group after group.
 */
export function buildBatch<R extends FetchedRecord>(
  id: number,
  records: R[],
  routes: Map<string, KafkaRoute>,
  modelField: string
): { batch: FetchedBatch; kept: BatchRecords<R> } {
  const open = new Map<string, OpenGroup<R>>();
  const refused: Array<Refusal<R>> = [];
  const letters: DeadLetter[] = [];
  const perTopic = new Map<string, number>();
  const refuse = (record: R, model: string, kind: RecordKind, problem: { code: string; reason: string }) => {
    refused.push({ record, model, ...problem });
    letters.push(letterFor(model, kind, record, problem, record.value));
  };
  for (const record of records) {
    perTopic.set(record.topic, (perTopic.get(record.topic) ?? 0) + 1);
    const route = routes.get(record.topic) as KafkaRoute;
    const problem = lineProblem(record.value);
    if (problem) {
      refuse(record, route.model ?? UNROUTED_MODEL_DIR, route.kind, problem);
      continue;
    }
    const value = record.value as Buffer;
    let model = route.model;
    if (model === undefined) {
      const named = modelOfRecord(value, modelField);
      if ('code' in named) {
        refuse(record, UNROUTED_MODEL_DIR, route.kind, named);
        continue;
      }
      model = named.model;
    }
    const key = `${route.kind}\u0000${model}`;
    let group = open.get(key);
    if (!group) {
      group = { model, kind: route.kind, lines: [], records: [], bytes: 0 };
      open.set(key, group);
    }
    const line = asLine(value);
    group.lines.push(line);
    group.records.push(record);
    group.bytes += line.length + 1;
  }
  const groups = [...open.values()];
  const { body, placed, partitions } = layOut(groups);
  return {
    batch: { id, body, groups: placed, partitions, letters, perTopic: [...perTopic] },
    kept: { groups: groups.map((group) => group.records), refused },
  };
}

/** Copies the groups' lines into one buffer of its own (transferable), each line ended by a line feed. */
function layOut<R extends FetchedRecord>(
  groups: Array<OpenGroup<R>>
): { body: Uint8Array; placed: BatchGroup[]; partitions: FetchedBatch['partitions'] } {
  const body = Buffer.allocUnsafeSlow(groups.reduce((sum, group) => sum + group.bytes, 0));
  const partitionIndex = new Map<string, number>();
  const partitions: FetchedBatch['partitions'] = [];
  const placed: BatchGroup[] = [];
  let at = 0;
  for (const group of groups) {
    const start = at;
    const partitionOf = new Uint16Array(group.lines.length);
    const offsets = new BigInt64Array(group.lines.length);
    group.lines.forEach((line, i) => {
      at += line.copy(body, at);
      body[at++] = 0x0a;
      const { topic, partition, offset } = group.records[i];
      const key = partitionKey(topic, partition);
      let index = partitionIndex.get(key);
      if (index === undefined) {
        index = partitions.push({ topic, partition }) - 1;
        partitionIndex.set(key, index);
      }
      partitionOf[i] = index;
      offsets[i] = offset;
    });
    placed.push({ model: group.model, kind: group.kind, start, end: at, partitionOf, offsets });
  }
  return { body, placed, partitions };
}

/** The dead letters of a group refused whole (its model is not served here): one per line, with its source. */
export function groupLetters(batch: FetchedBatch, group: BatchGroup, problem: { code: string; reason: string }) {
  const body = Buffer.from(batch.body.buffer, batch.body.byteOffset, batch.body.byteLength);
  const letters: DeadLetter[] = [];
  let start = group.start;
  for (let i = 0; i < group.offsets.length; i++) {
    const end = body.indexOf(0x0a, start);
    const where = { ...batch.partitions[group.partitionOf[i]], offset: group.offsets[i] };
    letters.push(letterFor(UNROUTED_MODEL_DIR, group.kind, where, problem, body.subarray(start, end)));
    start = end + 1;
  }
  return letters;
}

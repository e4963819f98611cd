/**
 * The collector's Kafka source: a consumer in a group (several collectors share the partitions) whose records go
 * through the same accept path as an HTTP batch (RecordSource: validation, sampling, de-duplication, dead letters,
 * the fsynced write-ahead log).
 *
 * Delivery: the offsets of a batch are committed only after every record of it is durable — accepted records in the
 * write-ahead log, refused ones in the local dead-letter area and on the dead-letter topic. A crash, a broker restart
 * or a rebalance re-delivers what was not committed (at least once from Kafka); the collector stores a re-delivered
 * prediction once, since (model, version, id) already seen is answered as a duplicate (its horizon: the latest
 * `recentIdsPerModel` predictions per model, and after a restart those the store ingested within two days of its
 * newest record).
 *
 * Back-pressure: while the collector refuses batches (backlog over --max-backlog-bytes, disk below its floor) the
 * consumer stops fetching (its partitions are paused; nothing is dropped or committed) and retries the batch it
 * holds, then resumes. A lost connection or a failed fetch restarts the consumer after a pause: what was fetched
 * and not committed is fetched again.
 */
import './node-compat';
import { Consumer, Producer, type Message, type MessagesStream } from '@platformatic/kafka';
import { CapacityError, type BatchResponse, type RecordSource } from '../collector';
import type { DeadLetter } from '../deadletter';
import { escapeLabelValue } from '../metrics';
import { checkModelName } from '../validate';
import { UNROUTED_MODEL_DIR, type KafkaRoute, type KafkaSourceConfig, type RecordKind } from './config';
import { asLine, letterFor, lineProblem, ndjsonBody } from './lines';
import { tlsFailureHint, watchConnectionErrors } from './tls-errors';

type KafkaMessage = Message<Buffer, Buffer, Buffer, Buffer>;

/** Records fetched and not yet handed to the collector above which fetching pauses (a few batches' worth). */
const MAX_PENDING_BATCHES = 4;
/** First and longest wait before the consumer is restarted after an error. */
const RESTART_DELAY_MS = [500, 10_000];
/** How often the group's committed offsets and the lag per partition are read from the broker. */
const LAG_INTERVAL_MS = 2_000;

export interface KafkaSource {
  /** Stops fetching, finishes and commits the batch under way, leaves the group. */
  stop(): Promise<void>;
}

/** One model and kind's share of a batch: its NDJSON lines and the messages behind them. */
interface Group {
  model: string;
  kind: RecordKind;
  lines: Buffer[];
  messages: KafkaMessage[];
}

/** A refused record on its way to the dead-letter topic. */
interface Refused {
  message: KafkaMessage;
  model: string;
  code: string;
  reason: string;
}

/** Replaces every occurrence of the secrets in a text (error messages may quote configuration). */
function redactor(secrets: Array<string | undefined>): (text: string) => string {
  const present = secrets.filter((s): s is string => !!s && s.length >= 4);
  return (text) => present.reduce((out, secret) => out.split(secret).join('[redacted]'), text);
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

export async function startKafkaSource(
  config: KafkaSourceConfig,
  collector: RecordSource,
  log: (line: string) => void
): Promise<KafkaSource> {
  const redact = redactor([config.sasl?.password, config.tls?.key]);
  const say = (line: string) => log(`kafka: ${redact(line)}`);
  const routes = new Map(config.routes.map((route) => [route.topic, route]));
  const topics = [...routes.keys()];
  const batchRecords = collector.maxBatchRecords;
  const batchWaitMs = config.batchWaitMs ?? 100;
  const connection = {
    clientId: config.clientId,
    bootstrapBrokers: config.brokers,
    ...(config.sasl ? { sasl: { ...config.sasl, password: () => config.sasl!.password } } : {}),
    ...(config.tls ? { tls: config.tls } : {}),
  };
  const producer = config.deadLetterTopic ? new Producer({ ...connection, acks: -1 }) : undefined;

  const state = {
    running: true,
    connected: false,
    pausedFor: undefined as string | undefined,
    lastCommitAt: undefined as number | undefined,
    committed: new Map<string, bigint>(),
    lag: new Map<string, number>(),
    consumed: new Map<string, number>(),
    deadLettered: 0,
    commits: 0,
    errors: 0,
    lastError: undefined as { at: number; message: string } | undefined,
    restarts: 0,
  };
  const noteError = (what: string, err: unknown) => {
    state.errors += 1;
    const hint = tlsFailureHint(err);
    const message = `${what}: ${(err as Error)?.message ?? String(err)}${hint ? ` — ${hint}` : ''}`;
    state.lastError = { at: Date.now(), message: redact(message) };
    say(state.lastError.message);
  };

  let consumer: Consumer | undefined;
  let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  let pending: KafkaMessage[] = [];
  let wake: (() => void) | undefined;
  const wakeUp = () => {
    wake?.();
    wake = undefined;
  };

  /** Pauses or resumes fetching for a reason (backlog, buffer); fetching runs when no reason holds. */
  const holdFetching = (reason: string | undefined) => {
    state.pausedFor = reason;
    if (reason) {
      stream?.pause();
    } else {
      stream?.resume();
    }
  };

  async function connect(): Promise<void> {
    const next = new Consumer({
      ...connection,
      groupId: config.groupId,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      rebalanceTimeout: 30_000,
      retries: 2,
      retryDelay: 500,
    });
    const connectionError = watchConnectionErrors(next);
    try {
      const opened = await next.consume({
        topics,
        mode: 'committed',
        fallbackMode: 'earliest',
        autocommit: false,
        maxWaitTime: batchWaitMs,
        maxBytes: 32 * 1024 * 1024,
      });
      consumer = next;
      stream = opened;
    } catch (err) {
      await next.close(true).catch(() => undefined);
      // The connection's own error, when it has one, tells why (tlsFailureHint looks into both).
      throw connectionError() ? new AggregateError([err, connectionError()], (err as Error).message) : err;
    }
    const current = stream;
    pending = [];
    current.on('data', (message: KafkaMessage) => {
      if (current !== stream) {
        return;
      }
      pending.push(message);
      if (pending.length >= batchRecords * MAX_PENDING_BATCHES && !state.pausedFor) {
        holdFetching('buffer');
      }
      if (pending.length >= batchRecords) {
        wakeUp();
      }
    });
    current.on('error', (err) => {
      if (current === stream) {
        noteError('the consumer failed, restarting it', err);
        void restart();
      }
    });
    state.connected = true;
    if (state.pausedFor) {
      current.pause();
    }
  }

  let restarting: Promise<void> | undefined;
  /** Drops the consumer and what it fetched (not committed: it is fetched again) and connects anew, with backoff. */
  function restart(): Promise<void> {
    restarting ??= (async () => {
      const old = consumer;
      stream = undefined;
      consumer = undefined;
      pending = [];
      state.connected = false;
      await old?.close(true).catch(() => undefined);
      for (let attempt = 0; state.running; attempt++) {
        await sleep(Math.min(RESTART_DELAY_MS[1], RESTART_DELAY_MS[0] * 2 ** attempt));
        if (!state.running) {
          break;
        }
        try {
          state.restarts += 1;
          await connect();
          say('consumer reconnected');
          break;
        } catch (err) {
          noteError('could not reconnect', err);
        }
      }
    })().finally(() => (restarting = undefined));
    return restarting;
  }

  /** Splits a batch by model and kind; records that cannot be a line, or name no model, are refused here. */
  function route(messages: KafkaMessage[]): { groups: Group[]; local: Refused[]; letters: Map<string, DeadLetter[]> } {
    const groups: Group[] = [];
    const open = new Map<string, Group>();
    const local: Refused[] = [];
    const letters = new Map<string, DeadLetter[]>();
    const refuse = (
      message: KafkaMessage,
      model: string,
      kind: RecordKind,
      problem: { code: string; reason: string }
    ) => {
      local.push({ message, model, ...problem });
      const list = letters.get(model) ?? [];
      list.push(letterFor(model, kind, message, problem, message.value));
      letters.set(model, list);
    };
    for (const message of messages) {
      const target = routes.get(message.topic) as KafkaRoute;
      const problem = lineProblem(message.value);
      let model = target.model;
      if (!problem && model === undefined) {
        const named = modelOfRecord(message.value, config.modelField);
        if ('code' in named) {
          refuse(message, UNROUTED_MODEL_DIR, target.kind, named);
          continue;
        }
        model = named.model;
      }
      if (problem) {
        refuse(message, model ?? UNROUTED_MODEL_DIR, target.kind, problem);
        continue;
      }
      const unserved = collector.modelProblem(model!);
      if (unserved) {
        refuse(message, UNROUTED_MODEL_DIR, target.kind, { code: 'unknown_model', reason: unserved });
        continue;
      }
      const key = `${target.kind}\u0000${model}`;
      let group = open.get(key);
      if (!group || group.lines.length >= batchRecords) {
        group = { model: model!, kind: target.kind, lines: [], messages: [] };
        open.set(key, group);
        groups.push(group);
      }
      group.lines.push(asLine(message.value));
      group.messages.push(message);
    }
    return { groups, local, letters };
  }

  /** Hands one group to the collector, retrying (with fetching paused) while it refuses batches for capacity. */
  async function acceptGroup(group: Group): Promise<BatchResponse> {
    const body = ndjsonBody(group.lines);
    for (;;) {
      try {
        return await collector.accept(group.model, group.kind, body);
      } catch (err) {
        if (!(err instanceof CapacityError) || !state.running) {
          throw err;
        }
        holdFetching('backlog');
        await sleep(200);
      }
    }
  }

  /** Produces refused records to the dead-letter topic with their reason in headers; resolves once acknowledged. */
  async function toDeadLetterTopic(refused: Refused[]): Promise<void> {
    if (!producer || !refused.length) {
      return;
    }
    await producer.send({
      messages: refused.map(({ message, model, code, reason }) => ({
        topic: config.deadLetterTopic!,
        key: message.key ?? undefined,
        value: message.value ?? undefined,
        headers: new Map<Buffer, Buffer>([
          [Buffer.from('mlmon-reason'), Buffer.from(reason)],
          [Buffer.from('mlmon-code'), Buffer.from(code)],
          [Buffer.from('mlmon-model'), Buffer.from(model)],
          [Buffer.from('mlmon-source'), Buffer.from(`${message.topic}/${message.partition}/${message.offset}`)],
        ]),
      })),
    });
    state.deadLettered += refused.length;
  }

  let committing = Promise.resolve();

  /** Makes a batch durable (log, dead letters, dead-letter topic), then commits its offsets. */
  async function handle(messages: KafkaMessage[], from: Consumer): Promise<void> {
    const { groups, local, letters } = route(messages);
    for (const [model, list] of letters) {
      await collector.deadLetter(model, list);
    }
    const outcomes = await Promise.all(groups.map(acceptGroup));
    const refused = [...local];
    outcomes.forEach((outcome, g) => {
      for (const error of outcome.errors) {
        refused.push({ message: groups[g].messages[error.index], model: groups[g].model, ...error });
      }
    });
    await toDeadLetterTopic(refused);
    for (const message of messages) {
      state.consumed.set(message.topic, (state.consumed.get(message.topic) ?? 0) + 1);
    }
    // Commits are chained, in batch order, while the next batch is already being made durable.
    committing = committing.then(() => commit(messages, from));
  }

  /** Commits, per partition, the offset after the batch's last record. A failed commit is re-read, not lost. */
  async function commit(messages: KafkaMessage[], from: Consumer): Promise<void> {
    const next = new Map<string, { topic: string; partition: number; offset: bigint; leaderEpoch: number }>();
    for (const message of messages) {
      next.set(`${message.topic}\u0000${message.partition}`, {
        topic: message.topic,
        partition: message.partition,
        offset: message.offset + BigInt(1),
        leaderEpoch: message.leaderEpoch,
      });
    }
    try {
      await from.commit({ offsets: [...next.values()] });
      state.commits += 1;
      state.lastCommitAt = Date.now();
      for (const [key, { offset }] of next) {
        state.committed.set(key, offset);
      }
    } catch (err) {
      noteError('could not commit offsets (the records are durable; they are read again and stored once)', err);
    }
  }

  /** Takes batches off the fetched records and handles them, one at a time, until stopped. */
  async function pump(): Promise<void> {
    while (state.running) {
      if (state.pausedFor && !collector.refusing() && pending.length < batchRecords) {
        holdFetching(undefined);
      }
      if (pending.length < batchRecords) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, batchWaitMs);
        });
      }
      const from = consumer;
      if (!pending.length || !from) {
        continue;
      }
      const batch = pending.length <= batchRecords ? pending : pending.slice(0, batchRecords);
      pending = pending.length <= batchRecords ? [] : pending.slice(batchRecords);
      try {
        await handle(batch, from);
      } catch (err) {
        noteError('a batch could not be made durable; it is read again', err);
        await restart();
      }
    }
  }

  /**
   * Reads, for the partitions assigned here, the group's committed offsets (also those committed before this
   * process started) and the lag: the partition's end offset minus the committed one.
   */
  async function readLag(): Promise<void> {
    const from = consumer;
    const assigned = from?.assignments ?? [];
    if (!from || !assigned.length) {
      return;
    }
    const [latest, committed] = await Promise.all([
      from.listOffsets({ topics: assigned.map((a) => a.topic) }),
      from.listCommittedOffsets({ topics: assigned }),
    ]);
    state.lag.clear();
    for (const { topic, partitions } of assigned) {
      for (const partition of partitions) {
        const key = `${topic}\u0000${partition}`;
        const done = committed.get(topic)?.[partition] ?? BigInt(-1);
        const position = done < BigInt(0) ? BigInt(0) : done;
        if (done >= BigInt(0) && done > (state.committed.get(key) ?? BigInt(-1))) {
          state.committed.set(key, done);
        }
        state.lag.set(key, Number((latest.get(topic)?.[partition] ?? position) - position));
      }
    }
  }
  let readingLag = false;
  const lagTimer = setInterval(() => {
    if (readingLag || !state.connected) {
      return;
    }
    readingLag = true;
    readLag()
      .catch((err) => noteError('could not read the lag', err))
      .finally(() => (readingLag = false));
  }, LAG_INTERVAL_MS);
  lagTimer.unref();

  for (let attempt = 0; ; attempt++) {
    try {
      await connect();
      break;
    } catch (err) {
      // A certificate the other side refuses stays refused: no retry.
      const hint = tlsFailureHint(err);
      if (attempt >= 4 || hint) {
        clearInterval(lagTimer);
        throw new Error(
          redact(
            `cannot consume from Kafka at ${config.brokers.join(',')}: ${(err as Error).message} — ` +
              (hint ?? 'check --kafka-brokers, that the topics exist, and the SASL/TLS settings')
          )
        );
      }
      noteError('could not connect, retrying', err);
      await sleep(RESTART_DELAY_MS[0] * 2 ** attempt);
    }
  }
  say(`consuming ${topics.join(', ')} as group ${config.groupId}`);
  const pumping = pump();

  collector.register({
    name: 'kafka',
    health: () => health(state, consumer),
    metrics: () => metricLines(state),
  });

  return {
    async stop() {
      state.running = false;
      clearInterval(lagTimer);
      wakeUp();
      await pumping;
      await committing;
      await restarting;
      state.connected = false;
      await consumer?.close(true).catch((err) => noteError('closing the consumer failed', err));
      await producer?.close().catch((err) => noteError('closing the dead-letter producer failed', err));
    },
  };
}

type SourceState = {
  connected: boolean;
  pausedFor: string | undefined;
  lastCommitAt: number | undefined;
  committed: Map<string, bigint>;
  lag: Map<string, number>;
  consumed: Map<string, number>;
  deadLettered: number;
  commits: number;
  errors: number;
  lastError: { at: number; message: string } | undefined;
  restarts: number;
};

/** Seconds an error stays a health problem. */
const ERROR_PROBLEM_MS = 60_000;

/** The consumer's /healthz section. */
function health(state: SourceState, consumer: Consumer | undefined) {
  const problems: string[] = [];
  if (!state.connected) {
    problems.push('the Kafka consumer is not connected; it reconnects by itself — check the brokers');
  }
  if (state.pausedFor === 'backlog') {
    problems.push('Kafka partitions are paused: the collector backlog is over its bound; they resume once it drains');
  }
  if (state.lastError && Date.now() - state.lastError.at < ERROR_PROBLEM_MS) {
    problems.push(`Kafka: ${state.lastError.message}`);
  }
  const perPartition = (map: Map<string, number | bigint>) =>
    [...map].map(([key, value]) => {
      const [topic, partition] = key.split('\u0000');
      return { topic, partition: Number(partition), value: Number(value) };
    });
  return {
    problems,
    connected: state.connected,
    paused: state.pausedFor !== undefined,
    pausedFor: state.pausedFor,
    assignments: consumer?.assignments ?? [],
    lag: perPartition(state.lag).map(({ value, ...at }) => ({ ...at, lag: value })),
    committed: perPartition(state.committed).map(({ value, ...at }) => ({ ...at, offset: value })),
    lastCommitAt: state.lastCommitAt === undefined ? undefined : new Date(state.lastCommitAt).toISOString(),
    errors: state.errors,
    lastError: state.lastError?.message,
    restarts: state.restarts,
  };
}

/** The consumer's /metrics lines. */
function metricLines(state: SourceState): string[] {
  const labels = (key: string) => {
    const [topic, partition] = key.split('\u0000');
    return `{topic="${escapeLabelValue(topic)}",partition="${partition}"}`;
  };
  const family = (name: string, type: string, help: string, samples: string[]) => [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} ${type}`,
    ...samples,
  ];
  return [
    ...family(
      'mlmon_collector_kafka_lag',
      'gauge',
      "Records on the partition after the group's committed offset (read every 2 s).",
      [...state.lag].map(([key, lag]) => `mlmon_collector_kafka_lag${labels(key)} ${lag}`)
    ),
    ...family(
      'mlmon_collector_kafka_records_total',
      'counter',
      'Kafka records handled (durable in the write-ahead log or as dead letters), by topic.',
      [...state.consumed].map(
        ([topic, n]) => `mlmon_collector_kafka_records_total{topic="${escapeLabelValue(topic)}"} ${n}`
      )
    ),
    ...family('mlmon_collector_kafka_paused', 'gauge', 'Partitions paused: 1 while the backlog is over its bound.', [
      `mlmon_collector_kafka_paused ${state.pausedFor === 'backlog' ? 1 : 0}`,
    ]),
    ...family('mlmon_collector_kafka_connected', 'gauge', '1 while the consumer is connected.', [
      `mlmon_collector_kafka_connected ${state.connected ? 1 : 0}`,
    ]),
    ...family('mlmon_collector_kafka_last_commit_timestamp_seconds', 'gauge', 'Time of the last offset commit.', [
      `mlmon_collector_kafka_last_commit_timestamp_seconds ${(state.lastCommitAt ?? 0) / 1000}`,
    ]),
    ...family('mlmon_collector_kafka_commits_total', 'counter', 'Offset commits.', [
      `mlmon_collector_kafka_commits_total ${state.commits}`,
    ]),
    ...family('mlmon_collector_kafka_dead_letters_total', 'counter', 'Records produced to the dead-letter topic.', [
      `mlmon_collector_kafka_dead_letters_total ${state.deadLettered}`,
    ]),
    ...family('mlmon_collector_kafka_errors_total', 'counter', 'Consumer errors (connection, fetch, commit).', [
      `mlmon_collector_kafka_errors_total ${state.errors}`,
    ]),
  ];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The Kafka thread: the `@platformatic/kafka` consumer (and the dead-letter producer) in a worker thread of its own,
 * so that decoding Kafka's record batches — a JavaScript object per record — never runs on the collector thread.
 * It cuts the fetched records into batches of at most the collector's batch size, posts each as one transferred
 * NDJSON buffer (fetched-batch.ts) and, once the collector thread answers that the batch is durable, produces its
 * refused records to the dead-letter topic and commits its offsets: in batch order, per partition, only partitions
 * still assigned here (a revoked partition's offsets are the new owner's to commit).
 *
 * At most MAX_IN_FLIGHT_BATCHES batches are posted and not yet committed; past that, and while the collector holds
 * fetching (backlog), the partitions are paused. A lost connection, a failed fetch or a batch the collector could not
 * make durable restarts the consumer after a pause: what was fetched and not committed is fetched again.
 */
import './node-compat';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { Consumer, Producer, type Message, type MessagesStream } from '@platformatic/kafka';
import { moduleWorkerData } from '../../worker-thread';
import { partitionKey, restartDelayMs, secretRedactor } from './config';
import { buildBatch, type BatchRecords, type Refusal } from './fetched-batch';
import { tlsFailureHint, watchConnectionErrors } from './tls-errors';
import type { FetchThreadData, FromFetchThread, LineRefusal, ToFetchThread } from './thread-messages';

type KafkaMessage = Message<Buffer, Buffer, Buffer, Buffer>;

/** Batches posted to the collector thread and not yet committed, above which fetching pauses. */
const MAX_IN_FLIGHT_BATCHES = 8;
/** Fetched records not yet posted, in batches, above which fetching pauses (the collector is behind). */
const MAX_PENDING_BATCHES = 4;
/**
 * Largest fetch response. Fetched values are views of their response, which stays in memory while any of its records
 * is pending or in flight; at 8 MiB (~16 000 records of 500 bytes) the 24 000 records that can be pending or in
 * flight hold a few responses, not the client's default of 50 MiB each.
 */
const FETCH_MAX_BYTES = 8 * 1024 * 1024;
/** Attempts to connect at the start before the collector's start fails (unless retrying forever). */
const START_ATTEMPTS = 5;
/** How often the group's committed offsets and the lag per partition are read from the broker. */
const LAG_INTERVAL_MS = 2_000;
/** Longest wait, when stopping, for the collector thread to make the batches in flight durable. */
const STOP_GRACE_MS = 30_000;

/** The offset to commit for one partition. */
interface CommitOffset {
  topic: string;
  partition: number;
  offset: bigint;
  leaderEpoch: number;
}

/** A posted batch: its records (for the dead-letter topic), the offsets it completes, and whether it is durable. */
interface InFlight {
  records: BatchRecords<KafkaMessage>;
  offsets: Map<string, CommitOffset>;
  durable: boolean;
}

/** Per partition, the offset after the last of `messages` (what a commit of them names). */
function nextOffsets(messages: KafkaMessage[]): Map<string, CommitOffset> {
  const next = new Map<string, CommitOffset>();
  for (const { topic, partition, offset, leaderEpoch } of messages) {
    next.set(partitionKey(topic, partition), { topic, partition, offset: offset + BigInt(1), leaderEpoch });
  }
  return next;
}

/** The partitions a consumer owns now, as `topic\0partition` keys. */
function ownedPartitions(consumer: Consumer): Set<string> {
  return new Set(
    (consumer.assignments ?? []).flatMap(({ topic, partitions }) => partitions.map((p) => partitionKey(topic, p)))
  );
}

/** Worker entry (worker-thread.ts): runs the Kafka thread until the collector thread says stop. */
export function runKafkaFetchThread(): void {
  const port = parentPort as MessagePort;
  void runFetching(moduleWorkerData<FetchThreadData>(workerData), port);
}

async function runFetching(data: FetchThreadData, port: MessagePort): Promise<void> {
  const { config, batchRecords } = data;
  const post = (message: FromFetchThread, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer);
  const redact = secretRedactor(config);
  const say = (line: string) => post({ type: 'log', line: redact(line) });
  const noteError = (what: string, err: unknown) => {
    const hint = tlsFailureHint(err);
    const message = `${what}: ${(err as Error)?.message ?? String(err)}${hint ? ` — ${hint}` : ''}`;
    post({ type: 'error', message: redact(message) });
  };
  const routes = new Map(config.routes.map((route) => [route.topic, route]));
  const topics = [...routes.keys()];
  const batchWaitMs = config.batchWaitMs ?? 100;
  const connection = {
    clientId: config.clientId,
    bootstrapBrokers: config.brokers,
    ...(config.sasl ? { sasl: { ...config.sasl, password: () => config.sasl!.password } } : {}),
    ...(config.tls ? { tls: config.tls } : {}),
  };
  const producer = config.deadLetterTopic ? new Producer({ ...connection, acks: -1 }) : undefined;

  let running = true;
  let consumer: Consumer | undefined;
  let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  let pending: KafkaMessage[] = [];
  let partialTimer: NodeJS.Timeout | undefined;
  const inFlight = new Map<number, InFlight>();
  let nextBatchId = 0;
  let postedBatches = 0;
  let heldBy: string | undefined;
  let pausedFor: string | undefined;
  let committing = Promise.resolve();
  let answered: (() => void) | undefined;

  /**
   * Pauses fetching while the collector holds it, too much waits or the thread stops; resumes otherwise; tells the
   * collector. Acts on a change only (it runs per fetched record), or when `force`d: the client resumes its streams
   * by itself after a rebalance.
   */
  const applyFetching = (force = false) => {
    const overfull = pending.length >= batchRecords * MAX_PENDING_BATCHES;
    const reason = !running ? 'stopping' : (heldBy ?? (overfull ? 'buffer' : undefined));
    if (reason === pausedFor && !force) {
      return;
    }
    if (reason) {
      stream?.pause();
    } else {
      stream?.resume();
    }
    if (reason !== pausedFor) {
      pausedFor = reason;
      post({ type: 'fetching', pausedFor });
    }
  };

  /** Posts batches of the pending records while there is room in flight: full ones, and a partial one if `partial`. */
  const postBatches = (partial: boolean) => {
    if (!running) {
      return;
    }
    while (pending.length && inFlight.size < MAX_IN_FLIGHT_BATCHES) {
      if (pending.length < batchRecords && !partial) {
        break;
      }
      const messages = pending.length <= batchRecords ? pending : pending.slice(0, batchRecords);
      pending = pending.length <= batchRecords ? [] : pending.slice(batchRecords);
      const { batch, kept } = buildBatch(nextBatchId++, messages, routes, config.modelField);
      inFlight.set(batch.id, { records: kept, offsets: nextOffsets(messages), durable: false });
      post({ type: 'batch', batch }, [batch.body.buffer as ArrayBuffer]);
      postedBatches += 1;
      if (postedBatches === data.throwAfterBatches) {
        setImmediate(() => {
          throw new Error(`test hook: the Kafka thread throws after posting ${postedBatches} batches`);
        });
      }
    }
    if (pending.length && !partialTimer) {
      partialTimer = setTimeout(() => {
        partialTimer = undefined;
        postBatches(true);
      }, batchWaitMs);
    }
    applyFetching();
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
    let opened: MessagesStream<Buffer, Buffer, Buffer, Buffer>;
    try {
      opened = await next.consume({
        topics,
        mode: 'committed',
        fallbackMode: 'earliest',
        autocommit: false,
        maxWaitTime: batchWaitMs,
        maxBytes: FETCH_MAX_BYTES,
      });
    } catch (err) {
      await next.close(true).catch(() => undefined);
      // The connection's own error, when it has one, tells why (tlsFailureHint looks into both).
      throw connectionError() ? new AggregateError([err, connectionError()], (err as Error).message) : err;
    }
    consumer = next;
    stream = opened;
    pending = [];
    opened.on('data', (message: KafkaMessage) => {
      if (opened === stream) {
        pending.push(message);
        postBatches(false);
      }
    });
    opened.on('error', (err) => {
      if (opened === stream) {
        noteError('the consumer failed, restarting it', err);
        void restart();
      }
    });
    next.on('consumer:group:join', () => {
      if (next === consumer) {
        // Records fetched from partitions this member no longer owns are the new owner's to read.
        const owned = ownedPartitions(next);
        pending = pending.filter((m) => owned.has(partitionKey(m.topic, m.partition)));
        post({ type: 'assignments', assignments: next.assignments ?? [] });
        applyFetching(true); // the client resumed its streams; a hold still holds
      }
    });
    post({ type: 'connected', connected: true });
    post({ type: 'assignments', assignments: next.assignments ?? [] });
    applyFetching(true);
  }

  let restarting: Promise<void> | undefined;
  /** Drops the consumer and what it fetched (not committed: it is fetched again) and connects anew, with backoff. */
  function restart(): Promise<void> {
    restarting ??= (async () => {
      const old = consumer;
      stream = undefined;
      consumer = undefined;
      pending = [];
      inFlight.clear();
      answered?.();
      post({ type: 'connected', connected: false });
      await old?.close(true).catch(() => undefined);
      for (let attempt = 0; running; attempt++) {
        await sleep(restartDelayMs(attempt));
        if (!running) {
          break;
        }
        try {
          post({ type: 'reconnected' });
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

  /** Produces refused records to the dead-letter topic with their reason in headers; resolves once acknowledged. */
  async function toDeadLetterTopic(refused: Array<Refusal<KafkaMessage>>): Promise<void> {
    if (!producer || !refused.length) {
      return;
    }
    await producer.send({
      messages: refused.map(({ record, model, code, reason }) => ({
        topic: config.deadLetterTopic!,
        key: record.key ?? undefined,
        value: record.value ?? undefined,
        headers: new Map<Buffer, Buffer>([
          [Buffer.from('mlmon-reason'), Buffer.from(reason)],
          [Buffer.from('mlmon-code'), Buffer.from(code)],
          [Buffer.from('mlmon-model'), Buffer.from(model)],
          [Buffer.from('mlmon-source'), Buffer.from(`${record.topic}/${record.partition}/${record.offset}`)],
        ]),
      })),
    });
    post({ type: 'dead-lettered', records: refused.length });
  }

  /** A durable batch: its refused records to the dead-letter topic, then the commits it completes. */
  async function onDurable(id: number, refusals: LineRefusal[]): Promise<void> {
    const batch = inFlight.get(id);
    if (!batch) {
      return; // fetched by a consumer since restarted: read again
    }
    const refused = batch.records.refused.concat(
      refusals.map(({ group, index, model, code, reason }) => ({
        record: batch.records.groups[group][index],
        model,
        code,
        reason,
      }))
    );
    try {
      await toDeadLetterTopic(refused);
    } catch (err) {
      noteError('could not produce to the dead-letter topic; the batch is read again', err);
      await restart();
      return;
    }
    batch.durable = true;
    commitDurable();
  }

  /** Commits the durable batches at the front of the posting order (per partition, the latest offset of them). */
  function commitDurable(): void {
    const offsets = new Map<string, CommitOffset>();
    for (const [id, batch] of inFlight) {
      if (!batch.durable) {
        break;
      }
      inFlight.delete(id);
      for (const [key, offset] of batch.offsets) {
        offsets.set(key, offset);
      }
    }
    const from = consumer;
    if (offsets.size && from) {
      committing = committing.then(() => commit(offsets, from));
    }
    answered?.();
    postBatches(false);
  }

  /** Commits offsets of the partitions `from` still owns. A failed commit is re-read, not lost. */
  async function commit(offsets: Map<string, CommitOffset>, from: Consumer): Promise<void> {
    const owned = ownedPartitions(from);
    const mine = [...offsets].filter(([key]) => owned.has(key)).map(([, offset]) => offset);
    if (!mine.length || from !== consumer) {
      return;
    }
    try {
      await from.commit({ offsets: mine });
      post({ type: 'committed', offsets: mine.map(({ topic, partition, offset }) => ({ topic, partition, offset })) });
    } catch (err) {
      noteError('could not commit offsets (the records are durable; they are read again and stored once)', err);
    }
  }

  /**
   * Reads, for the partitions assigned here, the group's committed offsets (also those committed before this
   * thread started) and the lag: the partition's end offset minus the committed one.
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
    const lag = assigned.flatMap(({ topic, partitions }) =>
      partitions.map((partition) => {
        const done = committed.get(topic)?.[partition] ?? BigInt(-1);
        const position = done < BigInt(0) ? BigInt(0) : done;
        return {
          topic,
          partition,
          committed: done,
          lag: Number((latest.get(topic)?.[partition] ?? position) - position),
        };
      })
    );
    post({ type: 'lag', lag });
    post({ type: 'assignments', assignments: assigned });
  }
  let readingLag = false;
  const lagTimer = setInterval(() => {
    if (readingLag || !consumer) {
      return;
    }
    readingLag = true;
    readLag()
      .catch((err) => noteError('could not read the lag', err))
      .finally(() => (readingLag = false));
  }, LAG_INTERVAL_MS);

  /** Stops fetching, waits (bounded) for the batches in flight to be durable and committed, leaves the group. */
  async function stop(): Promise<void> {
    running = false;
    clearInterval(lagTimer);
    clearTimeout(partialTimer);
    pending = [];
    applyFetching();
    const deadline = Date.now() + STOP_GRACE_MS;
    while (inFlight.size && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        answered = resolve;
        setTimeout(resolve, 100);
      });
    }
    await committing;
    await restarting;
    await consumer?.close(true).catch((err) => noteError('closing the consumer failed', err));
    await producer?.close().catch((err) => noteError('closing the dead-letter producer failed', err));
    post({ type: 'stopped' });
    port.close();
  }

  port.on('message', (message: ToFetchThread) => {
    if (message.type === 'durable') {
      void onDurable(message.id, message.refusals);
    } else if (message.type === 'failed') {
      if (inFlight.has(message.id)) {
        void restart();
      }
    } else if (message.type === 'hold') {
      heldBy = message.reason;
      applyFetching();
    } else {
      void stop();
    }
  });

  for (let attempt = 0; running; attempt++) {
    try {
      await connect();
      break;
    } catch (err) {
      // A certificate the other side refuses stays refused: no retry.
      const hint = tlsFailureHint(err);
      if ((attempt + 1 >= START_ATTEMPTS || hint) && !data.retryForever) {
        clearInterval(lagTimer);
        await producer?.close().catch(() => undefined);
        post({
          type: 'start-failed',
          message: redact(
            `cannot consume from Kafka at ${config.brokers.join(',')}: ${(err as Error).message} — ` +
              (hint ?? 'check --kafka-brokers, that the topics exist, and the SASL/TLS settings')
          ),
        });
        port.close();
        return;
      }
      noteError('could not connect, retrying', err);
      await sleep(restartDelayMs(attempt));
    }
  }
  say(`consuming ${topics.join(', ')} as group ${config.groupId}`);
  post({ type: 'ready' });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

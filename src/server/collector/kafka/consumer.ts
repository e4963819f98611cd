/**
 * The collector's Kafka source: a consumer in a group (several collectors share the partitions) whose records go
 * through the same accept path as an HTTP batch (RecordSource: validation, sampling, de-duplication, dead letters,
 * the fsynced write-ahead log).
 *
 * The Kafka client runs in a thread of its own (fetch-thread.ts), which posts each fetched batch as one transferred
 * NDJSON buffer grouped by model and kind (fetched-batch.ts); this side, on the collector thread, accepts each group
 * as the body of an HTTP POST and answers when the batch is durable, and the Kafka thread then commits.
 *
 * Delivery: the offsets of a batch are committed only after every record of it is durable — accepted records in the
 * write-ahead log, refused ones in the local dead-letter area and on the dead-letter topic. A crash, a broker restart,
 * a rebalance or a dead Kafka thread (started again here) re-delivers what was not committed (at least once from
 * Kafka); the collector stores a re-delivered prediction once, since (model, version, id) already seen is answered as
 * a duplicate (its horizon: the latest `recentIdsPerModel` predictions per model, and after a restart those the store
 * ingested within two days of its newest record).
 *
 * Back-pressure: while the collector refuses batches (backlog over --max-backlog-bytes, disk below its floor) the
 * Kafka thread stops fetching (its partitions are paused; nothing is dropped or committed) and this side retries the
 * batches it holds, then lets fetching resume once the collector takes batches again.
 */
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { CapacityError, type RecordSource } from '../collector';
import type { DeadLetter } from '../deadletter';
import { escapeLabelValue } from '../metrics';
import { startModuleWorker } from '../../worker-thread';
import {
  partitionKey,
  partitionOfKey,
  restartDelayMs,
  secretRedactor,
  UNROUTED_MODEL_DIR,
  type KafkaSourceConfig,
} from './config';
import { groupLetters, type BatchGroup, type FetchedBatch } from './fetched-batch';
import type { FetchThreadData, FromFetchThread, LineRefusal, ToFetchThread } from './thread-messages';

/** The Kafka thread's module (TypeScript when the collector runs from the sources). */
const FETCH_THREAD_MODULE = path.join(__dirname, `fetch-thread${path.extname(__filename)}`);
/**
 * The Kafka thread's young generation. The client makes several objects per record, kept until the record's batch
 * is committed (~0.1–0.5 s); with semi-spaces that fill in less than that they are copied into the old generation.
 * Measured draining 300 000 records (bench/kafka, --cpu-prof): garbage collection took 12 % of the thread's samples
 * at 16 MB, 8 % at 64 MB.
 */
const FETCH_THREAD_HEAP_LIMITS = { maxYoungGenerationSizeMb: 64 };
/**
 * Records per batch (unless the collector's --max-batch is lower): a group's lines are parsed and validated in one
 * synchronous run of the collector thread, which must not hold its event loop much over 50 ms (HTTP answers, health)
 * — at ~0.02 CPU-s per 1 000 records on the accept path, 2 000 records is ~40 ms. Batches in flight share the write-
 * ahead log's fsyncs (group commit), so smaller batches cost little throughput.
 */
const KAFKA_BATCH_RECORDS = 2_000;
/** How often a hold on fetching (the collector refusing batches) is checked for release. */
const HOLD_CHECK_MS = 200;
/** Longest wait for the Kafka thread to finish the batches under way and leave the group when stopping. */
const STOP_TIMEOUT_MS = 60_000;
/** Test hook: the first Kafka thread throws after posting this many batches (the restart path's test). */
const THROW_AFTER_ENV = 'MLMON_TEST_KAFKA_THREAD_THROW_AFTER';

export interface KafkaSource {
  /** Stops fetching, finishes and commits the batches under way, leaves the group. */
  stop(): Promise<void>;
}

export async function startKafkaSource(
  config: KafkaSourceConfig,
  collector: RecordSource,
  log: (line: string) => void
): Promise<KafkaSource> {
  const say = (line: string) => log(`kafka: ${line}`);
  const redact = secretRedactor(config);
  const state: SourceState = {
    connected: false,
    pausedFor: undefined,
    lastCommitAt: undefined,
    committed: new Map(),
    lag: new Map(),
    consumed: new Map(),
    assignments: [],
    deadLettered: 0,
    commits: 0,
    errors: 0,
    lastError: undefined,
    restarts: 0,
  };
  const noteError = (message: string) => {
    state.errors += 1;
    state.lastError = { at: Date.now(), message };
    say(message);
  };
  let stopping = false;
  let heldBy: string | undefined;
  let fetchPausedFor: string | undefined;
  let holdTimer: NodeJS.Timeout | undefined;
  let deaths = 0;
  let started = false;
  const accepting = new Set<Promise<void>>();
  const throwAfter = Number(process.env[THROW_AFTER_ENV]) || undefined;

  let threadEnded: Promise<void> = Promise.resolve();
  let thread = startThread(false);
  await new Promise<void>((resolve, reject) => {
    thread.once('message', function first(message: FromFetchThread) {
      if (message.type === 'ready') {
        resolve();
      } else if (message.type === 'start-failed') {
        reject(new Error(message.message));
      } else {
        thread.once('message', first);
      }
    });
    thread.once('exit', (code) => reject(new Error(`the Kafka thread ended at its start (exit code ${code})`)));
  });
  started = true;

  /** Starts a Kafka thread; a thread that dies (not stopped) is started again after a pause. */
  function startThread(restarted: boolean): Worker {
    const data: FetchThreadData = {
      config,
      batchRecords: Math.min(KAFKA_BATCH_RECORDS, collector.maxBatchRecords),
      retryForever: restarted,
      throwAfterBatches: restarted ? undefined : throwAfter,
    };
    const worker = startModuleWorker(FETCH_THREAD_MODULE, 'runKafkaFetchThread', data, FETCH_THREAD_HEAP_LIMITS);
    let died = '';
    threadEnded = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (message: FromFetchThread) => onMessage(worker, message));
    worker.on('error', (err) => (died = `: ${redact(err.message)}`));
    worker.on('exit', (code) => {
      if (worker !== thread || stopping || !started) {
        return;
      }
      state.connected = false;
      state.restarts += 1;
      noteError(
        `the Kafka thread ended (exit code ${code}${died}); starting it again — what it fetched and did not commit ` +
          'is read again and stored once'
      );
      const delay = restartDelayMs(deaths++);
      setTimeout(() => {
        if (!stopping) {
          thread = startThread(true);
          post({ type: 'hold', reason: heldBy });
        }
      }, delay);
    });
    return worker;
  }

  function post(message: ToFetchThread): void {
    thread.postMessage(message);
  }

  function onMessage(from: Worker, message: FromFetchThread): void {
    if (from !== thread) {
      return;
    }
    switch (message.type) {
      case 'batch':
        track(acceptBatch(from, message.batch));
        break;
      case 'connected':
        state.connected = message.connected;
        break;
      case 'assignments':
        state.assignments = message.assignments;
        break;
      case 'committed':
        deaths = 0;
        state.commits += 1;
        state.lastCommitAt = Date.now();
        for (const { topic, partition, offset } of message.offsets) {
          state.committed.set(partitionKey(topic, partition), offset);
        }
        break;
      case 'lag':
        state.lag.clear();
        for (const { topic, partition, lag, committed } of message.lag) {
          const key = partitionKey(topic, partition);
          state.lag.set(key, lag);
          if (committed > (state.committed.get(key) ?? BigInt(-1))) {
            state.committed.set(key, committed);
          }
        }
        break;
      case 'fetching':
        fetchPausedFor = message.pausedFor;
        break;
      case 'dead-lettered':
        state.deadLettered += message.records;
        break;
      case 'reconnected':
        state.restarts += 1;
        break;
      case 'error':
        noteError(message.message);
        break;
      case 'log':
        say(message.line);
        break;
      default:
        break;
    }
    state.pausedFor = heldBy ?? fetchPausedFor;
  }

  function track(work: Promise<void>): void {
    accepting.add(work);
    void work.finally(() => accepting.delete(work));
  }

  /** Makes a batch durable (dead letters, then each group through the accept path) and answers the Kafka thread. */
  async function acceptBatch(from: Worker, batch: FetchedBatch): Promise<void> {
    let answer: ToFetchThread;
    try {
      await deadLetterByModel(batch.letters);
      const body = Buffer.from(batch.body.buffer, batch.body.byteOffset, batch.body.byteLength);
      const refusals = await Promise.all(batch.groups.map((group, g) => acceptGroup(batch, body, group, g)));
      for (const [topic, records] of batch.perTopic) {
        state.consumed.set(topic, (state.consumed.get(topic) ?? 0) + records);
      }
      answer = { type: 'durable', id: batch.id, refusals: refusals.flat() };
    } catch (err) {
      noteError(`a batch could not be made durable; it is read again: ${(err as Error).message}`);
      answer = { type: 'failed', id: batch.id, message: (err as Error).message };
    }
    if (from === thread) {
      post(answer);
    }
  }

  async function deadLetterByModel(letters: DeadLetter[]): Promise<void> {
    const byModel = new Map<string, DeadLetter[]>();
    for (const letter of letters) {
      const list = byModel.get(letter.model) ?? [];
      list.push(letter);
      byModel.set(letter.model, list);
    }
    for (const [model, list] of byModel) {
      await collector.deadLetter(model, list);
    }
  }

  /**
   * Accepts one group's lines, retrying (with fetching held) while the collector refuses batches for capacity; a
   * group of a model not served here is refused whole. Resolves with the refused lines.
   */
  async function acceptGroup(batch: FetchedBatch, body: Buffer, group: BatchGroup, g: number): Promise<LineRefusal[]> {
    const unserved = collector.modelProblem(group.model);
    if (unserved) {
      const problem = { code: 'unknown_model', reason: unserved };
      await collector.deadLetter(UNROUTED_MODEL_DIR, groupLetters(batch, group, problem));
      return Array.from(group.offsets, (_, index) => ({ group: g, index, model: UNROUTED_MODEL_DIR, ...problem }));
    }
    const lines = body.subarray(group.start, group.end);
    for (;;) {
      try {
        const outcome = await collector.accept(group.model, group.kind, lines);
        return outcome.errors.map((error) => ({ group: g, model: group.model, ...error }));
      } catch (err) {
        if (!(err instanceof CapacityError) || stopping) {
          throw err;
        }
        hold();
        await sleep(HOLD_CHECK_MS);
      }
    }
  }

  /** Holds fetching while the collector refuses batches; released once it takes them again. */
  function hold(): void {
    if (heldBy) {
      return;
    }
    heldBy = 'backlog';
    state.pausedFor = heldBy;
    post({ type: 'hold', reason: heldBy });
    holdTimer = setInterval(() => {
      if (!collector.refusing()) {
        clearInterval(holdTimer);
        heldBy = undefined;
        state.pausedFor = fetchPausedFor;
        post({ type: 'hold', reason: undefined });
      }
    }, HOLD_CHECK_MS);
    holdTimer.unref();
  }

  collector.register({
    name: 'kafka',
    health: () => health(state),
    metrics: () => metricLines(state),
  });

  return {
    async stop() {
      stopping = true;
      clearInterval(holdTimer);
      post({ type: 'stop' });
      const timer = setTimeout(() => {
        say('the Kafka thread did not stop in time; ending it (what it did not commit is read again)');
        void thread.terminate();
      }, STOP_TIMEOUT_MS);
      await threadEnded;
      clearTimeout(timer);
      await Promise.all(accepting);
      state.connected = false;
    },
  };
}

type SourceState = {
  connected: boolean;
  assignments: Array<{ topic: string; partitions: number[] }>;
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
function health(state: SourceState) {
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
      return { ...partitionOfKey(key), value: Number(value) };
    });
  return {
    problems,
    connected: state.connected,
    paused: state.pausedFor !== undefined,
    pausedFor: state.pausedFor,
    assignments: state.assignments,
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
    const { topic, partition } = partitionOfKey(key);
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

/**
 * What the collector thread (consumer.ts) and the Kafka thread (fetch-thread.ts) tell each other. Plain data only:
 * a batch's records travel as one transferred buffer (fetched-batch.ts).
 */
import type { KafkaSourceConfig } from './config';
import type { FetchedBatch } from './fetched-batch';

/** What the Kafka thread is started with. */
export interface FetchThreadData {
  config: KafkaSourceConfig;
  /** Records per batch: the collector's largest accepted batch. */
  batchRecords: number;
  /** Started again after a dead thread: connect until it works instead of failing the start. */
  retryForever: boolean;
  /** Test hook (MLMON_TEST_KAFKA_THREAD_THROW_AFTER): the thread throws right after posting this many batches. */
  throwAfterBatches?: number;
}

/** A refused record of a group, by its line index (the collector's answer). */
export interface LineRefusal {
  group: number;
  index: number;
  model: string;
  code: string;
  reason: string;
}

export type ToFetchThread =
  /** The batch is durable (accepted lines in the write-ahead log, refused ones dead-lettered): commit it. */
  | { type: 'durable'; id: number; refusals: LineRefusal[] }
  /** The batch could not be made durable: drop what was fetched and read it again. */
  | { type: 'failed'; id: number; message: string }
  /** Pause fetching (the collector refuses batches for capacity), or resume (`reason` undefined). */
  | { type: 'hold'; reason: string | undefined }
  | { type: 'stop' };

export type FromFetchThread =
  | { type: 'ready' }
  | { type: 'start-failed'; message: string }
  | { type: 'batch'; batch: FetchedBatch }
  | { type: 'connected'; connected: boolean }
  | { type: 'assignments'; assignments: Array<{ topic: string; partitions: number[] }> }
  | { type: 'committed'; offsets: Array<{ topic: string; partition: number; offset: bigint }> }
  | { type: 'lag'; lag: Array<{ topic: string; partition: number; lag: number; committed: bigint }> }
  | { type: 'fetching'; pausedFor: string | undefined }
  | { type: 'dead-lettered'; records: number }
  | { type: 'reconnected' }
  /** An error, already redacted; counted and logged by the collector thread. */
  | { type: 'error'; message: string }
  | { type: 'log'; line: string }
  | { type: 'stopped' };

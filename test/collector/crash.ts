/**
 * The crash scenario: several senders push `records` predictions in batches to a `mlmon serve` child process,
 * which is killed with SIGKILL part-way; it is restarted (replaying its WAL) and the senders re-send what was not
 * acknowledged, plus a few batches that were; at the end it is killed again right after the last acknowledgement
 * and restarted once more, so the WAL replay has to deliver the tail. Then the store must hold every id exactly once.
 */
import * as http from 'node:http';
import type { PredictionStore } from '../../src/server/store/types';
import { featureSnippets, loadBatch, postBatch, spawnCollector, stopCollector, type CollectorProcess } from './harness';

export interface CrashOptions {
  /** Store flags for `mlmon serve` (e.g. --data-dir D --state-dir S). */
  storeArgs: string[];
  /** Opens the same store in this process to count what arrived. */
  openStore: () => Promise<PredictionStore>;
  records: number;
  batchSize?: number;
  senders?: number;
  /** Kill after this share of the batches were acknowledged. */
  killAfter?: number;
  model?: string;
  log?: (line: string) => void;
}

export interface CrashReport {
  records: number;
  batches: number;
  acknowledgedBeforeKill: number;
  unacknowledgedAtKill: number;
  resentAcknowledged: number;
  storedRows: number;
  storedDistinct: number;
  missingAcknowledged: number;
  unexpectedIds: number;
  finalExit: number | string;
  transientErrors: number;
  /** Batches answered 503 with Retry-After (back-pressure) and re-sent. */
  backPressured: number;
  seconds: number;
}

interface SendState {
  queue: number[];
  acknowledged: Set<number>;
  failed: number[];
  /** Network errors while the collector was running (retried). */
  transientErrors: number;
  /** 503 answers with Retry-After while the store was behind (re-sent after the wait). */
  backPressured: number;
}

/** Runs senders until the queue is empty or the collector goes away; resolves when every sender stopped. */
async function sendAll(
  collector: CollectorProcess,
  state: SendState,
  options: {
    model: string;
    batchSize: number;
    senders: number;
    snippets: string[];
    onAck?: () => void;
    log?: (line: string) => void;
  }
): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.senders });
  const sender = async () => {
    while (state.queue.length) {
      const index = state.queue.shift()!;
      const batch = loadBatch('crash', index, options.batchSize, options.snippets);
      try {
        const result = await postBatch(collector.url, options.model, batch.body, agent);
        if (result.status === 503 && result.retryAfterSeconds !== undefined) {
          // Back-pressure (the backlog is over --max-backlog-bytes): not acknowledged; a client waits and re-sends.
          state.backPressured += 1;
          state.queue.unshift(index);
          await new Promise((resolve) => setTimeout(resolve, Math.min(result.retryAfterSeconds!, 5) * 1000));
          continue;
        }
        if (result.status !== 200) {
          throw new Error(`status ${result.status}: ${JSON.stringify(result.body)}`);
        }
        if ((result.body.accepted ?? 0) + (result.body.duplicates ?? 0) !== options.batchSize) {
          throw new Error(`batch ${index} was not fully accepted: ${JSON.stringify(result.body)}`);
        }
        state.acknowledged.add(index);
        options.onAck?.();
      } catch (err) {
        const child = collector.child;
        if (child.killed || child.exitCode !== null || child.signalCode !== null) {
          state.failed.push(index);
          return;
        }
        // The collector is running: a network error is transient (a client retries), anything else is a failure.
        state.transientErrors += 1;
        if (!/ECONNRESET|ECONNREFUSED|socket hang up|EPIPE/.test(String(err)) || state.transientErrors > 20) {
          state.failed.push(index);
          throw err;
        }
        options.log?.(`crash: batch ${index}: ${String(err)} while the collector runs; retrying`);
        state.queue.unshift(index);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  };
  await Promise.all(Array.from({ length: options.senders }, sender));
  agent.destroy();
}

export async function runCrashScenario(options: CrashOptions): Promise<CrashReport> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const model = options.model ?? 'crash_model';
  const batchSize = options.batchSize ?? 5000;
  const senders = options.senders ?? 4;
  const batches = Math.ceil(options.records / batchSize);
  const snippets = featureSnippets();
  const state: SendState = {
    queue: Array.from({ length: batches }, (_, i) => i),
    acknowledged: new Set(),
    failed: [],
    transientErrors: 0,
    backPressured: 0,
  };
  const killAt = Math.floor(batches * (options.killAfter ?? 0.4));

  // Phase 1: send until killAt batches are acknowledged, then SIGKILL while the other senders are mid-request.
  let collector = await spawnCollector(options.storeArgs);
  log(`crash: phase 1, ${batches} batches of ${batchSize} to ${collector.url}`);
  const first = collector;
  await sendAll(first, state, {
    model,
    batchSize,
    senders,
    snippets,
    log,
    onAck: () => {
      if (state.acknowledged.size >= killAt && first.child.exitCode === null && !first.child.killed) {
        first.child.kill('SIGKILL');
      }
    },
  });
  if (!first.child.killed) {
    first.child.kill('SIGKILL'); // every batch was sent before the threshold: kill now
  }
  await first.exited;
  const acknowledgedBeforeKill = state.acknowledged.size;
  const unacknowledgedAtKill = state.failed.length;
  log(`crash: killed with ${acknowledgedBeforeKill} batches acknowledged, ${unacknowledgedAtKill} in flight`);

  // Phase 2: restart (replays the WAL), re-send the unacknowledged batches, the rest, and three acknowledged ones.
  const resend = [...state.acknowledged].slice(0, 3);
  state.queue = [...state.failed, ...resend, ...state.queue];
  state.failed = [];
  collector = await spawnCollector(options.storeArgs);
  await sendAll(collector, state, { model, batchSize, senders, snippets, log });
  if (state.failed.length || state.acknowledged.size !== batches) {
    throw new Error(
      `phase 2 did not deliver every batch: ${state.acknowledged.size}/${batches}\n${collector.stderr()}`
    );
  }
  // Kill right after the last acknowledgement: the tail is only in the WAL.
  collector.child.kill('SIGKILL');
  await collector.exited;
  log('crash: phase 2 done, killed again after the last acknowledgement');

  // Phase 3: restart, let it replay, stop gracefully.
  collector = await spawnCollector(options.storeArgs);
  const finalExit = await stopCollector(collector);

  const store = await options.openStore();
  try {
    const relation = await store.predictionsRelation(model);
    const [counts] = await store.query<{ rows: number; ids: number }>(
      `SELECT count(*) AS rows, count(DISTINCT id) AS ids FROM ${relation}`
    );
    const stored = new Set((await store.query<{ id: string }>(`SELECT id FROM ${relation}`)).map((r) => r.id));
    let missingAcknowledged = 0;
    for (const index of state.acknowledged) {
      for (const id of loadBatch('crash', index, batchSize, snippets).ids) {
        if (!stored.delete(id)) {
          missingAcknowledged += 1;
        }
      }
    }
    return {
      records: batches * batchSize,
      batches,
      acknowledgedBeforeKill,
      unacknowledgedAtKill,
      resentAcknowledged: resend.length,
      storedRows: Number(counts.rows),
      storedDistinct: Number(counts.ids),
      missingAcknowledged,
      unexpectedIds: stored.size,
      finalExit,
      transientErrors: state.transientErrors,
      backPressured: state.backPressured,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await store.close();
  }
}

/** What every crash test asserts: the kill hit mid-load, every acknowledged id is stored, each id exactly once. */
export function expectNothingLostOrDuplicated(report: CrashReport): void {
  expect(report.acknowledgedBeforeKill).toBeGreaterThan(0);
  expect(report.missingAcknowledged).toBe(0);
  expect(report.unexpectedIds).toBe(0);
  expect(report.storedRows).toBe(report.records);
  expect(report.storedDistinct).toBe(report.records);
  expect(report.finalExit).toBe(0);
}

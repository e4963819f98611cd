/**
 * Helpers of the Kafka ingestion tests (test/collector/kafka-*.test.ts): producing records to the real broker
 * (test/support/kafka.ts), reading a topic back, starting `mlmon serve` consuming it, reading its /healthz, and
 * counting what reached the store.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { PredictionStore } from '../../src/server/store/types';
import { startKafka, type KafkaBroker, type StartKafkaOptions } from '../support/kafka';
import { LOAD_TOKEN, REPO_ROOT, spawnCollector, stopCollector, type CollectorProcess } from './harness';

const KAFKA_CLIENT = path.join(REPO_ROOT, 'test', 'support', 'kafka-client.ts');

/** A valid prediction record of id `id` (20 features), as the crash tests send. */
export function predictionJson(id: string, n: number): string {
  const features: Record<string, number | string> = {};
  for (let f = 0; f < 20; f++) {
    features[`feature_${String(f).padStart(2, '0')}`] =
      f < 14 ? ((n * 7919 + f * 104729) % 100_000) / 7 : `c${(n + f) % 5}`;
  }
  return JSON.stringify({
    id,
    ts: Date.UTC(2026, 2, 2) + n * 10,
    version: 'v1',
    features,
    prediction: n % 2,
    score: ((n % 97) + 1) / 100,
    latency_ms: (n % 50) + 5,
  });
}

export interface ProducedRecord {
  key?: string;
  /** Text; a Buffer for bytes that are not text; null for a record without a value (a tombstone). */
  value: Buffer | string | null;
  headers?: Record<string, string>;
}

/** Runs test/support/kafka-client.ts (a child process: the client is an ES module jest cannot load). */
function kafkaClient(args: string[], timeoutMs: number): string {
  const child = spawnSync(process.execPath, ['--require', 'tsx/cjs', KAFKA_CLIENT, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (child.status !== 0) {
    throw new Error(`kafka-client ${args[0]} failed (${child.status ?? child.signal}): ${child.stderr.slice(-2000)}`);
  }
  return child.stdout;
}

/** Produces the records to `topic` (acknowledged by every replica), in order. */
export async function produce(bootstrap: string, topic: string, records: ProducedRecord[]): Promise<void> {
  const file = path.join(os.tmpdir(), `mlmon-kafka-records-${process.pid}-${Date.now()}.ndjson`);
  const lines = records.map(({ key, value, headers }) =>
    JSON.stringify({
      key,
      headers,
      ...(value === null ? {} : typeof value === 'string' ? { value } : { valueBase64: value.toString('base64') }),
    })
  );
  await fs.promises.writeFile(file, lines.join('\n') + '\n');
  try {
    kafkaClient(['produce', bootstrap, topic, file], 300_000);
  } finally {
    await fs.promises.rm(file, { force: true });
  }
}

/** `count` predictions with ids `<prefix>-<i>`, keyed by id. */
export function predictions(prefix: string, count: number, from = 0): ProducedRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const id = `${prefix}-${from + i}`;
    return { key: id, value: predictionJson(id, from + i) };
  });
}

export interface ReadMessage {
  key: string | undefined;
  value: Buffer | undefined;
  headers: Record<string, string>;
  partition: number;
  offset: string;
}

/** Reads `count` messages of `topic` from the beginning (a fresh group). */
export function readTopic(bootstrap: string, topic: string, count: number): ReadMessage[] {
  return kafkaClient(['read', bootstrap, topic, String(count)], 120_000)
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const { valueBase64, ...rest } = JSON.parse(line);
      return { ...rest, value: valueBase64 === undefined ? undefined : Buffer.from(valueBase64, 'base64') };
    });
}

const started: CollectorProcess[] = [];

/** Starts `mlmon serve` consuming Kafka, besides its store and state flags. */
export async function spawnKafkaCollector(
  storeArgs: string[],
  kafkaArgs: string[],
  extra: string[] = []
): Promise<CollectorProcess> {
  const collector = await spawnCollector(storeArgs, ['--flush-interval-ms', '200', ...kafkaArgs, ...extra]);
  started.push(collector);
  return collector;
}

/** Kills (SIGKILL) every collector a test started that still runs: for afterAll, so a failed test leaves none. */
export async function killCollectors(): Promise<void> {
  for (const collector of started.splice(0)) {
    if (collector.child.exitCode === null && collector.child.signalCode === null) {
      collector.child.kill('SIGKILL');
      await collector.exited;
    }
  }
}

/** The collector's /healthz body. */
export async function healthz(url: string): Promise<KafkaHealth & Record<string, unknown>> {
  const res = await fetch(`${url}/healthz`);
  return (await res.json()) as KafkaHealth & Record<string, unknown>;
}

/** The collector's /metrics text. */
export async function metricsText(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`, { headers: { Authorization: `Bearer ${LOAD_TOKEN}` } });
  return res.text();
}

/**
 * What a running collector shows others — its /healthz, /metrics and command line — and, once stopped (SIGTERM), its
 * log; with its exit code. For the tests that a secret reaches none of them.
 */
export async function stopShowingExposed(
  collector: CollectorProcess
): Promise<{ code: number | string; texts: string[] }> {
  const texts = [
    JSON.stringify(await healthz(collector.url)),
    await metricsText(collector.url),
    fs.readFileSync(`/proc/${collector.child.pid}/cmdline`, 'utf8'),
  ];
  const code = await stopCollector(collector);
  return { code, texts: [...texts, collector.stderr()] };
}

export interface KafkaHealth {
  status: string;
  problems: string[];
  kafka?: {
    connected: boolean;
    paused: boolean;
    committed: Array<{ topic: string; partition: number; offset: number }>;
    assignments: Array<{ topic: string; partitions: number[] }>;
    errors: number;
    lastError?: string;
  };
}

/** Sum of the offsets the collector committed on `topic` (= records handled when the topic started empty). */
export async function committedOn(url: string, topic: string): Promise<number> {
  const body = await healthz(url).catch(() => undefined);
  return (body?.kafka?.committed ?? []).filter((c) => c.topic === topic).reduce((sum, c) => sum + c.offset, 0);
}

/** Polls `condition` every 200 ms until it holds; rejects with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => Promise<boolean> | boolean,
  timeoutMs = 120_000
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Rows and distinct (id, version) of a model's predictions in the store, and the ids. */
export async function storedPredictions(
  store: PredictionStore,
  model: string
): Promise<{ rows: number; distinct: number; ids: Set<string> }> {
  const relation = await store.predictionsRelation(model);
  const [counts] = await store.query<{ rows: number; distinct: number }>(
    `SELECT count(*) AS rows, count(DISTINCT (id, version)) AS distinct FROM ${relation}`
  );
  const ids = new Set((await store.query<{ id: string }>(`SELECT id FROM ${relation}`)).map((r) => r.id));
  return { rows: Number(counts.rows), distinct: Number(counts.distinct), ids };
}

/**
 * One broker and one scratch directory for a test file (started in beforeAll, removed in afterAll, after killing
 * any collector a test left running).
 */
export function useKafka(
  name: string,
  options: StartKafkaOptions = {}
): { kafka: () => KafkaBroker; dir: () => string } {
  let kafka: KafkaBroker | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    kafka = await startKafka(options);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), `mlmon-kafka-${name}-`));
  }, 180_000);
  afterAll(async () => {
    await killCollectors();
    await kafka?.stop();
    if (dir) {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  return { kafka: () => kafka!, dir: () => dir! };
}

/** Asserts that the store holds each of the `count` predictions `<prefix>-<i>` exactly once: rows, distinct, none missing. */
export async function expectEachStoredOnce(
  open: () => Promise<PredictionStore>,
  model: string,
  prefix: string,
  count: number
): Promise<void> {
  const store = await open();
  try {
    const stored = await storedPredictions(store, model);
    const missing = predictions(prefix, count).filter((r) => !stored.ids.has(r.key!)).length;
    expect({ rows: stored.rows, distinct: stored.distinct, missing }).toEqual({
      rows: count,
      distinct: count,
      missing: 0,
    });
  } finally {
    await store.close();
  }
}

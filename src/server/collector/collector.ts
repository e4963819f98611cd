/**
 * The collector: an HTTP service (node:http) that model servers send prediction logs and late labels to.
 *
 *   POST /api/v1/models/{model}/predictions   JSON array or NDJSON of prediction records
 *   POST /api/v1/models/{model}/labels        JSON array or NDJSON of {id, label, ts?}
 *   GET  /healthz                             ok / degraded / failing, with the problems and the backlog (no auth)
 *   GET  /metrics                             Prometheus text (bearer token unless metricsPublic: it names models)
 *
 * A batch is answered only once its accepted records are in the fsynced write-ahead log; the flusher moves them
 * into the store afterwards. Refused records are answered with their index and reason and kept in the dead-letter
 * area — written before the log, so a batch whose refusals cannot be kept is refused whole and retried. Batches
 * are refused (507) while the log's disk is below its free-space floor, and (503) while the backlog is over its
 * limit. The collector holds an exclusive lock on its state directory (and on the data directory it writes, when
 * given) so a second collector cannot replay or delete the first one's log.
 */
import * as http from 'node:http';
import * as path from 'node:path';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { acquireLock, describeHolder, LockHeldError, type HeldLock } from '../store/lock';
import { DEFAULT_MAX_FEATURES_PER_MODEL, FeatureAdmission } from '../store/schema';
import { predictionKey, type LabelRecord, type PredictionRecord, type PredictionWriter } from '../store/types';
import { BodyError, bodyFormat, decodeBatch, type BatchItem, type BodyFormat } from './body';
import { decodePredictions, type DecodedPredictions, type PredictionItem } from './prediction-lines';
import { DeadLetterArea, MAX_RAW_BODY_CHARS, type DeadLetter } from './deadletter';
import { WalFlusher, type SegmentSink } from './flusher';
import { FreeSpaceGuard } from './free-space';
import { assessHealth, healthHttpStatus, healthLevel, type HealthReport } from './health';
import { CollectorMetrics } from './metrics';
import { RecentIds } from './recent-ids';
import { SegmentWriter, type DeliveredBatch } from './segment-writer';
import { StoreWorker, type StoreWorkerOptions } from './store-worker';
import { isSampled, validateSamplingRate } from './sampling';
import { checkLabel, checkModelName, checkPrediction, type Rejection } from './validate';
import { DEFAULT_SEGMENT_BYTES, WalWriteError, WriteAheadLog } from './wal';
import { encodeRequestEntry, type WalBatch } from './wal-entry';
import { DEFAULT_MAX_BACKLOG_BYTES, DEFAULT_MIN_FREE_BYTES } from './defaults';

export interface CollectorOptions {
  /** The store: read for de-duplication and feature admission, and written by the flusher unless `storeWorker`. */
  store: PredictionWriter;
  /** Write the store from a worker thread that opens it for itself (store-worker.ts), not from this thread. */
  storeWorker?: StoreWorkerOptions;
  /** Directory of the collector's own state: `wal/` and `deadletter/`; locked for this collector. */
  stateDir: string;
  /** The embedded store's data directory, also locked, so two collectors never write one store. */
  dataDir?: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Accepted bearer tokens; `null` turns authentication off (demo mode only). */
  tokens: string[] | null;
  samplingRate?: number;
  maxBodyBytes?: number;
  maxBatchRecords?: number;
  /** When given, other model names are answered 404. */
  models?: string[];
  flushIntervalMs?: number;
  segmentBytes?: number;
  /** Above this many WAL bytes not yet in the store, new batches get 503 (back-pressure). */
  maxWalBytes?: number;
  /** Batches get 507 while the WAL's file system has fewer free bytes than this (default 64 MiB). */
  minFreeBytes?: number;
  /** Features a model may have; records adding more are refused (default 500). */
  maxFeaturesPerModel?: number;
  /** Prediction ids remembered per model to answer re-sent records as duplicates (recent-ids.ts). */
  recentIdsPerModel?: number;
  /** Serve /metrics without the bearer token (it lists model names). */
  metricsPublic?: boolean;
  log?: (line: string) => void;
}

export interface BatchResponse {
  accepted: number;
  rejected: number;
  duplicates: number;
  sampledOut: number;
  samplingRate: number;
  errors: Array<{ index: number; code: string; reason: string }>;
}

export interface Collector {
  url: string;
  port: number;
  metrics: CollectorMetrics;
  /** What /healthz answers. */
  health(): HealthReport;
  /** Moves everything in the WAL into the store now. */
  flush(): Promise<void>;
  /** Stops accepting, answers the requests under way, flushes the WAL into the store. */
  stop(): Promise<void>;
  /** The accept path for sources other than HTTP (the Kafka consumer): see RecordSource. */
  source: RecordSource;
}

/**
 * What a source of records other than HTTP (collector/kafka/) gets from the collector: the same accept path as a
 * POST — validation, sampling, de-duplication, dead letters, the write-ahead log — and the capacity checks that
 * answer HTTP with 503/507, so the source can pause instead of dropping records.
 */
export interface RecordSource {
  /**
   * Accepts an NDJSON body for one model and kind (at most `maxBatchRecords` lines); resolves once the accepted
   * records are durable (fsynced), with the refusals by line index. Rejects with a CapacityError while the
   * collector refuses batches (retry the same body later), or another error when the body could not be made durable.
   */
  accept(model: string, kind: Kind, ndjson: Buffer): Promise<BatchResponse>;
  /** Why batches are refused right now (disk below its floor, backlog over its bound), or undefined. */
  refusing(): string | undefined;
  /** Why records of this model are refused (an invalid name, a model not served here), or undefined. */
  modelProblem(model: string): string | undefined;
  /** Keeps records that could not even form a line of a batch (e.g. not UTF-8) in the dead-letter area. */
  deadLetter(model: string, letters: DeadLetter[]): Promise<void>;
  /** Adds a section to /healthz (its problems make the collector degraded) and lines to /metrics. */
  register(report: SourceReport): void;
  maxBatchRecords: number;
}

/** A source's part of /healthz and /metrics. */
export interface SourceReport {
  name: string;
  health(): { problems: string[] } & Record<string, unknown>;
  metrics(): string[];
}

/** The collector refuses batches for now (the HTTP path answers 503 or 507 with Retry-After). */
export class CapacityError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

type Kind = WalBatch['kind'];

const API_PATH = /^\/api\/v1\/models\/([^/]+)\/(predictions|labels)$/;

/**
 * Compares a presented token with every configured one in constant time: tokens are hashed (SHA-256) to a fixed
 * length first, so neither the content nor the length of a token leaks through timing, and every token is compared.
 */
export function tokenMatcher(tokens: string[]): (presented: string) => boolean {
  const digests = tokens.map((t) => createHash('sha256').update(t).digest());
  return (presented) => {
    const candidate = createHash('sha256').update(presented).digest();
    let matched = false;
    for (const digest of digests) {
      matched = timingSafeEqual(digest, candidate) || matched;
    }
    return matched;
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** What to keep as the dead letter's `raw` when the body is refused whole (undefined: the body read). */
    readonly deadLetterRaw?: string | null
  ) {
    super(message);
  }
}

/**
 * Log bytes of delivered records the store writer keeps (SegmentWriterOptions.maxMemoryBytes): the backlog limit
 * plus the open segment and the requests under way, so that a backlog within its limit is written from memory. A
 * smaller budget than the backlog made the store read segments back and parse every body again exactly when it
 * was behind (the overload spiral, bench/ingest/RESULTS.md).
 */
export function deliveryBudget(maxWalBytes: number, segmentBytes: number): number {
  return maxWalBytes + segmentBytes + 16 * 1024 * 1024;
}

/** Takes the collector's locks, or throws a message naming the collector that holds one. */
async function lockDirectories(dirs: string[]): Promise<HeldLock[]> {
  const held: HeldLock[] = [];
  try {
    for (const dir of dirs) {
      held.push(await acquireLock(dir, 'collector'));
    }
  } catch (err) {
    await Promise.all(held.map((lock) => lock.release()));
    if (err instanceof LockHeldError) {
      throw new Error(
        `${path.dirname(err.lockFile)} is held by another collector, ${describeHolder(err.holder)}: stop it first, ` +
          'or give this one its own --data-dir and --state-dir'
      );
    }
    throw err;
  }
  return held;
}

export async function startCollector(options: CollectorOptions): Promise<Collector> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const samplingRate = validateSamplingRate(options.samplingRate ?? 1);
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const maxBatchRecords = options.maxBatchRecords ?? 10_000;
  const maxWalBytes = options.maxWalBytes ?? DEFAULT_MAX_BACKLOG_BYTES;
  const minFreeBytes = options.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES;
  const maxFeatures = options.maxFeaturesPerModel ?? DEFAULT_MAX_FEATURES_PER_MODEL;
  const allowedModels = options.models ? new Set(options.models) : undefined;
  const matchesToken = options.tokens ? tokenMatcher(options.tokens) : undefined;
  if (options.tokens && options.tokens.length === 0) {
    throw new Error('no bearer token configured: give --token, --tokens-file, or --demo to run without authentication');
  }

  const locks = await lockDirectories([options.stateDir, ...(options.dataDir ? [options.dataDir] : [])]);
  const walDir = path.join(options.stateDir, 'wal');
  let wal: WriteAheadLog;
  let deadLetters: DeadLetterArea;
  try {
    wal = WriteAheadLog.open(walDir, { segmentBytes: options.segmentBytes });
    deadLetters = new DeadLetterArea(path.join(options.stateDir, 'deadletter'));
  } catch (err) {
    await Promise.all(locks.map((lock) => lock.release()));
    throw err;
  }
  const freeSpace = new FreeSpaceGuard(walDir, { minFreeBytes });
  let stopping = false;
  const sources: SourceReport[] = [];
  const health = (): HealthReport => withSources(collectorHealth(), sources);
  const collectorHealth = (): HealthReport =>
    assessHealth({
      now: Date.now(),
      stopping,
      freeSpace: freeSpace.state(),
      minFreeBytes,
      walError: wal.lastError,
      backlog: backlog(),
      maxBacklogBytes: maxWalBytes,
      staleBacklogMs: Math.max(60_000, 10 * (options.flushIntervalMs ?? 1000)),
      flusher: flusher.status(),
    });
  /** The log's backlog, without the records already written from segments kept for another model. */
  const backlog = () => {
    const held = wal.backlog();
    return { ...held, records: held.records - flusher.writtenButKept() };
  };
  const metrics = new CollectorMetrics(() => {
    const report = health();
    return {
      walBytes: report.backlog.bytes,
      walSegments: report.backlog.segments,
      walSyncs: wal.syncs,
      backlogRecords: report.backlog.records,
      backlogOldestAgeSeconds: report.backlog.oldestAgeSeconds,
      diskFreeBytes: report.disk.freeBytes,
      flushConsecutiveFailures: report.flusher.consecutiveFailures,
      health: healthLevel(report.status),
    };
  });
  const writerOptions = {
    maxFeaturesPerModel: maxFeatures,
    maxMemoryBytes: deliveryBudget(maxWalBytes, options.segmentBytes ?? DEFAULT_SEGMENT_BYTES),
  };
  const sink: SegmentSink = options.storeWorker
    ? new StoreWorker({ ...options.storeWorker, deadLetterDir: deadLetters.dir, writer: writerOptions }, log)
    : new SegmentWriter(options.store, deadLetters, { ...writerOptions, log });
  const flusher = new WalFlusher(wal, sink, metrics, { log });
  const recentIds = new Map<string, Promise<RecentIds>>();
  const recentCapacity = options.recentIdsPerModel ?? 500_000;
  const admissions = new Map<string, Promise<FeatureAdmission>>();

  const leftOver = wal.sealedSegments().length;
  if (leftOver) {
    log(`collector: replaying ${leftOver} write-ahead log segment(s) left by the previous run into the store`);
    try {
      await flusher.flush();
      log('collector: replay done');
    } catch (err) {
      log(`collector: replay incomplete, the rest is retried while the collector runs: ${(err as Error).message}`);
    }
  }

  let inFlight = 0;

  /** The model's recent ids, seeded from the store once per start (the horizon is the same across restarts). */
  function recentFor(model: string): Promise<RecentIds> {
    let ids = recentIds.get(model);
    if (!ids) {
      ids = options.store.recentIds(model, recentCapacity).then((stored) => {
        const recent = new RecentIds(recentCapacity, { dir: path.join(options.stateDir, 'recent-ids') });
        recent.seed(stored);
        return recent;
      });
      ids.catch(() => recentIds.delete(model));
      recentIds.set(model, ids);
    }
    return ids;
  }

  /** The model's feature admission (schema.ts), from the store's features once per start, then kept current. */
  function admissionFor(model: string): Promise<FeatureAdmission> {
    let admission = admissions.get(model);
    if (!admission) {
      admission = options.store.getFeatures(model).then(
        (features) =>
          new FeatureAdmission(
            features.map((f) => f.name),
            Math.max(maxFeatures, features.length)
          )
      );
      admission.catch(() => admissions.delete(model));
      admissions.set(model, admission);
    }
    return admission;
  }

  function authenticate(req: http.IncomingMessage): void {
    if (!matchesToken) {
      return;
    }
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const challenge = { 'WWW-Authenticate': 'Bearer realm="mlmon-collector"' };
    if (!match) {
      throw new HttpError(401, 'unauthorized', 'missing bearer token: send "Authorization: Bearer <token>"', challenge);
    }
    if (!matchesToken(match[1])) {
      throw new HttpError(401, 'unauthorized', 'the bearer token is not valid for this collector', challenge);
    }
  }

  function modelFromPath(encoded: string): string {
    let model: string;
    try {
      model = decodeURIComponent(encoded);
    } catch {
      throw new HttpError(400, 'invalid_model', 'the model name in the path is not valid percent-encoding');
    }
    return servedModel(model);
  }

  /** The model name if it is valid and served here; else throws 400 or 404. */
  function servedModel(model: string): string {
    const problem = checkModelName(model);
    if (problem) {
      throw new HttpError(400, 'invalid_model', problem);
    }
    if (allowedModels && !allowedModels.has(model)) {
      throw new HttpError(
        404,
        'unknown_model',
        `model "${model}" is not served by this collector (configured: ${[...allowedModels].join(', ')})`
      );
    }
    return model;
  }

  /** Reads the body; a body over the limit is refused with its first bytes kept for the dead letter. */
  function readBody(req: http.IncomingMessage): Promise<Buffer> {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      return Promise.reject(tooLarge(`its Content-Length is ${declared} bytes`, undefined));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let failed = false;
      req.on('data', (chunk: Buffer) => {
        if (failed) {
          return;
        }
        size += chunk.length;
        if (size > maxBodyBytes) {
          failed = true;
          chunks.push(chunk);
          const head = Buffer.concat(chunks).subarray(0, MAX_RAW_BODY_CHARS);
          chunks.length = 0;
          reject(tooLarge(`it has more than ${maxBodyBytes} bytes`, head));
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => failed || resolve(Buffer.concat(chunks, size)));
      req.on(
        'error',
        () => failed || reject(new HttpError(400, 'client_aborted', 'the connection failed while the body was read'))
      );
      req.on(
        'close',
        () =>
          req.complete ||
          failed ||
          reject(new HttpError(400, 'client_aborted', 'the client closed the connection before the body ended'))
      );
    });
  }

  function tooLarge(what: string, head: Buffer | undefined): HttpError {
    return new HttpError(
      413,
      'body_too_large',
      `the body is too large: ${what}, and at most ${maxBodyBytes} are accepted; send smaller batches`,
      {},
      head === undefined ? null : head.toString('utf8')
    );
  }

  /**
   * Validates, samples and de-duplicates the items of a batch; returns what to store and the refusals. A prediction
   * id seen earlier in the batch, or already durable, is a duplicate; one whose first copy is still being written by
   * another request waits for that write and is a duplicate only if it succeeded. Accepted ids are registered as
   * under way (`write`: this request's own write) at once, before any await, so concurrent requests see them.
   * Feature names are admitted against the model's schema (case, per-model cap) before a record is accepted.
   * Predictions are rows of `batch.rows` (the fast path added its own; a record the slow path accepts is added here)
   * and the accepted ones are delivered as columns.
   */
  async function sortItems(model: string, batch: DecodedBatch, now: number, write: Promise<void>): Promise<Outcome> {
    const { kind, items } = batch;
    const rows = kind === 'predictions' ? batch.rows : undefined;
    const valueOfRow = kind === 'predictions' ? batch.valueOfRow : undefined;
    const acceptedRows: number[] = [];
    const acceptedKeys: string[] = [];
    const labels: LabelRecord[] = [];
    const acceptedIndexes: number[] = [];
    const errors: BatchResponse['errors'] = [];
    const letters: DeadLetter[] = [];
    const ids = rows ? await recentFor(model) : undefined;
    const admission = rows ? await admissionFor(model) : undefined;
    /** Shapes (rows.shapeAt) admitted in this batch: admission only grows, so they stay admitted. */
    const admittedShapes = new Set<number>();
    const inBatch = new Set<string>();
    const waiting: Array<{ index: number; row: number; key: string; write: Promise<boolean> }> = [];
    let duplicates = 0;
    let sampledOut = 0;
    const refuse = (index: number, rejection: Rejection, raw: unknown) => {
      errors.push({ index, ...rejection });
      letters.push({ model, kind, index, code: rejection.code, reason: rejection.reason, raw });
    };
    items.forEach((item: PredictionItem, index) => {
      if ('invalidLine' in item) {
        refuse(index, { code: item.code, reason: item.reason }, item.invalidLine);
        return;
      }
      let row = -1;
      let label: LabelRecord | undefined;
      if ('row' in item) {
        row = item.row;
      } else {
        const checked = rows ? checkPrediction(item.value, samplingRate) : checkLabel(item.value, now);
        if (!checked.ok) {
          refuse(index, checked.rejection, item.value);
          return;
        }
        if (rows) {
          row = rows.addRecord(checked.record as PredictionRecord);
        } else {
          label = checked.record as LabelRecord;
        }
      }
      const id = rows ? rows.idAt(row) : label!.id;
      if (!isSampled(id, samplingRate)) {
        sampledOut += 1;
        return;
      }
      if (!rows) {
        labels.push(label!);
        acceptedIndexes.push(index);
        return;
      }
      const key = predictionKey(rows.versionAt(row), id);
      const known = inBatch.has(key) || ids!.lookup(key);
      if (known === true) {
        duplicates += 1;
        return;
      }
      const shape = rows.shapeAt(row);
      if (!admittedShapes.has(shape)) {
        const refusal = admission!.admit(rows.namesAt(row));
        if (refusal) {
          refuse(index, refusal, 'row' in item ? valueOfRow!(item.row) : item.value);
          return;
        }
        admittedShapes.add(shape);
      }
      inBatch.add(key);
      if (known) {
        waiting.push({ index, row, key, write: known });
        return;
      }
      acceptedRows.push(row);
      acceptedKeys.push(key);
      acceptedIndexes.push(index);
    });
    ids?.track(acceptedKeys, write);
    for (const { index, row, key, write: earlier } of waiting) {
      if (await earlier) {
        duplicates += 1;
      } else {
        ids!.track([key], write);
        acceptedRows.push(row);
        acceptedIndexes.push(index);
      }
    }
    const delivery: DeliveredBatch | undefined = !acceptedIndexes.length
      ? undefined
      : rows
        ? { model, kind: 'predictions', columns: rows.take(acceptedRows) }
        : { model, kind: 'labels', records: labels };
    return { delivery, accepted: acceptedIndexes.length, acceptedIndexes, errors, letters, duplicates, sampledOut };
  }

  /** Refuses a batch before reading it when the disk or the backlog cannot take it. */
  function checkCapacity(): void {
    const space = freeSpace.state();
    if (!space.ok) {
      throw new HttpError(507, 'insufficient_storage', space.problem!, { 'Retry-After': '10' });
    }
    const waiting = wal.bytes;
    if (waiting > maxWalBytes) {
      throw new HttpError(
        503,
        'store_behind',
        `the store is not keeping up: ${waiting} bytes of acknowledged batches wait for it, over the limit of ` +
          `${maxWalBytes} (--max-backlog-bytes); retry after the Retry-After seconds`,
        { 'Retry-After': '5' }
      );
    }
  }

  /** The answer to a failed write-ahead log append: 507 for a full disk (which the guard then remembers), else 503. */
  function walFailure(err: unknown): HttpError {
    if (err instanceof WalWriteError && err.noSpace) {
      freeSpace.noteNoSpace(err.bytes);
      return new HttpError(
        507,
        'insufficient_storage',
        `${err.message}; nothing of this batch was kept — retry once space is freed`,
        { 'Retry-After': '10' }
      );
    }
    return new HttpError(
      503,
      'unavailable',
      `the batch could not be made durable: ${(err as Error).message}; retry it`,
      { 'Retry-After': '5' }
    );
  }

  /** A body's items: predictions straight into columns (prediction-lines.ts), labels as parsed values. */
  function decodeBody(kind: Kind, body: Buffer, format: BodyFormat): DecodedBatch {
    return kind === 'predictions'
      ? { kind, ...decodePredictions(body, format, maxBatchRecords, samplingRate) }
      : { kind, items: decodeBatch(body, format, maxBatchRecords) };
  }

  async function ingest(
    req: http.IncomingMessage,
    model: string,
    kind: Kind
  ): Promise<{ status: number; body: BatchResponse }> {
    const format = bodyFormatOrThrow(req.headers['content-type']);
    checkCapacity();
    let body: Buffer;
    let batch: DecodedBatch;
    try {
      body = await readBody(req);
      batch = decodeBody(kind, body, format);
    } catch (err) {
      const refusal =
        err instanceof BodyError ? new HttpError(err.status, err.code, err.message, {}, undefined) : (err as HttpError);
      if (
        refusal instanceof HttpError &&
        (refusal.status === 400 || refusal.status === 413) &&
        refusal.code !== 'client_aborted'
      ) {
        const raw =
          refusal.deadLetterRaw !== undefined
            ? refusal.deadLetterRaw
            : body!.toString('utf8', 0, Math.min(body!.length, MAX_RAW_BODY_CHARS));
        await deadLetters.write(model, [{ model, kind, index: -1, code: refusal.code, reason: refusal.message, raw }]);
        metrics.rejected.inc({ model, kind, reason: refusal.code });
      }
      throw refusal;
    }
    return acceptItems(model, kind, format, body, batch);
  }

  /** Validates, samples and de-duplicates decoded items, keeps the refused ones, and logs the accepted durably. */
  async function acceptItems(
    model: string,
    kind: Kind,
    format: BodyFormat,
    body: Buffer,
    batch: DecodedBatch
  ): Promise<{ status: number; body: BatchResponse }> {
    const started = process.hrtime.bigint();
    const now = Date.now();
    let settle!: (error?: Error) => void;
    const durable = new Promise<void>((resolve, reject) => (settle = (error) => (error ? reject(error) : resolve())));
    durable.catch(() => undefined); // its outcome is read by the ids it tracks; nothing else waits for it
    const received = batch.items.length;
    let sorted: Outcome;
    try {
      // The accepted records are in their delivered form (columns) before the log write is awaited, so that the
      // request's parsed values are garbage by then: kept across the fsync, they outlive a young-generation
      // collection and are copied into the old generation (measured: a sixth of the collector thread's time).
      sorted = await sortItems(model, batch, now, durable);
      await deadLetters.write(model, sorted.letters, now);
      if (sorted.delivery) {
        const entry = encodeRequestEntry(
          { model, kind, format, accepted: sorted.acceptedIndexes, samplingRate, now },
          body
        );
        const where = await wal.append(entry, sorted.accepted).catch((err) => {
          throw walFailure(err);
        });
        sink.deliver(where.file, where.entry, sorted.delivery, body.length);
      }
      settle();
    } catch (err) {
      settle(err as Error);
      throw err;
    }
    countOutcomes(model, kind, sorted);
    metrics.ackLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
    const response: BatchResponse = {
      accepted: sorted.accepted,
      rejected: sorted.errors.length,
      duplicates: sorted.duplicates,
      sampledOut: sorted.sampledOut,
      samplingRate,
      errors: sorted.errors,
    };
    const allRefused = received > 0 && sorted.errors.length === received;
    return { status: allRefused ? 422 : 200, body: response };
  }

  function countOutcomes(model: string, kind: Kind, sorted: Outcome): void {
    metrics.records.inc({ model, kind, outcome: 'accepted' }, sorted.accepted);
    metrics.records.inc({ model, kind, outcome: 'rejected' }, sorted.errors.length);
    metrics.records.inc({ model, kind, outcome: 'duplicate' }, sorted.duplicates);
    metrics.records.inc({ model, kind, outcome: 'sampled_out' }, sorted.sampledOut);
    for (const error of sorted.errors) {
      metrics.rejected.inc({ model, kind, reason: error.code });
    }
  }

  function bodyFormatOrThrow(contentType: string | undefined) {
    try {
      return bodyFormat(contentType);
    } catch (err) {
      const e = err as BodyError;
      throw new HttpError(e.status, e.code, e.message);
    }
  }

  async function route(
    req: http.IncomingMessage
  ): Promise<{ status: number; body: unknown; text?: string; endpoint: string }> {
    const url = new URL(req.url ?? '/', 'http://collector');
    if (url.pathname === '/healthz') {
      requireMethod(req, 'GET');
      const report = health();
      return { status: healthHttpStatus(report), body: report, endpoint: 'healthz' };
    }
    if (url.pathname === '/metrics') {
      requireMethod(req, 'GET');
      if (!options.metricsPublic) {
        authenticate(req);
      }
      const text = metrics.render() + sources.flatMap((source) => source.metrics().map((line) => line + '\n')).join('');
      return { status: 200, body: undefined, text, endpoint: 'metrics' };
    }
    const match = API_PATH.exec(url.pathname);
    if (!match) {
      throw new HttpError(
        404,
        'not_found',
        `no such endpoint ${req.method} ${url.pathname.slice(0, 200)}; see POST /api/v1/models/{model}/predictions or /labels`
      );
    }
    requireMethod(req, 'POST');
    authenticate(req);
    if (stopping) {
      throw new HttpError(
        503,
        'stopping',
        'the collector is shutting down; retry against another instance or after restart',
        { 'Retry-After': '5' }
      );
    }
    const model = modelFromPath(match[1]);
    const kind = match[2] as Kind;
    const result = await ingest(req, model, kind);
    return { ...result, endpoint: kind };
  }

  function requireMethod(req: http.IncomingMessage, method: string): void {
    if (req.method !== method) {
      throw new HttpError(405, 'method_not_allowed', `use ${method} for this endpoint`, { Allow: method });
    }
  }

  const server = http.createServer((req, res) => {
    inFlight += 1;
    route(req)
      .then(
        (result) => {
          if (result.text !== undefined) {
            res
              .writeHead(result.status, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' })
              .end(result.text);
          } else {
            sendJson(res, result.status, result.body);
          }
          metrics.batches.inc({ endpoint: result.endpoint, status: String(result.status) });
        },
        (err: unknown) => {
          const httpError =
            err instanceof HttpError
              ? err
              : err instanceof BodyError
                ? new HttpError(err.status, err.code, err.message)
                : new HttpError(
                    503,
                    'unavailable',
                    `the batch could not be handled: ${(err as Error).message}; retry it`
                  );
          if (!(err instanceof HttpError || err instanceof BodyError) || httpError.status >= 500) {
            log(`collector: ${httpError.status} ${httpError.message}`);
          }
          metrics.batches.inc({ endpoint: 'error', status: String(httpError.status) });
          respondError(req, res, httpError);
        }
      )
      .finally(() => {
        inFlight -= 1;
      });
  });
  // Idle keep-alive connections stay open longer than clients and load balancers usually keep them (60 s), so
  // the server never closes a connection at the moment a client reuses it (which the client sees as a reset).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 120_000;

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 8787, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await sink.close();
    await wal.close();
    await Promise.all(locks.map((lock) => lock.release()));
    throw err;
  }
  flusher.start(options.flushIntervalMs ?? 1000);
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  const source: RecordSource = {
    maxBatchRecords,
    async accept(model, kind, ndjson) {
      if (stopping) {
        throw new CapacityError(503, 'the collector is shutting down');
      }
      try {
        checkCapacity();
        return (await acceptItems(servedModel(model), kind, 'ndjson', ndjson, decodeBody(kind, ndjson, 'ndjson'))).body;
      } catch (err) {
        if (err instanceof HttpError && (err.status === 503 || err.status === 507)) {
          throw new CapacityError(err.status, err.message);
        }
        throw err;
      }
    },
    refusing() {
      try {
        checkCapacity();
        return stopping ? 'the collector is shutting down' : undefined;
      } catch (err) {
        return (err as Error).message;
      }
    },
    modelProblem(model) {
      try {
        servedModel(model);
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    },
    deadLetter: async (model, letters) => {
      await deadLetters.write(model, letters);
      for (const letter of letters) {
        metrics.rejected.inc({ model, kind: letter.kind, reason: letter.code });
        metrics.records.inc({ model, kind: letter.kind, outcome: 'rejected' });
      }
    },
    register: (report) => void sources.push(report),
  };

  let stopped: Promise<void> | undefined;
  return {
    source,
    url: `http://${host}:${address.port}`,
    port: address.port,
    metrics,
    health,
    flush: () => flusher.flush(),
    stop() {
      stopped ??= (async () => {
        stopping = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const deadline = Date.now() + 10_000;
        while (inFlight > 0 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        server.closeAllConnections();
        await closed;
        await flusher.stop();
        try {
          await flusher.flush();
        } finally {
          await sink.close();
          await wal.close();
          await closeRecentIds(recentIds);
          await Promise.all(locks.map((lock) => lock.release()));
        }
      })();
      return stopped;
    },
  };
}

/** Closes every model's recent ids (their files); a model whose ids could not be loaded has none to close. */
async function closeRecentIds(recentIds: Map<string, Promise<RecentIds>>): Promise<void> {
  const loaded = await Promise.allSettled(recentIds.values());
  for (const ids of loaded) {
    if (ids.status === 'fulfilled') {
      ids.value.close();
    }
  }
  recentIds.clear();
}

/** The collector's health with each source's section; a source's problems make an `ok` collector `degraded`. */
function withSources(report: HealthReport, sources: SourceReport[]): HealthReport {
  if (!sources.length) {
    return report;
  }
  const sections = Object.fromEntries(sources.map((source) => [source.name, source.health()]));
  const problems = Object.values(sections).flatMap((section) => section.problems);
  const status = report.status === 'ok' && problems.length ? 'degraded' : report.status;
  return { ...report, status, problems: [...report.problems, ...problems], ...sections };
}

/** A request's decoded items: predictions with the columns their fast rows are in (prediction-lines.ts). */
type DecodedBatch = ({ kind: 'predictions' } & DecodedPredictions) | { kind: 'labels'; items: BatchItem[] };

/** What sorting a request's items came to: the accepted records to deliver (if any) and the refusals. */
interface Outcome {
  delivery: DeliveredBatch | undefined;
  accepted: number;
  acceptedIndexes: number[];
  errors: BatchResponse['errors'];
  letters: DeadLetter[];
  duplicates: number;
  sampledOut: number;
}

/** Answers with a JSON body (the collector's and the retrain hook's answers). */
export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {}
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Largest remainder of a refused body that is read and discarded, so the client can read the answer. */
const DISCARD_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * Answers an error. When the request body was not read (refused before reading, or too large), the connection is
 * closed after the answer, and the rest of the body is discarded up to a limit so the client sees the answer rather
 * than a reset.
 */
function respondError(req: http.IncomingMessage, res: http.ServerResponse, error: HttpError): void {
  const unread = !req.readableEnded;
  const headers: Record<string, string> = unread ? { ...error.headers, Connection: 'close' } : error.headers;
  sendJson(res, error.status, { error: error.code, message: error.message }, headers);
  if (unread) {
    let discarded = 0;
    req.removeAllListeners('data');
    req.on('data', (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > DISCARD_LIMIT_BYTES) {
        req.destroy();
      }
    });
    req.resume();
  }
}

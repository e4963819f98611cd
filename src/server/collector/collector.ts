/**
 * The collector: an HTTP service (node:http) that model servers send prediction logs and late labels to.
 *
 *   POST /api/v1/models/{model}/predictions   JSON array or NDJSON of prediction records
 *   POST /api/v1/models/{model}/labels        JSON array or NDJSON of {id, label, ts?}
 *   GET  /healthz                             liveness and WAL state (no auth)
 *   GET  /metrics                             Prometheus text (no auth; counts only, no record content)
 *
 * A batch is answered only once its accepted records are in the fsynced write-ahead log; the flusher moves them
 * into the store afterwards. Refused records are answered with their index and reason and kept in the dead-letter area.
 */
import * as http from 'node:http';
import * as path from 'node:path';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { PredictionRecord, PredictionWriter } from '../store/types';
import { BodyError, bodyFormat, decodeBatch, type BatchItem } from './body';
import { DeadLetterArea, MAX_RAW_BODY_CHARS, type DeadLetter } from './deadletter';
import { WalFlusher, encodeRequestEntry, type WalBatch } from './flusher';
import { CollectorMetrics } from './metrics';
import { isSampled, validateSamplingRate } from './sampling';
import { checkLabel, checkModelName, checkPrediction, type Rejection } from './validate';
import { WriteAheadLog } from './wal';

export interface CollectorOptions {
  store: PredictionWriter;
  /** Directory of the collector's own state: `wal/` and `deadletter/`. */
  stateDir: string;
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
  /** Predictions ids remembered per model to answer re-sent records as duplicates. */
  recentIdsPerModel?: number;
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
  /** Moves everything in the WAL into the store now. */
  flush(): Promise<void>;
  /** Stops accepting, answers the requests under way, flushes the WAL into the store. */
  stop(): Promise<void>;
}

type Kind = WalBatch['kind'];

const API_PATH = /^\/api\/v1\/models\/([^/]+)\/(predictions|labels)$/;

/**
 * Remembers the prediction ids of one model that were recently made durable (two generations of bounded sets; the
 * older generation is dropped when the newer is full), and the ids whose WAL write is under way, so that a re-sent
 * record is answered as a duplicate only once its first copy is really durable.
 */
class RecentIds {
  private current = new Set<string>();
  private previous = new Set<string>();
  private readonly writing = new Map<string, Promise<boolean>>();
  constructor(private readonly capacity: number) {}

  isDurable(id: string): boolean {
    return this.current.has(id) || this.previous.has(id);
  }

  /** Resolves true when the write under way for `id` succeeded, false when it failed; undefined when none is. */
  writeUnderWay(id: string): Promise<boolean> | undefined {
    return this.writing.get(id);
  }

  /** Tracks a WAL write of these ids: under way until it settles, then durable (or forgotten when it failed). */
  track(ids: string[], write: Promise<void>): void {
    const outcome = write.then(
      () => true,
      () => false
    );
    ids.forEach((id) => this.writing.set(id, outcome));
    void outcome.then((durable) => {
      for (const id of ids) {
        if (this.writing.get(id) === outcome) {
          this.writing.delete(id);
        }
        if (durable) {
          this.add(id);
        }
      }
    });
  }

  private add(id: string): void {
    this.current.add(id);
    if (this.current.size >= this.capacity) {
      this.previous = this.current;
      this.current = new Set();
    }
  }
}

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
    readonly headers: Record<string, string> = {}
  ) {
    super(message);
  }
}

export async function startCollector(options: CollectorOptions): Promise<Collector> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const samplingRate = validateSamplingRate(options.samplingRate ?? 1);
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const maxBatchRecords = options.maxBatchRecords ?? 10_000;
  const maxWalBytes = options.maxWalBytes ?? 2 * 1024 * 1024 * 1024;
  const allowedModels = options.models ? new Set(options.models) : undefined;
  const matchesToken = options.tokens ? tokenMatcher(options.tokens) : undefined;
  if (options.tokens && options.tokens.length === 0) {
    throw new Error('no bearer token configured: give --token, --tokens-file, or --demo to run without authentication');
  }

  const wal = WriteAheadLog.open<WalBatch>(path.join(options.stateDir, 'wal'), { segmentBytes: options.segmentBytes });
  const deadLetters = new DeadLetterArea(path.join(options.stateDir, 'deadletter'));
  const metrics = new CollectorMetrics(
    () => wal.bytes,
    () => wal.sealedSegments().length,
    () => wal.syncs
  );
  const flusher = new WalFlusher(wal, options.store, metrics, { log });
  const recentIds = new Map<string, RecentIds>();
  const recentCapacity = options.recentIdsPerModel ?? 500_000;

  const leftOver = wal.sealedSegments().length;
  if (leftOver) {
    log(`collector: replaying ${leftOver} write-ahead log segment(s) left by the previous run into the store`);
    await flusher.flush();
    log('collector: replay done');
  }

  let stopping = false;
  let inFlight = 0;

  function recentFor(model: string): RecentIds {
    let ids = recentIds.get(model);
    if (!ids) {
      ids = new RecentIds(recentCapacity);
      recentIds.set(model, ids);
    }
    return ids;
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

  function readBody(req: http.IncomingMessage): Promise<Buffer> {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      return Promise.reject(tooLarge());
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
          chunks.length = 0;
          reject(tooLarge());
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

  function tooLarge(): HttpError {
    return new HttpError(413, 'body_too_large', `the body is larger than ${maxBodyBytes} bytes; send smaller batches`);
  }

  /**
   * Validates, samples and de-duplicates the items of a batch; returns what to store and the refusals. A prediction
   * id seen earlier in the batch, or already durable, is a duplicate; one whose first copy is still being written by
   * another request waits for that write and is a duplicate only if it succeeded.
   */
  async function sortItems(model: string, kind: Kind, items: BatchItem[], now: number) {
    const accepted: WalBatch['records'] = [];
    const acceptedIndexes: number[] = [];
    const errors: BatchResponse['errors'] = [];
    const letters: DeadLetter[] = [];
    const ids = recentFor(model);
    const inBatch = new Set<string>();
    const waiting: Array<{ index: number; record: PredictionRecord; write: Promise<boolean> }> = [];
    let duplicates = 0;
    let sampledOut = 0;
    items.forEach((item, index) => {
      let rejection: Rejection;
      let raw: unknown;
      if ('invalidLine' in item) {
        rejection = { code: 'invalid_json', reason: item.reason };
        raw = item.invalidLine;
      } else {
        const checked =
          kind === 'predictions' ? checkPrediction(item.value, samplingRate) : checkLabel(item.value, now);
        if (checked.ok) {
          const id = checked.record.id;
          const write = kind === 'predictions' ? ids.writeUnderWay(id) : undefined;
          if (!isSampled(id, samplingRate)) {
            sampledOut += 1;
          } else if (kind === 'predictions' && (inBatch.has(id) || ids.isDurable(id))) {
            duplicates += 1;
          } else if (write) {
            inBatch.add(id);
            waiting.push({ index, record: checked.record as PredictionRecord, write });
          } else {
            inBatch.add(id);
            (accepted as unknown[]).push(checked.record);
            acceptedIndexes.push(index);
          }
          return;
        }
        rejection = checked.rejection;
        raw = item.value;
      }
      errors.push({ index, ...rejection });
      letters.push({ model, kind, index, code: rejection.code, reason: rejection.reason, raw });
    });
    for (const { index, record, write } of waiting) {
      if (await write) {
        duplicates += 1;
      } else {
        (accepted as PredictionRecord[]).push(record);
        acceptedIndexes.push(index);
      }
    }
    return { accepted, acceptedIndexes, errors, letters, duplicates, sampledOut };
  }

  async function ingest(
    req: http.IncomingMessage,
    model: string,
    kind: Kind
  ): Promise<{ status: number; body: BatchResponse }> {
    const format = bodyFormatOrThrow(req.headers['content-type']);
    if (wal.bytes > maxWalBytes) {
      throw new HttpError(503, 'store_behind', 'the store is not keeping up; retry later', { 'Retry-After': '5' });
    }
    const body = await readBody(req);
    const started = process.hrtime.bigint();
    let items: BatchItem[];
    try {
      items = decodeBatch(body, format, maxBatchRecords);
    } catch (err) {
      if (err instanceof BodyError && err.status === 400) {
        const raw = body.toString('utf8', 0, Math.min(body.length, MAX_RAW_BODY_CHARS));
        await deadLetters.write(model, [{ model, kind, index: -1, code: err.code, reason: err.message, raw }]);
        metrics.rejected.inc({ model, kind, reason: err.code });
      }
      throw err;
    }
    const now = Date.now();
    const sorted = await sortItems(model, kind, items, now);
    if (sorted.accepted.length) {
      const batch: WalBatch = { model, kind, records: sorted.accepted };
      const entry = { model, kind, format, accepted: sorted.acceptedIndexes, samplingRate, now };
      const write = wal.append(encodeRequestEntry(entry, body), batch);
      if (kind === 'predictions') {
        recentFor(model).track(
          (sorted.accepted as PredictionRecord[]).map((r) => r.id),
          write
        );
      }
      await write;
    }
    await deadLetters.write(model, sorted.letters, now);
    countOutcomes(model, kind, sorted);
    metrics.ackLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
    const response: BatchResponse = {
      accepted: sorted.accepted.length,
      rejected: sorted.errors.length,
      duplicates: sorted.duplicates,
      sampledOut: sorted.sampledOut,
      samplingRate,
      errors: sorted.errors,
    };
    const allRefused = items.length > 0 && sorted.errors.length === items.length;
    return { status: allRefused ? 422 : 200, body: response };
  }

  function countOutcomes(model: string, kind: Kind, sorted: Awaited<ReturnType<typeof sortItems>>): void {
    metrics.records.inc({ model, kind, outcome: 'accepted' }, sorted.accepted.length);
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
      return {
        status: stopping ? 503 : 200,
        body: { status: stopping ? 'stopping' : 'ok', walBytes: wal.bytes },
        endpoint: 'healthz',
      };
    }
    if (url.pathname === '/metrics') {
      requireMethod(req, 'GET');
      return { status: 200, body: undefined, text: metrics.render(), endpoint: 'metrics' };
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
                    `the batch could not be made durable: ${(err as Error).message}; retry it`
                  );
          if (!(err instanceof HttpError || err instanceof BodyError)) {
            log(`collector: ${httpError.message}`);
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

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8787, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  flusher.start(options.flushIntervalMs ?? 1000);
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let stopped: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    metrics,
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
        await flusher.flush();
        await wal.close();
      })();
      return stopped;
    },
  };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
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

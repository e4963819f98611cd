/**
 * `mlmon retrain-hook`'s HTTP receiver of Grafana's webhook notifications.
 *
 *   POST /api/v1/retrain   Grafana's webhook payload; Authorization: Bearer <shared secret>
 *   GET  /healthz          {"status":"ok", ...counts}
 *
 * For every alert of a notification: a resolved alert, or one not labelled action=retrain, is ignored (said in the
 * answer); an alert already acted on (fingerprint and start, handled.ts) is a duplicate; otherwise the hook reads the
 * evidence (evidence.ts), writes the request file, records the "Retraining requested" event in the store, answers,
 * and then runs the retraining command (command.ts). Every refusal is a JSON `{error, message}` naming what to fix:
 * 401 no or wrong secret, 404/405 path and method, 415 content type, 413 body size, 400 not JSON, 422 not a Grafana
 * notification (naming the field), 503 the store or disk failed (nothing is marked handled, so Grafana's retry
 * is acted on). A command that has finished leaves `<id>.json.done` beside its request file; at start, the hook runs
 * the command of every request without one (accepted, but the hook stopped before the command finished).
 */
import { rm } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tokenMatcher } from '../collector/collector';
import { isIdentifier, validateVersion } from '../store/identifiers';
import type { PredictionStore } from '../store/types';
import { commandQueue, type CommandResult, type CommandSpec } from './command';
import { driftingFeatures, EVIDENCE_WINDOW_MS, hookInstance, servingVersion } from './evidence';
import { alertKey, openHandledLog } from './handled';
import { parseNotification, PayloadError, type WebhookAlert } from './payload';
import {
  markDone,
  pendingRequests,
  requestedEvent,
  retrainRequest,
  writeRequestFile,
  type RetrainRequest,
} from './request';

export const RETRAIN_PATH = '/api/v1/retrain';
/** Largest body read: Grafana's payload for MAX_ALERTS alerts with their annotations fits well within it. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface HookOptions {
  store: PredictionStore;
  secret: string;
  stateDir: string;
  command?: CommandSpec;
  host?: string;
  port?: number;
  log?: (line: string) => void;
  now?: () => number;
}

export interface HookOutcome {
  accepted: Array<{ fingerprint: string; model: string; request: string; file: string; features: string[] }>;
  duplicates: Array<{ fingerprint: string; model: string }>;
  ignored: Array<{ fingerprint: string; reason: string }>;
  rejected: Array<{ fingerprint: string; reason: string }>;
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {}
  ) {
    super(message);
  }
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** The body, up to MAX_BODY_BYTES (a longer one is refused as soon as it passes the limit). */
function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_BODY_BYTES) {
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const tooLarge = () =>
  new Refusal(
    413,
    'body_too_large',
    `the body is larger than ${MAX_BODY_BYTES} bytes; set the contact point's maxAlerts`
  );

export async function startRetrainHook(options: HookOptions) {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const now = options.now ?? Date.now;
  const handled = await openHandledLog(options.stateDir);
  const requestsDir = `${options.stateDir}/requests`;
  const instance = hookInstance(options.store);
  const matches = tokenMatcher([options.secret]);
  const queue = options.command ? commandQueue(options.command) : undefined;
  const counts = { accepted: 0, duplicates: 0, ignored: 0, rejected: 0, commandsRun: 0, commandsFailed: 0 };

  function authenticate(req: http.IncomingMessage): void {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer (\S+)$/.exec(header);
    if (!match || !matches(match[1])) {
      throw new Refusal(
        401,
        header ? 'wrong_secret' : 'no_secret',
        header
          ? 'the bearer token is not the hook\'s secret: set the contact point\'s "Authorization Header Credentials" to it'
          : 'send the shared secret as "Authorization: Bearer <secret>" (the contact point\'s authorization_credentials)',
        { 'WWW-Authenticate': 'Bearer realm="mlmon-retrain-hook"' }
      );
    }
  }

  /** Why an alert cannot become a request (null: it can), or that it is not one for the hook at all. */
  async function classify(alert: WebhookAlert): Promise<{ ignore?: string; reject?: string }> {
    if (alert.status !== 'firing') {
      return { ignore: 'resolved: only a firing alert requests retraining' };
    }
    if (alert.labels.action !== 'retrain') {
      return { ignore: 'not labelled action=retrain (the notification policy should not route it here)' };
    }
    const model = alert.labels.model;
    if (!isIdentifier(model)) {
      return { reject: `label model ${JSON.stringify(model ?? null)} is not a model name` };
    }
    if (alert.labels.version !== undefined) {
      try {
        validateVersion(alert.labels.version);
      } catch (error) {
        return { reject: (error as Error).message };
      }
    }
    if (!(await options.store.listModels()).includes(model)) {
      return { reject: `model ${model} is not in the hook's store (${options.store.description})` };
    }
    return {};
  }

  /** Reads the evidence, writes the request file and records the event; throws when the store or disk fails. */
  async function request(alert: WebhookAlert): Promise<{ request: RetrainRequest; file: string }> {
    const model = alert.labels.model;
    const to = Math.min(now(), Date.parse(alert.startsAt) || now());
    const window = { from: to - EVIDENCE_WINDOW_MS, to };
    const features = await driftingFeatures(instance, model, window, AbortSignal.timeout(60_000));
    const version = await servingVersion(options.store, model, alert.labels.version);
    const made = retrainRequest(alert, model, version, features, window, now());
    const file = await writeRequestFile(requestsDir, made);
    try {
      await options.store.recordEvent(model, requestedEvent(made, now()));
    } catch (error) {
      await rm(file, { force: true }); // no request without its annotation: Grafana's retry makes both
      throw error;
    }
    return { request: made, file };
  }

  function runCommand(made: RetrainRequest, file: string): void {
    if (!queue) {
      return;
    }
    queue.run(made, file).then(async (result: CommandResult) => {
      if (result.aborted) {
        log(`mlmon retrain-hook: command for ${made.id} stopped with the hook; it runs again at the next start`);
        return;
      }
      await markDone(file, result).catch((error: Error) =>
        log(`mlmon retrain-hook: could not mark ${made.id} done (${error.message}); it runs again on restart`)
      );
      const ok = result.exitCode === 0;
      counts.commandsRun += 1;
      counts.commandsFailed += ok ? 0 : 1;
      const how = result.timedOut
        ? `timed out after ${result.durationMs} ms`
        : `exited ${result.exitCode ?? result.signal} after ${result.durationMs} ms`;
      log(
        `mlmon retrain-hook: command for ${made.id} ${how}${ok ? '' : `; its output ends: ${result.output.trim().slice(-2000)}`}`
      );
    });
  }

  async function handle(req: http.IncomingMessage): Promise<{ status: number; body: unknown }> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      if (req.method !== 'GET') {
        throw new Refusal(405, 'method_not_allowed', 'use GET /healthz', { Allow: 'GET' });
      }
      return { status: 200, body: { status: 'ok', ...counts } };
    }
    if (path !== RETRAIN_PATH) {
      throw new Refusal(404, 'not_found', `no such path; Grafana's webhook contact point posts to ${RETRAIN_PATH}`);
    }
    if (req.method !== 'POST') {
      throw new Refusal(405, 'method_not_allowed', `use POST ${RETRAIN_PATH}`, { Allow: 'POST' });
    }
    authenticate(req);
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json') {
      throw new Refusal(
        415,
        'unsupported_media_type',
        `Content-Type ${JSON.stringify(type || '(none)')}; Grafana sends application/json`
      );
    }
    const body = await readBody(req);
    let decoded: unknown;
    try {
      decoded = JSON.parse(body.toString('utf8'));
    } catch (error) {
      throw new Refusal(400, 'invalid_json', `the body is not JSON: ${(error as Error).message}`);
    }
    let notification;
    try {
      notification = parseNotification(decoded);
    } catch (error) {
      if (error instanceof PayloadError) {
        throw new Refusal(422, 'not_a_grafana_notification', error.message);
      }
      throw error;
    }
    const outcome: HookOutcome = { accepted: [], duplicates: [], ignored: [], rejected: [] };
    for (const alert of notification.alerts) {
      const { ignore, reject } = await classify(alert);
      const fingerprint = alert.fingerprint;
      if (ignore || reject) {
        (ignore ? outcome.ignored : outcome.rejected).push({ fingerprint, reason: (ignore ?? reject)! });
        continue;
      }
      const key = alertKey(fingerprint, alert.startsAt);
      if (!handled.claim(key)) {
        outcome.duplicates.push({ fingerprint, model: alert.labels.model });
        continue;
      }
      let made;
      try {
        made = await request(alert);
        await handled.persist(key);
      } catch (error) {
        handled.release(key);
        throw new Refusal(
          503,
          'unavailable',
          `could not record the retraining request for ${alert.labels.model}: ${(error as Error).message}; nothing was started, Grafana's retry will be acted on`
        );
      }
      outcome.accepted.push({
        fingerprint,
        model: made.request.model,
        request: made.request.id,
        file: made.file,
        features: made.request.features.map((f) => f.feature),
      });
      log(`mlmon retrain-hook: retraining requested for ${made.request.model} (${made.request.id})`);
      runCommand(made.request, made.file);
    }
    counts.accepted += outcome.accepted.length;
    counts.duplicates += outcome.duplicates.length;
    counts.ignored += outcome.ignored.length;
    counts.rejected += outcome.rejected.length;
    return { status: outcome.accepted.length > 0 ? 202 : 200, body: outcome };
  }

  // Requests accepted but whose command never finished (the hook was stopped or killed): run them now.
  if (queue) {
    for (const pending of await pendingRequests(requestsDir)) {
      log(`mlmon retrain-hook: running the command of ${pending.request.id}, accepted before a restart`);
      runCommand(pending.request, pending.file);
    }
  }

  const server = http.createServer((req, res) => {
    handle(req).then(
      ({ status, body }) => send(res, status, body),
      (error: unknown) => {
        const refusal =
          error instanceof Refusal
            ? error
            : new Refusal(500, 'internal', `the hook failed: ${(error as Error).message}`);
        if (refusal.status >= 500) {
          log(`mlmon retrain-hook: ${refusal.status} ${refusal.message}`);
        }
        send(
          res,
          refusal.status,
          { error: refusal.code, message: refusal.message },
          {
            ...refusal.headers,
            ...(req.readableEnded ? {} : { Connection: 'close' }),
          }
        );
        req.resume();
      }
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8790, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    /** Stops accepting and stops the running command (requests not done run again at the next start). */
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await queue?.stop();
    },
  };
}

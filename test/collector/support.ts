/**
 * Test support for the collector: record generators and a small HTTP client that returns status and parsed body.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { startCollector, type Collector, type CollectorOptions } from '../../src/server/collector/collector';
import type { PredictionWriter } from '../../src/server/store/types';

export const TOKEN = 'test-token-5f1c';

export interface Reply {
  status: number;
  body: any;
  headers: http.IncomingHttpHeaders;
}

/** Sends one request; resolves with the status and the JSON (or text) answer. Never rejects on HTTP errors. */
export function send(
  url: string,
  options: {
    method?: string;
    path: string;
    body?: string | Buffer;
    headers?: Record<string, string>;
    token?: string | null;
  }
): Promise<Reply> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  const token = options.token === undefined ? TOKEN : options.token;
  if (token !== null) {
    headers.Authorization = `Bearer ${token}`;
  }
  if (options.body !== undefined && !('Content-Type' in headers)) {
    headers['Content-Type'] = 'application/json';
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}${options.path}`,
      { method: options.method ?? 'POST', headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: any = text;
          if ((res.headers['content-type'] ?? '').startsWith('application/json')) {
            body = JSON.parse(text);
          }
          resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
        });
        res.on('error', reject);
      }
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A valid prediction record with `featureCount` numeric and categorical features. */
export function prediction(id: string, ts = Date.UTC(2026, 2, 1, 12), featureCount = 4): Record<string, unknown> {
  const features: Record<string, number | string | boolean | null> = {};
  for (let f = 0; f < featureCount; f++) {
    features[`f${f}`] = f % 4 === 3 ? `c${f % 3}` : (f * 7 + id.length) / 10;
  }
  return { id, ts, version: 'v1', features, prediction: 1, score: 0.7, latency_ms: 12.5 };
}

export function predictions(prefix: string, n: number, featureCount = 4): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => prediction(`${prefix}-${i}`, Date.UTC(2026, 2, 1, 12) + i, featureCount));
}

/** A collector in this process on `store`, with its state in `<dir>/state`, a free port, the test token, no log. */
export function startInDir(
  store: PredictionWriter,
  dir: string,
  extra: Partial<CollectorOptions> = {}
): Promise<Collector> {
  return startCollector({
    store,
    stateDir: path.join(dir, 'state'),
    port: 0,
    tokens: [TOKEN],
    log: () => undefined,
    ...extra,
  });
}

/** The dead letters kept for a model by a collector whose state is in `<dir>/state`. */
export function readDeadLetters(dir: string, model: string): any[] {
  const folder = path.join(dir, 'state', 'deadletter', model);
  if (!fs.existsSync(folder)) {
    return [];
  }
  return fs
    .readdirSync(folder)
    .flatMap((file) => fs.readFileSync(path.join(folder, file), 'utf8').split('\n').filter(Boolean))
    .map((line) => JSON.parse(line));
}

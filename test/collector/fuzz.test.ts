/**
 * 10 000+ malformed requests, generated deterministically with fast-check: each gets a clear JSON answer with a
 * 4xx status (never a 5xx, never a dropped connection), the collector keeps serving valid batches afterwards, and
 * every record it said it accepted is in the store — no more, no less.
 */
import * as fc from 'fast-check';
import { isUtf8 } from 'node:buffer';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { startCollector, type Collector } from '../../src/server/collector/collector';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { TOKEN, prediction } from './support';

const SEED = 20260301;
const MAX_BODY = 64 * 1024;

interface FuzzRequest {
  kind: string;
  path: string;
  method: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Statuses that are a correct answer for this kind of request. */
  expected: number[];
}

const auth = { Authorization: `Bearer ${TOKEN}` };
const json = { ...auth, 'Content-Type': 'application/json' };
const ndjson = { ...auth, 'Content-Type': 'application/x-ndjson' };
const FIELDS = ['id', 'ts', 'version', 'features', 'prediction', 'score', 'latency_ms', 'error'];

const request = (
  kind: string,
  body: string | Buffer | undefined,
  expected: number[],
  extra: Partial<FuzzRequest> = {}
): FuzzRequest => ({
  kind,
  path: '/api/v1/models/fuzz/predictions',
  method: 'POST',
  headers: json,
  body: body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body),
  expected,
  ...extra,
});

/** A valid record with one field replaced by an arbitrary JSON value, or removed. */
const mangledRecord = fc
  .tuple(fc.nat(1_000_000), fc.constantFrom(...FIELDS), fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }))
  .map(([n, field, value]) => {
    const record: Record<string, unknown> = prediction(`fz-${n}`);
    if (value === undefined) {
      delete record[field];
    } else {
      record[field] = value;
    }
    return record;
  });

const arbitraries: Record<string, fc.Arbitrary<FuzzRequest>> = {
  badJson: fc
    .string({ maxLength: 200 })
    .filter((s) => {
      try {
        JSON.parse(s);
        return false;
      } catch {
        return true;
      }
    })
    .map((s) => request('badJson', s, [400])),
  notAnArray: fc
    .jsonValue({ maxDepth: 2 })
    .filter((v) => !Array.isArray(v))
    .map((v) => request('notAnArray', JSON.stringify(v), [400])),
  wrongTypes: fc
    .array(mangledRecord, { minLength: 1, maxLength: 5 })
    .map((records) => request('wrongTypes', JSON.stringify(records), [200, 422])),
  arbitraryRecords: fc
    .array(fc.jsonValue({ maxDepth: 3 }), { minLength: 1, maxLength: 5 })
    .map((v) => request('arbitraryRecords', JSON.stringify(v), [200, 422])),
  badFeatures: fc
    .dictionary(fc.string({ maxLength: 20 }), fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.constant('x'.repeat(5000))), {
      maxKeys: 4,
    })
    .map((features) => request('badFeatures', JSON.stringify([{ ...prediction('bf'), features }]), [200, 422])),
  hugeBody: fc
    .integer({ min: MAX_BODY + 1, max: 4 * MAX_BODY })
    .map((size) => request('hugeBody', Buffer.alloc(size, 0x20), [413])),
  lyingLength: fc.constant(
    request('lyingLength', undefined, [413], { headers: { ...json, 'Content-Length': String(10 * MAX_BODY) } })
  ),
  modelName: fc
    .oneof(
      fc.string({ minLength: 1, maxLength: 80 }),
      fc.constantFrom(
        'x; DROP TABLE y',
        "a'b",
        'a"b',
        'a`b',
        '..',
        '../../etc',
        'x y',
        'é',
        '1abc',
        'a'.repeat(65),
        '%00',
        'a\u0000b'
      )
    )
    .filter((name) => !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name))
    .map((name) =>
      request('modelName', JSON.stringify([prediction('mn')]), [400, 404], {
        path: `/api/v1/models/${encodeURIComponent(name)}/predictions`,
      })
    ),
  rawModelPath: fc
    .string({ minLength: 1, maxLength: 30 })
    .filter((s) => !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(s) && !s.includes('/') && !s.includes('?') && !s.includes('#'))
    .map((s) => {
      const safe = Buffer.from(s)
        .toString('latin1')
        .replace(/[^\x21-\x7e]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
      return request('rawModelPath', JSON.stringify([prediction('rp')]), [400, 404], {
        path: `/api/v1/models/${safe}/predictions`,
      });
    }),
  invalidUtf8: fc
    .uint8Array({ minLength: 1, maxLength: 200 })
    .filter((bytes) => !isUtf8(bytes))
    .map((bytes) => request('invalidUtf8', Buffer.from(bytes), [400])),
  badNdjson: fc
    .array(
      fc.oneof(
        fc.string({ maxLength: 50 }),
        mangledRecord.map((r) => JSON.stringify(r))
      ),
      { minLength: 1, maxLength: 6 }
    )
    .map((lines) => request('badNdjson', lines.join('\n'), [200, 400, 413, 422], { headers: ndjson })),
  contentType: fc
    .oneof(
      fc.constantFrom('text/plain', 'text/csv', 'application/xml', 'multipart/form-data', '', 'application/jsonx'),
      fc.string({ maxLength: 30 })
    )
    .filter((t) => !/^\s*application\/(json|x-ndjson|ndjson|jsonl|x-jsonlines)\s*(;.*)?$/i.test(t))
    .map((type) =>
      request('contentType', JSON.stringify([prediction('ct')]), [415], {
        headers: type ? { ...auth, 'Content-Type': type } : auth,
      })
    ),
  token: fc
    .oneof(
      fc.constant(undefined),
      fc
        .string({ maxLength: 40 })
        .filter((t) => /^[\x20-\x7e]*$/.test(t))
        .map((t) => `Bearer ${t}`),
      fc.constantFrom(`Basic ${TOKEN}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, `bearer`, `Bearer  `)
    )
    .map((header) =>
      request('token', JSON.stringify([prediction('tk')]), [401], {
        headers:
          header === undefined
            ? { 'Content-Type': 'application/json' }
            : { 'Content-Type': 'application/json', Authorization: header },
      })
    ),
  method: fc
    .constantFrom('GET', 'PUT', 'DELETE', 'PATCH')
    .map((method) => request('method', undefined, [405], { method })),
  unknownPath: fc
    .string({ maxLength: 30 })
    .map((s) => request('unknownPath', '[]', [404], { path: `/api/v1/${encodeURIComponent(s)}x/other` })),
};

/** Sends one request; resolves with status and body text, or with status 0 and the error when the connection failed. */
function send(
  url: string,
  agent: http.Agent,
  req: FuzzRequest
): Promise<{ status: number; text: string; contentType: string }> {
  return new Promise((resolve) => {
    const r = http.request(`${url}${req.path}`, { method: req.method, headers: req.headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          text: Buffer.concat(chunks).toString('utf8'),
          contentType: String(res.headers['content-type']),
        })
      );
      res.on('error', (err) => resolve({ status: 0, text: String(err), contentType: '' }));
    });
    r.on('error', (err) => resolve({ status: 0, text: String(err), contentType: '' }));
    if (req.kind === 'lyingLength') {
      r.write(Buffer.alloc(1000, 0x20));
      setTimeout(() => r.destroy(), 200);
    } else {
      r.end(req.body);
    }
  });
}

let dir: string;
let store: EmbeddedStore;
let collector: Collector;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-fuzz-'));
  store = await EmbeddedStore.open(path.join(dir, 'data'));
  collector = await startCollector({
    store,
    stateDir: path.join(dir, 'state'),
    port: 0,
    tokens: [TOKEN],
    maxBodyBytes: MAX_BODY,
    maxBatchRecords: 100,
    flushIntervalMs: 3_600_000,
    log: () => undefined,
  });
});
afterAll(async () => {
  await collector.stop();
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('10 000+ malformed requests get clear 4xx answers and the collector keeps working', async () => {
  const perKind = 800;
  const requests = Object.values(arbitraries).flatMap((arb, k) => fc.sample(arb, { numRuns: perKind, seed: SEED + k }));
  expect(requests.length).toBeGreaterThanOrEqual(10_000);

  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  let acceptedByCollector = 0;
  const wrong: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < requests.length) {
        const req = requests[next++];
        const reply = await send(collector.url, agent, req);
        if (req.kind === 'lyingLength' && reply.status === 0) {
          continue; // the client hung up before the answer could be read: nothing to check but survival
        }
        let body: any;
        try {
          body = JSON.parse(reply.text);
        } catch {
          body = undefined;
        }
        const shapeOk =
          reply.contentType.startsWith('application/json') &&
          body !== undefined &&
          (reply.status === 200 || reply.status === 422
            ? Number.isInteger(body.accepted) &&
              body.errors.every(
                (e: any) => Number.isInteger(e.index) && typeof e.code === 'string' && e.reason.length > 10
              )
            : typeof body.error === 'string' && typeof body.message === 'string' && body.message.length > 10);
        if (!req.expected.includes(reply.status) || !shapeOk) {
          wrong.push(
            `${req.kind} ${req.method} ${req.path.slice(0, 60)} → ${reply.status} ${reply.text.slice(0, 200)}`
          );
        }
        if (reply.status === 200 || reply.status === 422) {
          acceptedByCollector += body.accepted;
        }
        if (reply.text.includes(TOKEN)) {
          wrong.push(`${req.kind}: the answer contains the token`);
        }
      }
    })
  );
  agent.destroy();
  expect(wrong.slice(0, 20)).toEqual([]);

  // Still alive and correct: a valid batch is accepted, /healthz is ok.
  const valid = await send(
    collector.url,
    new http.Agent(),
    request('valid', JSON.stringify([prediction('after-fuzz-1'), prediction('after-fuzz-2')]), [200])
  );
  expect(valid.status).toBe(200);
  expect(JSON.parse(valid.text).accepted).toBe(2);
  const health = await send(collector.url, new http.Agent(), {
    ...request('health', undefined, [200]),
    method: 'GET',
    path: '/healthz',
    headers: {},
  });
  expect(health.status).toBe(200);

  // Every record the collector accepted is in the store, and nothing else.
  await collector.flush();
  let stored = 0;
  for (const model of await store.listModels()) {
    const relation = await store.predictionsRelation(model);
    const [row] = await store.query<{ n: number }>(`SELECT count(*) AS n FROM ${relation}`);
    stored += Number(row.n);
  }
  expect(stored).toBe(acceptedByCollector + 2);
  // Refused records are all in the dead-letter area.
  const letters = fs
    .readdirSync(path.join(dir, 'state', 'deadletter'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .reduce(
      (n, e) =>
        n +
        fs
          .readFileSync(path.join(e.parentPath ?? (e as any).path, e.name), 'utf8')
          .split('\n')
          .filter(Boolean).length,
      0
    );
  expect(letters).toBeGreaterThan(3000);
}, 240_000);

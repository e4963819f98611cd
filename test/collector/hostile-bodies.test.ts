/**
 * Bodies a hostile or careless client sends: a 16 MB `[{},{},…]` (counted while split, refused at its first
 * surplus record, so 8 at once do not grow the collector's memory by gigabytes), a JSON body with a byte-order
 * mark (accepted like NDJSON with one), and bodies refused whole (413), which are kept as dead letters too.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Collector } from '../../src/server/collector/collector';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { LOAD_TOKEN, spawnCollector, stopCollector, type CollectorProcess } from './harness';
import { prediction, readDeadLetters, send, startInDir } from './support';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-hostile-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Peak resident memory of a process (VmHWM), in MiB. */
function peakRssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

function postRaw(url: string, body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/api/v1/models/m/predictions`,
      {
        method: 'POST',
        agent: false,
        headers: { Authorization: `Bearer ${LOAD_TOKEN}`, 'Content-Type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      }
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('eight concurrent 16 MB bodies of empty objects are refused (413) without parsing them whole', async () => {
  const collector: CollectorProcess = await spawnCollector(['--data-dir', path.join(dir, 'data')]);
  try {
    const body = Buffer.from(`[${'{},'.repeat(5_333_000)}{}]`); // 16 MB, 5.3 million records
    expect(body.length).toBeLessThan(16 * 1024 * 1024);
    const before = peakRssMiB(collector.child.pid!);
    const replies = await Promise.all(Array.from({ length: 8 }, () => postRaw(collector.url, body)));
    expect(replies.map((r) => r.status)).toEqual(Array(8).fill(413));
    expect(JSON.parse(replies[0].text).message).toMatch(/more than 10000 records/);
    // The bodies themselves take 8 × 16 MB while they are read; parsing them would take gigabytes.
    expect(peakRssMiB(collector.child.pid!) - before).toBeLessThan(400);
  } finally {
    expect(await stopCollector(collector)).toBe(0);
  }
}, 120_000);

describe('in process', () => {
  let store: EmbeddedStore;
  let collector: Collector;
  beforeEach(async () => {
    store = await EmbeddedStore.open(path.join(dir, 'data'));
    collector = await startInDir(store, dir, { maxBodyBytes: 20_000, maxBatchRecords: 5 });
  });
  afterEach(async () => {
    await collector.stop();
    await store.close();
  });

  const letters = () => readDeadLetters(dir, 'm');

  test('a byte-order mark is accepted before JSON as before NDJSON', async () => {
    const bom = '\uFEFF';
    const json = await send(collector.url, {
      path: '/api/v1/models/m/predictions',
      body: bom + JSON.stringify([prediction('bom-json')]),
    });
    const ndjson = await send(collector.url, {
      path: '/api/v1/models/m/predictions',
      body: bom + JSON.stringify(prediction('bom-ndjson')) + '\n',
      headers: { 'Content-Type': 'application/x-ndjson' },
    });
    expect([json.status, json.body.accepted, ndjson.status, ndjson.body.accepted]).toEqual([200, 1, 200, 1]);
  });

  test('bodies refused whole with 413 are kept as dead letters, with what could be read of them', async () => {
    const long = JSON.stringify(Array.from({ length: 6 }, (_, i) => prediction(`long-${i}`)));
    const tooLong = await send(collector.url, { path: '/api/v1/models/m/predictions', body: long });
    expect([tooLong.status, tooLong.body.error]).toEqual([413, 'batch_too_long']);
    const big = JSON.stringify([{ id: 'big', pad: 'x'.repeat(30_000) }]);
    const declared = await send(collector.url, { path: '/api/v1/models/m/predictions', body: big });
    expect([declared.status, declared.body.error]).toEqual([413, 'body_too_large']);
    const streamed = await send(collector.url, {
      path: '/api/v1/models/m/predictions',
      body: big,
      headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
    });
    expect([streamed.status, streamed.body.error]).toEqual([413, 'body_too_large']);
    const kept = letters();
    expect(kept.map((l) => [l.index, l.code])).toEqual([
      [-1, 'batch_too_long'],
      [-1, 'body_too_large'],
      [-1, 'body_too_large'],
    ]);
    expect(kept[0].raw).toContain('long-5');
    expect(kept[1].raw).toBeNull(); // refused on its Content-Length, before any byte was read
    expect(kept[1].reason).toMatch(/Content-Length is \d+ bytes/);
    expect(kept[2].raw.startsWith('[{"id":"big"')).toBe(true);
  });
});

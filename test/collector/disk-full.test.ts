/**
 * Disk full under the write-ahead log, for real: the collector's state directory is a small tmpfs, which answers
 * ENOSPC exactly like a full disk.
 * - With the default free-space floor (`--min-free-bytes`), the collector refuses batches with 507 before the disk
 *   is full, says so in /healthz, and resumes by itself once space is freed.
 * - With no floor, writes really fail with ENOSPC, again and again, in fresh and in used segments; every
 *   acknowledged batch must still be replayed after kill -9, and the restart must succeed, even on a full disk.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { mountTmpfs, type Tmpfs } from '../support/tmpfs';
import { featureSnippets, loadBatch, postBatch, spawnCollector, stopCollector, type CollectorProcess } from './harness';
import { send } from './support';

const MODEL = 'disk_model';
const BATCH = 40; // about 20 KB of JSON per batch
const snippets = featureSnippets();
let disk: Tmpfs;
let dir: string;
let collector: CollectorProcess | undefined;
let agent: http.Agent;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-diskfull-'));
  disk = mountTmpfs(3 * 1024 * 1024);
  agent = new http.Agent({ keepAlive: true });
});
afterEach(async () => {
  agent.destroy();
  if (collector && collector.child.exitCode === null && collector.child.signalCode === null) {
    collector.child.kill('SIGKILL');
    await collector.exited;
  }
  collector = undefined;
  disk.unmount();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Flusher and maintenance slowed down so that the WAL itself fills the disk. */
const SLOW = ['--flush-interval-ms', '3600000', '--maintenance-interval-ms', '3600000'];

function storeArgs(): string[] {
  return ['--data-dir', path.join(dir, 'data'), '--state-dir', disk.dir];
}

async function health(): Promise<{ status: number; body: any }> {
  const reply = await send(collector!.url, { method: 'GET', path: '/healthz', token: null });
  return { status: reply.status, body: reply.body };
}

/** Sends batches, numbered from 0, remembering which were acknowledged and how the others were refused. */
function sender() {
  const acknowledged = new Set<number>();
  const refusals = new Map<number, number>();
  let index = 0;
  return {
    acknowledged,
    refusals,
    async next(): Promise<number> {
      const batch = loadBatch('disk', index, BATCH, snippets);
      const result = await postBatch(collector!.url, MODEL, batch.body, agent);
      if (result.status === 200) {
        expect(result.body.accepted).toBe(BATCH);
        acknowledged.add(index);
      } else {
        refusals.set(result.status, (refusals.get(result.status) ?? 0) + 1);
      }
      index += 1;
      return result.status;
    },
  };
}

/** Kills the collector, restarts it on the same directories, stops it gracefully (replay + flush). */
async function crashAndRestart(extra: string[]): Promise<void> {
  collector!.child.kill('SIGKILL');
  await collector!.exited;
  collector = await spawnCollector(storeArgs(), extra);
  expect(await stopCollector(collector)).toBe(0);
}

/** Every id of every acknowledged batch is stored exactly once. */
async function expectStoredOnce(acknowledged: Set<number>): Promise<void> {
  const store = await EmbeddedStore.open(path.join(dir, 'data'));
  try {
    const relation = await store.predictionsRelation(MODEL);
    const rows = await store.query<{ id: string }>(`SELECT id FROM ${relation}`);
    const stored = new Map<string, number>();
    rows.forEach((r) => stored.set(r.id, (stored.get(r.id) ?? 0) + 1));
    const wrong: string[] = [];
    for (const i of acknowledged) {
      for (const id of loadBatch('disk', i, BATCH, snippets).ids) {
        if (stored.get(id) !== 1) {
          wrong.push(`${id}×${stored.get(id) ?? 0}`);
        }
      }
    }
    expect(wrong.slice(0, 10)).toEqual([]);
  } finally {
    await store.close();
  }
}

test('below the free-space floor batches get 507 and /healthz fails; freeing space resumes by itself', async () => {
  const extra = [...SLOW, '--min-free-bytes', String(96 * 1024)];
  collector = await spawnCollector(storeArgs(), extra);
  const batches = sender();
  for (let round = 0; round < 3; round++) {
    disk.fill(400 * 1024);
    let status = 200;
    for (let i = 0; i < 100 && status === 200; i++) {
      status = await batches.next();
    }
    expect(status).toBe(507);
    for (let i = 0; i < 3; i++) {
      expect(await batches.next()).toBe(507); // nothing was written: still below the floor
    }
    const full = await health();
    expect(full.status).toBe(503);
    expect(full.body.status).toBe('failing');
    expect(JSON.stringify(full.body.problems)).toMatch(/free/);

    disk.free();
    expect((await health()).body.status).toBe('ok'); // no traffic needed to notice the space
    for (let i = 0; i < 5; i++) {
      expect(await batches.next()).toBe(200);
    }
  }
  await crashAndRestart(extra);
  await expectStoredOnce(batches.acknowledged);
  expect(batches.refusals.get(507)).toBeGreaterThanOrEqual(12);
}, 180_000);

test('real ENOSPC in fresh and used WAL segments loses no acknowledged batch and the restart replays', async () => {
  const extra = [...SLOW, '--min-free-bytes', '0', '--segment-bytes', String(64 * 1024)];
  collector = await spawnCollector(storeArgs(), extra);
  const batches = sender();
  // Little room (every write fails, the first one part-way: later ones start in a fresh segment) and more room
  // (some writes succeed between failures, in a segment that already holds acknowledged entries).
  for (const room of [100, 10, 60, 5, 30]) {
    disk.fill(room * 1024);
    let refused = 0;
    for (let i = 0; i < 30; i++) {
      refused += (await batches.next()) === 200 ? 0 : 1;
    }
    expect(refused).toBeGreaterThan(0);
    disk.free();
    for (let i = 0; i < 3; i++) {
      expect(await batches.next()).toBe(200);
    }
  }
  expect([...batches.refusals.keys()]).toEqual([507]);
  // The crash comes while the disk is completely full: the restart must still take its lock and replay the log.
  disk.fill(0);
  await crashAndRestart(extra);
  await expectStoredOnce(batches.acknowledged);
}, 180_000);

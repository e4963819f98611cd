/**
 * One data directory, several processes, for real: a second collector on the same directory refuses to start and
 * names the holder (the first keeps every acknowledged record), a collector killed with SIGKILL leaves no lock
 * behind, and `mlmon maintain` runs next to a collector that ingests and maintains — as often as you like — without
 * failing and without losing or duplicating a record.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { EmbeddedStore } from '../../src/server/store/embedded';
import {
  REPO_ROOT,
  featureSnippets,
  loadBatch,
  postBatch,
  spawnCollector,
  stopCollector,
  type CollectorProcess,
} from './harness';

const MODEL = 'lock_model';
const BATCH = 200;
const snippets = featureSnippets();
let dir: string;
const running: CollectorProcess[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-lock-'));
});
afterEach(async () => {
  for (const collector of running.splice(0)) {
    if (collector.child.exitCode === null && collector.child.signalCode === null) {
      collector.child.kill('SIGKILL');
      await collector.exited;
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

async function start(extra: string[] = []): Promise<CollectorProcess> {
  const collector = await spawnCollector(['--data-dir', path.join(dir, 'data')], extra);
  running.push(collector);
  return collector;
}

/** Runs `mlmon <args>` to its end (killed after 60 s); resolves with the exit code and what it wrote to stderr. */
function mlmon(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'mlmon.js'), ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/** Sends batches from `from` on until `keepGoing` says stop; returns the indexes acknowledged. */
async function sendWhile(collector: CollectorProcess, from: number, keepGoing: () => boolean): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true });
  const acknowledged: number[] = [];
  // Records spread over three days, so several day directories gain files between compactions.
  for (let index = from; keepGoing(); index++) {
    const batch = loadBatch('lock', index, BATCH, snippets, Date.UTC(2026, 2, 2) + (index % 3) * 86_400_000);
    const result = await postBatch(collector.url, MODEL, batch.body, agent);
    expect(result.status).toBe(200);
    acknowledged.push(index);
  }
  agent.destroy();
  return acknowledged;
}

async function expectStoredOnce(acknowledged: number[]): Promise<void> {
  const store = await EmbeddedStore.open(path.join(dir, 'data'));
  try {
    const relation = await store.predictionsRelation(MODEL);
    const [counts] = await store.query<{ rows: number; ids: number }>(
      `SELECT count(*) AS rows, count(DISTINCT id) AS ids FROM ${relation}`
    );
    expect(Number(counts.rows)).toBe(acknowledged.length * BATCH);
    expect(Number(counts.ids)).toBe(acknowledged.length * BATCH);
  } finally {
    await store.close();
  }
}

test('a second collector on the same data directory refuses to start and names the holder', async () => {
  const first = await start();
  let sending = true;
  const sent = sendWhile(first, 0, () => sending);
  const second = await mlmon(['serve', '--demo', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'data')]);
  expect(second.code).toBe(1);
  expect(second.stderr).toMatch(new RegExp(`held by .*PID ${first.child.pid}`));
  expect(second.stderr).toMatch(/stop it|another/i);
  // Also with its own --state-dir: the data directory is the first's.
  const third = await mlmon([
    'serve',
    '--demo',
    '--listen',
    '127.0.0.1:0',
    '--data-dir',
    path.join(dir, 'data'),
    '--state-dir',
    path.join(dir, 'other-state'),
  ]);
  expect(third.code).toBe(1);
  expect(third.stderr).toMatch(new RegExp(`PID ${first.child.pid}`));
  sending = false;
  const acknowledged = await sent;
  expect(await stopCollector(first)).toBe(0);
  await expectStoredOnce(acknowledged);
}, 120_000);

test('the lock dies with its holder: after kill -9 a new collector starts at once and replays', async () => {
  const first = await start();
  let count = 0;
  const acknowledged = await sendWhile(first, 0, () => count++ < 5);
  first.child.kill('SIGKILL');
  await first.exited;
  const second = await start();
  expect(await stopCollector(second)).toBe(0);
  await expectStoredOnce(acknowledged);
}, 120_000);

test('mlmon maintain next to an ingesting, maintaining collector: every run succeeds, nothing lost or doubled', async () => {
  const collector = await start(['--flush-interval-ms', '50', '--maintenance-interval-ms', '100']);
  let sending = true;
  const sent = sendWhile(collector, 0, () => sending);
  const runs = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      new Promise((resolve) => setTimeout(resolve, i * 150)).then(() =>
        mlmon(['maintain', '--no-prepare', '--data-dir', path.join(dir, 'data')])
      )
    )
  );
  sending = false;
  const acknowledged = await sent;
  expect(runs.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([]);
  expect(await stopCollector(collector)).toBe(0);
  await expectStoredOnce(acknowledged);
}, 180_000);

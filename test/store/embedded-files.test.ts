/**
 * Embedded store file semantics: atomic files under concurrent writers (another process) and readers,
 * compaction into one file per day while reading, and temporary files never read.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EmbeddedStore } from '../../src/server/store/embedded';
import type { PredictionRecord } from '../../src/server/store/types';

const T0 = Date.parse('2024-06-01T00:00:00Z');
const ALL = { from: 0, to: Date.parse('2100-01-01T00:00:00Z') };
const ROOT = resolve(__dirname, '../..');

function batch(start: number, size: number): PredictionRecord[] {
  return Array.from({ length: size }, (_, k) => ({
    id: `r${start + k}`,
    ts: T0 + ((start + k) % 1440) * 60_000,
    version: 'v1',
    features: { x: (start + k) % 97, c: `c${(start + k) % 5}` },
    prediction: 0.5,
    samplingRate: 1,
  }));
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlmon-embedded-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function parquetFiles(model: string): Promise<string[]> {
  const days = join(dir, 'models', model, 'predictions');
  const files: string[] = [];
  for (const day of await readdir(days)) {
    files.push(...(await readdir(join(days, day))).map((f) => join(day, f)));
  }
  return files;
}

test('a reader in this process never sees a partial file while another process writes', async () => {
  const BATCHES = 20;
  const SIZE = 250;
  const script = join(dir, 'writer.ts');
  await writeFile(
    script,
    `import { EmbeddedStore } from ${JSON.stringify(join(ROOT, 'src/server/store/embedded'))};
     (async () => {
       const store = await EmbeddedStore.open(${JSON.stringify(dir)});
       for (let b = 0; b < ${BATCHES}; b++) {
         const records = Array.from({ length: ${SIZE} }, (_, k) => ({ id: 'w' + (b * ${SIZE} + k), ts: ${T0} + k * 1000,
           version: 'v1', features: { x: k, c: 'c' + (k % 3) }, prediction: 1, samplingRate: 1 }));
         await store.writePredictions('shared', records);
       }
       await store.close();
     })().catch((e) => { console.error(e); process.exit(1); });`
  );
  // A day directory holding only a temporary file (a writer that crashed mid-write, or one about to rename its
  // first file) is never read.
  const day = join(dir, 'models', 'shared', 'predictions', 'day=2024-06-01');
  await mkdir(day, { recursive: true });
  await writeFile(join(day, '.crashed.parquet.part'), 'not parquet at all');
  const reader = await EmbeddedStore.open(dir);
  expect((await reader.countPredictions('shared', ALL)).rows).toBe(0);
  const writer = spawn(join(ROOT, 'node_modules/.bin/tsx'), [script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  writer.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number>((done) => writer.on('exit', (code) => done(code ?? -1)));
  let running = true;
  void exited.then(() => (running = false));

  const seen: number[] = [];
  try {
    while (running) {
      const counts = await reader.countPredictions('shared', ALL);
      seen.push(counts.rows);
    }
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
    seen.push((await reader.countPredictions('shared', ALL)).rows);
  } finally {
    writer.kill();
    await reader.close();
  }
  expect(seen.length).toBeGreaterThan(2);
  expect(seen.every((n) => n % SIZE === 0)).toBe(true);
  expect(seen.every((n, i) => i === 0 || n >= seen[i - 1])).toBe(true);
  expect(seen[seen.length - 1]).toBe(BATCHES * SIZE);
});

test('compaction merges a day into one file, removes duplicates and readers keep counting every id once', async () => {
  const store = await EmbeddedStore.open(dir);
  const reader = await EmbeddedStore.open(dir);
  try {
    for (let b = 0; b < 8; b++) {
      await store.writePredictions('compacted', batch(b * 100, 150)); // overlapping ids: 50 re-sent per batch
    }
    await store.writeLabels('compacted', [{ id: 'r1', label: 1, ts: T0 }]);
    await store.writeLabels('compacted', [{ id: 'r1', label: 0, ts: T0 + 1 }]);
    const unique = 8 * 100 + 50;
    expect((await parquetFiles('compacted')).length).toBe(8);
    expect((await store.countPredictions('compacted', ALL)).rows).toBe(unique);

    const counts: number[] = [];
    let compacting = true;
    const reading = (async () => {
      while (compacting) {
        counts.push((await reader.countPredictions('compacted', ALL)).rows);
      }
    })();
    const result = await store.compact('compacted');
    compacting = false;
    await reading;

    expect(result).toEqual({ rowsKept: unique });
    expect(counts.every((n) => n === unique)).toBe(true);
    const files = await parquetFiles('compacted');
    expect(files).toHaveLength(1);
    const [{ n }] = await store.query<{ n: number }>(
      `SELECT count(*) AS n FROM read_parquet('${join(dir, 'models', 'compacted', 'predictions', files[0])}')`
    );
    expect(n).toBe(unique);
    const labels = await store.query(`SELECT id, label_num FROM ${await store.labelsRelation('compacted')}`);
    expect(labels).toEqual([{ id: 'r1', label_num: 0 }]);
    expect(await readdir(join(dir, 'models', 'compacted', 'labels', 'day=2024-06-01'))).toHaveLength(1);
  } finally {
    await reader.close();
    await store.close();
  }
});

test('an empty model reads as an empty relation with every column', async () => {
  const store = await EmbeddedStore.open(dir);
  try {
    expect(await store.listModels()).toEqual([]);
    expect(await store.countPredictions('nothing', ALL)).toEqual({ rows: 0, estimatedTotal: 0, errors: 0 });
    expect(await store.query(`SELECT ts, id, score FROM ${await store.predictionsRelation('nothing')}`)).toEqual([]);
    expect(await store.listVersions('nothing')).toEqual([]);
  } finally {
    await store.close();
  }
  // Reading wrote nothing: Grafana can read a data directory mounted read-only.
  expect(await readdir(dir)).toEqual([]);
});

test('an aborted query stops DuckDB and frees the connection for the next one', async () => {
  const store = await EmbeddedStore.open(dir);
  try {
    const controller = new AbortController();
    const started = Date.now();
    const long = store.query(
      'SELECT count(*) AS n FROM range(100000000000) t(i) WHERE i % 7 = 3',
      {},
      {
        signal: controller.signal,
      }
    );
    setTimeout(() => controller.abort(new Error('time limit')), 200);
    await expect(long).rejects.toThrow(/The query was stopped \(Error: time limit\)/);
    expect(Date.now() - started).toBeLessThan(5000);
    const [row] = await store.query<{ n: number }>('SELECT 41 + 1 AS n');
    expect(row.n).toBe(42);
    await expect(store.query('SELECT 1', {}, { signal: controller.signal })).rejects.toThrow(/stopped/);
  } finally {
    await store.close();
  }
});

test('an event line a crash cut short is skipped and does not swallow the next event', async () => {
  const store = await EmbeddedStore.open(dir);
  try {
    const event = { ts: T0, kind: 'retrain_requested', title: 'Retraining requested', text: 'first', tags: ['retrain'] };
    await store.recordEvent('m', event);
    // A crash in the middle of the next append leaves a line without its end (never acknowledged).
    await writeFile(join(dir, 'models', 'm', 'events.ndjson'), '{"ts":1717200060000,"kind":"retr', { flag: 'a' });
    expect(await store.getEvents('m')).toEqual([event]);
    await store.recordEvent('m', { ...event, ts: T0 + 1, text: 'after the crash' });
    expect((await store.getEvents('m')).map((e) => e.text)).toEqual(['first', 'after the crash']);
  } finally {
    await store.close();
  }
});

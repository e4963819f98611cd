/**
 * `mlmon ingest`: the real command line on a small CSV into the embedded store, and the command in-process
 * into ClickHouse (NDJSON with nested features, Parquet, labels).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { command as ingestCommand } from '../../src/server/cli/ingest';
import { ClickHouseStore } from '../../src/server/store/clickhouse';
import { openMemoryDuckDB } from '../../src/server/store/duckdb-sql';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { startClickHouse, type ClickHouseHandle } from '../support/clickhouse';

const ROOT = resolve(__dirname, '../..');
const ALL = { from: 0, to: Date.parse('2100-01-01T00:00:00Z') };

const CSV = `id,ts,version,age,city,prediction,score,latency_ms
a1,2024-06-01T10:00:00Z,v1,31,paris,1,0.9,12.5
a2,2024-06-01T10:01:00Z,v1,45,oslo,0,0.2,8
a3,2024-06-02T09:00:00Z,v2,,rome,1,0.7,30
a4,not-a-time,v2,50,rome,0,0.1,9
`;

let dir: string;
let clickhouse: ClickHouseHandle;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlmon-ingest-'));
  await writeFile(join(dir, 'small.csv'), CSV);
  clickhouse = await startClickHouse();
});

afterAll(async () => {
  await clickhouse?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('mlmon ingest loads a CSV into the embedded store, reports rows/s and rejected rows, and dedups a re-load', async () => {
  const dataDir = join(dir, 'data');
  const run = () =>
    promisify(execFile)(process.execPath, [
      join(ROOT, 'bin/mlmon.js'),
      'ingest',
      join(dir, 'small.csv'),
      '--model',
      'shop',
      '--data-dir',
      dataDir,
    ]).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr })
    );
  const first = await run();
  expect(first.code).toBe(1);
  expect(first.stderr).toMatch(/mlmon ingest: done, 3 rows stored, 1 rejected in [\d.]+ s \(\d+ rows\/s\)/);
  expect(first.stderr).toContain('rejected row 4: no usable ts');
  expect((await run()).code).toBe(1);

  const store = await EmbeddedStore.open(dataDir);
  try {
    expect(await store.listVersions('shop')).toEqual([
      {
        version: 'v1',
        count: 2,
        firstTs: Date.parse('2024-06-01T10:00:00Z'),
        lastTs: Date.parse('2024-06-01T10:01:00Z'),
      },
      {
        version: 'v2',
        count: 1,
        firstTs: Date.parse('2024-06-02T09:00:00Z'),
        lastTs: Date.parse('2024-06-02T09:00:00Z'),
      },
    ]);
    const rows = await store.query(
      `SELECT id, f_age, f_city, prediction_num, score, latency_ms FROM ${await store.predictionsRelation('shop')} ORDER BY id`
    );
    expect(rows).toEqual([
      { id: 'a1', f_age: 31, f_city: 'paris', prediction_num: 1, score: 0.9, latency_ms: 12.5 },
      { id: 'a2', f_age: 45, f_city: 'oslo', prediction_num: 0, score: 0.2, latency_ms: 8 },
      { id: 'a3', f_age: null, f_city: 'rome', prediction_num: 1, score: 0.7, latency_ms: 30 },
    ]);
  } finally {
    await store.close();
  }
});

test('ingest into ClickHouse from NDJSON (nested features), Parquet and a labels file', async () => {
  const ndjson = [
    { id: 'n1', ts: 1717236000000, features: { age: 20, city: 'lima' }, prediction: 'yes', sampling_rate: 0.5 },
    { id: 'n2', ts: 1717236060000, features: { age: 21, city: 'oslo' }, prediction: 'no', sampling_rate: 0.5 },
  ];
  await writeFile(join(dir, 'batch.ndjson'), ndjson.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const { instance, connection } = await openMemoryDuckDB();
  await connection.run(
    `COPY (SELECT 'p' || i AS id, TIMESTAMP '2024-06-03 00:00:00' + INTERVAL (i) MINUTE AS ts, i * 1.5 AS age, 'x' AS city, 0.5 AS prediction ` +
      `FROM range(5) t(i)) TO '${join(dir, 'batch.parquet')}' (FORMAT parquet)`
  );
  connection.closeSync();
  instance.closeSync();
  await writeFile(join(dir, 'labels.csv'), 'id,label,ts\nn1,yes,2024-07-01T00:00:00Z\np2,no,2024-07-01T00:00:00Z\n');

  const flags = [
    '--model',
    'mixed',
    '--version',
    'v3',
    '--clickhouse',
    clickhouse.url,
    '--clickhouse-database',
    clickhouse.database,
  ];
  const messages: string[] = [];
  const stderr = jest
    .spyOn(process.stderr, 'write')
    .mockImplementation((chunk) => (messages.push(String(chunk)), true));
  try {
    expect(await ingestCommand.run([join(dir, 'batch.ndjson'), ...flags])).toBe(0);
    expect(await ingestCommand.run([join(dir, 'batch.parquet'), ...flags])).toBe(0);
    expect(await ingestCommand.run([join(dir, 'labels.csv'), '--labels', ...flags])).toBe(0);
    expect(await ingestCommand.run([join(dir, 'batch.ndjson'), '--model', 'x y'])).toBe(2);
    expect(messages.join('')).toContain('mlmon ingest: Invalid model name "x y"');
    expect(await ingestCommand.run([join(dir, 'missing.csv'), ...flags])).toBe(2);
    expect(messages.join('')).toContain(`${join(dir, 'missing.csv')}: no such file; check the path`);
    expect(await ingestCommand.run(['--model', 'mixed'])).toBe(2);
    expect(messages.join('')).toContain('give the FILE to ingest');
  } finally {
    stderr.mockRestore();
  }

  const store = await ClickHouseStore.open({ url: clickhouse.url, database: clickhouse.database });
  try {
    expect(await store.countPredictions('mixed', ALL)).toEqual({ rows: 7, estimatedTotal: 9, errors: 0 });
    const rows = await store.query(
      `SELECT p.id AS id, p.f_age AS age, p.prediction_cat AS cat, p.prediction_num AS num, l.label_cat AS label ` +
        `FROM ${await store.predictionsRelation('mixed')} AS p LEFT JOIN ${await store.labelsRelation('mixed')} AS l ON p.id = l.id ` +
        `WHERE p.id IN ({a}, {b}) ORDER BY id`,
      { a: 'n1', b: 'p2' }
    );
    expect(rows).toEqual([
      { id: 'n1', age: 20, cat: 'yes', num: null, label: 'yes' },
      { id: 'p2', age: 3, cat: null, num: 0.5, label: 'no' },
    ]);
  } finally {
    await store.close();
  }
});

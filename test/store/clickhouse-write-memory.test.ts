/**
 * A large write to ClickHouse stays within a small heap. The collector's store worker runs with a bounded heap
 * (store-worker.ts: 256 MB of old generation) and writes a whole flush round — tens of thousands of rows — in one
 * writePredictions call; the ClickHouse store made every row of an insert of up to 2 000 000 cells into an object and
 * the whole insert into one JSON string, which ran that worker out of memory under the ingest benchmark (the process
 * aborted). Here the same write of 100 000 rows × 23 features runs in a process with an 80 MB heap.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { startClickHouse, type ClickHouseHandle } from '../support/clickhouse';

let clickhouse: ClickHouseHandle;

beforeAll(async () => {
  clickhouse = await startClickHouse();
}, 60_000);

afterAll(async () => {
  await clickhouse?.stop();
});

test('100 000 rows are written to ClickHouse in one call within an 80 MB heap', () => {
  const child = spawnSync(
    process.execPath,
    [
      '--max-old-space-size=80',
      '--require',
      'tsx/cjs',
      path.join(__dirname, 'clickhouse-write-memory.child.ts'),
      clickhouse.url,
      clickhouse.database,
      '100000',
    ],
    { encoding: 'utf8', cwd: path.join(__dirname, '..', '..'), timeout: 120_000 }
  );
  expect(child.stderr.split('\n').filter((line) => /out of memory|Error/.test(line))).toEqual([]);
  expect(child.status).toBe(0);
  expect(JSON.parse(child.stdout)).toEqual({ rejected: 0, rows: 100_000 });
}, 150_000);

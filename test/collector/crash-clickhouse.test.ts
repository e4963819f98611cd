/**
 * kill -9 of `mlmon serve` under load, ClickHouse store (Debian's clickhouse-server started on loopback): no
 * acknowledged record lost, none duplicated. MLMON_CRASH_RECORDS sets the number of records (default 60 000 here;
 * `node bench/ingest/crash.js --store clickhouse` runs 1 000 000).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClickHouseStore } from '../../src/server/store/clickhouse';
import { startClickHouse, type ClickHouseHandle } from '../support/clickhouse';
import { expectNothingLostOrDuplicated, runCrashScenario } from './crash';

let clickhouse: ClickHouseHandle;
beforeAll(async () => {
  clickhouse = await startClickHouse();
}, 120_000);
afterAll(() => clickhouse?.stop());

test('a collector killed with SIGKILL under load loses no acknowledged record and duplicates none (ClickHouse)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-crash-ch-'));
  try {
    const report = await runCrashScenario({
      storeArgs: [
        '--clickhouse',
        clickhouse.url,
        '--clickhouse-database',
        clickhouse.database,
        '--state-dir',
        path.join(dir, 'state'),
      ],
      openStore: () => ClickHouseStore.open({ url: clickhouse.url, database: clickhouse.database }),
      records: Number(process.env.MLMON_CRASH_RECORDS ?? 60_000),
    });
    expectNothingLostOrDuplicated(report);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 600_000);

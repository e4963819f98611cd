/**
 * kill -9 of `mlmon serve` under load, embedded store: no acknowledged record lost, none duplicated.
 * MLMON_CRASH_RECORDS sets the number of records (default 60 000 here; `node bench/ingest/crash.js` runs 1 000 000).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { expectNothingLostOrDuplicated, runCrashScenario } from './crash';

test('a collector killed with SIGKILL under load loses no acknowledged record and duplicates none (embedded)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-crash-'));
  try {
    const data = path.join(dir, 'data');
    const report = await runCrashScenario({
      storeArgs: ['--data-dir', data, '--state-dir', path.join(dir, 'state')],
      openStore: () => EmbeddedStore.open(data),
      records: Number(process.env.MLMON_CRASH_RECORDS ?? 60_000),
    });
    expectNothingLostOrDuplicated(report);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 600_000);

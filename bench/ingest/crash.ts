/**
 * The crash test at full size: `node bench/ingest/crash.js [--records 1000000] [--store embedded|clickhouse]`.
 * Sends the records from 4 concurrent senders in batches of 5 000 to `mlmon serve`, kills it with SIGKILL at 40 %,
 * restarts it, re-sends what was not acknowledged (plus three acknowledged batches), kills it again right after the
 * last acknowledgement, restarts it (WAL replay), stops it with SIGTERM, and counts the ids in the store.
 * The jest suite runs the same scenario with 60 000 records (test/collector/crash-*.test.ts).
 * Results go to crash-results.json.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ClickHouseStore } from '../../src/server/store/clickhouse';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { runCrashScenario } from '../../test/collector/crash';
import { startClickHouse } from '../../test/support/clickhouse';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { records: { type: 'string', default: '1000000' }, store: { type: 'string', default: 'embedded' } },
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-crash-'));
  const clickhouse = values.store === 'clickhouse' ? await startClickHouse() : undefined;
  try {
    const data = path.join(dir, 'data');
    const state = ['--state-dir', path.join(dir, 'state')];
    const report = await runCrashScenario({
      storeArgs: clickhouse
        ? ['--clickhouse', clickhouse.url, '--clickhouse-database', clickhouse.database, ...state]
        : ['--data-dir', data, ...state],
      openStore: () =>
        clickhouse
          ? ClickHouseStore.open({ url: clickhouse.url, database: clickhouse.database })
          : EmbeddedStore.open(data),
      records: Number(values.records),
      log: (line) => process.stderr.write(line + '\n'),
    });
    const ok =
      report.missingAcknowledged === 0 &&
      report.unexpectedIds === 0 &&
      report.storedRows === report.records &&
      report.storedDistinct === report.records &&
      report.finalExit === 0;
    const result = { store: values.store, ok, ...report, date: new Date().toISOString(), cpus: os.cpus().length };
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    const file = path.join(__dirname, 'crash-results.json');
    const previous = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
    previous[`${values.store}-${report.records}`] = result;
    fs.writeFileSync(file, JSON.stringify(previous, null, 2) + '\n');
    process.exitCode = ok ? 0 : 1;
  } finally {
    await clickhouse?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`crash test: ${err.stack ?? err}\n`);
  process.exit(1);
});

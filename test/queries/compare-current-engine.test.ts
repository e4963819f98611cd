/**
 * The ClickHouse SQL of the `compare` handler (the shadow pairs joined on request id, the realized and estimated
 * performance, latency and errors of each version, the prediction bins) on a CURRENT ClickHouse engine (chdb), in
 * both value-binding modes, giving the same rows as Debian's ClickHouse 18.16 (test/support/chdb.ts; skipped without
 * chdb unless MLMON_CHDB_PYTHON is set).
 */
import { compareQuery } from '../../src/server/queries/compare';
import { chdbTest, expectSameRowsOnCurrentEngine, recordStatements, type RecordedStatement } from '../support/chdb';
import { startClickHouse, type ClickHouseHandle } from '../support/clickhouse';
import { COMPARE_RANGE, compareTraffic, writeCompareTraffic } from './compare-traffic';
import { instanceFor, runHandler } from './traffic-fixture';

const { python, testWithChdb } = chdbTest('compare-current-engine.test.ts');

let clickhouse: ClickHouseHandle;
let instance: ReturnType<typeof instanceFor>;
let recorded: RecordedStatement[];

beforeAll(async () => {
  clickhouse = await startClickHouse();
  instance = instanceFor({ storeKind: 'clickhouse', clickhouseUrl: clickhouse.url, database: clickhouse.database });
  const store = await instance.store();
  await writeCompareTraffic(store, compareTraffic());
  // Record the handler's own statements (they read the window as `current_window` or its sides), not metadata reads.
  recorded = recordStatements(store, /current_window|champion_side/);
}, 120_000);

afterAll(async () => {
  await instance?.dispose();
  await clickhouse?.stop();
});

testWithChdb('the SQL of compare gives the same rows on a current engine', async () => {
  for (const model of ['duel', 'gauge']) {
    await runHandler(
      compareQuery,
      instance,
      { queryType: 'compare', model, champion: 'v1', challenger: 'v2', sampleFraction: 0.5 },
      { range: COMPARE_RANGE }
    );
  }
  expect(recorded.some(({ sql }) => sql.includes('champion_side'))).toBe(true);
  await expectSameRowsOnCurrentEngine(python!, await instance.store(), clickhouse.database, recorded);
});

/**
 * The ClickHouse SQL of the quality, performance and operational handlers on a CURRENT ClickHouse engine (chdb,
 * ClickHouse in-process from PyPI), in both value-binding modes, giving the same rows as ClickHouse 18.16.
 *
 * The handlers run against Debian's ClickHouse 18.16 (test/support/clickhouse.ts); every SQL they send is recorded
 * with its result; the database's tables (DDL and rows) are copied into chdb and the recorded SQL is replayed there.
 * chdb is found by test/support/chdb.ts (MLMON_CHDB_PYTHON, else /tmp/mlmon-chdb-venv); without it the test is
 * skipped and says so, unless MLMON_CHDB_PYTHON is set.
 */
import { operationalQuery } from '../../src/server/queries/operational';
import { performanceQuery } from '../../src/server/queries/performance';
import { qualityQuery } from '../../src/server/queries/quality';
import { chdbTest, expectSameRowsOnCurrentEngine, recordStatements, type RecordedStatement } from '../support/chdb';
import { clickhouseTraffic, runHandler, type TrafficStore } from './traffic-fixture';

const { python, testWithChdb } = chdbTest('rates-current-engine.test.ts');

let store: TrafficStore;
let recorded: RecordedStatement[];

beforeAll(async () => {
  store = await clickhouseTraffic();
  // Record the handlers' own SQL (it reads the window as `current_window`), not the store's metadata reads.
  recorded = recordStatements(await store.instance.store(), /current_window/);
});

afterAll(async () => {
  await store?.cleanup();
});

testWithChdb('the SQL of quality, performance and operational gives the same rows on a current engine', async () => {
  const runs: Array<[typeof qualityQuery | typeof performanceQuery | typeof operationalQuery, object]> = [
    ...['null_rate', 'type_error_rate', 'out_of_range_rate', 'unseen_category_rate'].map(
      (metric) => [qualityQuery, { queryType: 'quality', metric }] as [typeof qualityQuery, object]
    ),
    [qualityQuery, { queryType: 'quality', metric: 'null_rate', sampleFraction: 0.3, version: 'v2' }],
    ...['accuracy', 'auc', 'label_coverage'].map(
      (metric) => [performanceQuery, { queryType: 'performance', metric }] as [typeof performanceQuery, object]
    ),
    [performanceQuery, { queryType: 'performance', model: 'price', metric: 'rmse' }],
    [performanceQuery, { queryType: 'performance', metric: 'accuracy', estimate: true }],
    ...['latency_p50', 'latency_p99', 'throughput', 'error_rate'].map(
      (metric) => [operationalQuery, { queryType: 'operational', metric }] as [typeof operationalQuery, object]
    ),
    [
      operationalQuery,
      {
        queryType: 'operational',
        metric: 'latency_p95',
        sampleFraction: 0.5,
        segment: [{ column: 'region', operator: '!=', value: "z' --" }],
      },
    ],
  ];
  for (const [handler, raw] of runs) {
    await runHandler(handler as never, store.instance, { model: 'shop', ...raw });
  }
  expect(recorded.length).toBeGreaterThanOrEqual(runs.length);

  await expectSameRowsOnCurrentEngine(python!, await store.instance.store(), 'mlmon_test', recorded);
});

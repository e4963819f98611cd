/**
 * The ClickHouse SQL of the quality, performance and operational handlers on a CURRENT ClickHouse engine (chdb,
 * ClickHouse in-process from PyPI), in both value-binding modes, giving the same rows as ClickHouse 18.16.
 *
 * The handlers run against Debian's ClickHouse 18.16 (test/support/clickhouse.ts); every SQL they send is recorded
 * with its result; the database's tables (DDL and rows) are copied into chdb and the recorded SQL is replayed there.
 * chdb is found by test/support/chdb.ts (MLMON_CHDB_PYTHON, else /tmp/mlmon-chdb-venv); without it the test is
 * skipped and says so, unless MLMON_CHDB_PYTHON is set.
 */
import type { BindMode, Params } from '../../src/server/store/sql-params';
import type { PredictionStore } from '../../src/server/store/types';
import { operationalQuery } from '../../src/server/queries/operational';
import { performanceQuery } from '../../src/server/queries/performance';
import { qualityQuery } from '../../src/server/queries/quality';
import { boundStep, chdbTest, insertSql, runSteps, type Step } from '../support/chdb';
import { clickhouseTraffic, runHandler, type TrafficStore } from './traffic-fixture';

const { python, testWithChdb } = chdbTest('rates-current-engine.test.ts');

/** Rows made comparable: numeric text as numbers rounded to 9 significant digits, sorted. */
function normalized(rows: Array<Record<string, unknown>> = []): string[] {
  const value = (v: unknown) => {
    const n = typeof v === 'string' && /^-?\d+(\.\d+)?(e[-+]?\d+)?$/i.test(v) ? Number(v) : v;
    return typeof n === 'number' ? Number(n.toPrecision(9)) : n;
  };
  return rows.map((row) => JSON.stringify(Object.entries(row).map(([k, v]) => [k, value(v)]))).sort();
}

let store: TrafficStore;
const recorded: Array<{ sql: string; params: Params; rows: Array<Record<string, unknown>> }> = [];

beforeAll(async () => {
  store = await clickhouseTraffic();
  const clickhouse = await store.instance.store();
  const query = clickhouse.query.bind(clickhouse);
  // Record the handlers' own SQL (it reads the window as `current_window`), not the store's metadata reads.
  (clickhouse as { query: PredictionStore['query'] }).query = async <T>(sql: string, params: Params = {}) => {
    const rows = await query<T>(sql, params);
    if (sql.includes('current_window')) {
      recorded.push({ sql, params, rows: rows as Array<Record<string, unknown>> });
    }
    return rows;
  };
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

  const clickhouse = await store.instance.store();
  // Materialized views (the ingestion ledgers) last, after the tables they read and write, and without rows of
  // their own (reading one reads the table it writes to).
  const tables = await clickhouse.query<{ name: string; view: number }>(
    "SELECT name, engine = 'MaterializedView' AS view FROM system.tables WHERE database = 'mlmon_test' ORDER BY view, name"
  );
  const copy: Step[] = [{ sql: 'CREATE DATABASE IF NOT EXISTS mlmon_test' }];
  for (const { name, view } of tables) {
    const [ddl] = await clickhouse.query<{ statement: string }>(`SHOW CREATE TABLE mlmon_test.\`${name}\``);
    const rows = Number(view)
      ? []
      : await clickhouse.query<Record<string, unknown>>(`SELECT * FROM mlmon_test.\`${name}\``);
    copy.push({ sql: ddl.statement });
    if (rows.length > 0) {
      copy.push({ sql: insertSql(`mlmon_test.\`${name}\``, rows) });
    }
  }
  const replay = (mode: BindMode): Step[] => recorded.map(({ sql, params }) => boundStep(sql, params, mode));
  const steps = [...copy, ...replay('clickhouse-params'), ...replay('clickhouse-literals')];
  const results = runSteps(python!, steps);
  const errors = results.map((r, i) => (r.error ? `${steps[i].sql.slice(0, 160)} → ${r.error}` : '')).filter(Boolean);
  expect(errors).toEqual([]);
  const replayed = results.slice(copy.length);
  recorded.forEach(({ rows }, i) => {
    expect(normalized(rows).length).toBeGreaterThan(0);
    expect(normalized(replayed[i].rows)).toEqual(normalized(rows));
    expect(normalized(replayed[recorded.length + i].rows)).toEqual(normalized(rows));
  });
});

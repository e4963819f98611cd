/**
 * The ClickHouse SQL of the `compare` handler (the shadow pairs joined on request id, the realized and estimated
 * performance, latency and errors of each version, the prediction bins) on a CURRENT ClickHouse engine (chdb), in
 * both value-binding modes, giving the same rows as Debian's ClickHouse 18.16 (test/support/chdb.ts; skipped without
 * chdb unless MLMON_CHDB_PYTHON is set).
 */
import type { BindMode, Params } from '../../src/server/store/sql-params';
import type { PredictionStore } from '../../src/server/store/types';
import { compareQuery } from '../../src/server/queries/compare';
import { boundStep, chdbTest, comparableRows, copyDatabaseSteps, runSteps, type Step } from '../support/chdb';
import { startClickHouse, type ClickHouseHandle } from '../support/clickhouse';
import { COMPARE_RANGE, compareTraffic, writeCompareTraffic } from './compare-traffic';
import { instanceFor, runHandler } from './traffic-fixture';

const { python, testWithChdb } = chdbTest('compare-current-engine.test.ts');

let clickhouse: ClickHouseHandle;
let instance: ReturnType<typeof instanceFor>;
const recorded: Array<{ sql: string; params: Params; rows: Array<Record<string, unknown>> }> = [];

beforeAll(async () => {
  clickhouse = await startClickHouse();
  instance = instanceFor({ storeKind: 'clickhouse', clickhouseUrl: clickhouse.url, database: clickhouse.database });
  const store = await instance.store();
  await writeCompareTraffic(store, compareTraffic());
  const query = store.query.bind(store);
  // Record the handler's own statements (they read the window as `current_window` or its sides), not metadata reads.
  (store as { query: PredictionStore['query'] }).query = async <T>(sql: string, params: Params = {}) => {
    const rows = await query<T>(sql, params);
    if (/current_window|champion_side/.test(sql)) {
      recorded.push({ sql, params, rows: rows as Array<Record<string, unknown>> });
    }
    return rows;
  };
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
  const copy = await copyDatabaseSteps(await instance.store(), clickhouse.database);
  const replay = (mode: BindMode): Step[] => recorded.map(({ sql, params }) => boundStep(sql, params, mode));
  const steps = [...copy, ...replay('clickhouse-params'), ...replay('clickhouse-literals')];
  const results = runSteps(python!, steps);
  const errors = results.map((r, i) => (r.error ? `${steps[i].sql.slice(0, 160)} → ${r.error}` : '')).filter(Boolean);
  expect(errors).toEqual([]);
  const replayed = results.slice(copy.length);
  recorded.forEach(({ rows }, i) => {
    expect(comparableRows(rows).length).toBeGreaterThan(0);
    expect(comparableRows(replayed[i].rows)).toEqual(comparableRows(rows));
    expect(comparableRows(replayed[recorded.length + i].rows)).toEqual(comparableRows(rows));
  });
});

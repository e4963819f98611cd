/**
 * The ClickHouse SQL the store generates, run on a CURRENT ClickHouse engine through chdb (ClickHouse in-process,
 * from PyPI), in both value-binding modes: query parameters and escaped literals. The store tests run the same
 * SQL on Debian's ClickHouse 18.16.
 *
 * chdb is optional: set MLMON_CHDB_PYTHON to a Python that can `import chdb` (for example a venv made with
 * `python3 -m venv /tmp/mlmon-chdb-venv && /tmp/mlmon-chdb-venv/bin/pip install chdb`); /tmp/mlmon-chdb-venv is
 * tried by default. Without one the test is skipped and says why — unless MLMON_CHDB_PYTHON is set (as CI sets
 * it), in which case a missing chdb is a failure, never a silent skip.
 */
import {
  MIGRATIONS,
  SCHEMA_VERSION_DDL,
  addFeatureColumnSql,
  countSql,
  labelsRelationSql,
  labelsTableDDL,
  predictionsRelationSql,
  predictionsTableDDL,
  versionsSql,
} from '../../src/server/store/clickhouse';
import type { BindMode } from '../../src/server/store/sql-params';
import { boundStep, chdbTest, insertSql, predictionsInsertStep, runSteps as runChdb, type Step } from '../support/chdb';
import type { PredictionRecord } from '../../src/server/store/types';

const { python, testWithChdb } = chdbTest('clickhouse-current.test.ts');
const runSteps = (steps: Step[]) => runChdb(python!, steps);

const T0 = Date.parse('2024-06-01T00:00:00Z');
const record = (i: number, overrides: Partial<PredictionRecord> = {}): PredictionRecord => ({
  id: `r${i}`,
  ts: T0 + i * 3_600_000,
  version: i < 30 ? 'v1' : 'v2',
  features: { age: 20 + i, city: i % 2 ? 'oslo' : "o'hare" },
  prediction: i % 2,
  score: 0.5,
  error: i === 3 ? 'boom' : null,
  samplingRate: i < 10 ? 0.5 : 1,
  ...overrides,
});

testWithChdb('generated DDL and queries run on current ClickHouse in both binding modes', () => {
  const features = [
    { name: 'age', kind: 'numeric' as const },
    { name: 'city', kind: 'categorical' as const },
  ];
  const predictions = '`predictions_m`';
  const labels = '`labels_m`';
  const rows = Array.from({ length: 48 }, (_, i) => record(i));
  const withNew = [...features, { name: 'new_f', kind: 'numeric' as const }];
  const relation = predictionsRelationSql(predictions, withNew);
  const dayRelation = predictionsRelationSql(predictions, withNew, { from: T0, to: T0 + 86_400_000 });
  const queries = (mode: BindMode): Step[] => [
    boundStep(countSql(relation, false), {}, mode),
    boundStep(countSql(dayRelation, true), { version: 'v1' }, mode),
    boundStep(versionsSql(relation), {}, mode),
    boundStep(
      `SELECT id, f_city, f_new_f FROM ${relation} WHERE f_city = {city} AND id IN {ids} ORDER BY id`,
      { city: "o'hare", ids: ['r0', 'r2', 'r3'] },
      mode
    ),
    boundStep(
      `SELECT p.id AS id, l.label_cat AS label FROM ${relation} AS p INNER JOIN ${labelsRelationSql(labels)} AS l ON p.id = l.id ORDER BY id`,
      {},
      mode
    ),
  ];
  const steps: Step[] = [
    { sql: SCHEMA_VERSION_DDL },
    ...MIGRATIONS.flatMap((m) => m.statements.map((sql) => ({ sql }))),
    { sql: predictionsTableDDL(predictions, features) },
    { sql: labelsTableDDL(labels) },
    predictionsInsertStep(predictions, rows, features, 1000),
    predictionsInsertStep(predictions, [record(1), record(2)], features, 2000),
    { sql: addFeatureColumnSql(predictions, { name: 'new_f', kind: 'numeric' }) },
    {
      sql: insertSql(labels, [
        { id: 'r1', label_num: null, label_cat: 'old', ts: T0, ingested_at: 1 },
        { id: 'r1', label_num: null, label_cat: 'new', ts: T0, ingested_at: 2 },
      ]),
    },
    ...queries('clickhouse-params'),
    ...queries('clickhouse-literals'),
    { sql: `OPTIMIZE TABLE ${predictions} FINAL` },
    {
      sql: "SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() AND table = 'predictions_m' AND active ORDER BY partition",
    },
    { sql: `ALTER TABLE ${predictions} DROP PARTITION 20240601` },
    { sql: `SELECT count() AS n FROM ${predictions}` },
  ];
  const results = runSteps(steps);
  const errors = results.map((r, i) => (r.error ? `${steps[i].sql.slice(0, 120)} → ${r.error}` : '')).filter(Boolean);
  expect(errors).toEqual([]);

  const setup = 1 + MIGRATIONS.flatMap((m) => m.statements).length + 6;
  const expectedQueries = [
    [{ rows: 48, estimatedTotal: 58, errors: 1 }],
    [{ rows: 24, estimatedTotal: 34, errors: 1 }],
    [
      { version: 'v1', count: 30, firstTs: T0, lastTs: T0 + 29 * 3_600_000 },
      { version: 'v2', count: 18, firstTs: T0 + 30 * 3_600_000, lastTs: T0 + 47 * 3_600_000 },
    ],
    [
      { id: 'r0', f_city: "o'hare", f_new_f: null },
      { id: 'r2', f_city: "o'hare", f_new_f: null },
    ],
    [{ id: 'r1', label: 'new' }],
  ];
  const asNumbers = (rows: Array<Record<string, unknown>> | undefined) =>
    rows?.map((row) =>
      Object.fromEntries(
        Object.entries(row).map(([k, v]) => [k, typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v])
      )
    );
  for (const offset of [setup, setup + 5]) {
    expect(expectedQueries.map((_, i) => asNumbers(results[offset + i].rows))).toEqual(expectedQueries);
  }
  const partitions = results[setup + 11].rows!.map((r) => r.partition);
  expect(partitions).toEqual(['20240601', '20240602']);
  expect(asNumbers(results[setup + 13].rows)).toEqual([{ n: 24 }]);
});

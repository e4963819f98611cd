/**
 * The SQL of counts prepared in ClickHouse (src/server/counting/clickhouse-hours.ts, migration 3 and the ingestion
 * ledger of src/server/store/clickhouse.ts) on a CURRENT ClickHouse engine through chdb, in both value-binding modes;
 * test/queries/clickhouse-prepared.test.ts runs it on Debian's 18.16. chdb is optional as in
 * test/store/clickhouse-current.test.ts (MLMON_CHDB_PYTHON).
 */
import {
  cellsToPrepareSql,
  freshHoursSql,
  HOUR_MS,
  LEDGER_SQL,
  PREPARED_HOURS_SQL,
  preparedCellsParams,
  preparedCellsSql,
} from '../../src/server/counting/clickhouse-hours';
import { epochGrid, gridParams, wholeRangeGrid } from '../../src/server/counting/window';
import {
  MIGRATIONS,
  SCHEMA_VERSION_DDL,
  ingestLedgerDDL,
  predictionsTableDDL,
  preparedCellsInsertSql,
} from '../../src/server/store/clickhouse';
import type { BindMode } from '../../src/server/store/sql-params';
import type { PredictionRecord } from '../../src/server/store/types';
import { boundStep, chdbTest, insertSql, predictionsInsertStep, runSteps, type Step } from '../support/chdb';

const { python, testWithChdb } = chdbTest('clickhouse-prepared-current.test.ts');

const H0 = Date.parse('2024-06-01T10:00:00Z');
const H1 = H0 + HOUR_MS;
const record = (id: string, ts: number): PredictionRecord => ({
  id,
  ts,
  version: 'v1',
  features: { age: 30 },
  prediction: 1,
  samplingRate: 1,
});

/** Rows come back from JSONEachRow with 64-bit integers quoted: numbers again. */
const asNumbers = (rows: Array<Record<string, unknown>> | undefined) =>
  rows?.map((row) =>
    Object.fromEntries(
      Object.entries(row).map(([k, v]) => [k, typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v])
    )
  );

/** A counts statement's row (clickhouse-counts.ts): column 0, the hour `{hour}`, one bin with n rows summing 2.5. */
const counted = (bin: number, n: number) =>
  `SELECT toInt64(0) AS col, toInt64({hour}) AS bucket, toInt64(${bin}) AS bin, '' AS category, toUInt64(${n}) AS n, ` +
  'toFloat64(2.5) AS s';
const cell = { counts_key: 'k', category: '', s: 2.5 };

testWithChdb('the ledger, the freshness check and the prepared cells run on current ClickHouse', () => {
  const features = [{ name: 'age', kind: 'numeric' as const }];
  const keys = { model: 'm', keys: ['k'], key_count: 1, from: H0, to: H1 + HOUR_MS };
  const prepared = preparedCellsParams('m', ['k'], [{ hour: H1, preparedAt: 1 }]);
  const reads = (mode: BindMode): Step[] => [
    boundStep(LEDGER_SQL, { model: 'm' }, mode),
    boundStep(PREPARED_HOURS_SQL, { model: 'm', keys: ['k'] }, mode),
    boundStep(freshHoursSql(), keys, mode),
    ...[wholeRangeGrid(keys), epochGrid(HOUR_MS)].map((grid) =>
      boundStep(preparedCellsSql(grid, 1), { ...prepared, ...gridParams(grid) }, mode)
    ),
  ];
  const steps: Step[] = [
    { sql: SCHEMA_VERSION_DDL },
    ...MIGRATIONS.flatMap((m) => m.statements.map((sql) => ({ sql }))),
    { sql: predictionsTableDDL('predictions_m', features) },
    { sql: ingestLedgerDDL('ingested_hours_m', 'mlmon_ingested_hours', 'predictions_m', 'm') },
    predictionsInsertStep('predictions_m', [record('a', H0), record('b', H0 + 5), record('c', H1 + 7)], features, 1000),
    // A re-sent id into H0 after H0 was prepared (below): the ledger counts it, so H0 is no longer fresh.
    predictionsInsertStep('predictions_m', [record('a', H0)], features, 2000),
    {
      sql: insertSql('mlmon_count_hours', [
        { model: 'm', counts_key: 'k', hour: H0, ingested: 2, prepared_at: 1 },
        { model: 'm', counts_key: 'k', hour: H1, ingested: 99, prepared_at: 0 },
        { model: 'm', counts_key: 'k', hour: H1, ingested: 1, prepared_at: 1 },
      ]),
    },
    { sql: insertSql('mlmon_count_cells', [{ ...cell, n: 5, bin: 3, prepared_at: 0, model: 'm', hour: H1 }]) },
    // The cells of the latest preparation, selected and inserted on the server, in both binding modes.
    ...(['clickhouse-params', 'clickhouse-literals'] as const).map((mode, bin) =>
      boundStep(
        preparedCellsInsertSql('mlmon_count_cells', cellsToPrepareSql(counted(bin, bin + 1))),
        { counts_keys: ['k'], prepared_model: 'm', prepared_at: 1, hour: H1 },
        mode
      )
    ),
    ...reads('clickhouse-params'),
    ...reads('clickhouse-literals'),
  ];
  const results = runSteps(python!, steps);
  const errors = results.map((r, i) => (r.error ? `${steps[i].sql.slice(0, 120)} → ${r.error}` : '')).filter(Boolean);
  expect(errors).toEqual([]);
  const cells = (bucket: number) => [
    { ...cell, bucket, bin: 0, n: 1 },
    { ...cell, bucket, bin: 1, n: 2 },
  ];
  const expected = [
    [
      { hour: H0, inserted: 3 },
      { hour: H1, inserted: 1 },
    ],
    [
      { counts_key: 'k', hour: H0, ingested: 2 },
      { counts_key: 'k', hour: H1, ingested: 1 },
    ],
    [{ hour: H1, prepared_at: 1 }],
    cells(H0),
    cells(H1),
  ];
  const setup = steps.length - 2 * expected.length;
  for (const offset of [setup, setup + expected.length]) {
    const got = expected.map((_, i) => asNumbers(results[offset + i].rows));
    got[1]?.sort((a, b) => Number(a.hour) - Number(b.hour));
    got[3]?.sort((a, b) => Number(a.bin) - Number(b.bin));
    got[4]?.sort((a, b) => Number(a.bin) - Number(b.bin));
    expect(got).toEqual(expected);
  }
});

/**
 * Hostile values stored exactly: the same batch of predictions — Unicode, quotes, backslashes, newlines, NUL, empty
 * and very long strings, -0, denormals, 1e308, NaN/±Infinity (stored NULL as type errors), null features, 62-character
 * feature names, a 43-character model name, case-colliding names, many versions — is written to the embedded store
 * (DuckDB), to Debian's ClickHouse 18.16 (one server, and a two-shard cluster) and, as the ClickHouse store encodes
 * it, into ClickHouse 26 (chdb). Every store must hold, value by value (numbers compared with Object.is, so -0 is not
 * 0), the rows the store's schema says (toStoredColumns), and refuse the same records.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ClickHouseStore,
  predictionColumnTypes,
  predictionsRelationSql,
  predictionsTableDDL,
} from '../../src/server/store/clickhouse';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { quoteIdentifier } from '../../src/server/store/identifiers';
import { featureColumns, planSchema, storedValue, toStoredColumns } from '../../src/server/store/schema';
import {
  PREDICTION_SYSTEM_COLUMNS,
  type FeatureState,
  type FeatureValue,
  type PredictionRecord,
  type PredictionStore,
} from '../../src/server/store/types';
import { chdbTest, nativeInsertStep, runSteps } from '../support/chdb';
import {
  startClickHouse,
  startClickHouseCluster,
  type ClickHouseClusterHandle,
  type ClickHouseHandle,
} from '../support/clickhouse';

const { python, testWithChdb } = chdbTest('clickhouse-values.test.ts');

const T0 = Date.parse('2024-06-01T00:00:00Z');
/** 43 characters: the longest model name whose ClickHouse tables are identifiers in cluster mode (ingested_hours_<model>_local). */
const MODEL = `m${'x'.repeat(41)}9`;
const LONG_NAME = `f${'_long'.repeat(12)}z`; // 62 characters, the longest feature name (column f_<name>: 64)

const HOSTILE_STRINGS = [
  '',
  'plain',
  "single ' quote",
  'double " quote',
  'back\\slash and \\n (not a newline) and \\\\',
  'new\nline, carriage\rreturn, tab\t, form\ffeed',
  'NUL \u0000 inside',
  '\\N',
  'NULL',
  'null',
  '{"json": [1, "two"]}',
  '`backtick`; DROP TABLE x; --',
  'Grüße, 日本語, עברית, emoji 🎉👩‍👩‍👧‍👦, combining e\u0301, BOM \uFEFF',
  'é'.repeat(50), // longer than 42 UTF-16 units: the encoder's measured-length path
  '🎉'.repeat(40), // 160 bytes: a two-byte length
  'a'.repeat(127),
  'a'.repeat(128),
  'long '.repeat(40_000), // 200 000 characters
];

const HOSTILE_NUMBERS = [
  0,
  -0,
  5e-324, // smallest denormal
  2.225073858507201e-308, // largest denormal
  2.2250738585072014e-308, // smallest normal
  1e308,
  1.7976931348623157e308,
  -1.7976931348623157e308,
  0.1,
  0.30000000000000004,
  1 / 3,
  -Math.PI,
  123456789.12345679,
  9007199254740993,
  -1e-300,
  4.9406564584124654e-300,
];

/** Not finite: stored NULL, and the feature named in type_errors. */
const NON_FINITE = [NaN, Infinity, -Infinity];

function hostileRecords(): PredictionRecord[] {
  const records: PredictionRecord[] = [];
  const count = Math.max(HOSTILE_STRINGS.length, HOSTILE_NUMBERS.length) + NON_FINITE.length;
  for (let i = 0; i < count; i++) {
    const text = HOSTILE_STRINGS[i % HOSTILE_STRINGS.length];
    const number = i < HOSTILE_NUMBERS.length ? HOSTILE_NUMBERS[i] : NON_FINITE[i % NON_FINITE.length];
    const features: Record<string, FeatureValue> = {
      num: number,
      cat: text,
      [LONG_NAME]: HOSTILE_NUMBERS[(i * 7) % HOSTILE_NUMBERS.length],
      maybe: i % 3 === 0 ? null : i % 3 === 1 ? true : 'kept',
      wrong: i % 4 === 0 ? 'text in a numeric feature' : i,
    };
    records.push({
      id: `${text.slice(0, 60)}#${i}`,
      ts: T0 + i * 3_600_001 + (i % 7),
      version: `v${i % 40}.${i}+build-${i}`,
      features,
      prediction:
        i % 2 ? HOSTILE_STRINGS[(i * 3) % HOSTILE_STRINGS.length] : HOSTILE_NUMBERS[i % HOSTILE_NUMBERS.length],
      score: i % 5 === 0 ? null : HOSTILE_NUMBERS[(i * 5) % HOSTILE_NUMBERS.length],
      latencyMs: i % 6 === 0 ? null : i * 0.1,
      error: i % 4 === 1 ? HOSTILE_STRINGS[(i * 11) % HOSTILE_STRINGS.length] || 'empty' : null,
      samplingRate: [1, 0.5, 0.1, 1e-9][i % 4],
    });
  }
  // Many versions of one request id: each is its own prediction.
  for (let v = 0; v < 40; v++) {
    records.push({ ...records[1], version: `many-${v}`, features: { ...records[1].features, num: v - 0.5 } });
  }
  // Names differing only in case: refused in one record, and after the model has the other spelling.
  records.push({ ...records[2], id: 'case-both', features: { cat: 'x', Cat: 'y' } });
  records.push({ ...records[2], id: 'case-later', features: { NUM: 1 } });
  return records;
}

/** The system columns and the model's feature columns, without ingested_at (each store stamps its own time). */
function comparedColumns(features: readonly FeatureState[]): string[] {
  return [
    ...PREDICTION_SYSTEM_COLUMNS.filter((c) => c !== 'ingested_at'),
    ...featureColumns(features).map((f) => f.column),
  ];
}

type Row = unknown[];

/** The rows the schema says a store holds for the admitted records (toStoredColumns), in id/version order. */
function expectedRows(records: readonly PredictionRecord[], features: readonly FeatureState[]): Row[] {
  const stored = toStoredColumns(records, featureColumns(features), 0);
  const columns = comparedColumns(features);
  const rows = Array.from({ length: stored.rowCount }, (_, i) =>
    columns.map((name) => storedValue(stored.values[stored.columns.indexOf(name)], i))
  );
  return sortRows(rows);
}

/** Rows ordered by id then version (code unit order, the same whatever the engine's collation). */
function sortRows(rows: Row[]): Row[] {
  const key = (row: Row) => JSON.stringify([row[1], row[2]]);
  return rows.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** A stored value as the test compares it: 64-bit integers (text or bigint in some drivers) as numbers. */
function normalized(column: string, value: unknown): unknown {
  if (column === 'ts' || column === 'is_error') {
    return Number(value);
  }
  return typeof value === 'bigint' ? Number(value) : value;
}

async function storedRows(store: PredictionStore, features: readonly FeatureState[]): Promise<Row[]> {
  const columns = comparedColumns(features);
  const select = columns.map((c) => quoteIdentifier(c, store.dialect)).join(', ');
  const rows = await store.query<Record<string, unknown>>(
    `SELECT ${select} FROM ${await store.predictionsRelation(MODEL)}`
  );
  return sortRows(rows.map((row) => columns.map((c) => normalized(c, row[c]))));
}

/**
 * Value-by-value differences, with the column named: by Object.is (so -0 differs from 0), or, when `signOfZero` is
 * false, taking 0 and -0 as equal.
 */
function differences(actual: Row[], expected: Row[], columns: readonly string[], signOfZero = true): string[] {
  const found: string[] = [];
  if (actual.length !== expected.length) {
    found.push(`${actual.length} rows, expected ${expected.length}`);
  }
  for (let i = 0; i < Math.min(actual.length, expected.length); i++) {
    columns.forEach((column, j) => {
      const [a, b] = [actual[i][j], expected[i][j]];
      if (!(Object.is(a, b) || (!signOfZero && a === 0 && b === 0))) {
        const show = (v: unknown) => (Object.is(v, -0) ? '-0' : JSON.stringify(v)?.slice(0, 80));
        found.push(
          `row ${i} (id ${show(expected[i][1])}) ${column}: ${show(actual[i][j])}, expected ${show(expected[i][j])}`
        );
      }
    });
  }
  return found;
}

const records = hostileRecords();
const refused = ['case-both', 'case-later'];
const admitted = records.filter((r) => !refused.includes(r.id));
const plannedFeatures = planSchema([], admitted).features;

let single: ClickHouseHandle;
let cluster: ClickHouseClusterHandle;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mlmon-values-'));
  [single, cluster] = await Promise.all([startClickHouse(), startClickHouseCluster()]);
}, 120_000);

afterAll(async () => {
  await Promise.all([single?.stop(), cluster?.stop()]);
  await rm(dataDir, { recursive: true, force: true });
});

/**
 * The stores, and whether each keeps the sign of zero: the embedded store does not always (a Parquet column holding
 * both 0 and -0 came back with -0 for a 0, as if its dictionary encoding took the two as one value).
 */
const stores: Array<{ name: string; signOfZero: boolean; open: () => Promise<PredictionStore> }> = [
  { name: 'embedded', signOfZero: false, open: () => EmbeddedStore.open(dataDir) },
  {
    name: 'ClickHouse 18.16',
    signOfZero: true,
    open: () => ClickHouseStore.open({ url: single.url, database: single.database }),
  },
  {
    name: 'ClickHouse 18.16, two shards',
    signOfZero: true,
    open: () =>
      ClickHouseStore.open({
        url: cluster.shards[0].url,
        database: cluster.shards[0].database,
        cluster: cluster.name,
        shardUrls: cluster.shards.map((s) => s.url),
      }),
  },
];

test.each(stores)(
  '$name stores every hostile value exactly and refuses the same records',
  async ({ open, signOfZero }) => {
    const store = await open();
    try {
      const { rejected } = await store.writePredictions(MODEL, records);
      expect(rejected.map((r) => r.id).sort()).toEqual([...refused].sort());
      const features = await store.getFeatures(MODEL);
      expect(features.map((f) => f.name).sort()).toEqual(plannedFeatures.map((f) => f.name).sort());
      const expected = expectedRows(admitted, plannedFeatures);
      const columns = comparedColumns(plannedFeatures);
      expect(differences(await storedRows(store, plannedFeatures), expected, columns, signOfZero)).toEqual([]);
    } finally {
      await store.close();
    }
  },
  120_000
);

test('the expected rows hold what the test means to send', () => {
  const expected = expectedRows(admitted, plannedFeatures);
  const columns = comparedColumns(plannedFeatures);
  const values = (column: string) => expected.map((row) => row[columns.indexOf(column)]);
  expect(values('f_num').some((v) => Object.is(v, -0))).toBe(true);
  expect(values('f_num')).toContain(5e-324);
  expect(values('f_num')).toContain(1e308);
  expect(values('f_cat')).toContain('long '.repeat(40_000));
  expect(values('f_cat')).toContain('NUL \u0000 inside');
  expect(values('type_errors').filter((v) => v !== '').length).toBeGreaterThan(NON_FINITE.length);
  expect(new Set(values('version')).size).toBeGreaterThan(40);
});

testWithChdb(
  'ClickHouse 26 reads the Native blocks the store sends as the same values',
  () => {
    const table = '`predictions_values`';
    const features = featureColumns(plannedFeatures);
    const columns = comparedColumns(plannedFeatures);
    const stored = toStoredColumns(admitted, features, 0);
    const types = predictionColumnTypes(plannedFeatures);
    // Floats as ClickHouse's text of them: the runner's JSON (Python) would read -0 as the integer 0.
    const floats = new Set(stored.columns.filter((_, j) => types[j].includes('Float64')));
    const select = columns.map((c) => (floats.has(c) ? `toString(\`${c}\`) AS \`${c}\`` : `\`${c}\``)).join(', ');
    const [created, inserted, selected] = runSteps(python!, [
      { sql: predictionsTableDDL(table, plannedFeatures) },
      nativeInsertStep(table, stored, types),
      { sql: `SELECT ${select} FROM ${predictionsRelationSql(table, plannedFeatures)}` },
    ]);
    expect([created.error, inserted.error, selected.error]).toEqual([undefined, undefined, undefined]);
    const rows = sortRows(
      (selected.rows ?? []).map((row) =>
        columns.map((c) => (floats.has(c) && typeof row[c] === 'string' ? Number(row[c]) : normalized(c, row[c])))
      )
    );
    expect(differences(rows, expectedRows(admitted, plannedFeatures), columns)).toEqual([]);
  },
  120_000
);

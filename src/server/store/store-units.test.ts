import {
  FEATURE_COLUMN_PREFIX,
  featureColumn,
  quoteIdentifier,
  validateIdentifier,
  validateVersion,
} from './identifiers';
import { storeOptionsFromFlags } from './open';
import { recordFromRow, toEpochMs } from './records-from-rows';
import { featureColumns, planSchema, storedValue, toStoredColumns, type StoredColumns } from './schema';
import { bindParams, clickHouseLiteral } from './sql-params';
import type { FeatureState, PredictionRecord } from './types';

describe('validateIdentifier', () => {
  test.each(['age', 'Age_2', '_x', 'a'.repeat(64), 'select'])('accepts %j', (name) => {
    expect(validateIdentifier(name)).toBe(name);
  });

  test.each([
    'x; DROP TABLE y',
    "o'brien",
    'back`tick',
    'dq"',
    'sp ace',
    'dot.ted',
    '1st',
    '',
    'a'.repeat(65),
    'é',
    'a-b',
  ])('rejects %j naming it', (name) => {
    expect(() => validateIdentifier(name, 'feature name')).toThrow(`Invalid feature name ${JSON.stringify(name)}`);
  });

  test('rejects non-strings', () => {
    expect(() => validateIdentifier(42 as unknown as string)).toThrow('Invalid identifier 42');
  });

  test('quotes per dialect and prefixes feature columns', () => {
    expect(quoteIdentifier('select', 'duckdb')).toBe('"select"');
    expect(quoteIdentifier('select', 'clickhouse')).toBe('`select`');
    expect(() => quoteIdentifier('a`b', 'clickhouse')).toThrow('Invalid identifier');
    expect(featureColumn('ts')).toBe(`${FEATURE_COLUMN_PREFIX}ts`);
  });

  test('versions allow dots and dashes but no path tricks', () => {
    expect(validateVersion('2024.06.1-rc+1')).toBe('2024.06.1-rc+1');
    for (const bad of ['../x', '.', '..', 'a/b', 'v 1', '']) {
      expect(() => validateVersion(bad)).toThrow('Invalid model version');
    }
  });
});

describe('clickHouseLiteral', () => {
  test.each([
    [null, 'NULL'],
    [true, '1'],
    [false, '0'],
    [42, '42'],
    [-1.5e-7, '-1.5e-7'],
    [NaN, 'nan'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
    ['plain', "'plain'"],
    ["it's", "'it\\'s'"],
    ['back\\slash', "'back\\\\slash'"],
    ['line\nbreak\ttab\r\0', "'line\\nbreak\\ttab\\r\\0'"],
    [['a', "b'"], "['a', 'b\\'']"],
    [[1, 2.5], '[1, 2.5]'],
  ] as const)('%j → %s', (value, literal) => {
    expect(clickHouseLiteral(value as never)).toBe(literal);
  });
});

describe('bindParams', () => {
  const sql = 'SELECT * FROM t WHERE a = {a} AND b IN {list} AND c = {a}';
  const params = { a: "x'y", list: ['p', 'q'] };

  test('DuckDB gets $name placeholders and the values apart', () => {
    expect(bindParams(sql, params, 'duckdb')).toEqual({
      sql: 'SELECT * FROM t WHERE a = $a AND b IN $list AND c = $a',
      values: params,
    });
  });

  test('ClickHouse with parameters gets typed placeholders', () => {
    expect(bindParams('SELECT {n}, {f}, {s}, {b}', { n: 3, f: 0.5, s: 'x', b: true }, 'clickhouse-params')).toEqual({
      sql: 'SELECT {n:Int64}, {f:Float64}, {s:String}, {b:UInt8}',
      values: { n: 3, f: 0.5, s: 'x', b: 1 },
    });
  });

  test('old ClickHouse gets escaped literals and no values', () => {
    expect(bindParams(sql, params, 'clickhouse-literals')).toEqual({
      sql: "SELECT * FROM t WHERE a = 'x\\'y' AND b IN ['p', 'q'] AND c = 'x\\'y'",
      values: {},
    });
  });

  test('a placeholder without a value is an error naming it', () => {
    expect(() => bindParams('SELECT {missing}', {}, 'duckdb')).toThrow('Query placeholder {missing} has no value');
  });
});

const rec = (id: string, ts: number, features: PredictionRecord['features']): PredictionRecord => ({
  id,
  ts,
  version: 'v1',
  features,
  prediction: 1,
  samplingRate: 1,
});

describe('planSchema', () => {
  test('adds features with kinds from values, baseline hints win, nulls-only features wait', () => {
    const plan = planSchema(
      [],
      [rec('1', 10, { n: 1, s: 'a', b: true, z: null, hinted: 5 })],
      new Map([['hinted', 'categorical']])
    );
    expect(plan.features.map((f) => [f.name, f.kind])).toEqual([
      ['n', 'numeric'],
      ['s', 'categorical'],
      ['b', 'categorical'],
      ['hinted', 'categorical'],
    ]);
    expect(plan.changes.every((c) => c.change === 'added' && c.ts === 10)).toBe(true);
  });

  test('removes features absent from the whole batch and re-adds them when they return', () => {
    const known: FeatureState[] = [
      { name: 'a', kind: 'numeric', active: true, firstSeen: 1, lastSeen: 1 },
      { name: 'b', kind: 'numeric', active: true, firstSeen: 1, lastSeen: 1 },
    ];
    const removed = planSchema(known, [rec('1', 20, { a: 1 }), rec('2', 30, { a: 2 })]);
    expect(removed.changes).toEqual([{ ts: 20, feature: 'b', change: 'removed', kind: 'numeric' }]);
    expect(removed.features.find((f) => f.name === 'a')?.lastSeen).toBe(30);
    const back = planSchema(removed.features, [rec('3', 40, { a: 1, b: 2 })]);
    expect(back.changes).toEqual([{ ts: 40, feature: 'b', change: 'added', kind: 'numeric' }]);
    expect(back.newFeatures).toEqual([]);
  });

  test('a bad feature name rejects the batch', () => {
    expect(() => planSchema([], [rec('1', 1, { 'a b': 1 })])).toThrow('Invalid feature name "a b"');
  });
});

describe('toStoredColumns', () => {
  /** The stored columns as one object per row, to compare with literal rows. */
  const rowObjects = (stored: StoredColumns) =>
    Array.from({ length: stored.rowCount }, (_, i) =>
      Object.fromEntries(stored.columns.map((name, j) => [name, storedValue(stored.values[j], i)]))
    );

  test('stores wrong-typed values as NULL and names them in type_errors', () => {
    const features = featureColumns([
      { name: 'n', kind: 'numeric' },
      { name: 's', kind: 'categorical' },
    ]);
    const stored = toStoredColumns(
      [
        {
          ...rec('1', 5, { n: 'oops', s: false }),
          prediction: 'cat',
          score: NaN,
          latencyMs: 3,
          error: 'boom',
          samplingRate: 0.25,
        },
        rec('2', 6, { n: Infinity, s: 4 }),
      ],
      features,
      99
    );
    expect(rowObjects(stored)).toEqual([
      {
        ts: 5,
        id: '1',
        version: 'v1',
        prediction_num: null,
        prediction_cat: 'cat',
        score: null,
        latency_ms: 3,
        is_error: 1,
        error_message: 'boom',
        sampling_rate: 0.25,
        type_errors: 'n',
        ingested_at: 99,
        f_n: null,
        f_s: 'false',
      },
      {
        ts: 6,
        id: '2',
        version: 'v1',
        prediction_num: 1,
        prediction_cat: null,
        score: null,
        latency_ms: null,
        is_error: 0,
        error_message: null,
        sampling_rate: 1,
        type_errors: 'n,s',
        ingested_at: 99,
        f_n: null,
        f_s: null,
      },
    ]);
  });
});

describe('recordFromRow', () => {
  const mapping = { version: 'v9', idPrefix: 'file.csv' };

  test('maps system columns, features and nested features', () => {
    expect(
      recordFromRow(
        {
          id: BigInt(7),
          ts: '2024-06-01 10:00:00',
          prediction: true,
          latency_ms: 4,
          age: BigInt(3),
          features: { city: 'oslo' },
        },
        1,
        mapping
      )
    ).toEqual({
      id: '7',
      ts: Date.parse('2024-06-01T10:00:00Z'),
      version: 'v9',
      features: { age: 3, city: 'oslo' },
      prediction: 'true',
      score: null,
      latencyMs: 4,
      error: null,
      samplingRate: 1,
    });
  });

  test('generates stable ids and explains rejected rows', () => {
    expect((recordFromRow({ ts: 5 }, 12, mapping) as PredictionRecord).id).toBe('file.csv:12');
    expect(recordFromRow({ ts: 'soon' }, 3, mapping)).toEqual({
      rejected: expect.stringContaining('row 3: no usable ts'),
    });
    expect(recordFromRow({ ts: 1 }, 4, { idPrefix: 'f' })).toEqual({
      rejected: 'row 4: no version column and no --version',
    });
    expect(recordFromRow({ ts: 1, sampling_rate: 2 }, 5, mapping)).toEqual({
      rejected: expect.stringContaining('sampling_rate must be in (0, 1]'),
    });
  });

  test('toEpochMs reads numbers, dates and ISO strings (UTC when no zone)', () => {
    expect(toEpochMs(1717236000000)).toBe(1717236000000);
    expect(toEpochMs(new Date('2024-06-01T10:00:00Z'))).toBe(1717236000000);
    expect(toEpochMs('2024-06-01T12:00:00+02:00')).toBe(1717236000000);
    expect(toEpochMs('2024-06-01T10:00:00')).toBe(1717236000000);
    expect(toEpochMs('')).toBeUndefined();
  });
});

describe('storeOptionsFromFlags', () => {
  test('embedded by default, from the environment, or ClickHouse with a password from the environment', () => {
    expect(storeOptionsFromFlags({}, {})).toEqual({ kind: 'embedded', dataDir: './mlmon-data' });
    expect(storeOptionsFromFlags({}, { MLMON_DATA_DIR: '/d' })).toEqual({ kind: 'embedded', dataDir: '/d' });
    expect(
      storeOptionsFromFlags(
        { clickhouse: 'http://127.0.0.1:8123', 'clickhouse-database': 'mon' },
        { MLMON_CLICKHOUSE_PASSWORD: 's3cret' }
      )
    ).toEqual({
      kind: 'clickhouse',
      url: 'http://127.0.0.1:8123',
      database: 'mon',
      username: 'default',
      password: 's3cret',
    });
    expect(() => storeOptionsFromFlags({ clickhouse: 'http://x', 'data-dir': '/d' }, {})).toThrow('Choose one store');
  });

  test('a cluster needs its shard URLs, and shard URLs need a cluster', () => {
    const shards = ['http://ch1:8123', 'http://ch2:8123'];
    expect(
      storeOptionsFromFlags({ clickhouse: shards[0], 'clickhouse-cluster': 'shards', 'clickhouse-shard': shards }, {})
    ).toMatchObject({ kind: 'clickhouse', url: shards[0], cluster: 'shards', shardUrls: shards });
    expect(() => storeOptionsFromFlags({ clickhouse: shards[0], 'clickhouse-cluster': 'shards' }, {})).toThrow(
      '--clickhouse-cluster shards needs --clickhouse-shard URL for each shard'
    );
    expect(() => storeOptionsFromFlags({ clickhouse: shards[0], 'clickhouse-shard': shards }, {})).toThrow(
      '--clickhouse-shard needs --clickhouse-cluster NAME'
    );
    expect(() =>
      storeOptionsFromFlags(
        { clickhouse: shards[0], 'clickhouse-cluster': 'shards', 'clickhouse-shard': [shards[0], 'ch2:8123'] },
        {}
      )
    ).toThrow('--clickhouse-shard: Shard URLs must be http(s) URLs without user or password');
  });

  test('a missing password file is reported without its content', () => {
    expect(() =>
      storeOptionsFromFlags({ clickhouse: 'http://x', 'clickhouse-password-file': '/nonexistent/pw' }, {})
    ).toThrow('Cannot read --clickhouse-password-file /nonexistent/pw: ENOENT');
  });
});

/**
 * Every statement the ClickHouse store sends, replayed on a CURRENT ClickHouse engine (chdb, ClickHouse 26 in-process)
 * in the order it was sent: migrations, table and column DDL, inserts, the store's own reads, the SQL of every query
 * type's plan (drift in every metric, prediction drift, severity, ranking, distribution, quality, performance,
 * operational, events, the schema queries), upkeep (compaction, retention, deleting a model), the rebuild of a
 * predictions table the schema before the prediction identity made (clickhouse-identity.ts) and stopping a read.
 *
 * The workload runs against Debian's ClickHouse 18.16 (test/support/clickhouse.ts) through the backend's own
 * datasource instance; every statement is recorded where the store hands it to its client (commands and inserts on
 * the client, reads with their parameters unbound), then replayed in chdb: each read in both value-binding modes
 * (query parameters, which 18.16 lacks, and literals), its rows compared with 18.16's. Cluster mode adds the DDL of
 * clickhouse-cluster.ts: its shard-local statements run in chdb and its Distributed tables are parsed (EXPLAIN AST),
 * chdb having no cluster to point them at; test/store/clickhouse-cluster.test.ts runs them on two 18.16 shards.
 */
import { createClient } from '@clickhouse/client';
import { Readable } from 'node:stream';
import { ClickHouseStore, predictionsTableDDL } from '../../src/server/store/clickhouse';
import { shardStatements } from '../../src/server/store/clickhouse-cluster';
import { bindParams, type BindMode, type Params } from '../../src/server/store/sql-params';
import { QueryHandlerRegistry } from '../../src/server/backend/registry';
import { registerBuiltInHandlers } from '../../src/server/backend/datasource';
import { DRIFT_METRICS, QUALITY_METRICS, type QueryType } from '../../src/core/query/queryTypes';
import { startClickHouse, type ClickHouseHandle } from '../support/clickhouse';
import { boundStep, chdbTest, insertSql, nativeInsertReplayStep, runSteps, type Step } from '../support/chdb';
import { instanceFor, makeTraffic, NOW, runHandler, writeTraffic } from '../queries/traffic-fixture';

const { python, testWithChdb } = chdbTest('clickhouse-statements-current.test.ts');

type Recorded =
  | { kind: 'command'; sql: string }
  | { kind: 'insert'; table: string; values: Array<Record<string, unknown>> }
  | { kind: 'native'; sql: string; block: Buffer }
  | { kind: 'query'; sql: string; params: Params; rows: Array<Record<string, unknown>> };

const recorded: Recorded[] = [];
/** The SQL of every read the client sent (bound), to check that each one went through the recorded path. */
const sentReads: string[] = [];
const restore: Array<() => void> = [];

/** Wraps `object[name]` so that each call is recorded (after it succeeded) as `record(args, result)` says. */
function recordCalls<T extends object>(
  object: T,
  name: string,
  record: (args: unknown[], result: unknown) => Recorded | undefined
): void {
  const target = object as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const original = target[name];
  target[name] = async function (this: unknown, ...args: unknown[]) {
    const result = await original.apply(this, args);
    const entry = record(args, result);
    if (entry) {
      recorded.push(entry);
    }
    return result;
  };
  restore.push(() => {
    target[name] = original;
  });
}

/**
 * Records the client's `exec` calls that send a body (the predictions' Native blocks, clickhouse-native.ts): the body
 * is read here first, then sent as it was.
 */
function recordNativeInserts(clientPrototype: object): void {
  type Exec = (params: { query: string; values?: Readable }) => Promise<unknown>;
  const target = clientPrototype as { exec: Exec };
  const original = target.exec;
  target.exec = async function (this: unknown, params) {
    if (!params.values) {
      return original.call(this, params);
    }
    const block = Buffer.concat((await params.values.toArray()) as Buffer[]);
    const result = await original.call(this, { ...params, values: Readable.from([block], { objectMode: false }) });
    recorded.push({ kind: 'native', sql: params.query, block });
    return result;
  };
  restore.push(() => {
    target.exec = original;
  });
}

/** Query types and the queries run for each (over the traffic fixture's models shop, price and tier). */
const QUERIES: Array<[QueryType, Record<string, unknown>]> = [
  ['models', {}],
  ['versions', { model: 'shop' }],
  ['features', { model: 'shop' }],
  ['distribution', { model: 'shop' }],
  ...DRIFT_METRICS.map((metric): [QueryType, Record<string, unknown>] => ['drift', { model: 'shop', metric }]),
  [
    'drift',
    { model: 'shop', version: 'v2', sampleFraction: 0.5, segment: [{ column: 'region', operator: '=', value: "a'" }] },
  ],
  ['prediction_drift', { model: 'shop', metric: 'psi' }],
  ['prediction_drift', { model: 'shop', metric: 'ks' }],
  ['severity', { model: 'shop' }],
  ['ranking', { model: 'shop' }],
  ...QUALITY_METRICS.map((metric): [QueryType, Record<string, unknown>] => ['quality', { model: 'shop', metric }]),
  ...['accuracy', 'precision', 'recall', 'f1', 'auc', 'label_coverage'].map(
    (metric): [QueryType, Record<string, unknown>] => ['performance', { model: 'shop', metric }]
  ),
  ...['mae', 'rmse', 'mape'].map((metric): [QueryType, Record<string, unknown>] => [
    'performance',
    { model: 'price', metric },
  ]),
  ['performance', { model: 'tier', metric: 'accuracy' }],
  ...['latency_p50', 'latency_p95', 'latency_p99', 'throughput', 'error_rate'].map(
    (metric): [QueryType, Record<string, unknown>] => ['operational', { model: 'shop', metric }]
  ),
  ['events', { model: 'shop' }],
];

let clickhouse: ClickHouseHandle;

beforeAll(async () => {
  clickhouse = await startClickHouse();
  const client = createClient({ url: clickhouse.url });
  const clientPrototype = Object.getPrototypeOf(client) as object;
  await client.close();
  recordCalls(clientPrototype, 'command', ([call]) => ({ kind: 'command', sql: (call as { query: string }).query }));
  recordCalls(clientPrototype, 'insert', ([call]) => {
    const { table, values } = call as { table: string; values: Array<Record<string, unknown>> };
    return { kind: 'insert', table, values: [...values] };
  });
  recordNativeInserts(clientPrototype);
  recordCalls(clientPrototype, 'query', ([call]) => {
    sentReads.push((call as { query: string }).query);
    return undefined;
  });
  recordCalls(ClickHouseStore.prototype, 'queryOn', ([, sql, params], rows) => ({
    kind: 'query',
    sql: sql as string,
    params: (params as Params | undefined) ?? {},
    rows: rows as Array<Record<string, unknown>>,
  }));
}, 60_000);

afterAll(async () => {
  restore.forEach((undo) => undo());
  await clickhouse?.stop();
});

/** Rows made comparable: numeric text as numbers rounded to 9 significant digits, each row as text, sorted. */
function normalized(rows: Array<Record<string, unknown>> = []): string[] {
  const value = (v: unknown) => {
    const n = typeof v === 'string' && /^-?\d+(\.\d+)?(e[-+]?\d+)?$/i.test(v) ? Number(v) : v;
    return typeof n === 'number' ? Number(n.toPrecision(9)) : n;
  };
  return rows.map((row) => JSON.stringify(Object.entries(row).map(([k, v]) => [k, value(v)]))).sort();
}

/** Reads whose answer is about the server, not the data: they must run, their rows may differ. */
const SERVER_STATE = /\bsystem\.(mutations|parts)\b|version\(\)/;

testWithChdb(
  'every statement the store sends to ClickHouse 18.16 runs on ClickHouse 26 with the same answers',
  async () => {
    const instance = instanceFor({
      storeKind: 'clickhouse',
      clickhouseUrl: clickhouse.url,
      database: clickhouse.database,
    });
    const registry = new QueryHandlerRegistry();
    registerBuiltInHandlers(registry);
    try {
      const store = await instance.store();
      const traffic = makeTraffic();
      await writeTraffic(store, traffic);
      await store.recordEvent('shop', {
        ts: NOW - 3_600_000,
        kind: 'retrain',
        title: "shop's v2",
        text: 'x',
        tags: ['a'],
      });
      for (const [queryType, raw] of QUERIES) {
        const frames = await runHandler(registry.get(queryType)! as never, instance, { queryType, ...raw });
        expect([queryType, frames.length > 0]).toEqual([queryType, true]);
      }
      await store.listVersions('shop');
      await store.recentIds('shop', 100);
      // A table sorted by (ts, id), as the schema before the prediction identity made it, rebuilt at the next open.
      const legacy = createClient({ url: clickhouse.url, database: clickhouse.database });
      await legacy.command({
        query: predictionsTableDDL('`predictions_legacy`', []).replace('(ts, id, version)', '(ts, id)'),
      });
      await legacy.close();
      await store.writePredictions('legacy', traffic.shop.slice(0, 20));
      await (await ClickHouseStore.open({ url: clickhouse.url, database: clickhouse.database })).close();
      await store.recentIds('legacy', 100);
      await store.countPredictions('shop', { from: NOW - 86_400_000, to: NOW }, 'v1');
      await store.getSchemaChanges('shop', { from: 0, to: NOW });
      await store.getEvents('shop', { from: 0, to: NOW });
      await store.compact('shop');
      await store.applyRetention('price', NOW - 86_400_000);
      await store.applyRetention('shop', NOW + 2 * 86_400_000);
      expect(await store.deleteModel('tier')).toBe(true);
      // A read given up by its caller: the store stops it on the server (KILL QUERY).
      const cancel = new AbortController();
      setTimeout(() => cancel.abort(), 200);
      await expect(store.query('SELECT sleep(2)', {}, { signal: cancel.signal })).rejects.toThrow(/cancelled/);
    } finally {
      await instance.dispose();
    }
    // Every read the client sent is a recorded one (bound as 18.16 gets it), but the server version at each connect.
    const recordedReads = new Set(
      recorded.flatMap((r) => (r.kind === 'query' ? [bindParams(r.sql, r.params, 'clickhouse-literals').sql] : []))
    );
    expect(sentReads.filter((sql) => !recordedReads.has(sql))).toEqual([
      'SELECT version() AS v', // the instance's store
      'SELECT version() AS v', // the store opened again for the rebuild
    ]);
    const kinds = new Set(recorded.map((r) => r.kind));
    expect([...kinds].sort()).toEqual(['command', 'insert', 'native', 'query']);
    const commands = recorded.flatMap((r) => (r.kind === 'command' ? [r.sql.split(' ').slice(0, 2).join(' ')] : []));
    expect([...new Set(commands)].sort()).toEqual([
      'ALTER TABLE',
      'CREATE MATERIALIZED', // the ingestion ledger's view per model (prepared counts)
      'CREATE TABLE',
      'DROP TABLE',
      'INSERT INTO', // prepared counts, counted on the server (INSERT … SELECT)
      'KILL QUERY',
      'OPTIMIZE TABLE',
      'RENAME TABLE', // the identity rebuild of the legacy table
    ]);

    const modes: BindMode[] = ['clickhouse-params', 'clickhouse-literals'];
    const replay: Array<{ step: Step; expected?: string[] }> = [];
    for (const entry of recorded) {
      if (entry.kind === 'command') {
        replay.push({ step: { sql: entry.sql } });
      } else if (entry.kind === 'insert') {
        replay.push({ step: { sql: insertSql(entry.table, entry.values) } });
      } else if (entry.kind === 'native') {
        replay.push({ step: nativeInsertReplayStep(entry.sql, entry.block) });
      } else {
        for (const mode of modes) {
          replay.push({
            step: boundStep(entry.sql, entry.params, mode),
            expected: SERVER_STATE.test(entry.sql) ? undefined : normalized(entry.rows),
          });
        }
      }
    }
    const clusterDdl = shardStatements(
      recorded.find(
        (r): r is Extract<Recorded, { kind: 'command' }> =>
          r.kind === 'command' && /^CREATE TABLE IF NOT EXISTS `/.test(r.sql)
      )!.sql,
      { cluster: 'mlmon_shards', database: clickhouse.database }
    );
    const steps: Step[] = [
      { sql: `CREATE DATABASE IF NOT EXISTS ${clickhouse.database}` },
      { sql: `USE ${clickhouse.database}` },
      ...replay.map((r) => r.step),
      ...clusterDdl.map((sql) => ({ sql: /ENGINE = Distributed/.test(sql) ? `EXPLAIN AST ${sql}` : sql })),
    ];
    const results = runSteps(python!, steps);
    const errors = results.map((r, i) => (r.error ? `${steps[i].sql.slice(0, 160)} → ${r.error}` : '')).filter(Boolean);
    expect(errors).toEqual([]);
    const mismatches = replay.flatMap(({ step, expected }, i) =>
      expected && JSON.stringify(normalized(results[2 + i].rows)) !== JSON.stringify(expected)
        ? [
            {
              sql: step.sql.slice(0, 300),
              got: normalized(results[2 + i].rows).slice(0, 3),
              expected: expected.slice(0, 3),
            },
          ]
        : []
    );
    expect(mismatches).toEqual([]);
    const reads = replay.filter((r) => r.expected);
    expect(reads.length).toBeGreaterThan(100);
    expect(reads.filter((r) => r.expected!.length > 0).length).toBeGreaterThan(reads.length / 2);
  },
  600_000
);

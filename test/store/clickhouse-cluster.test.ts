/**
 * Cluster mode of the ClickHouse store (src/server/store/clickhouse-cluster.ts) on two real clickhouse-server
 * processes (Debian's 18.16) on loopback forming a two-shard cluster, next to a single server: the same traffic
 * (test/queries/traffic-fixture.ts, with a batch of re-sent ids) goes through `mlmon serve` into each, and the
 * answers of the query handlers (drift, prediction drift, severity, quality, performance, operational) are equal.
 */
import { ClickHouseStore } from '../../src/server/store/clickhouse';
import { shardListProblems, shardStatements, shardingKeySql } from '../../src/server/store/clickhouse-cluster';
import { MIGRATIONS } from '../../src/server/store/clickhouse';
import { driftQuery } from '../../src/server/queries/drift';
import { severityQuery } from '../../src/server/queries/severity';
import { qualityQuery } from '../../src/server/queries/quality';
import { performanceQuery } from '../../src/server/queries/performance';
import { operationalQuery } from '../../src/server/queries/operational';
import { predictionDriftQuery } from '../../src/server/queries/prediction_drift';
import { prepareCounts } from '../../src/server/counting/prepare-counts';
import type { FrameLike } from '../../src/core/query/frames';
import type { PredictionRecord } from '../../src/server/store/types';
import {
  clusterStoreFlags,
  startClickHouse,
  startClickHouseCluster,
  type ClickHouseClusterHandle,
  type ClickHouseHandle,
} from '../support/clickhouse';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { instanceFor, makeTraffic, runHandler, saveTrafficBaselines, type Traffic } from '../queries/traffic-fixture';
import { LOAD_TOKEN, spawnCollector, stopCollector } from '../collector/harness';
import { send } from '../collector/support';
import type { DatasourceInstance } from '../../src/server/backend/instances';

const LAYOUT = { cluster: 'mlmon_shards', database: 'mlmon_test' };

describe('shard statements', () => {
  it('turns each CREATE TABLE into a local table and a Distributed table sharded by model and id', () => {
    expect(
      shardStatements(
        'CREATE TABLE IF NOT EXISTS mlmon_models (model String, created_at UInt64) ENGINE = ReplacingMergeTree(created_at) ORDER BY model',
        LAYOUT
      )
    ).toEqual([
      'CREATE TABLE IF NOT EXISTS `mlmon_test`.`mlmon_models_local` (model String, created_at UInt64) ENGINE = ReplacingMergeTree(created_at) ORDER BY model',
      'CREATE TABLE IF NOT EXISTS `mlmon_test`.`mlmon_models` AS `mlmon_test`.`mlmon_models_local` ' +
        'ENGINE = Distributed(`mlmon_shards`, `mlmon_test`, `mlmon_models_local`, cityHash64(model))',
    ]);
    expect(shardingKeySql('`ts` Int64, `id` String, `model_x` String')).toBe('cityHash64(id)');
    expect(shardingKeySql('model String, id String')).toBe('cityHash64(model, id)');
    expect(shardingKeySql('a String')).toBe('rand()');
  });

  it('alters columns on both tables, partitions, mutations and merges on the local table only', () => {
    const table = '`mlmon_test`.`predictions_m`';
    expect(shardStatements(`ALTER TABLE ${table} ADD COLUMN \`f_x\` Nullable(Float64)`, LAYOUT)).toEqual([
      'ALTER TABLE `mlmon_test`.`predictions_m_local` ADD COLUMN `f_x` Nullable(Float64)',
      'ALTER TABLE `mlmon_test`.`predictions_m` ADD COLUMN `f_x` Nullable(Float64)',
    ]);
    expect(shardStatements(`ALTER TABLE ${table} DROP PARTITION 20240601`, LAYOUT)).toEqual([
      'ALTER TABLE `mlmon_test`.`predictions_m_local` DROP PARTITION 20240601',
    ]);
    expect(shardStatements(`OPTIMIZE TABLE ${table} FINAL`, LAYOUT)).toEqual([
      'OPTIMIZE TABLE `mlmon_test`.`predictions_m_local` FINAL',
    ]);
    expect(shardStatements(`DROP TABLE IF EXISTS ${table}`, LAYOUT)).toEqual([
      'DROP TABLE IF EXISTS `mlmon_test`.`predictions_m`',
      'DROP TABLE IF EXISTS `mlmon_test`.`predictions_m_local`',
    ]);
  });

  it('puts materialized views and INSERT … SELECT on the local tables of each shard', () => {
    expect(
      shardStatements(
        'CREATE MATERIALIZED VIEW IF NOT EXISTS `mlmon_test`.`counts_m_mv` TO `mlmon_test`.`counts` AS ' +
          'SELECT intDiv(ts, 3600000) AS hour, count() AS n FROM `mlmon_test`.`predictions_m` ' +
          'WHERE id IN (SELECT id FROM labels_m) GROUP BY hour',
        LAYOUT
      )
    ).toEqual([
      'CREATE MATERIALIZED VIEW IF NOT EXISTS `mlmon_test`.`counts_m_mv_local` TO `mlmon_test`.`counts_local` AS ' +
        'SELECT intDiv(ts, 3600000) AS hour, count() AS n FROM `mlmon_test`.`predictions_m_local` ' +
        'WHERE id IN (SELECT id FROM `mlmon_test`.`labels_m_local`) GROUP BY hour',
    ]);
    expect(
      shardStatements(
        'INSERT INTO counts (hour, n) SELECT 1, count() FROM (SELECT id FROM predictions_m FINAL) ' +
          'JOIN labels_m USING (id) CROSS JOIN numbers(2) AS x, system.one',
        LAYOUT
      )
    ).toEqual([
      'INSERT INTO `mlmon_test`.`counts_local` (hour, n) SELECT 1, count() FROM (SELECT id FROM ' +
        '`mlmon_test`.`predictions_m_local` FINAL) JOIN `mlmon_test`.`labels_m_local` USING (id) ' +
        'CROSS JOIN numbers(2) AS x, system.one',
    ]);
  });

  it('knows every statement of every migration, and refuses a form it does not know', () => {
    for (const statement of MIGRATIONS.flatMap((m) => m.statements)) {
      expect(shardStatements(statement, LAYOUT).length).toBeGreaterThan(0);
    }
    expect(() => shardStatements('CREATE MATERIALIZED VIEW v TO t AS SELECT 1', LAYOUT)).toThrow(
      /does not know how to run this statement on each shard: CREATE MATERIALIZED VIEW.*shardStatements/
    );
  });

  it('checks that the shard URLs name each shard once', () => {
    expect(shardListProblems('c', ['http://a', 'http://b'], [[1], [2]], [1, 2])).toEqual([]);
    expect(shardListProblems('c', ['http://a', 'http://b'], [[1], [1]], [1, 2])).toEqual([
      'http://a and http://b both serve shard 1 of "c"',
      'no URL given for shard 2 of "c"',
    ]);
    expect(shardListProblems('c', ['http://a'], [[]], [1])[0]).toMatch(/http:\/\/a serves no shard of "c"/);
    expect(shardListProblems('c', ['http://a'], [[]], [])[0]).toMatch(/knows no cluster "c"/);
  });
});

describe('two-shard cluster', () => {
  let cluster: ClickHouseClusterHandle;
  let single: ClickHouseHandle;
  let traffic: Traffic;
  let onCluster: DatasourceInstance;
  let onSingle: DatasourceInstance;
  const shardUrls = () => cluster.shards.map((shard) => shard.url);
  /** The store in cluster mode, connected to shard 1. */
  const openClusterStore = () =>
    ClickHouseStore.open({
      url: cluster.shards[0].url,
      database: LAYOUT.database,
      cluster: cluster.name,
      shardUrls: shardUrls(),
    });

  beforeAll(async () => {
    [cluster, single] = await Promise.all([startClickHouseCluster({ logQueries: true }), startClickHouse()]);
    traffic = makeTraffic();
    onCluster = instanceFor({
      storeKind: 'clickhouse',
      clickhouseUrl: cluster.shards[0].url,
      database: LAYOUT.database,
      cluster: cluster.name,
      shardUrls: shardUrls(),
    });
    onSingle = instanceFor({ storeKind: 'clickhouse', clickhouseUrl: single.url, database: LAYOUT.database });
    await Promise.all([
      writeThroughCollector(clusterStoreFlags(cluster), onCluster),
      writeThroughCollector(['--clickhouse', single.url, '--clickhouse-database', LAYOUT.database], onSingle),
    ]);
  }, 300_000);

  afterAll(async () => {
    await onCluster?.dispose();
    await onSingle?.dispose();
    await Promise.all([cluster?.stop(), single?.stop()]);
  });

  /**
   * Baselines through the store (the collector takes only traffic); predictions and labels through `mlmon serve`
   * in batches, the first 300 shop predictions again (re-sent ids the collector drops itself), a graceful stop that
   * drains its log; then the first 500 shop predictions once more straight into the store, as copies reach it from
   * a second writer (`mlmon ingest`, another collector, a write-ahead log replayed after a crash): the store's own
   * de-duplication must collapse them, on a cluster only if each id's copies share a shard.
   */
  async function writeThroughCollector(storeFlags: string[], instance: DatasourceInstance): Promise<void> {
    await saveTrafficBaselines(await instance.store(), traffic);
    const state = await mkdtemp(join(tmpdir(), 'mlmon-cluster-state-'));
    const collector = await spawnCollector(storeFlags, ['--state-dir', state]);
    try {
      const post = async (model: string, kind: 'predictions' | 'labels', items: object[]) => {
        for (let i = 0; i < items.length; i += 250) {
          const reply = await send(collector.url, {
            path: `/api/v1/models/${model}/${kind}`,
            body: JSON.stringify(items.slice(i, i + 250)),
            token: LOAD_TOKEN,
          });
          expect([reply.status, reply.body]).toEqual([200, expect.anything()]);
        }
      };
      const wire = (r: PredictionRecord) => ({
        id: r.id,
        ts: r.ts,
        version: r.version,
        features: r.features,
        prediction: r.prediction,
        score: r.score ?? null,
        latency_ms: r.latencyMs ?? null,
        error: r.error ?? null,
      });
      await post('shop', 'predictions', traffic.shop.map(wire));
      await post('shop', 'predictions', traffic.shop.slice(0, 300).map(wire));
      await post('price', 'predictions', traffic.price.map(wire));
      await post('tier', 'predictions', traffic.tier.map(wire));
      await post('shop', 'labels', traffic.shopLabels);
      await post('price', 'labels', traffic.priceLabels);
      await post('tier', 'labels', traffic.tierLabels);
    } finally {
      expect(await stopCollector(collector)).toBe(0);
      await rm(state, { recursive: true, force: true });
    }
    await (await instance.store()).writePredictions('shop', traffic.shop.slice(0, 500));
  }

  /**
   * The queries shard 2 finished that match, from other servers (`initial` false) or sent to it directly (`initial`
   * true), with the rows each read and returned; the log is flushed and read until one matches, for up to 10 s
   * (once, without `wait`).
   */
  const askedOfShard2 = async (pattern: RegExp, { initial = false, wait = true } = {}) => {
    for (let attempt = 0; ; attempt++) {
      await fetch(cluster.shards[1].url, { method: 'POST', body: 'SYSTEM FLUSH LOGS' });
      const text = await fetch(cluster.shards[1].url, {
        method: 'POST',
        body:
          'SELECT query, read_rows, result_rows FROM system.query_log ' +
          `WHERE is_initial_query = ${initial ? 1 : 0} AND type = 2 FORMAT JSONEachRow`,
      }).then((r) => r.text());
      const queries = text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { query: string; read_rows: number; result_rows: number })
        .filter(({ query }) => pattern.test(query));
      if (queries.length > 0 || !wait || attempt === 20) {
        return queries;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  };

  it('counts on the shards over a Distributed table; over the relation the shards filter, de-duplicate and prune', async () => {
    const store = await onCluster.store();
    const asked = async (pattern: RegExp) => (await askedOfShard2(pattern)).map(({ query }) => query);
    await store.query("SELECT count() AS n, 'direct-count' AS m FROM predictions_shop FINAL WHERE ts >= 0");
    expect((await asked(/direct-count/)).map((query) => query.replace(/\s+/g, ' '))).toEqual([
      "SELECT count() AS n, 'direct-count' AS m FROM mlmon_test.predictions_shop_local FINAL WHERE ts >= 0",
    ]);
    await runHandler(operationalQuery as never, onCluster, {
      queryType: 'operational',
      model: 'shop',
      metric: 'latency_p50',
    });
    const scans = await asked(/predictions_shop_local FINAL.*latency_ms|latency_ms.*predictions_shop_local FINAL/);
    expect(scans.length).toBeGreaterThan(0);
    for (const scan of scans) {
      expect(scan).toMatch(/FROM mlmon_test\.predictions_shop_local FINAL\s+WHERE \(?ts >= \d+\)? AND \(?ts < \d+\)?/);
      expect(scan).not.toMatch(/f_amount|f_region|count\(|quantile/); // only the columns used, no counting
    }
  });

  it("pushes the counting down: each shard counts its own rows and sends cells, which sum to the single server's", async () => {
    const raw = { queryType: 'drift', model: 'shop', metric: 'psi', bucket: '1h' };
    const rowScans = async () =>
      (await askedOfShard2(/predictions_shop_local`? FINAL/, { wait: false })).filter(({ query }) =>
        /f_amount|f_region/.test(query)
      );
    const rowScansBefore = (await rowScans()).length;
    const fromCluster = await runHandler(driftQuery as never, onCluster, raw);
    expect(comparable(fromCluster)).toEqual(comparable(await runHandler(driftQuery as never, onSingle, raw)));
    // Shard 2 ran the counting statement itself over its local table, returning cells, not rows.
    const counted = await askedOfShard2(/arrayJoin\(.*predictions_shop_local`? FINAL/s, { initial: true });
    expect(counted.length).toBeGreaterThan(0);
    const shard2Rows = Number(
      await fetch(cluster.shards[1].url, {
        method: 'POST',
        body: `SELECT count() FROM ${LAYOUT.database}.predictions_shop_local FINAL`,
      }).then((r) => r.text())
    );
    expect(shard2Rows).toBeGreaterThan(100);
    for (const { query, read_rows, result_rows } of counted) {
      expect(query).toMatch(/GROUP BY/);
      expect(Number(read_rows)).toBeGreaterThan(0);
      expect(Number(result_rows)).toBeLessThan(shard2Rows);
    }
    // No server asked shard 2 for the rows of the window to count them itself.
    expect((await rowScans()).length).toBe(rowScansBefore);
  });

  it('pushes the quality rates down too: each shard counts its own rows per bucket, the sums equal one server', async () => {
    const raw = { queryType: 'quality', model: 'shop', metric: 'null_rate', bucket: '1h' };
    const fromCluster = await runHandler(qualityQuery as never, onCluster, raw);
    expect(comparable(fromCluster)).toEqual(comparable(await runHandler(qualityQuery as never, onSingle, raw)));
    const counted = await askedOfShard2(/hit_0.*predictions_shop_local`? FINAL/s, { initial: true });
    expect(counted.length).toBeGreaterThan(0);
    expect(counted.every(({ query }) => /GROUP BY bucket/.test(query))).toBe(true);
  });

  it('refuses a shard list that does not name each shard once, or a cluster the servers do not know', async () => {
    const [first, second] = shardUrls();
    const open = (cluster: string, urls: string[], url = first) =>
      ClickHouseStore.open({ url, database: LAYOUT.database, cluster, shardUrls: urls });
    await expect(open(cluster.name, [first])).rejects.toThrow(
      `ClickHouse cluster "${cluster.name}" cannot be used: no URL given for shard 2 of "${cluster.name}".`
    );
    await expect(open(cluster.name, [first, first])).rejects.toThrow(
      `${first} and ${first} both serve shard 1 of "${cluster.name}"; no URL given for shard 2`
    );
    await expect(open('elsewhere', [first, second])).rejects.toThrow(/knows no cluster "elsewhere"/);
    await expect(open(cluster.name, [second], first)).rejects.toThrow(
      `The ClickHouse URL ${first} is not one of the shard URLs (${second})`
    );
  });

  it('compacts, drops old days and deletes a model on every shard', async () => {
    const store = await openClusterStore();
    const onShards = async (sql: string) =>
      Promise.all(
        cluster.shards.map(async (shard) =>
          (await fetch(shard.url, { method: 'POST', body: `${sql} FORMAT TSV` }).then((r) => r.text())).trim()
        )
      );
    try {
      const DAY = 86_400_000;
      const start = Date.UTC(2026, 0, 1);
      const records = Array.from({ length: 300 }, (_, i) => ({
        id: `u${i}`,
        ts: start + Math.floor(i / 100) * DAY + i,
        version: 'v1',
        features: { x: i },
        prediction: i % 2,
        samplingRate: 1,
      }));
      await store.writePredictions('upkeep', records);
      await store.writePredictions('upkeep', records.slice(0, 50));
      await store.writeLabels('upkeep', [{ id: 'u1', label: 1, ts: start }]);
      expect(await store.compact('upkeep')).toEqual({ rowsKept: 300 });
      const local = `SELECT count() FROM ${LAYOUT.database}.predictions_upkeep_local`;
      expect((await onShards(local)).map(Number).reduce((a, b) => a + b)).toBe(300);
      expect(await store.applyRetention('upkeep', start + DAY)).toEqual({ daysDropped: ['2026-01-01'] });
      expect((await store.countPredictions('upkeep', { from: 0, to: start + 10 * DAY })).rows).toBe(200);
      expect(await store.deleteModel('upkeep')).toBe(true);
      expect(
        await onShards(
          `SELECT count() FROM system.tables WHERE database = '${LAYOUT.database}' AND name LIKE '%upkeep%'`
        )
      ).toEqual(['0', '0']);
      expect(
        await onShards(`SELECT count() FROM ${LAYOUT.database}.mlmon_features_local WHERE model = 'upkeep'`)
      ).toEqual(['0', '0']);
      expect(await store.listModels()).not.toContain('upkeep');
    } finally {
      await store.close();
    }
  });

  it('counts through a materialized view and an INSERT … SELECT on each shard as one server does', async () => {
    const db = LAYOUT.database;
    const run = (url: string, sql: string) =>
      fetch(url, { method: 'POST', body: sql }).then(async (r) => {
        const text = await r.text();
        if (!r.ok) {
          throw new Error(`${sql.slice(0, 100)}: ${text}`);
        }
        return text.trim();
      });
    const statements = [
      `CREATE TABLE IF NOT EXISTS ${db}.counts (hour Int64, n UInt64) ENGINE = SummingMergeTree ORDER BY hour`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.counts_mv TO ${db}.counts AS ` +
        `SELECT intDiv(ts, 3600000) AS hour, count() AS n FROM ${db}.predictions_views GROUP BY hour`,
    ];
    const later = `INSERT INTO ${db}.counts SELECT -intDiv(ts, 3600000) AS hour, count() AS n FROM ${db}.predictions_views FINAL GROUP BY hour`;
    const records = traffic.shop.map((r) => ({ ...r, id: `v${r.id}` }));
    const answers: string[] = [];
    for (const mode of ['cluster', 'single'] as const) {
      const store =
        mode === 'cluster' ? await openClusterStore() : await ClickHouseStore.open({ url: single.url, database: db });
      const everywhere = async (sql: string) => {
        for (const url of mode === 'cluster' ? shardUrls() : [single.url]) {
          for (const statement of mode === 'cluster' ? shardStatements(sql, LAYOUT) : [sql]) {
            await run(url, statement);
          }
        }
      };
      try {
        await store.writePredictions('views', records.slice(0, 10));
        for (const statement of statements) {
          await everywhere(statement);
        }
        await store.writePredictions('views', records.slice(10));
        await store.writePredictions('views', records.slice(0, 400)); // copies
        await everywhere(later);
        answers.push(
          await run(
            mode === 'cluster' ? shardUrls()[0] : single.url,
            `SELECT hour, sum(n) FROM ${db}.counts GROUP BY hour ORDER BY hour FORMAT TSV`
          )
        );
      } finally {
        await store.close();
      }
    }
    expect(answers[0].split('\n').length).toBe(12); // 6 hours from the view, 6 (negated) from the INSERT
    expect(answers[0]).toBe(answers[1]);
    const fromInsert = answers[0].split('\n').filter((line) => line.startsWith('-'));
    expect(fromInsert.map((line) => Number(line.split('\t')[1])).reduce((a, b) => a + b)).toBe(records.length);
  });

  it('finishes a new column that reached only some tables (a writer stopped half-way)', async () => {
    const store = await openClusterStore();
    const db = LAYOUT.database;
    try {
      const records = traffic.price.slice(0, 50).map((r) => ({ ...r, id: `h${r.id}` }));
      await store.writePredictions('halfway', records);
      // As if a writer had died after altering shard 1's local table only.
      await fetch(cluster.shards[0].url, {
        method: 'POST',
        body: `ALTER TABLE ${db}.predictions_halfway_local ADD COLUMN f_extra Nullable(Float64)`,
      });
      await store.writePredictions(
        'halfway',
        records.map((r) => ({ ...r, id: `x${r.id}`, features: { ...r.features, extra: 1 } }))
      );
      const [row] = await store.query<{ n: number; extra: number }>(
        'SELECT count() AS n, sum(f_extra) AS extra FROM predictions_halfway'
      );
      expect([Number(row.n), Number(row.extra)]).toEqual([100, 50]);
    } finally {
      await store.close();
    }
  });

  it('acknowledges an insert only when every shard has its rows; the insert sent again counts each id once', async () => {
    const store = await openClusterStore();
    const shard2 = (sql: string) => fetch(cluster.shards[1].url, { method: 'POST', body: sql }).then((r) => r.text());
    try {
      const records = traffic.price.map((r) => ({ ...r, id: `f${r.id}` }));
      await store.writePredictions('faulty', records.slice(0, 100));
      // Shard 2 cannot take rows (its table is detached): the write is not acknowledged.
      await shard2(`DETACH TABLE ${LAYOUT.database}.predictions_faulty_local`);
      await expect(store.writePredictions('faulty', records.slice(100, 300))).rejects.toThrow(
        /predictions_faulty_local/
      );
      await shard2(`ATTACH TABLE ${LAYOUT.database}.predictions_faulty_local`);
      // Sent again whole (as the collector does from its write-ahead log): shard 1's copies collapse.
      await store.writePredictions('faulty', records.slice(100, 300));
      const range = { from: 0, to: Date.now() * 2 };
      expect((await store.countPredictions('faulty', range)).rows).toBe(300);
      const [row] = await store.query<{ rows: number; ids: number }>(
        'SELECT count() AS rows, uniqExact(id) AS ids FROM predictions_faulty'
      );
      expect(Number(row.ids)).toBe(300);
      expect(Number(row.rows)).toBeGreaterThanOrEqual(300);
    } finally {
      await store.close();
    }
  });

  it('spreads the rows over both shards and keeps each id on one', async () => {
    const perShard: number[] = [];
    for (const url of shardUrls()) {
      const shard = await ClickHouseStore.open({ url, database: LAYOUT.database });
      try {
        const [row] = await shard.query<{ rows: number; ids: number }>(
          'SELECT count() AS rows, uniqExact(id) AS ids FROM (SELECT id FROM predictions_shop_local FINAL)'
        );
        expect(Number(row.rows)).toBe(Number(row.ids));
        perShard.push(Number(row.rows));
      } finally {
        await shard.close();
      }
    }
    expect(perShard.every((n) => n > 0)).toBe(true);
    expect(perShard.reduce((a, b) => a + b)).toBe(traffic.shop.length);
    // A store opened on a shard without cluster mode left the Distributed tables as they were.
    for (const url of shardUrls()) {
      const engines = await fetch(url, {
        method: 'POST',
        body: `SELECT engine FROM system.tables WHERE database = '${LAYOUT.database}' AND name = 'predictions_shop'`,
      }).then((r) => r.text());
      expect(engines.trim()).toBe('Distributed');
    }
    const store = await onCluster.store();
    expect((await store.countPredictions('shop', { from: 0, to: Date.now() * 2 })).rows).toBe(traffic.shop.length);
  });

  const runs: Array<[string, (request: never) => Promise<FrameLike[]>, Record<string, unknown>]> = [
    ['drift psi', driftQuery as never, { queryType: 'drift', model: 'shop', metric: 'psi' }],
    ['drift ks', driftQuery as never, { queryType: 'drift', model: 'shop', metric: 'ks' }],
    ['prediction drift', predictionDriftQuery as never, { queryType: 'prediction_drift', model: 'shop' }],
    ['severity', severityQuery as never, { queryType: 'severity', model: 'shop' }],
    ...['null_rate', 'type_error_rate', 'out_of_range_rate', 'unseen_category_rate'].map(
      (metric): [string, never, Record<string, unknown>] => [
        `quality ${metric}`,
        qualityQuery as never,
        { queryType: 'quality', model: 'shop', metric },
      ]
    ),
    ...['accuracy', 'auc', 'label_coverage'].map((metric): [string, never, Record<string, unknown>] => [
      `performance ${metric}`,
      performanceQuery as never,
      { queryType: 'performance', model: 'shop', metric },
    ]),
    ['performance rmse', performanceQuery as never, { queryType: 'performance', model: 'price', metric: 'rmse' }],
    [
      'performance accuracy (text classes)',
      performanceQuery as never,
      { queryType: 'performance', model: 'tier', metric: 'accuracy' },
    ],
    ...['latency_p50', 'latency_p99', 'throughput', 'error_rate'].map(
      (metric): [string, never, Record<string, unknown>] => [
        `operational ${metric}`,
        operationalQuery as never,
        { queryType: 'operational', model: 'shop', metric },
      ]
    ),
  ];

  it.each(runs)('%s: the cluster answers as the single server', async (_name, handler, raw) => {
    const [fromCluster, fromSingle] = [
      await runHandler(handler as never, onCluster, raw),
      await runHandler(handler as never, onSingle, raw),
    ];
    expect(fromSingle.length).toBeGreaterThan(0);
    expect(fromSingle.some((frame) => frame.fields.some((field) => field.values.length > 0))).toBe(true);
    expect(comparable(fromCluster)).toEqual(comparable(fromSingle));
  });

  it('prepares counts on every shard and answers from them as the single server does', async () => {
    const [clusterStore, singleStore] = [await onCluster.store(), await onSingle.store()];
    const [onClusterPrepared, onSinglePrepared] = [
      await prepareCounts(clusterStore, 'shop'),
      await prepareCounts(singleStore, 'shop'),
    ];
    expect(onClusterPrepared.columns).toBeGreaterThan(0);
    expect(onClusterPrepared).toEqual(onSinglePrepared);
    // Each shard counts its own rows into its own cells table; summed over the shards they are the single server's.
    const cellsSql =
      'SELECT counts_key, hour, bin, category, sum(n) AS n, sum(s) AS s FROM mlmon_count_cells ' +
      "WHERE model = 'shop' GROUP BY counts_key, hour, bin, category ORDER BY counts_key, hour, bin, category";
    const [clusterCells, singleCells] = [await clusterStore.query(cellsSql), await singleStore.query(cellsSql)];
    expect(clusterCells.length).toBeGreaterThan(0);
    expect(comparable(clusterCells as never)).toEqual(comparable(singleCells as never));
    const perShard = await Promise.all(
      shardUrls().map((url) =>
        fetch(url, {
          method: 'POST',
          body: `SELECT count() FROM ${LAYOUT.database}.mlmon_count_cells_local WHERE model = 'shop'`,
        }).then(async (r) => Number(await r.text()))
      )
    );
    expect(perShard.every((n) => n > 0)).toBe(true);
    for (const [, handler, raw] of runs.filter(([name]) => /^(drift|severity|prediction drift)/.test(name))) {
      const fromCluster = await runHandler(handler as never, onCluster, raw);
      const fromSingle = await runHandler(handler as never, onSingle, raw);
      expect(comparable(fromCluster)).toEqual(comparable(fromSingle));
    }
  });

  it('makes prepared hours visible only once every shard has its cells; a late record re-prepares its hour', async () => {
    const [clusterStore, singleStore] = [await onCluster.store(), await onSingle.store()];
    const onShard = (url: string, sql: string) => fetch(url, { method: 'POST', body: sql }).then((r) => r.text());
    const hoursSql = "SELECT count() AS n FROM mlmon_count_hours WHERE model = 'shop'";
    const hoursBefore = Number((await clusterStore.query<{ n: number }>(hoursSql))[0].n);
    // A late record in a prepared hour on both: that hour is prepared again at the next round.
    const late = { ...traffic.shop[10], id: 'late-1', ts: traffic.shop[10].ts + 1 };
    const ledgerSql = "SELECT sum(inserted) AS n FROM mlmon_ingested_hours WHERE model = 'shop'";
    const ledger = async () => Number((await clusterStore.query<{ n: number }>(ledgerSql))[0].n);
    const ledgerBefore = await ledger();
    await clusterStore.writePredictions('shop', [late]);
    await singleStore.writePredictions('shop', [late]);
    expect(await ledger()).toBe(ledgerBefore + 1); // the ledger counts an insert once, not the table again
    // Shard 2 (not the server the store talks to) cannot take cells: the round fails and records no hour.
    await onShard(shardUrls()[1], `DETACH TABLE ${LAYOUT.database}.mlmon_count_cells_local`);
    try {
      await expect(prepareCounts(clusterStore, 'shop')).rejects.toThrow(/mlmon_count_cells_local/);
    } finally {
      await onShard(shardUrls()[1], `ATTACH TABLE ${LAYOUT.database}.mlmon_count_cells_local`);
    }
    expect(Number((await clusterStore.query<{ n: number }>(hoursSql))[0].n)).toBe(hoursBefore);
    await prepareCounts(clusterStore, 'shop');
    await prepareCounts(singleStore, 'shop');
    expect(Number((await clusterStore.query<{ n: number }>(hoursSql))[0].n)).toBeGreaterThan(hoursBefore);
  });

  it("reads a twice-prepared hour's cells of its latest preparation only, a late record on one shard", async () => {
    const [clusterStore, singleStore] = [await onCluster.store(), await onSingle.store()];
    const onShards = (sql: string) =>
      Promise.all(shardUrls().map((url) => fetch(url, { method: 'POST', body: sql }).then((r) => r.text())));
    const late = { ...traffic.shop[40], id: 'late-2', ts: traffic.shop[40].ts + 1 };
    const hour = Math.floor(late.ts / 3_600_000) * 3_600_000;
    // No merge may collapse the hour's two preparations while the answers are compared.
    await onShards(`SYSTEM STOP MERGES ${LAYOUT.database}.mlmon_count_cells_local`);
    try {
      await clusterStore.writePredictions('shop', [late]); // one record: on one shard, by its sharding key
      await singleStore.writePredictions('shop', [late]);
      await prepareCounts(clusterStore, 'shop');
      const preparations = await onShards(
        `SELECT uniqExact(prepared_at) FROM ${LAYOUT.database}.mlmon_count_cells_local ` +
          `WHERE model = 'shop' AND hour = ${hour}`
      );
      // The hour's cells of this round and of earlier ones, on every shard.
      expect(preparations.map((n) => Number(n) >= 2)).toEqual([true, true]);
      // The single server, not prepared again, counts that hour from its rows.
      for (const metric of ['psi', 'ks']) {
        const raw = { queryType: 'drift', model: 'shop', metric, bucket: '1h' };
        const fromCluster = await runHandler(driftQuery as never, onCluster, raw);
        expect(comparable(fromCluster)).toEqual(comparable(await runHandler(driftQuery as never, onSingle, raw)));
      }
      const raw = { queryType: 'severity', model: 'shop', bucket: '1h' };
      const fromCluster = await runHandler(severityQuery as never, onCluster, raw);
      expect(comparable(fromCluster)).toEqual(comparable(await runHandler(severityQuery as never, onSingle, raw)));
    } finally {
      await onShards(`SYSTEM START MERGES ${LAYOUT.database}.mlmon_count_cells_local`);
    }
  });
});

/** Frames with numbers rounded to 9 significant digits (sums over shards add in another order). */
function comparable(frames: FrameLike[]): unknown {
  return JSON.parse(
    JSON.stringify(frames, (_key, value: unknown) =>
      typeof value === 'number' && Number.isFinite(value) ? Number(value.toPrecision(9)) : value
    )
  );
}

/**
 * The ClickHouse store's migration to the prediction identity (model, version, id) (src/server/store/
 * clickhouse-identity.ts) on a predictions table made by the old schema (sorted by (ts, id)), on one 18.16 server and
 * on a two-shard cluster: opening the store rebuilds the table sorted by (ts, id, version), keeps every row on its
 * server, keeps re-sent copies collapsed, answers drift as before from its rows and prepared counts, keeps its
 * ingestion ledger fed (new rows make their prepared hour look changed), and afterwards keeps a second version's
 * predictions of the same ids. A rebuild interrupted after its rename and part
 * of its copy (a killed process) is finished by the next open.
 */
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { createInstance, type DatasourceInstance } from '../../src/server/backend/instances';
import { openStore } from '../../src/server/backend/openStore';
import { localInstanceSettings, parseSettings } from '../../src/server/backend/settings';
import { prepareCounts } from '../../src/server/counting/prepare-counts';
import { predictionsTableDDL } from '../../src/server/store/clickhouse';
import { localName, shardStatements } from '../../src/server/store/clickhouse-cluster';
import { pendingRebuildName } from '../../src/server/store/clickhouse-identity';
import type { PredictionStore } from '../../src/server/store/types';
import {
  startClickHouse,
  startClickHouseCluster,
  type ClickHouseClusterHandle,
  type ClickHouseHandle,
} from '../support/clickhouse';
import { driftFixture, MODEL, RANGE, runQuery } from '../support/drift-family';

const fixture = driftFixture();
const TABLE = `predictions_${MODEL}`;
/** The predictions table as the schema before the identity made it: sorted by (ts, id). */
const oldTableDDL = (table: string) =>
  predictionsTableDDL(table, []).replace('ORDER BY (ts, id, version)', 'ORDER BY (ts, id)');

let single: ClickHouseHandle;
let cluster: ClickHouseClusterHandle;
beforeAll(async () => {
  [single, cluster] = await Promise.all([startClickHouse(), startClickHouseCluster()]);
}, 120_000);
afterAll(async () => {
  await Promise.all([single?.stop(), cluster?.stop()]);
});

/** Where a case runs: the servers holding rows, the name of a table's rows there, and the datasource settings. */
interface Setup {
  servers: ClickHouseClient[];
  rowsTable: (name: string) => string;
  /** A single-server statement as each server runs it in `database`. */
  statements: (sql: string, database: string) => string[];
  settings: (database: string) => object;
}

const setups: Array<[string, () => Setup]> = [
  [
    'one server',
    () => ({
      servers: [createClient({ url: single.url })],
      rowsTable: (name) => name,
      statements: (sql) => [sql],
      settings: (database) => ({ storeKind: 'clickhouse', clickhouseUrl: single.url, database }),
    }),
  ],
  [
    'two-shard cluster',
    () => ({
      servers: cluster.shards.map((shard) => createClient({ url: shard.url })),
      rowsTable: localName,
      statements: (sql, database) => shardStatements(sql, { cluster: cluster.name, database }),
      settings: (database) => ({
        storeKind: 'clickhouse',
        clickhouseUrl: cluster.shards[0].url,
        database,
        cluster: cluster.name,
        shardUrls: cluster.shards.map((shard) => shard.url),
      }),
    }),
  ],
];

const instanceOf = (jsonData: object): DatasourceInstance =>
  createInstance(parseSettings(localInstanceSettings(jsonData, {}, 'identity')), openStore);

describe.each(setups)('%s', (_name, makeSetup) => {
  let setup: Setup;
  beforeAll(() => {
    setup = makeSetup();
  });
  afterAll(async () => {
    await Promise.all(setup.servers.map((server) => server.close()));
  });

  const onEachServer = async (sql: string) => {
    for (const server of setup.servers) {
      await server.command({ query: sql });
    }
  };
  /** The sorting key of `table`'s rows on each server (undefined where it is missing). */
  const sortingKeys = (database: string, table: string) =>
    Promise.all(
      setup.servers.map(async (server) => {
        const result = await server.query({
          query: `SELECT sorting_key FROM system.tables WHERE database = '${database}' AND name = '${setup.rowsTable(table)}'`,
          format: 'JSONEachRow',
        });
        return ((await result.json()) as Array<{ sorting_key: string }>)[0]?.sorting_key;
      })
    );
  /** Rows of the model on each server after de-duplication (FINAL), per version. */
  const rowsPerServer = (database: string) =>
    Promise.all(
      setup.servers.map(async (server) => {
        const result = await server.query({
          query:
            `SELECT version, count() AS n FROM ${database}.${setup.rowsTable(TABLE)} FINAL ` +
            'GROUP BY version ORDER BY version',
          format: 'JSONEachRow',
        });
        return ((await result.json()) as Array<{ version: string; n: string }>).map((r) => [r.version, Number(r.n)]);
      })
    );
  const driftAnswer = async (instance: DatasourceInstance) =>
    JSON.stringify(await runQuery(instance, 'drift', { bucket: '1h' }, RANGE));

  test.each([
    ['the first open after the upgrade rebuilds the table', false],
    ['an open after a rebuild killed midway finishes it', true],
  ])(
    '%s: rows, re-sent copies, prepared counts and a second version are right',
    async (_case, interrupted) => {
      const database = interrupted ? 'identity_resumed' : 'identity_fresh';
      await onEachServer(`CREATE DATABASE IF NOT EXISTS ${database}`);
      const before = instanceOf(setup.settings(database));
      let after: DatasourceInstance | undefined;
      try {
        const store = await before.store();
        for (const statement of setup.statements(oldTableDDL(`${database}.${TABLE}`), database)) {
          await onEachServer(statement);
        }
        await store.writePredictions(MODEL, fixture.records);
        await store.writePredictions(MODEL, fixture.records.slice(0, 50)); // re-sent copies
        await store.saveBaseline(fixture.baseline);
        await prepareCounts(store, MODEL);
        expect(await sortingKeys(database, TABLE)).toEqual(setup.servers.map(() => 'ts, id'));
        const rowsBefore = await rowsPerServer(database);
        const answerBefore = await driftAnswer(before);
        await before.dispose();

        if (interrupted) {
          // Killed after the rename and a part of the copy: the renamed table and a partial new one are left.
          const pending = setup.rowsTable(pendingRebuildName(MODEL));
          await onEachServer(`RENAME TABLE ${database}.${setup.rowsTable(TABLE)} TO ${database}.${pending}`);
          await onEachServer(
            `CREATE TABLE ${database}.${setup.rowsTable(TABLE)} AS ${database}.${pending} ENGINE = ` +
              "ReplacingMergeTree(ingested_at) PARTITION BY toYYYYMMDD(toDateTime(intDiv(ts, 1000), 'UTC')) ORDER BY (ts, id, version)"
          );
          await onEachServer(
            `INSERT INTO ${database}.${setup.rowsTable(TABLE)} SELECT * FROM ${database}.${pending} LIMIT 100`
          );
        }

        after = instanceOf(setup.settings(database));
        const migrated: PredictionStore = await after.store();
        expect(await sortingKeys(database, TABLE)).toEqual(setup.servers.map(() => 'ts, id, version'));
        expect(await sortingKeys(database, pendingRebuildName(MODEL))).toEqual(setup.servers.map(() => undefined));
        expect(await rowsPerServer(database)).toEqual(rowsBefore);
        expect(rowsBefore.flat().reduce((sum, [, n]) => sum + (n as number), 0)).toBe(fixture.records.length);
        expect(await driftAnswer(after)).toEqual(answerBefore);
        await prepareCounts(migrated, MODEL);
        expect(await driftAnswer(after)).toEqual(answerBefore);

        // The identity now holds: a challenger's predictions of the same ids are kept beside the champion's.
        const shadow = fixture.records.slice(0, 100).map((record) => ({ ...record, version: 'challenger' }));
        await migrated.writePredictions(MODEL, shadow);
        await migrated.writePredictions(MODEL, shadow.slice(0, 10)); // re-sent copies of the challenger's
        // The ledger view is back: the new rows make their prepared hour look changed (read from the rows, so the
        // answer moves), and preparing again gives the same answer from the counts.
        const withShadow = await driftAnswer(after);
        expect(withShadow).not.toEqual(answerBefore);
        await prepareCounts(migrated, MODEL);
        expect(await driftAnswer(after)).toEqual(withShadow);
        const range = { from: RANGE.from, to: RANGE.to };
        expect((await migrated.countPredictions(MODEL, range)).rows).toBe(fixture.records.length + 100);
        expect((await migrated.countPredictions(MODEL, range, 'challenger')).rows).toBe(100);
      } finally {
        await before.dispose();
        await after?.dispose();
      }
    },
    120_000
  );
});

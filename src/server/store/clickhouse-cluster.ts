/**
 * Cluster mode of the ClickHouse store: the single-server DDL the store and its migrations write, turned into the
 * statements each shard of a cluster runs. No `ON CLUSTER`: that needs ZooKeeper/Keeper (ClickHouse 18.16 answers
 * "DDL background thread is not initialized" without one, and has no embedded Keeper), so the store runs the
 * statements on every shard itself, over each shard's HTTP URL (see README "Cluster").
 *
 * A table `t` of the single-server layout becomes, on every shard,
 *   t_local   the table as written (MergeTree family): the shard's rows
 *   t         `Distributed(cluster, db, t_local, <sharding key>)`: reads fan out to every shard's t_local, and an
 *             insert is split by the sharding key and sent to the shards
 * so readers and writers keep using the original names. The sharding key (`shardingKeySql`) is cityHash64 of the
 * table's `model` and `id` columns (those it has): every copy of a re-sent id, every model version's prediction of
 * one request id (a prediction is (model, version, id): both versions of a request share a shard), and every
 * version of a metadata row of a model, lands on the same shard, so ReplacingMergeTree's de-duplication (FINAL,
 * merges) and argMax over labels stay exact on each shard, and a sum over shards counts each prediction once.
 */
import { fittedName } from './clickhouse-names';
import { quoteIdentifier } from './identifiers';

/** Suffix of the shard-local table under a Distributed table. */
export const LOCAL_SUFFIX = '_local';

/** Where the cluster's tables live: the cluster's name in the servers' `remote_servers` and the database. */
export interface ClusterLayout {
  cluster: string;
  database: string;
}

/** A table name as written in a statement: optionally `db.`, each part optionally back-quoted. */
const TABLE_NAME = '(?:`?[A-Za-z_][A-Za-z0-9_]*`?\\.)?`?([A-Za-z_][A-Za-z0-9_]*)`?';

const CREATE_TABLE = new RegExp(`^CREATE TABLE IF NOT EXISTS ${TABLE_NAME}\\s*\\((.*)\\)\\s*(ENGINE\\s*=.*)$`, 's');
const ALTER_TABLE = new RegExp(`^ALTER TABLE ${TABLE_NAME}\\s+(.*)$`, 's');
const OPTIMIZE_TABLE = new RegExp(`^OPTIMIZE TABLE ${TABLE_NAME}(.*)$`, 's');
const DROP_TABLE = new RegExp(`^DROP TABLE IF EXISTS ${TABLE_NAME}$`, 's');
const CREATE_VIEW = new RegExp(
  `^CREATE MATERIALIZED VIEW IF NOT EXISTS ${TABLE_NAME}\\s+TO\\s+${TABLE_NAME}(\\s*\\([^)]*\\))?\\s+AS\\s+(SELECT\\s.*)$`,
  's'
);
const INSERT_SELECT = new RegExp(`^INSERT INTO ${TABLE_NAME}(\\s*\\([^)]*\\))?\\s+(SELECT\\s.*)$`, 's');
/** A table read by a SELECT: `FROM t` or `JOIN t` (not a subquery or table function), the name in group 2. */
const READ_TABLE = new RegExp(`\\b(FROM|JOIN)\\s+${TABLE_NAME}(?![\\w\`.]|\\s*\\()`, 'g');

/** `db`.`name` of a table in the layout's database. */
function tableSql(layout: ClusterLayout, name: string): string {
  return `${quoteIdentifier(layout.database, 'clickhouse')}.${quoteIdentifier(name, 'clickhouse')}`;
}

/**
 * The sharding key of a table with these column definitions: cityHash64 of `model` and `id` (those present, in that
 * order), so each model's request id has one shard; rand() for a table with neither (no de-duplication to keep).
 */
export function shardingKeySql(columnsSql: string): string {
  const names = new Set([...columnsSql.matchAll(/(?:^|,)\s*`?([A-Za-z_][A-Za-z0-9_]*)`?\s/g)].map((m) => m[1]));
  const key = ['model', 'id'].filter((column) => names.has(column));
  return key.length > 0 ? `cityHash64(${key.join(', ')})` : 'rand()';
}

/**
 * The statements every shard runs for one single-server statement, in order:
 *   CREATE TABLE IF NOT EXISTS t (...) ENGINE = E   → t_local with engine E, then t as Distributed over it
 *   ALTER TABLE t ADD COLUMN ...                    → on t_local, then on t (the Distributed table's columns)
 *   ALTER TABLE t <anything else> (DROP PARTITION, DELETE, ...), OPTIMIZE TABLE t ...   → on t_local only
 *   DROP TABLE IF EXISTS t                          → t, then t_local
 *   CREATE MATERIALIZED VIEW IF NOT EXISTS v TO t AS SELECT … FROM s …
 *                                                   → v_local TO t_local over s_local: each shard's view sees the
 *                                                     rows inserted into its own s_local and writes its own t_local
 *   INSERT INTO t SELECT … FROM s …                 → INSERT INTO t_local SELECT … FROM s_local: each shard over
 *                                                     its own rows (as a re-sent id's copies share a shard)
 * Any other statement is refused, naming itself, so that a migration
 * of a form cluster mode does not know fails on a cluster instead of creating tables outside the layout: teach
 * this function the form (and test/store/clickhouse-cluster.test.ts checks it).
 */
export function shardStatements(statement: string, layout: ClusterLayout): string[] {
  const sql = statement.trim();
  const create = CREATE_TABLE.exec(sql);
  if (create) {
    const [, name, columns, engine] = create;
    const local = tableSql(layout, localName(name));
    const distributed =
      `Distributed(${quoteIdentifier(layout.cluster, 'clickhouse')}, ${quoteIdentifier(layout.database, 'clickhouse')}, ` +
      `${quoteIdentifier(localName(name), 'clickhouse')}, ${shardingKeySql(columns)})`;
    return [
      `CREATE TABLE IF NOT EXISTS ${local} (${columns}) ${engine}`,
      `CREATE TABLE IF NOT EXISTS ${tableSql(layout, name)} AS ${local} ENGINE = ${distributed}`,
    ];
  }
  const alter = ALTER_TABLE.exec(sql);
  if (alter) {
    const [, name, action] = alter;
    const onLocal = `ALTER TABLE ${tableSql(layout, localName(name))} ${action}`;
    return /^ADD COLUMN\s/i.test(action) ? [onLocal, `ALTER TABLE ${tableSql(layout, name)} ${action}`] : [onLocal];
  }
  const optimize = OPTIMIZE_TABLE.exec(sql);
  if (optimize) {
    return [`OPTIMIZE TABLE ${tableSql(layout, localName(optimize[1]))}${optimize[2]}`];
  }
  const view = CREATE_VIEW.exec(sql);
  if (view) {
    const [, name, target, columns = '', select] = view;
    return [
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${tableSql(layout, localName(name))} TO ` +
        `${tableSql(layout, localName(target))}${columns} AS ${readingLocalTables(select, layout)}`,
    ];
  }
  const insert = INSERT_SELECT.exec(sql);
  if (insert) {
    const [, name, columns = '', select] = insert;
    return [`INSERT INTO ${tableSql(layout, localName(name))}${columns} ${readingLocalTables(select, layout)}`];
  }
  const drop = DROP_TABLE.exec(sql);
  if (drop) {
    return [
      `DROP TABLE IF EXISTS ${tableSql(layout, drop[1])}`,
      `DROP TABLE IF EXISTS ${tableSql(layout, localName(drop[1]))}`,
    ];
  }
  throw new Error(
    `Cluster mode does not know how to run this statement on each shard: ${sql.slice(0, 200)}. ` +
      'Add its form to shardStatements in src/server/store/clickhouse-cluster.ts.'
  );
}

/** A SELECT with every table it reads (FROM, JOIN; not system tables) replaced by its shard-local table. */
function readingLocalTables(select: string, layout: ClusterLayout): string {
  return select.replace(READ_TABLE, (whole, keyword: string, name: string) =>
    /^`?system`?\./.test(whole.slice(keyword.length).trim()) ? whole : `${keyword} ${tableSql(layout, localName(name))}`
  );
}

/**
 * Name of the shard-local table under table `name` (an identifier, as the statement patterns match only those):
 * `<name>_local`, fitted to an identifier's length (a readable prefix and a hash of `name` when it is too long).
 */
export function localName(name: string): string {
  return fittedName(name, LOCAL_SUFFIX);
}

/** The query listing, on one server, the shard numbers it serves in the cluster (`{cluster}` bound). */
export const LOCAL_SHARDS_SQL =
  'SELECT shard_num FROM system.clusters WHERE cluster = {cluster} AND is_local = 1 ORDER BY shard_num';

/** The query listing every shard number of the cluster, as the server answering it is configured. */
export const CLUSTER_SHARDS_SQL =
  'SELECT DISTINCT shard_num FROM system.clusters WHERE cluster = {cluster} ORDER BY shard_num';

/**
 * Checks that the shard URLs name each shard of the cluster exactly once: `served[i]` are the shard numbers the
 * server at `urls[i]` serves (LOCAL_SHARDS_SQL there), `all` the cluster's shard numbers. Returns the problems, as
 * messages that say what to fix (empty when the list is right).
 */
export function shardListProblems(
  cluster: string,
  urls: readonly string[],
  served: ReadonlyArray<readonly number[]>,
  all: readonly number[]
): string[] {
  if (all.length === 0) {
    return [`the server knows no cluster "${cluster}": check remote_servers in its configuration and the cluster name`];
  }
  const problems: string[] = [];
  const seen = new Map<number, string>();
  urls.forEach((url, i) => {
    if (served[i].length !== 1) {
      problems.push(
        `${url} serves ${served[i].length === 0 ? 'no shard' : `shards ${served[i].join(', ')}`} of "${cluster}" ` +
          '(give the HTTP URL of one server per shard)'
      );
      return;
    }
    const shard = served[i][0];
    if (seen.has(shard)) {
      problems.push(`${seen.get(shard)} and ${url} both serve shard ${shard} of "${cluster}"`);
    }
    seen.set(shard, url);
  });
  const missing = all.filter((shard) => !seen.has(shard));
  if (missing.length > 0) {
    problems.push(`no URL given for shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of "${cluster}"`);
  }
  return problems;
}

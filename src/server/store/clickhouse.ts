/**
 * The ClickHouse store. Tables (in the configured database):
 *   mlmon_schema_version                      migrations applied (version, applied_at)
 *   mlmon_models, mlmon_features, mlmon_schema_changes, mlmon_baselines   metadata (ReplacingMergeTree where updated)
 *   predictions_<model>   ReplacingMergeTree(ingested_at), PARTITION BY UTC day of ts, ORDER BY (ts, id, version):
 *                         a prediction is (model, version, id), so re-sent copies (same ts) collapse and two
 *                         versions' predictions of one request stay; reads use FINAL. Tables made before, sorted
 *                         by (ts, id), are rebuilt when the store opens (clickhouse-identity.ts)
 *   labels_<model>        ReplacingMergeTree(ingested_at), PARTITION BY UTC day of the label time, ORDER BY id;
 *                         reads take the latest label per id (argMax), so corrected labels win
 * A derived name longer than 64 characters (a long model name) is fitted: prefix and hash (clickhouse-names.ts).
 * New features become new columns (ALTER TABLE ... ADD COLUMN). Only types that ClickHouse 18.16 has are used
 * (Int64/UInt64 epoch ms, Float64, String, Nullable, UInt8), and the same SQL runs on current ClickHouse.
 * Values: predictions travel as blocks of the Native binary format (clickhouse-native.ts), the other inserts as
 * JSONEachRow data, never SQL; query values are bound as query parameters on servers
 * that have them and written by `clickHouseLiteral` on older ones (version detected at connect).
 * Cluster mode (`cluster` and `shardUrls`, clickhouse-cluster.ts): every table above is a `<table>_local` on each
 * shard plus a Distributed table of the original name, so reads and writes keep their SQL; the DDL (migrations,
 * new models and features, upkeep) runs on every shard; inserts wait until each shard has its rows.
 * Stopping: the client's request timeout (`requestTimeoutMs`) is only a backstop, long by default, because the
 * caller decides when to give up (Grafana's cancellation, the backend's per-query limit) through `options.signal`;
 * every read carries its own `query_id`, and a read given up by the client is killed on the server
 * (`KILL QUERY`, which 18.16 has), so it does not keep running and delay the queries behind it.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { forEachSlicedAsync } from '../slices';
import { ClickHouseError, ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import {
  CLUSTER_SHARDS_SQL,
  LOCAL_SHARDS_SQL,
  localName,
  shardListProblems,
  shardStatements,
  type ClusterLayout,
} from './clickhouse-cluster';
import {
  identityStep,
  pendingRebuildName,
  PREDICTIONS_SORTING_KEY,
  rebuildStatements,
  type IdentityStep,
} from './clickhouse-identity';
import { encodeNativeBlock, type NativeType } from './clickhouse-native';
import { ingestLedgerViewName, labelsTableName, predictionsTableName } from './clickhouse-names';
import { featureColumn, quoteIdentifier, validateIdentifier, validateVersion } from './identifiers';
import {
  DEFAULT_MAX_CELLS_PER_WRITE,
  DEFAULT_MAX_FEATURES_PER_MODEL,
  featureColumns,
  piecesOf,
  planWrite,
  toStoredColumns,
  type SchemaUpdate,
  type StoredColumns,
} from './schema';
import { predictionColumnsOf, type PredictionBatch, type PredictionColumns } from './prediction-columns';
import { bindParams, clickHouseLiteral, type BindMode, type Params } from './sql-params';
import {
  boundedModelEvent,
  PREDICTION_SYSTEM_COLUMNS,
  predictionKey,
  RECENT_IDS_WINDOW_MS,
  withOwnFeatures,
  type Baseline,
  type BaselineSummary,
  type FeatureKind,
  type FeatureState,
  type LabelRecord,
  type ModelEvent,
  type PredictionCounts,
  type PreparedHours,
  type PredictionStore,
  type QueryOptions,
  type ShardReader,
  type SchemaChange,
  type TimeRange,
  type VersionSummary,
  type WriteOptions,
  type WriteResult,
} from './types';

export interface ClickHouseOptions {
  url: string;
  database?: string;
  username?: string;
  password?: string;
  /** Force the value-binding mode (tests use it to run both paths); detected from the server version otherwise. */
  bindMode?: BindMode;
  /**
   * How long the client waits for one request before giving up (and killing a read), in ms. A backstop only: the
   * caller's `signal` decides when a query stops. Default DEFAULT_REQUEST_TIMEOUT_MS.
   */
  requestTimeoutMs?: number;
  /**
   * Cluster mode: the cluster's name in the servers' `remote_servers`. Tables become shard-local tables under
   * Distributed tables (clickhouse-cluster.ts); `url` must then be one of `shardUrls`.
   */
  cluster?: string;
  /** Cluster mode: the HTTP URL of one server of each shard, where the store runs its DDL (no ON CLUSTER). */
  shardUrls?: string[];
}

/** The client's request timeout unless the options say otherwise: longer than any per-query limit of the backend. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;

/**
 * Cells (rows × columns) of one prediction insert at most, whatever the caller allows. An insert is its stored columns
 * (typed arrays: 9 bytes per number cell) and one Native block (8 bytes per number cell, strings as UTF-8): 1 000 000
 * cells (~28 000 rows of 35 columns) are ~8 MB of block, made in ~30 ms (25 000 rows × 35 columns: toStoredColumns
 * 15 ms + encodeNativeBlock 12 ms, timed once at load 14, bench/ingest/RESULTS.md round 5), so an insert holds the
 * store worker's event loop about that long; one insert per flush round of the ingest benchmark (25 000 rows) means
 * fewer parts for ClickHouse to write and merge.
 * (Row objects and one JSON string per insert, before, needed ~1 KB per row: 400 000 cells at most.)
 */
export const MAX_CELLS_PER_INSERT = 1_000_000;

/**
 * Read buffer per column file and part (`max_read_buffer_size`, 1 MiB by default). A `FINAL` read opens every part
 * of the range at once, so its memory is parts × column files × this: 10 M rows × 25 features in 31 parts needed
 * 1.95 GB on 18.16 (over the usual 2 GB query limit) with the default and 0.46 GB with 64 KiB, in the same time.
 */
export const READ_BUFFER_BYTES = 65_536;

/**
 * Longest statement the server parses (`max_query_size`, 256 KiB by default). Old servers get every bound value as a
 * literal, and a KS drift query over 20 features carries 20 sketch grids of ~1 000 knots (about 400 KiB).
 */
export const MAX_QUERY_BYTES = 16 * 1_048_576;

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** ClickHouse type of each prediction system column (PREDICTION_SYSTEM_COLUMNS). */
const PREDICTION_SYSTEM_TYPES: Readonly<Record<(typeof PREDICTION_SYSTEM_COLUMNS)[number], NativeType>> = {
  ts: 'Int64',
  id: 'String',
  version: 'String',
  prediction_num: 'Nullable(Float64)',
  prediction_cat: 'Nullable(String)',
  score: 'Nullable(Float64)',
  latency_ms: 'Nullable(Float64)',
  is_error: 'UInt8',
  error_message: 'Nullable(String)',
  sampling_rate: 'Float64',
  type_errors: 'String',
  ingested_at: 'UInt64',
};

/** SQL of the prediction system columns (order as PREDICTION_SYSTEM_COLUMNS). */
const PREDICTION_COLUMNS_DDL = PREDICTION_SYSTEM_COLUMNS.map((name) => `\`${name}\` ${PREDICTION_SYSTEM_TYPES[name]}`);

/** ClickHouse types of a predictions insert's columns: the system columns, then the features' (toStoredColumns). */
export function predictionColumnTypes(features: ReadonlyArray<{ kind: FeatureKind }>): NativeType[] {
  return [
    ...PREDICTION_SYSTEM_COLUMNS.map((name) => PREDICTION_SYSTEM_TYPES[name]),
    ...features.map((f) => featureColumnType(f.kind)),
  ];
}

/** ClickHouse type of a feature's column. */
function featureColumnType(kind: FeatureKind): NativeType {
  return kind === 'numeric' ? 'Nullable(Float64)' : 'Nullable(String)';
}

const UTC_DAY_OF_TS = "toYYYYMMDD(toDateTime(intDiv(ts, 1000), 'UTC'))";

/** The shared tables holding rows per model (column `model`): metadata and prepared counts. */
const MODEL_METADATA_TABLES = [
  'mlmon_models',
  'mlmon_features',
  'mlmon_schema_changes',
  'mlmon_baselines',
  'mlmon_events',
  'mlmon_ingested_hours',
  'mlmon_count_hours',
  'mlmon_count_cells',
] as const;

export const SCHEMA_VERSION_DDL =
  'CREATE TABLE IF NOT EXISTS mlmon_schema_version (version UInt32, applied_at UInt64) ENGINE = MergeTree ORDER BY version';

/** Migrations of the shared tables, applied in order once each; never edit one that shipped, add a new one. */
export const MIGRATIONS: ReadonlyArray<{ version: number; statements: string[] }> = [
  {
    version: 1,
    statements: [
      'CREATE TABLE IF NOT EXISTS mlmon_models (model String, created_at UInt64) ENGINE = ReplacingMergeTree(created_at) ORDER BY model',
      'CREATE TABLE IF NOT EXISTS mlmon_features (model String, name String, kind String, active UInt8, first_seen Int64, ' +
        'last_seen Int64, updated_at UInt64) ENGINE = ReplacingMergeTree(updated_at) ORDER BY (model, name)',
      'CREATE TABLE IF NOT EXISTS mlmon_schema_changes (model String, ts Int64, feature String, change String, kind String) ' +
        'ENGINE = MergeTree ORDER BY (model, ts)',
      'CREATE TABLE IF NOT EXISTS mlmon_baselines (model String, version String, created_at UInt64, document String) ' +
        'ENGINE = ReplacingMergeTree(created_at) ORDER BY (model, version)',
    ],
  },
  {
    version: 2,
    statements: [
      // Model events (ModelEvent): tags as a JSON array, since the event is read whole.
      'CREATE TABLE IF NOT EXISTS mlmon_events (model String, ts Int64, kind String, title String, text String, ' +
        'tags String) ENGINE = MergeTree ORDER BY (model, ts)',
    ],
  },
  {
    version: 3,
    statements: [
      // Prepared counts (src/server/counting/clickhouse-hours.ts): rows inserted per model and hour of ts, by a
      // materialized view per model (ingestLedgerDDL); summed at read, so never read with FINAL.
      'CREATE TABLE IF NOT EXISTS mlmon_ingested_hours (model String, hour Int64, inserted UInt64) ' +
        'ENGINE = SummingMergeTree(inserted) ORDER BY (model, hour)',
      // One row per prepared hour and counts key: the ledger's rows of that hour when it was counted.
      'CREATE TABLE IF NOT EXISTS mlmon_count_hours (model String, counts_key String, hour Int64, ingested UInt64, ' +
        'prepared_at UInt64) ENGINE = ReplacingMergeTree(prepared_at) ORDER BY (model, counts_key, hour)',
      // The counted cells of a prepared hour; only those of the hour's latest preparation are read.
      'CREATE TABLE IF NOT EXISTS mlmon_count_cells (model String, counts_key String, hour Int64, bin Int64, ' +
        'category String, n Float64, s Float64, prepared_at UInt64) ' +
        'ENGINE = ReplacingMergeTree(prepared_at) ORDER BY (model, counts_key, hour, bin, category)',
    ],
  },
];

/** The tables of prepared counts, with their columns (migration 3), in the order they are written. */
export const PREPARED_COUNT_TABLES = ['mlmon_count_cells', 'mlmon_count_hours'] as const;

/**
 * INSERT of prepared cells into `table` from `select` (columns counts_key, hour, bin, category, n, s), stamped with
 * `{prepared_model}` and `{prepared_at}`.
 */
export function preparedCellsInsertSql(table: string, select: string): string {
  return (
    `INSERT INTO ${table} (model, prepared_at, counts_key, hour, bin, category, n, s) SELECT {prepared_model}, ` +
    `toUInt64({prepared_at}), counts_key, hour, bin, category, n, s FROM (${select})`
  );
}

/** The ledger's rows of `source` (a table or view with `ts`, optionally filtered): inserted rows per model and hour. */
function ledgerRowsSql(source: string, model: string, where = ''): string {
  return (
    `SELECT ${clickHouseLiteral(model)} AS model, intDiv(ts, ${HOUR_MS}) * ${HOUR_MS} AS hour, count() AS inserted ` +
    `FROM ${source}${where ? ` WHERE ${where}` : ''} GROUP BY hour`
  );
}

/** The model's ingestion ledger: a view adding every insert's rows per hour of ts to mlmon_ingested_hours. */
export function ingestLedgerDDL(view: string, ledger: string, predictions: string, model: string): string {
  return `CREATE MATERIALIZED VIEW IF NOT EXISTS ${view} TO ${ledger} AS ${ledgerRowsSql(predictions, model)}`;
}

/**
 * Counts rows already in `predictions` (those meeting `where`, all without) into the ledger once more: for rows that
 * may have been inserted before a ledger view existed. Counting a row twice only makes its hour look changed.
 */
export function ledgerCatchUpSql(ledger: string, predictions: string, model: string, where = ''): string {
  return `INSERT INTO ${ledger} ${ledgerRowsSql(predictions, model, where)}`;
}

/** The engine of a model's predictions table: one row per (ts, id, version) (clickhouse-identity.ts). */
const PREDICTIONS_ENGINE = `ENGINE = ReplacingMergeTree(ingested_at) PARTITION BY ${UTC_DAY_OF_TS} ORDER BY (${PREDICTIONS_SORTING_KEY})`;

/** DDL of a model's predictions table. */
export function predictionsTableDDL(
  table: string,
  features: ReadonlyArray<{ name: string; kind: FeatureKind }>
): string {
  const columns = [...PREDICTION_COLUMNS_DDL, ...features.map((f) => `${featureColumnDDL(f)}`)].join(', ');
  return `CREATE TABLE IF NOT EXISTS ${table} (${columns}) ${PREDICTIONS_ENGINE}`;
}

/** DDL of a model's labels table. */
export function labelsTableDDL(table: string): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${table} (id String, label_num Nullable(Float64), label_cat Nullable(String), ts Int64, ` +
    `ingested_at UInt64) ENGINE = ReplacingMergeTree(ingested_at) PARTITION BY ${UTC_DAY_OF_TS} ORDER BY id`
  );
}

function featureColumnDDL(feature: { name: string; kind: FeatureKind }): string {
  return `${quoteIdentifier(featureColumn(feature.name), 'clickhouse')} ${featureColumnType(feature.kind)}`;
}

/** The deduplicated predictions relation over a table (FINAL collapses re-sent copies), limited to the range. */
export function predictionsRelationSql(
  table: string,
  features: ReadonlyArray<{ name: string }>,
  range?: TimeRange
): string {
  const columns = [
    ...PREDICTION_COLUMNS_DDL.map((ddl) => ddl.slice(0, ddl.indexOf(' '))),
    ...features.map((f) => quoteIdentifier(featureColumn(f.name), 'clickhouse')),
  ].join(', ');
  const where = range ? `WHERE ts >= ${Math.trunc(range.from)} AND ts < ${Math.trunc(range.to)}` : '';
  return `(SELECT ${columns} FROM ${table} FINAL ${where})`;
}

/** The labels relation: one row per id, the most recently ingested label (then the latest label time) wins. */
export function labelsRelationSql(table: string, since?: number): string {
  const where = since === undefined ? '' : ` WHERE ts >= ${Math.trunc(since)}`;
  return (
    `(SELECT id, argMax(l_num, l_order) AS label_num, argMax(l_cat, l_order) AS label_cat, argMax(l_ts, l_order) AS ts, ` +
    `max(l_ingested) AS ingested_at FROM (SELECT id, label_num AS l_num, label_cat AS l_cat, ts AS l_ts, ` +
    `ingested_at AS l_ingested, (ingested_at, ts) AS l_order FROM ${table}${where}) GROUP BY id)`
  );
}

/** Versions with their row counts and first/last ts. */
export function versionsSql(relation: string): string {
  return `SELECT version, count() AS count, min(ts) AS firstTs, max(ts) AS lastTs FROM ${relation} GROUP BY version ORDER BY firstTs`;
}

/** Rows, rows scaled back by the sampling rate, and errors; `{version}` placeholder when filtered. */
export function countSql(relation: string, byVersion: boolean): string {
  const filter = byVersion ? 'WHERE version = {version}' : '';
  return `SELECT count() AS rows, sum(1 / sampling_rate) AS estimatedTotal, sum(is_error) AS errors FROM ${relation} ${filter}`;
}

/** ALTER adding a feature's column. */
export function addFeatureColumnSql(table: string, feature: { name: string; kind: FeatureKind }): string {
  return `ALTER TABLE ${table} ADD COLUMN ${featureColumnDDL(feature)}`;
}

/** The request timeout to use for these options; rejects values that are not a positive number of ms. */
function requestTimeoutMs(options: ClickHouseOptions): number {
  const timeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new Error(`ClickHouse requestTimeoutMs must be a positive number of milliseconds, got ${timeout}`);
  }
  return timeout;
}

/**
 * Whether a failed request was answered by the server with an error (so the query no longer runs there), as opposed
 * to given up by the client (abort, timeout, broken connection). Current servers' errors become ClickHouseError;
 * 18.16's body `Code: 62, e.displayText() = DB::Exception: …` lacks the `(TYPE)` suffix the client parses, so it
 * arrives as a plain Error whose message starts with `Code: <number>`.
 */
export function isServerError(error: unknown): boolean {
  return error instanceof ClickHouseError || (error instanceof Error && /^Code: \d+[,.]/.test(error.message));
}

/** KILL QUERY of one query id, without waiting for it to stop (ASYNC): the id is written as a checked literal. */
export function killQuerySql(queryId: string): string {
  return `KILL QUERY WHERE query_id = ${clickHouseLiteral(queryId)} ASYNC`;
}

/** Binding mode for a server version string: query parameters from 19.16 on (kept conservative), literals before. */
export function bindModeForVersion(version: string): BindMode {
  const [major, minor] = version.split('.').map((part) => Number.parseInt(part, 10));
  return major > 19 || (major === 19 && minor >= 16) ? 'clickhouse-params' : 'clickhouse-literals';
}

/** A client of one server, with the store's settings. */
function clientFor(url: string, database: string, options: ClickHouseOptions): ClickHouseClient {
  return createClient({
    url,
    database,
    username: options.username ?? 'default',
    password: options.password ?? '',
    request_timeout: requestTimeoutMs(options),
    clickhouse_settings: {
      output_format_json_quote_64bit_integers: 0,
      max_read_buffer_size: String(READ_BUFFER_BYTES),
      max_query_size: String(MAX_QUERY_BYTES),
    },
    log: { level: ClickHouseLogLevel.OFF },
  });
}

export class ClickHouseStore implements PredictionStore {
  readonly dialect = 'clickhouse' as const;
  readonly description: string;
  /** Where DDL runs: every shard in cluster mode, the one server otherwise. */
  private shards: ClickHouseClient[];
  /** The cluster, in cluster mode. */
  private layout?: ClusterLayout;

  private constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
    readonly serverVersion: string,
    readonly bindMode: BindMode,
    url: string
  ) {
    this.description = `ClickHouse ${serverVersion} at ${new URL(url).origin}/${database}`;
    this.shards = [client];
  }

  static async open(options: ClickHouseOptions): Promise<ClickHouseStore> {
    const database = validateIdentifier(options.database ?? 'default', 'ClickHouse database name');
    const client = clientFor(options.url, database, options);
    let version: string;
    try {
      const result = await client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' });
      version = ((await result.json()) as Array<{ v: string }>)[0].v;
    } catch (error) {
      await client.close();
      throw new Error(
        `Cannot reach ClickHouse at ${new URL(options.url).origin} (database ${database}): ${(error as Error).message}. ` +
          'Check --clickhouse-url, the credentials and that the database exists.'
      );
    }
    const store = new ClickHouseStore(
      client,
      database,
      version,
      options.bindMode ?? bindModeForVersion(version),
      options.url
    );
    try {
      if (options.cluster !== undefined || options.shardUrls !== undefined) {
        await store.joinCluster(options);
      }
      await store.migrate();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  /**
   * Switches to cluster mode: checks that `shardUrls` name each shard of `cluster` once (as system.clusters of each
   * server says) and that `url` is one of them, and keeps a client per shard for the DDL.
   */
  private async joinCluster(options: ClickHouseOptions): Promise<void> {
    const cluster = validateIdentifier(options.cluster ?? '', 'ClickHouse cluster name');
    const urls = options.shardUrls ?? [];
    const origins = urls.map((url) => new URL(url).origin);
    if (!origins.includes(new URL(options.url).origin)) {
      throw new Error(
        `The ClickHouse URL ${new URL(options.url).origin} is not one of the shard URLs (${origins.join(', ') || 'none given'}); ` +
          'give the HTTP URL of one server of each shard of the cluster, including the one queries go to.'
      );
    }
    this.shards = urls.map((url) =>
      new URL(url).origin === new URL(options.url).origin ? this.client : clientFor(url, this.database, options)
    );
    this.layout = { cluster, database: this.database };
    const served = await Promise.all(
      this.shards.map(async (shard) =>
        (await this.queryOn<{ shard_num: number }>(shard, LOCAL_SHARDS_SQL, { cluster })).map((r) =>
          Number(r.shard_num)
        )
      )
    );
    const all = (await this.query<{ shard_num: number }>(CLUSTER_SHARDS_SQL, { cluster })).map((r) =>
      Number(r.shard_num)
    );
    const problems = shardListProblems(cluster, origins, served, all);
    if (problems.length > 0) {
      throw new Error(`ClickHouse cluster "${cluster}" cannot be used: ${problems.join('; ')}.`);
    }
  }

  private table(name: string): string {
    return `${quoteIdentifier(this.database, 'clickhouse')}.${quoteIdentifier(name, 'clickhouse')}`;
  }

  private predictionsTable(model: string): string {
    return this.table(predictionsTableName(model));
  }

  private labelsTable(model: string): string {
    return this.table(labelsTableName(model));
  }

  /** Name of the table that holds a table's rows on a server: its shard-local table in cluster mode. */
  private rowsTable(name: string): string {
    return this.layout ? localName(name) : name;
  }

  /** The statements a shard runs for a single-server DDL statement (itself, outside cluster mode). */
  private statementsFor(sql: string): string[] {
    return this.layout ? shardStatements(sql, this.layout) : [sql];
  }

  /**
   * Runs a single-server DDL statement where it belongs: on the server, or on every shard as shardStatements
   * says. `alreadyDone` tells which errors mean the statement had been applied there before (they are skipped).
   */
  private async command(sql: string, alreadyDone?: RegExp): Promise<void> {
    for (const shard of this.shards) {
      for (const statement of this.statementsFor(sql)) {
        try {
          await shard.command({ query: statement });
        } catch (error) {
          if (!alreadyDone?.test((error as Error).message)) {
            throw error;
          }
        }
      }
    }
  }

  /**
   * The settings of every write into a Distributed table on a cluster: `insert_distributed_sync=1`, so the server
   * answers only when every shard has written its rows (not when it has queued them on its own disk); an acknowledged
   * write is on its shard, and a failed one is sent again whole (the collector's write-ahead log, the next maintenance
   * round), the re-sent ids collapsing as any re-sent id does. None on a single server.
   */
  private get writeSettings(): { clickhouse_settings?: { insert_distributed_sync: 1 } } {
    return this.layout ? { clickhouse_settings: { insert_distributed_sync: 1 } } : {};
  }

  /** Inserts rows as JSONEachRow (writeSettings: synchronously on every shard of a cluster). */
  private async insert(
    table: string,
    rows: ReadonlyArray<Record<string, unknown>>,
    client = this.client
  ): Promise<void> {
    if (rows.length > 0) {
      await client.insert({
        table,
        values: rows as Array<Record<string, unknown>>,
        format: 'JSONEachRow',
        ...this.writeSettings,
      });
    }
  }

  /**
   * Inserts stored columns as one block of the Native format (clickhouse-native.ts): `types[j]` is the type of
   * `stored.columns[j]` (writeSettings: synchronously on every shard of a cluster).
   */
  private async insertColumns(table: string, stored: StoredColumns, types: readonly NativeType[]): Promise<void> {
    const columns = stored.columns.map((name) => quoteIdentifier(name, 'clickhouse')).join(', ');
    const result = await this.client.exec({
      query: `INSERT INTO ${table} (${columns}) FORMAT Native`,
      values: Readable.from(encodeNativeBlock(stored, types), { objectMode: false }),
      ...this.writeSettings,
    });
    result.stream.resume(); // an INSERT answers with an empty body: read it so the connection is free again
    await finished(result.stream);
  }

  /**
   * Applies the migrations the database has not seen yet, recording each in mlmon_schema_version. On a cluster each
   * shard keeps its own mlmon_schema_version (a plain table, not distributed) and gets the migrations it lacks, each
   * statement turned into its shard statements; returns the lowest version over the shards.
   */
  async migrate(): Promise<number> {
    const versions: number[] = [];
    for (const shard of this.shards) {
      await shard.command({ query: SCHEMA_VERSION_DDL });
      const [row] = await this.queryOn<{ v: number }>(shard, 'SELECT max(version) AS v FROM mlmon_schema_version');
      let current = Number(row?.v ?? 0);
      for (const migration of MIGRATIONS.filter((m) => m.version > current)) {
        for (const statement of migration.statements.flatMap((sql) => this.statementsFor(sql))) {
          await shard.command({ query: statement });
        }
        await this.insert('mlmon_schema_version', [{ version: migration.version, applied_at: Date.now() }], shard);
        current = migration.version;
      }
      versions.push(current);
    }
    await this.rebuildForIdentity();
    return versions.reduce((lowest, v) => Math.min(lowest, v));
  }

  /**
   * Rebuilds the predictions tables made sorted by (ts, id), and resumes the rebuilds under way, on every server
   * holding their rows (clickhouse-identity.ts); one look at system.tables per server finds them.
   */
  private async rebuildForIdentity(): Promise<void> {
    const models = await this.listModels();
    const names = (model: string) => ({
      table: this.rowsTable(predictionsTableName(model)),
      pending: this.rowsTable(pendingRebuildName(model)),
    });
    const tables = models.flatMap((model) => Object.values(names(model)));
    if (tables.length === 0) {
      return; // (and `has([], name)` is a type error on 18.16)
    }
    const sortingKeys = await Promise.all(
      this.shards.map(async (shard) => {
        // Only tables holding rows: a Distributed table (a cluster's, seen by a store opened on one of its servers
        // without cluster mode) has no sorting key and must never be "rebuilt" into a local copy of every shard.
        const rows = await this.queryOn<{ name: string; sorting_key: string }>(
          shard,
          "SELECT name, sorting_key FROM system.tables WHERE database = {db} AND has({tables}, name) AND endsWith(engine, 'MergeTree')",
          { db: this.database, tables }
        );
        return new Map(rows.map((row) => [row.name, row.sorting_key]));
      })
    );
    for (const model of models) {
      const { table, pending } = names(model);
      const steps = sortingKeys.map((keys) => identityStep(keys.get(table), keys.has(pending)));
      if (steps.some((step) => step !== 'none')) {
        await this.rebuildModelForIdentity(model, table, pending, steps);
      }
    }
  }

  /**
   * Rebuilds one model's predictions table (`table`, renamed to `pending` meanwhile) by each server's step, its
   * ledger view dropped before and made again after (clickhouse-identity.ts).
   */
  private async rebuildModelForIdentity(
    model: string,
    table: string,
    pending: string,
    steps: readonly IdentityStep[]
  ): Promise<void> {
    await this.command(`DROP TABLE IF EXISTS ${this.table(ingestLedgerViewName(model))}`);
    for (const [i, shard] of this.shards.entries()) {
      if (steps[i] === 'rename') {
        await shard.command({ query: `RENAME TABLE ${this.table(table)} TO ${this.table(pending)}` });
      }
      if (steps[i] !== 'none') {
        const columns = await this.queryOn<{ name: string }>(
          shard,
          'SELECT name FROM system.columns WHERE database = {db} AND table = {table}',
          { db: this.database, table: pending }
        );
        const statements = rebuildStatements(
          this.table(table),
          this.table(pending),
          PREDICTIONS_ENGINE,
          columns.map((c) => c.name)
        );
        for (const statement of statements) {
          await shard.command({ query: statement });
        }
      }
    }
    await this.ensureIngestLedger(model);
  }

  /**
   * Runs statements the store does not make itself (`mlmon clickhouse kafka-ddl --apply`), in order, on the one
   * server. Refused in cluster mode, where such tables would be needed on every shard in a form of their own.
   */
  async runStatements(statements: readonly string[]): Promise<void> {
    if (this.layout) {
      throw new Error(
        `ClickHouse cluster ${this.layout.cluster}: these statements are for one server; run them on each shard's ` +
          '_local tables yourself'
      );
    }
    for (const statement of statements) {
      await this.client.command({ query: statement });
    }
  }

  // ----- schema -------------------------------------------------------------------------------------------------

  async getFeatures(model: string): Promise<FeatureState[]> {
    validateIdentifier(model, 'model name');
    const rows = await this.query<{
      name: string;
      kind: FeatureKind;
      active: number;
      first_seen: number;
      last_seen: number;
    }>(
      'SELECT name, kind, active, first_seen, last_seen FROM mlmon_features FINAL WHERE model = {model} ORDER BY first_seen, name',
      { model }
    );
    return rows.map((r) => ({
      name: r.name,
      kind: r.kind,
      active: Number(r.active) === 1,
      firstSeen: Number(r.first_seen),
      lastSeen: Number(r.last_seen),
    }));
  }

  async getSchemaChanges(model: string, range?: TimeRange): Promise<SchemaChange[]> {
    validateIdentifier(model, 'model name');
    const filter = range ? 'AND ts >= {from} AND ts < {to}' : '';
    const rows = await this.query<{ ts: number; feature: string; change: SchemaChange['change']; kind: string }>(
      `SELECT ts, feature, change, kind FROM mlmon_schema_changes WHERE model = {model} ${filter} ORDER BY ts, feature`,
      { model, ...(range ? { from: range.from, to: range.to } : {}) }
    );
    return rows.map((r) => ({
      ts: Number(r.ts),
      feature: r.feature,
      change: r.change,
      kind: (r.kind || undefined) as FeatureKind,
    }));
  }

  async recordEvent(model: string, event: ModelEvent): Promise<void> {
    validateIdentifier(model, 'model name');
    const { tags, ...rest } = boundedModelEvent(event);
    await this.insert('mlmon_events', [{ model, ...rest, tags: JSON.stringify(tags) }]);
  }

  async getEvents(model: string, range?: TimeRange): Promise<ModelEvent[]> {
    validateIdentifier(model, 'model name');
    const filter = range ? 'AND ts >= {from} AND ts < {to}' : '';
    const rows = await this.query<{ ts: number; kind: string; title: string; text: string; tags: string }>(
      `SELECT ts, kind, title, text, tags FROM mlmon_events WHERE model = {model} ${filter} ORDER BY ts`,
      { model, ...(range ? { from: range.from, to: range.to } : {}) }
    );
    return rows.map((r) => ({ ...r, ts: Number(r.ts), tags: JSON.parse(r.tags) as string[] }));
  }

  /** The model's most recent baseline, whose feature kinds win over kinds guessed from traffic. */
  private async latestBaseline(model: string): Promise<Baseline | undefined> {
    const latest = (await this.listBaselines(model)).sort((a, b) => b.createdAt - a.createdAt)[0];
    return latest && this.getBaseline(model, latest.version);
  }

  /** Creates the model's tables on first use and adds a column per new feature. */
  private async ensureTables(model: string, features: readonly FeatureState[]): Promise<void> {
    const predictions = this.predictionsTable(model);
    await this.command(predictionsTableDDL(predictions, features));
    await this.command(labelsTableDDL(this.labelsTable(model)));
    await this.ensureIngestLedger(model);
    const existing = await this.columnsEverywhere(predictionsTableName(model));
    for (const feature of features.filter((f) => !existing.has(featureColumn(f.name)))) {
      // Another writer may have added it between our check and our ALTER (or on some shards, before a crash).
      await this.command(addFeatureColumnSql(predictions, feature), /already exists/i);
    }
  }

  /** The columns a table has on every server that holds it (in cluster mode: its local and Distributed tables). */
  private async columnsEverywhere(table: string): Promise<Set<string>> {
    const tables = this.layout ? [table, localName(table)] : [table];
    let common: Set<string> | undefined;
    for (const shard of this.shards) {
      const rows = await this.queryOn<{ table: string; name: string }>(
        shard,
        'SELECT table, name FROM system.columns WHERE database = {db} AND has({tables}, table)',
        { db: this.database, tables }
      );
      for (const name of tables) {
        const columns = new Set(rows.filter((r) => r.table === name).map((r) => r.name));
        common = new Set([...(common ?? columns)].filter((column) => columns.has(column)));
      }
    }
    return common ?? new Set();
  }

  /** Admits the records and records the schema change of the admitted ones (tables and columns first). */
  private async updateSchema(model: string, columns: PredictionColumns, maxFeatures: number): Promise<SchemaUpdate> {
    const known = await this.getFeatures(model);
    const update = await planWrite(known, columns, maxFeatures, () => this.latestBaseline(model));
    const { plan } = update;
    if (known.length === 0 || plan.newFeatures.length > 0) {
      await this.ensureTables(model, plan.features);
      await this.insert('mlmon_models', [{ model, created_at: Date.now() }]);
    }
    const now = Date.now();
    await this.insert(
      'mlmon_features',
      plan.features.map((f) => ({
        model,
        name: f.name,
        kind: f.kind,
        active: f.active ? 1 : 0,
        first_seen: f.firstSeen,
        last_seen: f.lastSeen,
        updated_at: now,
      }))
    );
    await this.insert(
      'mlmon_schema_changes',
      plan.changes.map((c) => ({ model, ts: c.ts, feature: c.feature, change: c.change, kind: c.kind ?? '' }))
    );
    return update;
  }

  // ----- writes -------------------------------------------------------------------------------------------------

  async writePredictions(model: string, batch: PredictionBatch, options: WriteOptions = {}): Promise<WriteResult> {
    validateIdentifier(model, 'model name');
    const columns = predictionColumnsOf(batch);
    if (columns.rowCount === 0) {
      return { rejected: [] };
    }
    const { plan, admitted, rejected } = await this.updateSchema(
      model,
      columns,
      options.maxFeaturesPerModel ?? DEFAULT_MAX_FEATURES_PER_MODEL
    );
    const features = featureColumns(plan.features);
    const types = predictionColumnTypes(features);
    const ingestedAt = Date.now();
    const maxCells = Math.min(options.maxCellsPerWrite ?? DEFAULT_MAX_CELLS_PER_WRITE, MAX_CELLS_PER_INSERT);
    for (const piece of piecesOf(admitted, types.length, maxCells)) {
      await this.insertColumns(
        this.predictionsTable(model),
        toStoredColumns(columns, features, ingestedAt, piece),
        types
      );
    }
    return { rejected };
  }

  async writeLabels(model: string, records: LabelRecord[]): Promise<void> {
    validateIdentifier(model, 'model name');
    if (records.length === 0) {
      return;
    }
    await this.command(labelsTableDDL(this.labelsTable(model)));
    const ingestedAt = Date.now();
    await this.insert(
      this.labelsTable(model),
      records.map((r) => ({
        id: r.id,
        label_num: typeof r.label === 'number' ? r.label : null,
        label_cat: typeof r.label === 'string' ? r.label : null,
        ts: r.ts,
        ingested_at: ingestedAt,
      }))
    );
  }

  // ----- reads --------------------------------------------------------------------------------------------------

  async listModels(): Promise<string[]> {
    return (await this.query<{ model: string }>('SELECT DISTINCT model FROM mlmon_models ORDER BY model')).map(
      (r) => r.model
    );
  }

  async recentIds(model: string, limit: number): Promise<string[]> {
    if (!(await this.hasModel(model)) || limit <= 0) {
      return [];
    }
    const table = this.predictionsTable(model);
    const rows = await this.query<{ id: string; version: string }>(
      `SELECT id, version FROM (SELECT id, version, ingested_at FROM ${table} ` +
        `WHERE ingested_at >= (SELECT max(ingested_at) FROM ${table}) - {window} ` +
        'ORDER BY ingested_at DESC LIMIT {limit}) ORDER BY ingested_at',
      { window: RECENT_IDS_WINDOW_MS, limit }
    );
    return rows.map((r) => predictionKey(r.version, r.id));
  }

  private async hasModel(model: string): Promise<boolean> {
    return this.tableExists(predictionsTableName(model));
  }

  private async tableExists(name: string): Promise<boolean> {
    const rows = await this.query<{ n: number }>(
      'SELECT count() AS n FROM system.tables WHERE database = {db} AND name = {table}',
      { db: this.database, table: name }
    );
    return Number(rows[0]?.n) > 0;
  }

  /**
   * Creates the model's ingestion ledger (ingestLedgerDDL) when it is missing. A table that held rows before gets
   * them counted into the ledger once; a row inserted meanwhile may be counted twice there, which only makes its hour
   * look changed (the ledger is compared with what a preparation saw, never used as a count).
   */
  async ensureIngestLedger(model: string): Promise<void> {
    const view = ingestLedgerViewName(model);
    if (!(await this.hasModel(model)) || (await this.tableExists(this.rowsTable(view)))) {
      return;
    }
    const predictions = this.predictionsTable(model);
    const ledger = this.table('mlmon_ingested_hours');
    await this.command(ingestLedgerDDL(this.table(view), ledger, predictions, model));
    await this.command(ledgerCatchUpSql(ledger, predictions, model));
  }

  /**
   * The ingestion ledger's rows of the range's hours (the ledger made first when missing; checked on every call, as
   * another process may drop and make it again): no prediction row is read.
   */
  async changeMarker(model: string, range: TimeRange): Promise<string> {
    await this.ensureIngestLedger(model);
    const rows = await this.query<{ n: number | string | null }>(
      `SELECT sum(inserted) AS n FROM ${this.table('mlmon_ingested_hours')} ` +
        'WHERE model = {model} AND hour >= {from} AND hour < {to}',
      { model, from: Math.floor(range.from / HOUR_MS) * HOUR_MS, to: range.to }
    );
    return String(rows[0]?.n ?? 0);
  }

  /**
   * Appends prepared counts: the cells first, selected and inserted where the rows are (preparedCellsInsertSql): on
   * the server, or on every shard of a cluster over the shard's own rows into its own cells table, so that an hour's
   * cells are one partial count per shard, which readers sum (clickhouse-hours.ts); then the hours that make them
   * visible. A shard that fails fails the preparation before any hour is recorded.
   */
  async writePreparedCounts(model: string, prepared: PreparedHours): Promise<void> {
    const cells = this.table(this.rowsTable('mlmon_count_cells'));
    await Promise.all(
      this.shards.map(async (client) => {
        const select = prepared.cellsOf(
          await this.predictionsRelationOn(model, prepared.range, (name) => this.rowsTable(name))
        );
        const bound = bindParams(
          preparedCellsInsertSql(cells, select.sql),
          { ...select.params, prepared_model: model, prepared_at: prepared.preparedAt },
          this.bindMode
        );
        await client.command({
          query: bound.sql,
          ...(Object.keys(bound.values).length ? { query_params: bound.values } : {}),
        });
      })
    );
    await this.insert(
      this.table('mlmon_count_hours'),
      prepared.hours.map((hour) => ({ model, prepared_at: prepared.preparedAt, ...hour }))
    );
  }

  async predictionsRelation(model: string, range?: TimeRange): Promise<string> {
    return this.predictionsRelationOn(model, range, (name) => name);
  }

  /** The predictions relation over the table that `tableOf` names for the model's predictions table. */
  private async predictionsRelationOn(
    model: string,
    range: TimeRange | undefined,
    tableOf: (name: string) => string
  ): Promise<string> {
    const features = await this.getFeatures(model);
    if (!(await this.hasModel(model))) {
      await this.ensureTables(model, features);
    }
    return predictionsRelationSql(this.table(tableOf(predictionsTableName(model))), features, range);
  }

  /**
   * The store itself on a single server; in cluster mode one reader per shard, whose queries run on that shard and
   * whose predictions relation reads its local table (the store's contract for shardReaders says why sums are exact).
   */
  shardReaders(): ShardReader[] {
    if (!this.layout) {
      return [this];
    }
    return this.shards.map((client) => ({
      dialect: this.dialect,
      query: <T = Record<string, unknown>>(sql: string, params?: Params, options?: QueryOptions) =>
        this.queryOn<T>(client, sql, params, options),
      predictionsRelation: (model: string, range?: TimeRange) =>
        this.predictionsRelationOn(model, range, (name) => this.rowsTable(name)),
    }));
  }

  async labelsRelation(model: string, since?: number): Promise<string> {
    const table = this.labelsTable(model);
    await this.command(labelsTableDDL(table));
    return labelsRelationSql(table, since);
  }

  /**
   * Runs a read under its own `query_id`. When `options.signal` aborts (or the request times out) the request is
   * dropped AND the server is told to stop the query; the promise rejects saying which. Rows are parsed as they
   * stream in, in slices that give the event loop back (slices.ts), so a large answer never stalls the process.
   */
  async query<T = Record<string, unknown>>(sql: string, params: Params = {}, options: QueryOptions = {}): Promise<T[]> {
    return this.queryOn<T>(this.client, sql, params, options);
  }

  /** `query` on one server (a shard, in cluster mode). */
  private async queryOn<T = Record<string, unknown>>(
    client: ClickHouseClient,
    sql: string,
    params: Params = {},
    options: QueryOptions = {}
  ): Promise<T[]> {
    const { signal } = options;
    signal?.throwIfAborted();
    const bound = bindParams(sql, params, this.bindMode);
    const queryId = randomUUID();
    try {
      const result = await client.query({
        query: bound.sql,
        format: 'JSONEachRow',
        query_id: queryId,
        ...(signal ? { abort_signal: signal } : {}),
        ...(Object.keys(bound.values).length ? { query_params: bound.values } : {}),
      });
      const rows: T[] = [];
      await forEachSlicedAsync(
        result.stream<T>(),
        (chunk) => {
          for (const row of chunk) {
            rows.push(row.json<T>());
          }
        },
        signal
      );
      return rows;
    } catch (error) {
      if (isServerError(error)) {
        throw error; // the server answered with an error: the query is over there too
      }
      const stop = await this.killQuery(client, queryId);
      const why = signal?.aborted ? 'cancelled' : 'given up by the client';
      throw new Error(`ClickHouse query ${why} (${(error as Error).message}); ${stop}`, { cause: error });
    }
  }

  /**
   * Asks the server to stop the query with this id (`KILL QUERY ... ASYNC`, on its own request, so it works while
   * the query holds its connection). Returns what happened, for the caller's error message; never throws.
   */
  private async killQuery(client: ClickHouseClient, queryId: string): Promise<string> {
    try {
      await client.command({ query: killQuerySql(queryId) });
      return `the server was told to stop it (query_id ${queryId})`;
    } catch (error) {
      return `stopping it on the server failed too (${(error as Error).message}); it may still run as query_id ${queryId}`;
    }
  }

  async listVersions(model: string): Promise<VersionSummary[]> {
    const relation = await this.predictionsRelation(model);
    const rows = await this.query<VersionSummary>(versionsSql(relation));
    return rows.map((r) => ({
      version: r.version,
      count: Number(r.count),
      firstTs: Number(r.firstTs),
      lastTs: Number(r.lastTs),
    }));
  }

  async countPredictions(model: string, range: TimeRange, version?: string): Promise<PredictionCounts> {
    const relation = await this.predictionsRelation(model, range);
    const [row] = await this.query<PredictionCounts>(
      countSql(relation, version !== undefined),
      version === undefined ? {} : { version }
    );
    return { rows: Number(row.rows), estimatedTotal: Number(row.estimatedTotal), errors: Number(row.errors) };
  }

  // ----- baselines ----------------------------------------------------------------------------------------------

  async saveBaseline(baseline: Baseline): Promise<void> {
    validateIdentifier(baseline.model, 'model name');
    validateVersion(baseline.version);
    await this.insert('mlmon_baselines', [
      {
        model: baseline.model,
        version: baseline.version,
        created_at: baseline.createdAt,
        document: JSON.stringify(baseline),
      },
    ]);
  }

  async getBaseline(model: string, version: string): Promise<Baseline | undefined> {
    validateIdentifier(model, 'model name');
    validateVersion(version);
    const rows = await this.query<{ document: string }>(
      'SELECT document FROM mlmon_baselines FINAL WHERE model = {model} AND version = {version}',
      { model, version }
    );
    return rows.length ? withOwnFeatures(JSON.parse(rows[0].document) as Baseline) : undefined;
  }

  async listBaselines(model: string): Promise<BaselineSummary[]> {
    validateIdentifier(model, 'model name');
    const rows = await this.query<{ document: string }>(
      'SELECT document FROM mlmon_baselines FINAL WHERE model = {model} ORDER BY version',
      { model }
    );
    return rows.map((r) => {
      const b = JSON.parse(r.document) as Baseline;
      return {
        model: b.model,
        version: b.version,
        createdAt: b.createdAt,
        source: b.source,
        rows: b.rows,
        features: Object.keys(b.features).length,
      };
    });
  }

  // ----- maintenance --------------------------------------------------------------------------------------------

  /** OPTIMIZE ... FINAL: merges parts and physically removes re-sent ids. */
  async compact(model: string): Promise<{ rowsKept: number }> {
    if (!(await this.hasModel(model))) {
      return { rowsKept: 0 };
    }
    await this.command(`OPTIMIZE TABLE ${this.predictionsTable(model)} FINAL`);
    await this.command(`OPTIMIZE TABLE ${this.labelsTable(model)} FINAL`);
    const [row] = await this.query<{ n: number }>(`SELECT count() AS n FROM ${this.predictionsTable(model)}`);
    return { rowsKept: Number(row.n) };
  }

  /** Drops the day partitions (YYYYMMDD, UTC) of predictions and labels that end at or before `beforeTs`. */
  /** ClickHouse merges and drops parts itself, safely under concurrency: upkeep needs no lock between processes. */
  async withMaintenanceLock<T>(_model: string, work: () => Promise<T>): Promise<T> {
    return work();
  }

  async applyRetention(model: string, beforeTs: number): Promise<{ daysDropped: string[] }> {
    const daysDropped = new Set<string>();
    const predictions = predictionsTableName(model);
    for (const table of [predictions, labelsTableName(model)]) {
      for (const shard of this.shards) {
        const partitions = await this.queryOn<{ partition: string }>(
          shard,
          'SELECT DISTINCT partition FROM system.parts WHERE database = {db} AND table = {table} AND active ORDER BY partition',
          { db: this.database, table: this.rowsTable(table) }
        );
        for (const { partition } of partitions) {
          if (!/^\d{8}$/.test(partition)) {
            continue;
          }
          const day = `${partition.slice(0, 4)}-${partition.slice(4, 6)}-${partition.slice(6)}`;
          if (Date.parse(`${day}T00:00:00Z`) + DAY_MS <= beforeTs) {
            for (const statement of this.statementsFor(
              `ALTER TABLE ${this.table(table)} DROP PARTITION ${partition}`
            )) {
              await shard.command({ query: statement });
            }
            if (table === predictions) {
              daysDropped.add(day);
            }
          }
        }
      }
    }
    const days = [...daysDropped].sort();
    if (days.length > 0) {
      await this.dropPreparedHours(model, Date.parse(`${days[days.length - 1]}T00:00:00Z`) + DAY_MS);
    }
    return { daysDropped: days };
  }

  /** Deletes the ledger and prepared counts of the model's hours before `end` (their rows were dropped). */
  private async dropPreparedHours(model: string, end: number): Promise<void> {
    const tables = ['mlmon_ingested_hours', ...PREPARED_COUNT_TABLES];
    for (const table of tables) {
      await this.command(
        `ALTER TABLE ${this.table(table)} DELETE WHERE model = ${clickHouseLiteral(model)} AND hour < ${Math.trunc(end)}`
      );
    }
    await this.waitForMutations(tables);
  }

  /**
   * Drops the model's tables and deletes its rows from the metadata tables (ALTER TABLE ... DELETE, which runs as
   * a mutation: this waits until the server has applied it, so the model is gone when this resolves).
   */
  async deleteModel(model: string): Promise<boolean> {
    validateIdentifier(model, 'model name');
    const known = (await this.listModels()).includes(model) || (await this.listBaselines(model)).length > 0;
    if (!known && !(await this.hasModel(model))) {
      return false;
    }
    await this.command(`DROP TABLE IF EXISTS ${this.table(ingestLedgerViewName(model))}`);
    await this.command(`DROP TABLE IF EXISTS ${this.predictionsTable(model)}`);
    await this.command(`DROP TABLE IF EXISTS ${this.labelsTable(model)}`);
    for (const table of MODEL_METADATA_TABLES) {
      // The name is a validated identifier; written as a literal because mutations keep their predicate as text.
      await this.command(`ALTER TABLE ${this.table(table)} DELETE WHERE model = ${clickHouseLiteral(model)}`);
    }
    await this.waitForMutations(MODEL_METADATA_TABLES.map((table) => this.rowsTable(table)));
    return true;
  }

  /** Waits until every server has applied every pending mutation of these tables (polling system.mutations). */
  private async waitForMutations(tables: readonly string[], timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let pending = 0;
      for (const shard of this.shards) {
        const [row] = await this.queryOn<{ n: number }>(
          shard,
          'SELECT count() AS n FROM system.mutations WHERE database = {db} AND has({tables}, table) AND is_done = 0',
          { db: this.database, tables: [...tables] }
        );
        pending += Number(row.n);
      }
      if (pending === 0) {
        return;
      }
      if (Date.now() > deadline) {
        throw new Error(`ClickHouse has not applied the deletion in ${timeoutMs / 1000} s; see system.mutations`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async close(): Promise<void> {
    await Promise.all([...new Set([this.client, ...this.shards])].map((client) => client.close()));
  }
}

/**
 * The embedded store: a data directory of Parquet files read in-process by DuckDB.
 *
 *   <dir>/models/<model>/predictions/day=YYYY-MM-DD/<uuid>.parquet   one file per write and day (UTC, by ts)
 *   <dir>/models/<model>/labels/day=YYYY-MM-DD/<uuid>.parquet        by label time
 *   <dir>/models/<model>/schema.json                                 features with kind and lifecycle
 *   <dir>/models/<model>/schema_changes.ndjson                       one SchemaChange per line
 *   <dir>/models/<model>/events.ndjson                               one ModelEvent per line (appended, fsynced)
 *   <dir>/models/<model>/baselines/<version>.json                    one Baseline per model version
 *
 * Every file is written under a temporary name in its final directory, fsynced and renamed, so a reader sees a
 * whole file or none (temporary names end in `.part` and never match `*.parquet`). A file never repeats an id.
 * Readers read a day held in one file as it is; a day with several files (not yet compacted) is deduplicated by id
 * (the first ingested copy wins: day-merge.ts), so a reader that catches a compaction between its rename and its
 * deletes still counts every id once. Several processes may read and write the same
 * directory; schema updates take a lock file (`schema.lock`).
 */
import { randomUUID } from 'node:crypto';
import { newDataFileName } from './file-names';
import { appendFile, mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  DOUBLE,
  DuckDBDataChunk,
  VARCHAR,
  type DuckDBAppender,
  type DuckDBConnection,
  type DuckDBInstance,
  type DuckDBVector,
} from '@duckdb/node-api';
import { featureColumn, isIdentifier, quoteIdentifier, validateIdentifier, validateVersion } from './identifiers';
import { duckdbStringLiteral, openMemoryDuckDB, runQuery } from './duckdb-sql';
import {
  emptyRelation,
  keptCopiesSql,
  LABEL_COPIES,
  mergeDay,
  PREDICTION_COPIES,
  type ColumnType,
  type CopyRule,
  type MergeEngine,
} from './day-merge';
import { fsyncPath } from './fsync';
import {
  DEFAULT_MAX_FEATURES_PER_MODEL,
  featureColumns,
  numberColumn,
  piecesOf,
  planWrite,
  storedValue,
  stringColumn,
  toStoredColumns,
  utcDay,
  type SchemaUpdate,
  type StoredColumn,
  type StoredColumns,
  type StoredValue,
} from './schema';
import { StoreChangedError } from './errors';
import { predictionColumnsOf, type PredictionBatch, type PredictionColumns } from './prediction-columns';
import { withLock } from './lock';
import { bindParams, type Params } from './sql-params';
import {
  boundedModelEvent,
  RECENT_IDS_WINDOW_MS,
  withOwnFeatures,
  type Baseline,
  type BaselineSummary,
  type FeatureState,
  type LabelRecord,
  type ModelEvent,
  type PredictionCounts,
  type PredictionStore,
  type QueryOptions,
  type SchemaChange,
  type StoredDay,
  type TimeRange,
  type VersionSummary,
  type WriteOptions,
  type WriteResult,
  predictionKey,
} from './types';

const PREDICTION_COLUMNS: ReadonlyArray<[string, ColumnType]> = [
  ['ts', 'BIGINT'],
  ['id', 'VARCHAR'],
  ['version', 'VARCHAR'],
  ['prediction_num', 'DOUBLE'],
  ['prediction_cat', 'VARCHAR'],
  ['score', 'DOUBLE'],
  ['latency_ms', 'DOUBLE'],
  ['is_error', 'UTINYINT'],
  ['error_message', 'VARCHAR'],
  ['sampling_rate', 'DOUBLE'],
  ['type_errors', 'VARCHAR'],
  ['ingested_at', 'BIGINT'],
];

const LABEL_COLUMNS: ReadonlyArray<[string, ColumnType]> = [
  ['id', 'VARCHAR'],
  ['label_num', 'DOUBLE'],
  ['label_cat', 'VARCHAR'],
  ['ts', 'BIGINT'],
  ['ingested_at', 'BIGINT'],
];

const DAY_MS = 86_400_000;
const LOCK_STALE_MS = 30_000;
const VANISHED_FILE_RETRIES = 5;

function predictionColumns(features: readonly FeatureState[]): Array<[string, ColumnType]> {
  return [
    ...PREDICTION_COLUMNS,
    ...features.map((f): [string, ColumnType] => [featureColumn(f.name), f.kind === 'numeric' ? 'DOUBLE' : 'VARCHAR']),
  ];
}

/** Rows per data chunk: DuckDB's vector size (STANDARD_VECTOR_SIZE, 2048 in release builds). */
const CHUNK_ROWS = 2048;

/** Rows of a Parquet row group as DuckDB writes them (ROW_GROUP_SIZE default). */
const ROW_GROUP_ROWS = 122_880;

/**
 * The value every row of a column holds, when they all hold the same one (null included) and it can be written as
 * a SQL literal (no NUL character); undefined otherwise.
 */
function constantOf(column: StoredColumn, rowCount: number): { value: StoredValue } | undefined {
  const first = rowCount > 0 ? storedValue(column, 0) : null;
  if (typeof first === 'string' && first.includes('\0')) {
    return undefined;
  }
  if (column.type === 'number') {
    const { numbers, nulls } = column;
    for (let i = 1; i < rowCount; i++) {
      if (nulls[i] !== nulls[0] || numbers[i] !== numbers[0]) {
        return undefined;
      }
    }
  } else {
    for (let i = 1; i < rowCount; i++) {
      if (column.strings[i] !== first) {
        return undefined;
      }
    }
  }
  return { value: first };
}

/** A stored value as a SQL literal of the column's type (numbers through their shortest exact text). */
function literalOf(value: StoredValue, type: ColumnType): string {
  if (value === null) {
    return `CAST(NULL AS ${type})`;
  }
  if (typeof value === 'string') {
    return duckdbStringLiteral(value);
  }
  return `CAST(${duckdbStringLiteral(String(type === 'DOUBLE' ? value : Math.trunc(value)))} AS ${type})`;
}

/**
 * How stored columns reach a Parquet file: a column whose rows all hold one value is written as a literal in the
 * COPY's select list; the others go through the batch table, numbers as DOUBLE (cast to their stored type in the
 * select list, so no BIGINT is built per row in JS) and strings as VARCHAR.
 */
interface ParquetPlan {
  /** Indexes (in the stored columns) of the columns appended to the batch table. */
  appended: number[];
  /** The COPY's select list, in the stored columns' order. */
  select: string[];
}

function parquetPlan(columns: ReadonlyArray<[string, ColumnType]>, stored: StoredColumns): ParquetPlan {
  const appended: number[] = [];
  const select = columns.map(([name, type], j) => {
    const column = quoteIdentifier(name, 'duckdb');
    const constant = constantOf(stored.values[j], stored.rowCount);
    if (constant) {
      return `${literalOf(constant.value, type)} AS ${column}`;
    }
    appended.push(j);
    return type === 'DOUBLE' || type === 'VARCHAR' ? column : `CAST(trunc(${column}) AS ${type}) AS ${column}`;
  });
  return { appended, select };
}

/** Appends the given stored columns, a data chunk (up to 2048 rows) at a time, one vector per column. */
function appendColumns(appender: DuckDBAppender, columns: readonly StoredColumn[], rowCount: number): void {
  const types = columns.map((column) => (column.type === 'number' ? DOUBLE : VARCHAR));
  for (let from = 0; from < rowCount; from += CHUNK_ROWS) {
    const to = Math.min(rowCount, from + CHUNK_ROWS);
    const chunk = DuckDBDataChunk.create(types, to - from);
    columns.forEach((column, j) => {
      const vector = chunk.getColumnVector(j) as DuckDBVector<number | string>;
      if (column.type === 'number') {
        const { numbers, nulls } = column;
        for (let i = from; i < to; i++) {
          vector.setItem(i - from, nulls[i] ? null : numbers[i]);
        }
      } else {
        for (let i = from; i < to; i++) {
          vector.setItem(i - from, column.strings[i]);
        }
      }
      vector.flush();
    });
    appender.appendDataChunk(chunk);
  }
}

/** Keeps the last item of each id within one batch (labels: a later label corrects an earlier one). */
function lastPerId<T>(items: readonly T[], idOf: (item: T) => string): T[] {
  const byId = new Map<string, T>();
  for (const item of items) {
    byId.set(idOf(item), item);
  }
  return [...byId.values()];
}

/** Keeps the first item of each key within one batch (predictions: the first copy of a prediction is the record). */
function firstPerKey<T>(items: readonly T[], keyOf: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => !seen.has(keyOf(item)) && seen.add(keyOf(item)));
}

/** Which copy of a record the store keeps (day-merge.ts): the first of a prediction (id, version), the last label of an id. */
const COPY_RULE: Record<'predictions' | 'labels', CopyRule> = { predictions: PREDICTION_COPIES, labels: LABEL_COPIES };

/** Items by the UTC day of their ts, in order within a day. */
function groupByDay<T>(items: readonly T[], tsOf: (item: T) => number): Map<string, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const day = Math.floor(tsOf(item) / DAY_MS);
    const group = groups.get(day);
    if (group) {
      group.push(item);
    } else {
      groups.set(day, [item]);
    }
  }
  return new Map([...groups].map(([day, group]) => [utcDay(day * DAY_MS), group]));
}

/**
 * Writes a small file atomically: temporary name in the same directory, fsync, rename. A cache (`durable: false`)
 * skips the fsync: after a crash it may be found empty or cut short, which its reader takes as missing. `dirMade`
 * spares the directory's creation when the caller just made it (several files written into one directory).
 */
export async function writeFileAtomic(
  path: string,
  content: string,
  { durable = true, dirMade = false } = {}
): Promise<void> {
  const dir = join(path, '..');
  if (!dirMade) {
    await mkdir(dir, { recursive: true });
  }
  const temporary = join(dir, `.${randomUUID()}.part`);
  await writeFile(temporary, content);
  if (durable) {
    await fsyncPath(temporary);
  }
  await rename(temporary, path);
}

/** The text of a file, or '' when it does not exist (a log nobody has written to yet). */
async function readTextIfAny(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return '';
    }
    throw error;
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw new Error(`Cannot read ${path}: ${(error as Error).message}`);
  }
}

async function listDir(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return [];
    }
    throw error;
  }
}

function dayStart(day: string): number {
  return Date.parse(`${day}T00:00:00Z`);
}

/** A day directory of predictions or labels, its start (epoch ms) and its complete files. */
interface DayFiles {
  dir: string;
  start: number;
  files: string[];
}

/** A temporary file older than this was left by a writer that died (writes take seconds, not an hour). */
const STALE_PART_MS = 3_600_000;

/** Removes `.part` files that writers killed mid-write left behind (younger ones may still be written). */
async function removeStaleParts(dir: string): Promise<void> {
  for (const name of (await listDir(dir)).filter((n) => n.endsWith('.part'))) {
    const file = join(dir, name);
    const age = await stat(file).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0
    );
    if (age > STALE_PART_MS) {
      await unlink(file).catch(() => undefined);
    }
  }
}

/** Removes the cached counts (`<file>.counts/`) of files no longer in a day directory (compacted away). */
async function removeOrphanCounts(dir: string): Promise<void> {
  const names = new Set(await listDir(dir));
  const orphans = [...names].filter(
    (name) => name.endsWith('.counts') && !names.has(name.replace(/\.counts$/, '.parquet'))
  );
  await Promise.all(orphans.map((name) => rm(join(dir, name), { recursive: true, force: true })));
}

export class EmbeddedStore implements PredictionStore {
  readonly dialect = 'duckdb' as const;
  readonly description: string;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly dataDir: string,
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection
  ) {
    this.description = `embedded Parquet store at ${dataDir}`;
  }

  /** Opens the store without writing anything, so that readers (Grafana) can use a read-only data directory. */
  static async open(dataDir: string): Promise<EmbeddedStore> {
    const { instance, connection } = await openMemoryDuckDB();
    return new EmbeddedStore(dataDir, instance, connection);
  }

  /**
   * Runs work on the connection unless the signal has already aborted; an abort while it runs interrupts DuckDB
   * (`duckdb_interrupt`), so a stopped query frees the connection instead of finishing unseen.
   */
  private async interruptible<T>(signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
    signal?.throwIfAborted();
    const interrupt = () => this.connection.interrupt();
    signal?.addEventListener('abort', interrupt, { once: true });
    try {
      return await work();
    } finally {
      signal?.removeEventListener('abort', interrupt);
    }
  }

  /** Serialises work on the single DuckDB connection. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private modelDir(model: string): string {
    return join(this.dataDir, 'models', validateIdentifier(model, 'model name'));
  }

  // ----- schema -------------------------------------------------------------------------------------------------

  async getFeatures(model: string): Promise<FeatureState[]> {
    return (await readJson<{ features: FeatureState[] }>(join(this.modelDir(model), 'schema.json')))?.features ?? [];
  }

  async getSchemaChanges(model: string, range?: TimeRange): Promise<SchemaChange[]> {
    const changes = (await readTextIfAny(join(this.modelDir(model), 'schema_changes.ndjson')))
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as SchemaChange);
    const inRange = range ? changes.filter((c) => c.ts >= range.from && c.ts < range.to) : changes;
    return inRange.sort((a, b) => a.ts - b.ts || (a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0));
  }

  async recordEvent(model: string, event: ModelEvent): Promise<void> {
    const dir = this.modelDir(model);
    await mkdir(dir, { recursive: true });
    // One write of one line in append mode: concurrent writers' lines do not interleave; fsync makes it durable.
    // A line a crash cut short (no newline) is closed first, so that it does not swallow this one.
    const handle = await open(join(dir, 'events.ndjson'), 'a+');
    try {
      const { size } = await handle.stat();
      const last = Buffer.alloc(1);
      const torn = size > 0 && (await handle.read(last, 0, 1, size - 1)).bytesRead === 1 && last[0] !== 0x0a;
      await handle.write((torn ? '\n' : '') + JSON.stringify(boundedModelEvent(event)) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /** Events of the log in the range; a line cut short by a crash before its fsync was never acknowledged: skipped. */
  async getEvents(model: string, range?: TimeRange): Promise<ModelEvent[]> {
    return (await readTextIfAny(join(this.modelDir(model), 'events.ndjson')))
      .split('\n')
      .flatMap((line) => {
        try {
          return line.trim() === '' ? [] : [JSON.parse(line) as ModelEvent];
        } catch {
          return [];
        }
      })
      .filter((event) => !range || (event.ts >= range.from && event.ts < range.to))
      .sort((a, b) => a.ts - b.ts);
  }

  /** Runs `work` holding the model's schema lock (a file created exclusively; taken over when stale). */
  private async withSchemaLock<T>(model: string, work: () => Promise<T>): Promise<T> {
    const dir = this.modelDir(model);
    await mkdir(dir, { recursive: true });
    const lock = join(dir, 'schema.lock');
    const started = Date.now();
    for (;;) {
      try {
        await (await open(lock, 'wx')).close();
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw error;
        }
        const age = await stat(lock).then(
          (s) => Date.now() - s.mtimeMs,
          () => 0
        );
        if (age > LOCK_STALE_MS) {
          await unlink(lock).catch(() => undefined);
        } else if (Date.now() - started > 2 * LOCK_STALE_MS) {
          throw new Error(`Timed out waiting for ${lock}; if no mlmon process is writing, delete the file.`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    try {
      return await work();
    } finally {
      await unlink(lock).catch(() => undefined);
    }
  }

  /** The model's most recent baseline, whose feature kinds win over kinds guessed from traffic. */
  private async latestBaseline(model: string): Promise<Baseline | undefined> {
    const latest = (await this.listBaselines(model)).sort((a, b) => b.createdAt - a.createdAt)[0];
    return latest && this.getBaseline(model, latest.version);
  }

  /** Admits the records and records the schema change of the admitted ones, under the model's schema lock. */
  private async updateSchema(model: string, columns: PredictionColumns, maxFeatures: number): Promise<SchemaUpdate> {
    return this.withSchemaLock(model, async () => {
      const stored = await this.getFeatures(model);
      const update = await planWrite(stored, columns, maxFeatures, () => this.latestBaseline(model));
      const { plan } = update;
      if (plan.changes.length > 0 || plan.newFeatures.length > 0 || plan.features.length !== stored.length) {
        await writeFileAtomic(
          join(this.modelDir(model), 'schema.json'),
          JSON.stringify({ features: plan.features }, null, 1)
        );
      }
      if (plan.changes.length > 0) {
        const lines = plan.changes.map((c) => JSON.stringify(c) + '\n').join('');
        await appendFile(join(this.modelDir(model), 'schema_changes.ndjson'), lines);
      }
      return update;
    });
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
    const stored = predictionColumns(plan.features);
    const featurePlan = featureColumns(plan.features);
    const ingestedAt = Date.now();
    const kept = firstPerKey(admitted, (i) => predictionKey(columns.version[i], columns.id[i]));
    for (const [day, rows] of groupByDay(kept, (i) => columns.ts[i])) {
      for (const piece of piecesOf(rows, stored.length, options.maxCellsPerWrite)) {
        const values = toStoredColumns(columns, featurePlan, ingestedAt, piece);
        await this.writeParquet(join(this.modelDir(model), 'predictions', `day=${day}`), stored, values);
      }
    }
    return { rejected };
  }

  async writeLabels(model: string, records: LabelRecord[]): Promise<void> {
    validateIdentifier(model, 'model name');
    const ingestedAt = Date.now();
    for (const [day, group] of groupByDay(
      lastPerId(records, (r) => r.id),
      (r) => r.ts
    )) {
      const [id, labelCat] = [stringColumn(group.length), stringColumn(group.length)];
      const [labelNum, ts, ingested] = [
        numberColumn(group.length),
        numberColumn(group.length),
        numberColumn(group.length),
      ];
      group.forEach((record, i) => {
        id.strings[i] = record.id;
        if (typeof record.label === 'number') {
          labelNum.numbers[i] = record.label;
          labelNum.nulls[i] = 0;
        } else {
          labelCat.strings[i] = record.label;
        }
        [ts.numbers[i], ts.nulls[i]] = [record.ts, 0];
        [ingested.numbers[i], ingested.nulls[i]] = [ingestedAt, 0];
      });
      const stored: StoredColumns = {
        columns: LABEL_COLUMNS.map(([name]) => name),
        values: [id, labelNum, labelCat, ts, ingested],
        rowCount: group.length,
      };
      await this.writeParquet(join(this.modelDir(model), 'labels', `day=${day}`), LABEL_COLUMNS, stored);
    }
  }

  /** Appends the columns to a temporary DuckDB table, COPYs it to a temporary Parquet file, fsyncs and renames it. */
  private async writeParquet(
    dir: string,
    columns: ReadonlyArray<[string, ColumnType]>,
    stored: StoredColumns
  ): Promise<string> {
    if (columns.some(([name], j) => stored.columns[j] !== name) || columns.length !== stored.columns.length) {
      throw new Error(
        `Internal error: stored columns [${stored.columns}] do not match the table [${columns.map(([n]) => n)}]`
      );
    }
    await mkdir(dir, { recursive: true });
    const name = newDataFileName();
    const temporary = join(dir, `.${name}.part`);
    const target = join(dir, name);
    const plan = parquetPlan(columns, stored);
    // Rows are sorted by ts only when the file gets more than one row group: within one, the order changes nothing
    // a reader or a compaction uses (a row group's statistics are the same in any order), and sorting cost a third
    // of the write.
    const order = stored.rowCount > ROW_GROUP_ROWS ? ' ORDER BY ts' : '';
    await this.exclusive(async () => {
      const table = `batch_${randomUUID().replace(/-/g, '')}`;
      let source = `range(${stored.rowCount})`;
      if (plan.appended.length > 0) {
        const ddl = plan.appended.map((j) => {
          const type = stored.values[j].type === 'number' ? 'DOUBLE' : 'VARCHAR';
          return `${quoteIdentifier(columns[j][0], 'duckdb')} ${type}`;
        });
        await this.connection.run(`CREATE TEMP TABLE ${table} (${ddl.join(', ')})`);
        source = table;
      }
      try {
        if (plan.appended.length > 0) {
          const appender = await this.connection.createAppender(table);
          appendColumns(
            appender,
            plan.appended.map((j) => stored.values[j]),
            stored.rowCount
          );
          appender.closeSync();
        }
        await this.connection.run(
          `COPY (SELECT ${plan.select.join(', ')} FROM ${source}${order}) TO ${duckdbStringLiteral(temporary)} ` +
            '(FORMAT parquet, COMPRESSION snappy)'
        );
      } finally {
        await this.connection.run(`DROP TABLE IF EXISTS ${table}`);
      }
    });
    await fsyncPath(temporary);
    await rename(temporary, target);
    await fsyncPath(dir);
    return target;
  }

  // ----- reads --------------------------------------------------------------------------------------------------

  async listModels(): Promise<string[]> {
    return (await listDir(join(this.dataDir, 'models'))).filter(isIdentifier);
  }

  /** Day directories of a model's predictions or labels overlapping the range. */
  private async dayDirs(model: string, kind: 'predictions' | 'labels', range?: TimeRange): Promise<string[]> {
    const base = join(this.modelDir(model), kind);
    return (await listDir(base))
      .filter((name) => /^day=\d{4}-\d{2}-\d{2}$/.test(name))
      .filter((name) => {
        const start = dayStart(name.slice(4));
        return !range || (start < range.to && start + DAY_MS > range.from);
      })
      .map((name) => join(base, name));
  }

  /**
   * The day directories with their complete Parquet files, skipping directories with none yet (whose first file
   * is still a `.part`: DuckDB's glob would fail on them).
   */
  private async dayFiles(model: string, kind: 'predictions' | 'labels', range?: TimeRange): Promise<DayFiles[]> {
    const dirs = await this.dayDirs(model, kind, range);
    const days = await Promise.all(
      dirs.map(async (dir) => ({
        dir,
        start: dayStart(dir.slice(dir.lastIndexOf('day=') + 4)),
        files: (await listDir(dir)).filter((f) => f.endsWith('.parquet')).map((f) => join(dir, f)),
      }))
    );
    return days.filter((day) => day.files.length > 0);
  }

  async recentIds(model: string, limit: number): Promise<string[]> {
    // A file holds rows ingested up to its modification time (writes and compactions both make new files), so
    // files modified within the window of the newest one hold every row ingested within the window.
    const files = (await this.dayFiles(model, 'predictions')).flatMap((day) => day.files);
    const modified = await Promise.all(files.map(async (file) => ({ file, mtime: (await stat(file)).mtimeMs })));
    const newest = modified.reduce((max, f) => Math.max(max, f.mtime), -Infinity);
    const recent = modified.filter((f) => f.mtime >= newest - RECENT_IDS_WINDOW_MS).map((f) => f.file);
    if (recent.length === 0 || limit <= 0) {
      return [];
    }
    const rows = await this.query<{ id: string; version: string }>(
      `SELECT id, version FROM (SELECT id, version, ingested_at FROM read_parquet([${recent.map(duckdbStringLiteral).join(', ')}]) ` +
        `WHERE ingested_at >= (SELECT max(ingested_at) FROM read_parquet([${recent.map(duckdbStringLiteral).join(', ')}])) - {window} ` +
        'ORDER BY ingested_at DESC LIMIT {limit}) ORDER BY ingested_at',
      { window: RECENT_IDS_WINDOW_MS, limit }
    );
    return rows.map((r) => predictionKey(r.version, r.id));
  }

  /**
   * `read_parquet` over the day globs (expanded when the query runs), unioned by name with an empty relation of
   * every known column, so all columns exist even when no file has them yet.
   */
  private parquetSource(dirs: string[], columns: ReadonlyArray<[string, ColumnType]>): string {
    const empty = emptyRelation(columns);
    if (dirs.length === 0) {
      return empty;
    }
    const globs = dirs.map((d) => duckdbStringLiteral(join(d, '*.parquet'))).join(', ');
    return `SELECT * FROM read_parquet([${globs}], union_by_name = true) UNION ALL BY NAME ${empty}`;
  }

  /**
   * The predictions of a model in the range, each (id, version) once. A day held in ONE file is read as it is: every
   * write and every compaction leaves a file without repeated predictions (`firstPerKey`, the compaction's dedup), and a re-sent record
   * has the same ts, so the same day. Only days with several files (the day still being written, before compaction)
   * are deduplicated, with day-merge.ts's rule and bounded plan (keptCopiesSql): the files are listed now and named
   * in the SQL, so both of its scans read the same files; one that a compaction removes before the query reads it
   * makes the query fail with StoreChangedError, and planning again reads the merged file. Deduplicating every day
   * cost 12× a plain scan at 10 M rows.
   */
  async predictionsRelation(model: string, range?: TimeRange): Promise<string> {
    return this.predictionsOf(model, await this.dayFiles(model, 'predictions', range), range);
  }

  /** The relation of predictionsRelation over the given day files (every known column, each (id, version) once). */
  private async predictionsOf(model: string, days: Array<Omit<DayFiles, 'start'>>, range?: TimeRange): Promise<string> {
    const columns = predictionColumns(await this.getFeatures(model));
    const where = range ? `WHERE ts >= ${Math.trunc(range.from)} AND ts < ${Math.trunc(range.to)}` : '';
    const list = columns.map(([name]) => quoteIdentifier(name, 'duckdb')).join(', ');
    const single = days.filter((day) => day.files.length === 1).map((day) => duckdbStringLiteral(day.files[0]));
    const several = days.filter((day) => day.files.length > 1).flatMap((day) => day.files);
    const parts = [emptyRelation(columns)];
    if (single.length > 0) {
      parts.push(`SELECT * FROM read_parquet([${single.join(', ')}], union_by_name = true) ${where}`);
    }
    if (several.length > 0) {
      parts.push(keptCopiesSql(several, columns, COPY_RULE.predictions, range));
    }
    return `(SELECT ${list} FROM (${parts.join(' UNION ALL BY NAME ')}))`;
  }

  async predictionDays(model: string, range: TimeRange): Promise<StoredDay[]> {
    return (await this.dayFiles(model, 'predictions', range)).map(({ start, files }) => ({
      start,
      end: start + DAY_MS,
      files: [...files].sort(),
    }));
  }

  /** The names of the files of the range's days (a write adds one, compaction replaces them): no file is read. */
  async changeMarker(model: string, range: TimeRange): Promise<string> {
    const days = await this.dayFiles(model, 'predictions', range);
    const names = (files: readonly string[]) => files.map((file) => basename(file)).sort();
    return days.map(({ files }) => names(files).join(',')).join(';');
  }

  async fileRelation(model: string, files: readonly string[]): Promise<string> {
    const days = new Map<string, string[]>();
    for (const file of files) {
      days.set(dirname(file), [...(days.get(dirname(file)) ?? []), file]);
    }
    return this.predictionsOf(
      model,
      [...days].map(([dir, ofDay]) => ({ dir, files: ofDay }))
    );
  }

  /**
   * Whether `file` holds a prediction (PREDICTION_COPIES' identity: id and version) that one of `others` holds too.
   * Reads only those columns (a semi join), so it costs a fraction of counting the files.
   */
  async filesSharePredictions(file: string, others: readonly string[]): Promise<boolean> {
    if (others.length === 0) {
      return false;
    }
    const list = others.map(duckdbStringLiteral).join(', ');
    const same = PREDICTION_COPIES.identity
      .map((name) => `f.${quoteIdentifier(name, 'duckdb')} = o.${quoteIdentifier(name, 'duckdb')}`)
      .join(' AND ');
    const [row] = await this.query<{ shared: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM read_parquet([${duckdbStringLiteral(file)}]) AS f ` +
        `SEMI JOIN read_parquet([${list}], union_by_name = true) AS o ON ${same}) AS shared`
    );
    return Boolean(row?.shared);
  }

  /** The directory of the counts cached beside a prediction file of this store: `<file>.counts/`. */
  private countsDir(file: string): string {
    if (!file.startsWith(join(this.dataDir, 'models')) || !file.endsWith('.parquet')) {
      throw new Error(`Internal error: ${file} is not a prediction file of the ${this.description}`);
    }
    return file.replace(/\.parquet$/, '.counts');
  }

  private countsPath(file: string, key: string): string {
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(key)) {
      throw new Error(`Internal error: counts key ${JSON.stringify(key)} is not a file name`);
    }
    return join(this.countsDir(file), `${key}.json`);
  }

  /**
   * Lists the file's counts directory once and reads only the keys kept there: a cold file has none, and trying each
   * key (40 features × 30 day files) cost about as much as counting a day (bench/cold/RESULTS.md).
   */
  async readFileCounts(file: string, keys: readonly string[]): Promise<Array<string | undefined>> {
    const paths = keys.map((key) => this.countsPath(file, key));
    const kept = new Set(await readdir(this.countsDir(file)).catch(() => [] as string[]));
    return Promise.all(
      paths.map((path) => (kept.has(basename(path)) ? readFile(path, 'utf8').catch(() => undefined) : undefined))
    );
  }

  /** Writes the counts of one file under their keys together, into a directory made once. */
  async writeFileCounts(file: string, counts: ReadonlyArray<readonly [key: string, text: string]>): Promise<void> {
    const paths = counts.map(([key]) => this.countsPath(file, key));
    try {
      await mkdir(this.countsDir(file), { recursive: true });
      await Promise.all(paths.map((path, i) => writeFileAtomic(path, counts[i][1], { durable: false, dirMade: true })));
    } catch {
      // best effort: a read-only directory keeps no counts
    }
  }

  async labelsRelation(model: string, since?: number): Promise<string> {
    const recent = since === undefined ? undefined : { from: since, to: Number.MAX_SAFE_INTEGER };
    const days = await this.dayFiles(model, 'labels', recent);
    const source = this.parquetSource(
      days.map((day) => day.dir),
      LABEL_COLUMNS
    );
    const list = LABEL_COLUMNS.map(([name]) => quoteIdentifier(name, 'duckdb')).join(', ');
    const where = since === undefined ? '' : `WHERE ts >= ${Math.trunc(since)}`;
    return `(SELECT ${list} FROM (${source}) ${where} QUALIFY row_number() OVER (PARTITION BY id ORDER BY ingested_at DESC, ts DESC) = 1)`;
  }

  /**
   * Runs a query; when a file vanished between the glob's expansion and its opening (a concurrent compaction
   * replaced it), runs it again: the globs then expand to the merged file, which holds the same rows. A file named
   * in the SQL itself (a single-file day, predictionsRelation) stays gone: after the retries a StoreChangedError
   * says so, and the backend plans the query anew.
   */
  async query<T = Record<string, unknown>>(sql: string, params: Params = {}, options: QueryOptions = {}): Promise<T[]> {
    const bound = bindParams(sql, params, 'duckdb');
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.exclusive(() =>
          this.interruptible(options.signal, () => runQuery<T>(this.connection, bound.sql, bound.values))
        );
      } catch (error) {
        if (options.signal?.aborted) {
          throw new Error(`The query was stopped (${String(options.signal.reason ?? 'aborted')}).`);
        }
        if (!/No such file or directory|No files found that match/.test((error as Error).message)) {
          throw error;
        }
        if (attempt >= VANISHED_FILE_RETRIES) {
          throw new StoreChangedError((error as Error).message);
        }
        await new Promise((r) => setTimeout(r, 10 * attempt));
      }
    }
  }

  /**
   * Runs a query over predictionsRelation, planning it again (up to three times) when a compaction removed a file
   * it named meanwhile.
   */
  private async queryPredictions<T>(
    model: string,
    range: TimeRange | undefined,
    sql: (relation: string) => string,
    params: Params = {}
  ): Promise<T[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.query<T>(sql(await this.predictionsRelation(model, range)), params);
      } catch (error) {
        if (!(error instanceof StoreChangedError) || attempt >= 3) {
          throw error;
        }
      }
    }
  }

  async listVersions(model: string): Promise<VersionSummary[]> {
    return this.queryPredictions<VersionSummary>(
      model,
      undefined,
      (relation) =>
        `SELECT version, count(*) AS count, min(ts) AS "firstTs", max(ts) AS "lastTs" FROM ${relation} GROUP BY version ORDER BY min(ts)`
    );
  }

  async countPredictions(model: string, range: TimeRange, version?: string): Promise<PredictionCounts> {
    const filter = version === undefined ? '' : 'WHERE version = {version}';
    const [row] = await this.queryPredictions<PredictionCounts>(
      model,
      range,
      (relation) =>
        `SELECT count(*) AS rows, coalesce(sum(1.0 / sampling_rate), 0) AS "estimatedTotal", coalesce(sum(is_error), 0) AS errors FROM ${relation} ${filter}`,
      version === undefined ? {} : { version }
    );
    return row;
  }

  // ----- baselines ----------------------------------------------------------------------------------------------

  private baselinePath(model: string, version: string): string {
    return join(this.modelDir(model), 'baselines', `${validateVersion(version)}.json`);
  }

  async saveBaseline(baseline: Baseline): Promise<void> {
    await writeFileAtomic(this.baselinePath(baseline.model, baseline.version), JSON.stringify(baseline));
  }

  async getBaseline(model: string, version: string): Promise<Baseline | undefined> {
    const baseline = await readJson<Baseline>(this.baselinePath(model, version));
    return baseline && withOwnFeatures(baseline);
  }

  async listBaselines(model: string): Promise<BaselineSummary[]> {
    const dir = join(this.modelDir(model), 'baselines');
    const summaries: BaselineSummary[] = [];
    for (const name of (await listDir(dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.'))) {
      const baseline = await readJson<Baseline>(join(dir, name));
      if (baseline) {
        summaries.push({
          model: baseline.model,
          version: baseline.version,
          createdAt: baseline.createdAt,
          source: baseline.source,
          rows: baseline.rows,
          features: Object.keys(baseline.features).length,
        });
      }
    }
    return summaries;
  }

  // ----- maintenance --------------------------------------------------------------------------------------------

  /**
   * Runs merge statements on the connection, each alone, with DuckDB settings (its threads) changed for it and
   * restored after.
   */
  private readonly mergeEngine: MergeEngine = {
    run: (sql, settings = {}) =>
      this.exclusive(async () => {
        const names = Object.keys(settings);
        const previous = await Promise.all(
          names.map(async (name) => {
            const [row] = await runQuery<{ value: unknown }>(
              this.connection,
              `SELECT current_setting(${duckdbStringLiteral(name)}) AS value`
            );
            return Number(row.value);
          })
        );
        const apply = async (values: readonly number[]) => {
          for (const [i, name] of names.entries()) {
            await this.connection.run(`SET ${validateIdentifier(name, 'DuckDB setting')} = ${Math.trunc(values[i])}`);
          }
        };
        await apply(names.map((name) => settings[name]));
        try {
          return await runQuery<Record<string, unknown>>(this.connection, sql);
        } finally {
          await apply(previous);
        }
      }),
  };

  /**
   * Merges every day directory holding more than one file into one, de-duplicated, in bounded memory and atomically
   * (day-merge.ts mergeDay); files written meanwhile stay. Counts cached beside files that are gone are removed. A
   * day that fails does not stop the others; the error names the days that failed. Returns the prediction rows
   * stored afterwards.
   */
  async compact(model: string): Promise<{ rowsKept: number }> {
    const columns = predictionColumns(await this.getFeatures(model));
    const failed: string[] = [];
    for (const [kind, kindColumns] of [
      ['predictions', columns],
      ['labels', LABEL_COLUMNS],
    ] as const) {
      for (const dir of await this.dayDirs(model, kind)) {
        await mergeDay(this.mergeEngine, dir, kindColumns, COPY_RULE[kind]).catch((error: Error) =>
          failed.push(`${kind} ${basename(dir)}: ${error.message}`)
        );
        await removeStaleParts(dir);
        if (kind === 'predictions') {
          await removeOrphanCounts(dir);
        }
      }
    }
    if (failed.length > 0) {
      throw new Error(
        `Compaction of ${model} failed for ${failed.length} day(s); the others were compacted and the next round ` +
          `tries again: ${failed.join('; ')}`
      );
    }
    const stored = this.parquetSource(
      (await this.dayFiles(model, 'predictions')).map((day) => day.dir),
      columns
    );
    const [{ n }] = await this.query<{ n: number }>(`SELECT count(*) AS n FROM (${stored})`);
    return { rowsKept: n };
  }

  /** Upkeep of a model is serialised between processes by `models/<model>/maintenance.lock`. */
  async withMaintenanceLock<T>(
    model: string,
    work: () => Promise<T>,
    options: { waitMs: number; onWait?: (holder: string) => void }
  ): Promise<T> {
    return withLock(this.modelDir(model), 'maintenance', work, options);
  }

  /** Removes prediction and label day directories that end at or before `beforeTs`. */
  async applyRetention(model: string, beforeTs: number): Promise<{ daysDropped: string[] }> {
    const daysDropped: string[] = [];
    for (const kind of ['predictions', 'labels'] as const) {
      for (const dir of await this.dayDirs(model, kind)) {
        const day = dir.slice(dir.lastIndexOf('day=') + 4);
        if (dayStart(day) + DAY_MS <= beforeTs) {
          await rm(dir, { recursive: true, force: true });
          if (kind === 'predictions') {
            daysDropped.push(day);
          }
        }
      }
    }
    return { daysDropped };
  }

  /**
   * Renames the model's directory to a hidden name first (one atomic step: readers see the whole model or none
   * of it, and listModels skips names that are not identifiers), then deletes it.
   */
  async deleteModel(model: string): Promise<boolean> {
    const dir = this.modelDir(model);
    const doomed = join(this.dataDir, 'models', `.deleting-${model}-${randomUUID()}`);
    try {
      await rename(dir, doomed);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return false;
      }
      throw error;
    }
    await fsyncPath(dirname(doomed));
    await rm(doomed, { recursive: true, force: true });
    return true;
  }

  async close(): Promise<void> {
    await this.queue;
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

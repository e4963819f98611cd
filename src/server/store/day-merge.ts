/**
 * The embedded store's two uses of de-duplication, in memory DuckDB can bound: reading a day written in several
 * files (keptCopiesSql), and compacting such a day into one file (mergeDay).
 *
 * The rule (CopyRule): a record is named by its identity columns — (id, version) for a prediction, so that two
 * versions' predictions of one request are two records, id for a label, which applies to every version's prediction.
 * Within a UTC day, the copy ingested first wins for predictions (the first copy of a prediction is the record:
 * src/server/collector/recent-ids.ts), the copy ingested last for labels (a later label corrects an earlier one);
 * between copies ingested in the same millisecond, the one in the file whose name sorts first (respectively last).
 * Reads and compaction apply it with the same SQL, so a day reads the same before and after its compaction.
 *
 * Memory. A window over the day (`row_number() OVER (PARTITION BY id …)`) holds every column of every row at once:
 * at DuckDB's 256 MB it failed from ~310 000 rows × 20 features, every round. Instead:
 *  1. a hash aggregate over a few narrow values per row (the identity, day, ingested_at, file) keeps the records
 *     that occur more than once with the rank of their best copy — DuckDB spills it to disk when it outgrows memory,
 *     and only the duplicated records (usually few) come out of it; joined back to the narrow values, they name the
 *     losing copies;
 *  2. the rows stream past a mark join against those losers, and a losing copy goes.
 * A compaction writes that stream to one zstd file in one statement, with one thread (so memory does not grow with
 * the cores) and row groups of ~1/32 of memory, planned by mergePlan:
 *  - a day whose files each cover at most an hour (the collector's flushes, a sorted bulk load, an earlier merge) is
 *    streamed, the files read in order of their first ts: no sort, and row groups as narrow in time as the inputs';
 *  - a small day (up to 1/8 of memory), or one whose files span more of it (a bulk load of an unsorted file), is
 *    sorted by ts with DuckDB's external sort, which spills to disk (measured at 256 MB: 5 M rows × 20 features or
 *    1 M rows × 100 features). Its buffers for wide rows can still outgrow a small limit (100 features at 128 MB):
 *    then the day is streamed instead, and its row groups are as wide as its files'.
 * Either way the memory a merge needs grows with the columns, not with the rows, and the merged file's row groups
 * stay narrow in time whenever they can, so a query over part of the day still skips most of the file.
 *
 * Atomicity. The merged file is built in a hidden workspace in the day directory (`.compact-<pid>-<process>-<id>/`,
 * which readers never glob), fsynced, renamed in, and only then are its inputs deleted. A reader sees the inputs,
 * or the inputs and the merged file (read de-duplicated: the same rows), or the merged file. A process killed
 * mid-compaction leaves its workspace, removed by the next compaction; one killed between the rename and the
 * deletes leaves a day that reads correctly and is merged again. While another live process's workspace is in a
 * day, that day is left to it.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { duckdbStringLiteral, memoryLimitBytes } from './duckdb-sql';
import { fsyncPath } from './fsync';
import { processAlive } from './processes';
import { quoteIdentifier } from './identifiers';

export type ColumnType = 'BIGINT' | 'DOUBLE' | 'VARCHAR' | 'UTINYINT';
export type Columns = ReadonlyArray<[string, ColumnType]>;

/** An empty relation with the given columns and types (the shape readers expect even before any file exists). */
export function emptyRelation(columns: Columns): string {
  const list = columns.map(([name, type]) => `CAST(NULL AS ${type}) AS ${quoteIdentifier(name, 'duckdb')}`).join(', ');
  return `SELECT ${list} WHERE false`;
}

const DAY_MS = 86_400_000;

/**
 * `read_parquet` over an explicit list of files (read together, so `file_index` is the position in the list). Only a
 * scan of every column needs `union_by_name` (files written before a feature appeared lack its column): it opens
 * every file's footer when the query is planned, which a scan of the columns every file has can spare.
 */
function readFiles(files: readonly string[], everyColumn = false): string {
  const options = everyColumn ? 'union_by_name = true, hive_partitioning = false' : 'hive_partitioning = false';
  return `read_parquet([${files.map(duckdbStringLiteral).join(', ')}], ${options})`;
}

/** SQL of a row's file position in name order: `file_index` when `files` are in name order, else a lookup. */
function fileNameRankSql(files: readonly string[], fileIndex: string): string {
  const byName = new Map([...files].sort().map((file, rank) => [file, rank]));
  const ranks = files.map((file) => byName.get(file)!);
  return ranks.every((rank, i) => rank === i) ? fileIndex : `[${ranks.join(', ')}][${fileIndex}::BIGINT + 1]`;
}

/** Which copy of a record a day keeps: the first ingested (predictions) or the last ingested (labels). */
export type KeptCopy = 'first' | 'last';

/** How a day de-duplicates (module comment): the columns naming a record, and which of its copies is kept. */
export interface CopyRule {
  identity: readonly string[];
  keep: KeptCopy;
}

/** Predictions: one per (id, version), the first ingested copy kept. */
export const PREDICTION_COPIES: CopyRule = { identity: ['id', 'version'], keep: 'first' };
/** Labels: one per id (a label applies to every version's prediction of it), the last ingested copy kept. */
export const LABEL_COPIES: CopyRule = { identity: ['id'], keep: 'last' };

/** The rank of a copy (the lowest wins for 'first', the highest for 'last'): its `ingested_at`, then its file's position in name order. */
const copyRank = (ingestedAt: string, nameRank: string) => `(${ingestedAt}::HUGEINT * 4294967296 + ${nameRank})`;

/** The UTC day of a row, as the store files it. */
const dayOf = (ts: string) => `floor(${ts} / ${DAY_MS})`;

/**
 * The kept copy of each record (`rule.identity`) per UTC day among the rows of `files` (the rule and the plan are in
 * the module comment), with every column of `columns` (NULL where a file lacks it), filtered by `range` after
 * de-duplication — as a compaction would have left the days. A file never repeats a record. The rows that lose to a
 * better copy are removed by a mark join (`NOT IN`), which keeps the rows in the order of `files` with one thread; a
 * left join against the winners would emit the duplicated records' rows out of order.
 */
export function keptCopiesSql(
  files: readonly string[],
  columns: Columns,
  rule: CopyRule,
  range?: { from: number; to: number }
): string {
  const rank = copyRank('coalesce(ingested_at, 0)', fileNameRankSql(files, 'file_index'));
  const [best, loses] = rule.keep === 'first' ? ['min', '>'] : ['max', '<'];
  const identity = rule.identity.map((name) => quoteIdentifier(name, 'duckdb'));
  const of = (alias: string) => identity.map((name) => `${alias}.${name}`).join(', ');
  const select = columns.map(([name]) => `copy.${quoteIdentifier(name, 'duckdb')}`).join(', ');
  const copies = `SELECT *, ${rank} AS mlmon_rank FROM ${readFiles(files, true)} UNION ALL BY NAME ${emptyRelation(columns)}`;
  const winners =
    `SELECT ${identity.join(', ')}, ${dayOf('ts')} AS day, ${best}(${rank}) AS best FROM ${readFiles(files)} ` +
    `GROUP BY ${identity.join(', ')}, day HAVING count(*) > 1`;
  const sameRecord = identity.map((name) => `other.${name} = dedup_winners.${name}`).join(' AND ');
  const losers =
    `SELECT (${of('other')}, ${dayOf('other.ts')}, other.mlmon_rank) FROM (SELECT ${identity.join(', ')}, ts, ${rank} AS mlmon_rank FROM ${readFiles(files)}) AS other ` +
    `JOIN (${winners}) AS dedup_winners ON ${sameRecord} AND ${dayOf('other.ts')} = dedup_winners.day ` +
    `WHERE other.mlmon_rank ${loses} dedup_winners.best`;
  const inRange = range ? ` AND copy.ts >= ${Math.trunc(range.from)} AND copy.ts < ${Math.trunc(range.to)}` : '';
  return `SELECT ${select} FROM (${copies}) AS copy WHERE (${of('copy')}, ${dayOf('copy.ts')}, copy.mlmon_rank) NOT IN (${losers})${inRange}`;
}

/** Bytes a row takes in DuckDB at least: 8 per number, 32 per string (its 16-byte header and a short text). */
export function rowBytesOfColumns(columns: Columns): number {
  return columns.reduce((sum, [, type]) => sum + (type === 'VARCHAR' ? 32 : 8), 0);
}

/** DuckDB's vector size and its default Parquet row group: the row groups planned stay between them. */
const VECTOR_ROWS = 2048;
const MAX_ROW_GROUP_ROWS = 122_880;
const HOUR_MS = 3_600_000;

/** What a merge reads: rows, their uncompressed Parquet bytes, and the widest time span of one input row group. */
export interface DayInputs {
  rows: number;
  bytes: number;
  widestRowGroupMs: number;
}

export interface MergePlan {
  /** Sort by ts (DuckDB's external sort), rather than stream the files in order of their first ts. */
  sort: boolean;
  /** Rows per row group of the merged file: ~1/32 of memory. */
  rowGroupRows: number;
}

/**
 * How to merge a day under a memory limit (see the module comment): sort a day that takes at most 1/8 of memory, or
 * whose files span more than an hour each; stream the others. A row counts as the larger of its share of the input
 * bytes and rowBytesOfColumns.
 */
export function mergePlan(day: DayInputs, columns: Columns, memoryLimitBytes: number): MergePlan {
  const rowBytes = Math.max(rowBytesOfColumns(columns), day.rows > 0 ? day.bytes / day.rows : 0);
  const rowGroupRows = Math.floor(memoryLimitBytes / 32 / rowBytes);
  return {
    sort: day.rows * rowBytes <= memoryLimitBytes / 8 || day.widestRowGroupMs > HOUR_MS,
    rowGroupRows: Math.min(MAX_ROW_GROUP_ROWS, Math.max(VECTOR_ROWS, rowGroupRows)),
  };
}

/** Runs statements for a merge on the store's DuckDB connection. */
export interface MergeEngine {
  /** Runs one statement alone on the connection, with these DuckDB settings for it (restored after). */
  run(sql: string, settings?: Readonly<Record<string, number>>): Promise<Array<Record<string, unknown>>>;
}

/** Settings of every merge statement: one thread, so memory does not grow with the machine's cores. */
const ONE_THREAD = { threads: 1 };

/** The inputs of a merge from their Parquet footers, and the files in order of their first ts (then name). */
async function describeInputs(
  engine: MergeEngine,
  files: readonly string[]
): Promise<DayInputs & { ordered: string[] }> {
  const rows = await engine.run(
    `SELECT file_name AS file, sum(total_uncompressed_size)::BIGINT AS bytes, ` +
      `sum(row_group_num_rows) FILTER (WHERE path_in_schema = 'ts')::BIGINT AS rows, ` +
      `min(TRY_CAST(stats_min AS BIGINT)) FILTER (WHERE path_in_schema = 'ts') AS first_ts, ` +
      `max(TRY_CAST(stats_max AS BIGINT) - TRY_CAST(stats_min AS BIGINT)) FILTER (WHERE path_in_schema = 'ts') AS widest ` +
      `FROM parquet_metadata([${files.map(duckdbStringLiteral).join(', ')}]) GROUP BY file_name`
  );
  const inputs = rows.map((row) => ({
    file: String(row.file),
    bytes: Number(row.bytes ?? 0),
    rows: Number(row.rows ?? 0),
    firstTs: row.first_ts === null ? -Infinity : Number(row.first_ts),
    widest: row.widest === null ? DAY_MS : Number(row.widest),
  }));
  inputs.sort((a, b) => a.firstTs - b.firstTs || (a.file < b.file ? -1 : 1));
  return {
    rows: inputs.reduce((sum, input) => sum + input.rows, 0),
    bytes: inputs.reduce((sum, input) => sum + input.bytes, 0),
    widestRowGroupMs: inputs.reduce((widest, input) => Math.max(widest, input.widest), 0),
    ordered: inputs.map((input) => input.file),
  };
}

const isOutOfMemory = (error: unknown) => /Out of Memory Error/.test((error as Error).message);

/** Writes the merge of `files` (de-duplicated, every column of `columns`) to `<workspace>/merged.parquet`. */
async function writeMerged(
  engine: MergeEngine,
  workspace: string,
  files: string[],
  columns: Columns,
  rule: CopyRule
): Promise<string> {
  const inputs = await describeInputs(engine, files);
  const plan = mergePlan(inputs, columns, await memoryLimitBytes((sql) => engine.run(sql)));
  const merged = join(workspace, 'merged.parquet');
  const copy = (order: string) =>
    engine.run(
      `COPY (${keptCopiesSql(inputs.ordered, columns, rule)}${order}) TO ${duckdbStringLiteral(merged)} ` +
        `(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${plan.rowGroupRows})`,
      ONE_THREAD
    );
  if (plan.sort) {
    try {
      await copy(' ORDER BY ts');
      return merged;
    } catch (error) {
      if (!isOutOfMemory(error)) {
        throw error;
      }
    }
  }
  await copy('');
  return merged;
}

/** Tells this process's workspaces from those a previous process with the same pid left (a restarted container). */
const PROCESS_TOKEN = randomUUID().slice(0, 8);
const WORKSPACE = /^\.compact-(\d+)-([0-9a-f]{8})-/;

/** A new name for a workspace of this process: `.compact-<pid>-<process token>-<uuid>`. */
export function workspaceName(): string {
  return `.compact-${process.pid}-${PROCESS_TOKEN}-${randomUUID()}`;
}

/**
 * Whether a directory entry is a compaction workspace left by a process that is gone: another pid no longer
 * running, or this pid with another process's token. (A live process that reused a dead compactor's pid keeps its
 * workspace until it exits.)
 */
export function isAbandonedWorkspace(name: string, alive: (pid: number) => boolean = processAlive): boolean {
  const match = WORKSPACE.exec(name);
  if (!match) {
    return false;
  }
  const pid = Number(match[1]);
  return pid === process.pid ? match[2] !== PROCESS_TOKEN : !alive(pid);
}

const ignoreMissing = (error: NodeJS.ErrnoException) => {
  if (error.code !== 'ENOENT') {
    throw error;
  }
};

async function someMissing(files: readonly string[]): Promise<boolean> {
  const found = await Promise.all(
    files.map((file) =>
      stat(file).then(
        () => true,
        () => false
      )
    )
  );
  return found.includes(false);
}

/**
 * What mergeDay did: merged the day's files into one; found one file or none; left the day to another live
 * compaction; or found its inputs gone meanwhile (another process compacted the day, retention dropped it).
 */
export type DayMergeOutcome = 'merged' | 'single' | 'busy' | 'changed';

/**
 * Merges the Parquet files of one day directory into one (see the module comment): the merged file is renamed in,
 * then the inputs are deleted; workspaces of killed compactions are removed first.
 */
export async function mergeDay(
  engine: MergeEngine,
  dir: string,
  columns: Columns,
  rule: CopyRule
): Promise<DayMergeOutcome> {
  const before = await readdir(dir).catch((error) => (ignoreMissing(error), [] as string[]));
  await Promise.all(
    before
      .filter((name) => isAbandonedWorkspace(name))
      .map((name) => rm(join(dir, name), { recursive: true, force: true }))
  );
  if (before.filter((name) => name.endsWith('.parquet')).length < 2) {
    return 'single';
  }
  const workspace = join(dir, workspaceName());
  try {
    await mkdir(workspace);
  } catch (error) {
    ignoreMissing(error as NodeJS.ErrnoException);
    return 'changed';
  }
  try {
    const names = await readdir(dir);
    const others = names.filter((name) => WORKSPACE.test(name) && name !== basename(workspace));
    if (others.some((name) => !isAbandonedWorkspace(name))) {
      return 'busy';
    }
    const files = names
      .filter((name) => name.endsWith('.parquet'))
      .sort()
      .map((name) => join(dir, name));
    if (files.length < 2) {
      return 'single';
    }
    let merged: string;
    try {
      merged = await writeMerged(engine, workspace, files, columns, rule);
    } catch (error) {
      if (await someMissing(files)) {
        return 'changed';
      }
      throw error;
    }
    await fsyncPath(merged);
    await rename(merged, join(dir, `${randomUUID()}.parquet`));
    await fsyncPath(dir);
    await Promise.all(files.map((file) => unlink(file).catch(ignoreMissing)));
    await fsyncPath(dir);
    return 'merged';
  } finally {
    await rm(workspace, { recursive: true, force: true });
  }
}

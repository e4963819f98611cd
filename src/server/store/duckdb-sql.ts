/**
 * Small DuckDB helpers shared by the embedded store and the file readers of `mlmon ingest` / `mlmon baseline`.
 */
import {
  DOUBLE,
  DuckDBConnection,
  DuckDBInstance,
  LIST,
  listValue,
  VARCHAR,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive } from './processes';
import type { Params } from './sql-params';

/**
 * A DuckDB string literal: the text in single quotes with every ' doubled (DuckDB strings have no backslash
 * escapes). Used only for file paths in COPY / read_parquet, which take no bound parameters.
 */
export function duckdbStringLiteral(text: string): string {
  if (text.includes('\0')) {
    throw new Error(`A path or string literal may not contain a NUL character: ${JSON.stringify(text)}`);
  }
  return `'${text.replace(/'/g, "''")}'`;
}

/** Converts DuckDB's JS values for JSON-friendly callers: BIGINT/HUGEINT (bigint) → number. */
export function toPlainRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    out[key] = typeof value === 'bigint' ? Number(value) : value;
  }
  return out;
}

function toDuckDBValue(value: Params[string]): DuckDBValue {
  return Array.isArray(value) ? listValue(value as DuckDBValue[]) : (value as DuckDBValue);
}

/** The type a list binds as: DOUBLE[] for numbers (DuckDB would guess INTEGER[] from a first whole number). */
function listType(value: ReadonlyArray<string | number>): DuckDBType {
  return LIST(value.every((item) => typeof item === 'number') ? DOUBLE : VARCHAR);
}

/** Runs SQL with `$name` parameters bound and returns plain rows. */
export async function runQuery<T>(connection: DuckDBConnection, sql: string, values: Params = {}): Promise<T[]> {
  const bound: Record<string, DuckDBValue> = {};
  const types: Record<string, DuckDBType | undefined> = {};
  for (const [key, value] of Object.entries(values)) {
    bound[key] = toDuckDBValue(value);
    types[key] = Array.isArray(value) ? listType(value) : undefined;
  }
  const reader = await connection.runAndReadAll(sql, Object.keys(bound).length ? bound : undefined, types);
  return reader.getRowObjectsJS().map((row) => toPlainRow(row) as T);
}

/** DuckDB's memory limit unless $MLMON_DUCKDB_MEMORY_LIMIT says otherwise (DuckDB's own default is 80 % of RAM). */
export const DEFAULT_DUCKDB_MEMORY_LIMIT = '256MB';

const SIZE_UNITS: Record<string, number> = {
  bytes: 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** Bytes of a DuckDB size: `current_setting('memory_limit')` ('244.1 MiB') or a setting ('256MB'); else undefined. */
export function parseDuckDBSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i.exec(text);
  const unit = match && SIZE_UNITS[match[2].toLowerCase()];
  return match && unit ? Number(match[1]) * unit : undefined;
}

/** The memory limit of a DuckDB in bytes, read with `run` (DEFAULT_DUCKDB_MEMORY_LIMIT when it cannot be read). */
export async function memoryLimitBytes(run: (sql: string) => Promise<Array<Record<string, unknown>>>): Promise<number> {
  const [row] = await run(`SELECT current_setting('memory_limit') AS value`);
  return parseDuckDBSize(String(row?.value)) ?? parseDuckDBSize(DEFAULT_DUCKDB_MEMORY_LIMIT)!;
}

/**
 * Memory a DuckDB thread needs at least. Each thread of a spilling aggregate, join or Parquet write holds buffers
 * that cannot go to disk: measured here, a de-duplicating read of an uncompacted day fails at 32 MB with 2 threads
 * and passes with 1; 125 MB per thread is the floor DuckDB's users commonly quote.
 */
export const MEMORY_PER_THREAD_BYTES = 125e6;

/** Threads for a memory limit: one per MEMORY_PER_THREAD_BYTES, at least one, at most `cores`. */
export function threadsForMemory(limitBytes: number, cores: number): number {
  return Math.max(1, Math.min(cores, Math.floor(limitBytes / MEMORY_PER_THREAD_BYTES)));
}

/** The directory under which each DuckDB gets its own temporary directory ($MLMON_DUCKDB_TEMP_DIR). */
function temporaryRoot(): string {
  return process.env.MLMON_DUCKDB_TEMP_DIR || join(tmpdir(), 'mlmon-duckdb');
}

/**
 * A temporary directory of its own for one DuckDB: `<root>/<pid>-<id>`. DuckDB names its spill files alike in every
 * process (`duckdb_temp_storage_S32K-0.tmp`), so two processes spilling into one directory overwrite each other's
 * blocks: measured here, both crash (SIGSEGV) or fail with "Corrupt temporary file". DuckDB removes the directory
 * it created when it closes; those of processes that were killed are removed here.
 */
async function ownTemporaryDirectory(): Promise<string> {
  const root = temporaryRoot();
  // DuckDB creates the last level only; a root it cannot create fails the first spill, as it would have anyway.
  await mkdir(root, { recursive: true }).catch(() => undefined);
  const left = await readdir(root).catch(() => [] as string[]);
  await Promise.all(
    left
      .filter((name) => {
        const pid = Number(/^(\d+)-/.exec(name)?.[1]);
        return Number.isInteger(pid) && pid !== process.pid && !processAlive(pid);
      })
      .map((name) => rm(join(root, name), { recursive: true, force: true }))
  );
  return join(root, `${process.pid}-${randomUUID()}`);
}

/**
 * An in-memory DuckDB with one connection, for reading files and writing Parquet. Its memory is capped
 * ($MLMON_DUCKDB_MEMORY_LIMIT, default 256 MB, e.g. `1GB`), and what does not fit spills to a temporary directory
 * of its own under $MLMON_DUCKDB_TEMP_DIR (default `<os temp dir>/mlmon-duckdb`) instead of growing the process. Its
 * threads are capped by the memory (threadsForMemory: 2 at 256 MB), so that more cores never make a query run out
 * of memory.
 */
export async function openMemoryDuckDB(): Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> {
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: process.env.MLMON_DUCKDB_MEMORY_LIMIT || DEFAULT_DUCKDB_MEMORY_LIMIT,
    temp_directory: await ownTemporaryDirectory(),
    allocator_flush_threshold: '8MB',
    allocator_bulk_deallocation_flush_threshold: '16MB',
    allocator_background_threads: 'true',
  });
  const connection = await instance.connect();
  const run = (sql: string) => runQuery<Record<string, unknown>>(connection, sql);
  const [{ threads }] = await run(`SELECT current_setting('threads') AS threads`);
  await connection.run(`SET threads = ${threadsForMemory(await memoryLimitBytes(run), Number(threads))}`);
  return { instance, connection };
}

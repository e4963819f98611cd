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
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/**
 * An in-memory DuckDB with one connection, for reading files and writing Parquet. Its memory is capped
 * ($MLMON_DUCKDB_MEMORY_LIMIT, default 256 MB, e.g. `1GB`), and what does not fit spills to a temporary directory
 * ($MLMON_DUCKDB_TEMP_DIR, default `<os temp dir>/mlmon-duckdb`) instead of growing the process. Memory a query freed
 * goes back to the system soon (DuckDB's allocator keeps up to 128 MB per thread by default), so that a long-lived
 * process (the backend, the collector) does not keep the high-water mark of its largest query.
 */
export async function openMemoryDuckDB(): Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> {
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: process.env.MLMON_DUCKDB_MEMORY_LIMIT || DEFAULT_DUCKDB_MEMORY_LIMIT,
    temp_directory: process.env.MLMON_DUCKDB_TEMP_DIR || join(tmpdir(), 'mlmon-duckdb'),
    allocator_flush_threshold: '8MB',
    allocator_bulk_deallocation_flush_threshold: '16MB',
    allocator_background_threads: 'true',
  });
  const connection = await instance.connect();
  return { instance, connection };
}

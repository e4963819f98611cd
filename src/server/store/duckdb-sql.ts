/**
 * Small DuckDB helpers shared by the embedded store and the file readers of `mlmon ingest` / `mlmon baseline`.
 */
import { DuckDBConnection, DuckDBInstance, listValue, type DuckDBValue } from '@duckdb/node-api';
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

/** Runs SQL with `$name` parameters bound and returns plain rows. */
export async function runQuery<T>(connection: DuckDBConnection, sql: string, values: Params = {}): Promise<T[]> {
  const bound: Record<string, DuckDBValue> = {};
  for (const [key, value] of Object.entries(values)) {
    bound[key] = toDuckDBValue(value);
  }
  const reader = await connection.runAndReadAll(sql, Object.keys(bound).length ? bound : undefined);
  return reader.getRowObjectsJS().map((row) => toPlainRow(row) as T);
}

/** An in-memory DuckDB with one connection, for reading files and writing Parquet. */
export async function openMemoryDuckDB(): Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  return { instance, connection };
}

/**
 * Loads a CSV or Parquet file into an in-memory DuckDB table once, so that every later per-column query reads
 * columnar memory instead of re-parsing the file, and describes its columns.
 *
 * CSV types come from DuckDB's sniffer, which looks at a sample of rows. When a later row does not fit the sniffed
 * type (a word in a number column), DuckDB stops with a conversion error; the loader then reads that column as text
 * and retries, so the caller sees a text column and can name the offending value itself.
 */
import { statSync } from 'node:fs';
import { extname } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { duckdbStringLiteral } from '../store/duckdb-sql';
import { InputError, noDataRowsError } from './input-error';
import { quoteName } from './sql-text';

/** How a column's stored type can be compared: numbers, text, booleans, or something else (dates, lists…). */
export type StoredKind = 'number' | 'text' | 'boolean' | 'other';

export interface FileColumn {
  name: string;
  /** DuckDB's type name, e.g. DOUBLE, BIGINT, DECIMAL(9,2), VARCHAR. */
  sqlType: string;
  kind: StoredKind;
}

export interface TableFile {
  /** The path as the user gave it, for messages. */
  path: string;
  /** The DuckDB table holding the file's rows (quoted, ready for SQL). */
  table: string;
  rows: number;
  columns: FileColumn[];
}

export type FileFormat = 'csv' | 'parquet';

const FORMATS: Record<string, FileFormat> = {
  '.csv': 'csv',
  '.tsv': 'csv',
  '.txt': 'csv',
  '.parquet': 'parquet',
  '.pq': 'parquet',
};

/** The format of a file from its extension (`.gz` looks through to the inner one); throws an InputError otherwise. */
export function fileFormat(path: string): FileFormat {
  const inner = path.toLowerCase().replace(/\.(gz|zst)$/, '');
  const format = FORMATS[extname(inner)];
  if (!format) {
    throw new InputError(`${path}: unknown file type '${extname(path) || '(none)'}'; give a .csv or .parquet file`);
  }
  return format;
}

const NUMBER_TYPE =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL(\(\d+,\s*\d+\))?)$/;

/** The comparable kind of a DuckDB type name. */
export function storedKind(sqlType: string): StoredKind {
  if (NUMBER_TYPE.test(sqlType)) {
    return 'number';
  }
  if (sqlType === 'VARCHAR') {
    return 'text';
  }
  return sqlType === 'BOOLEAN' ? 'boolean' : 'other';
}

/** The column DuckDB's CSV reader could not convert, from its error message, or undefined for any other error. */
export function unconvertibleCsvColumn(message: string): string | undefined {
  return /Error when converting column "(.*)"\. Could not convert/.exec(message)?.[1];
}

function readerSql(format: FileFormat, textColumns: string[]): string {
  if (format === 'parquet') {
    return 'read_parquet($path)';
  }
  if (textColumns.length === 0) {
    return 'read_csv($path)';
  }
  const types = textColumns.map((name) => `${duckdbStringLiteral(name)}: 'VARCHAR'`).join(', ');
  return `read_csv($path, types = {${types}})`;
}

function firstLine(message: string): string {
  return message.split('\n')[0].trim();
}

async function createTable(
  connection: DuckDBConnection,
  path: string,
  table: string,
  format: FileFormat
): Promise<void> {
  const textColumns: string[] = [];
  for (;;) {
    try {
      await connection.run(`CREATE OR REPLACE TEMP TABLE ${table} AS SELECT * FROM ${readerSql(format, textColumns)}`, {
        path,
      });
      return;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const column = format === 'csv' ? unconvertibleCsvColumn(message) : undefined;
      if (column === undefined || textColumns.includes(column)) {
        throw new InputError(
          `${path}: DuckDB could not read the file as ${format.toUpperCase()}: ${firstLine(message)}`
        );
      }
      textColumns.push(column);
    }
  }
}

function checkReadable(path: string): void {
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch {
    throw new InputError(`${path}: no such file; check the path`);
  }
  if (!isFile) {
    throw new InputError(`${path}: not a regular file; give a .csv or .parquet file`);
  }
}

/**
 * Reads the file at `path` into the temporary table `tableName` (a plain identifier chosen by the caller) and
 * returns its row count and column kinds. Throws an InputError naming the file when it is missing, of an unknown
 * type, unreadable, or has no data rows.
 */
export async function loadTableFile(connection: DuckDBConnection, path: string, tableName: string): Promise<TableFile> {
  checkReadable(path);
  const format = fileFormat(path);
  const table = quoteName(tableName);
  await createTable(connection, path, table, format);
  const described = await connection.runAndReadAll(`DESCRIBE ${table}`);
  const columns = described.getRowObjectsJS().map((row) => {
    const sqlType = String(row.column_type);
    return { name: String(row.column_name), sqlType, kind: storedKind(sqlType) };
  });
  const counted = await connection.runAndReadAll(`SELECT count(*)::DOUBLE AS n FROM ${table}`);
  const rows = Number(counted.getRowObjectsJS()[0].n);
  if (rows === 0) {
    throw noDataRowsError(path);
  }
  return { path, table, rows, columns };
}

/**
 * Reading tabular files (CSV, Parquet, NDJSON) through DuckDB, for `mlmon ingest` and `mlmon baseline`.
 */
import { extname } from 'node:path';
import { existsSync } from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import { InputError } from '../files/input-error';
import { duckdbStringLiteral, runQuery } from './duckdb-sql';

export type FileFormat = 'csv' | 'parquet' | 'ndjson';

/** The format of a file from its extension (.csv/.tsv, .parquet/.pq, .ndjson/.jsonl/.json); an InputError otherwise. */
export function fileFormat(path: string): FileFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv' || ext === '.tsv') {
    return 'csv';
  }
  if (ext === '.parquet' || ext === '.pq') {
    return 'parquet';
  }
  if (ext === '.ndjson' || ext === '.jsonl' || ext === '.json') {
    return 'ndjson';
  }
  throw new InputError(`${path}: cannot tell the format; use a .csv, .tsv, .parquet, .ndjson, .jsonl or .json file`);
}

const CSV_TYPE_CANDIDATES = "['BIGINT', 'DOUBLE', 'DATE', 'TIMESTAMP', 'TIMESTAMPTZ', 'VARCHAR']";

/** A DuckDB table expression reading the file (path quoted by the one literal function); an InputError when absent. */
export function fileSourceSql(path: string): string {
  if (!existsSync(path)) {
    throw new InputError(`${path}: no such file; check the path`);
  }
  const literal = duckdbStringLiteral(path);
  switch (fileFormat(path)) {
    case 'csv':
      // No BOOLEAN candidate: DuckDB would read yes/no, y/n, t/f as booleans and turn labels into true/false.
      return `read_csv_auto(${literal}, header = true, auto_type_candidates = ${CSV_TYPE_CANDIDATES})`;
    case 'parquet':
      return `read_parquet(${literal})`;
    case 'ndjson':
      return `read_json_auto(${literal})`;
  }
}

const NUMERIC_TYPE =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL.*)$/;

/** Feature kind of a DuckDB column type: numbers numeric, text and booleans categorical, others unsupported. */
export function kindOfDuckDBType(type: string): 'numeric' | 'categorical' | undefined {
  if (NUMERIC_TYPE.test(type)) {
    return 'numeric';
  }
  return type === 'VARCHAR' || type === 'BOOLEAN' ? 'categorical' : undefined;
}

/** Column names and DuckDB types of a file. */
export async function describeFile(
  connection: DuckDBConnection,
  path: string
): Promise<Array<{ name: string; type: string }>> {
  const rows = await runQuery<{ column_name: string; column_type: string }>(
    connection,
    `DESCRIBE SELECT * FROM ${fileSourceSql(path)}`
  );
  return rows.map((r) => ({ name: r.column_name, type: r.column_type }));
}

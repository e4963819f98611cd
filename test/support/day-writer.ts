/**
 * A DuckDB connection for the tests of one file to write uncompacted days (uncompacted-day.ts) and to check
 * Parquet files with, opened before its tests and closed after them.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

export interface DayWriter {
  connection(): DuckDBConnection;
  /** The first column of the first row of a query, as a number. */
  scalar(sql: string): Promise<number>;
}

/** Registers the jest hooks that open and close the connection; call it at the top level of a test file. */
export function dayWriter(): DayWriter {
  let instance: DuckDBInstance | undefined;
  let opened: DuckDBConnection | undefined;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    opened = await instance.connect();
  });
  afterAll(() => {
    opened?.closeSync();
    instance?.closeSync();
  });
  const connection = () => {
    if (!opened) {
      throw new Error('dayWriter: the connection is open only while the tests run');
    }
    return opened;
  };
  return {
    connection,
    scalar: async (sql) => Number((await connection().runAndReadAll(sql)).getRows()[0][0]),
  };
}

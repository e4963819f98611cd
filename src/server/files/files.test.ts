import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { firstNonNumber, readCategoryCounts, readSortedNumbers } from './columns';
import { InputError } from './input-error';
import { quoteName } from './sql-text';
import { fileFormat, loadTableFile, storedKind, unconvertibleCsvColumn, type TableFile } from './table-file';

describe('quoteName', () => {
  it('wraps in double quotes and doubles embedded ones', () => {
    expect(quoteName('petal width (cm)')).toBe('"petal width (cm)"');
    expect(quoteName('a"b')).toBe('"a""b"');
    expect(quoteName('x"; DROP TABLE t; --')).toBe('"x""; DROP TABLE t; --"');
  });
  it('refuses a NUL character', () => {
    expect(() => quoteName('a\0b')).toThrow(/NUL/);
  });
});

describe('fileFormat and storedKind', () => {
  it('knows CSV and Parquet by extension, compressed too', () => {
    expect(fileFormat('a/b.CSV')).toBe('csv');
    expect(fileFormat('b.csv.gz')).toBe('csv');
    expect(fileFormat('b.parquet')).toBe('parquet');
    expect(() => fileFormat('b.xlsx')).toThrow(
      new InputError("b.xlsx: unknown file type '.xlsx'; give a .csv or .parquet file")
    );
  });
  it('maps DuckDB types to comparable kinds', () => {
    expect(['BIGINT', 'DOUBLE', 'DECIMAL(9,2)', 'UTINYINT', 'FLOAT'].map(storedKind)).toEqual(Array(5).fill('number'));
    expect(storedKind('VARCHAR')).toBe('text');
    expect(storedKind('BOOLEAN')).toBe('boolean');
    expect(storedKind('DATE')).toBe('other');
    expect(storedKind('TIMESTAMP')).toBe('other');
  });
  it('finds the column in DuckDB conversion errors only', () => {
    expect(
      unconvertibleCsvColumn('Error when converting column "my ""col". Could not convert string "x" to \'BIGINT\'')
    ).toBe('my ""col');
    expect(unconvertibleCsvColumn('IO Error: No files found')).toBeUndefined();
  });
});

describe('loading and reading files with DuckDB', () => {
  let dir: string;
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mlmon-files-'));
    instance = await DuckDBInstance.create(':memory:');
    connection = await instance.connect();
  });
  afterAll(() => {
    connection.closeSync();
    instance.closeSync();
    rmSync(dir, { recursive: true, force: true });
  });

  function write(name: string, text: string): string {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  }

  const column = (file: TableFile, name: string) => file.columns.find((c) => c.name === name)!;

  it('types the columns of a CSV and counts its rows; empty cells and NaN are missing', async () => {
    const path = write(
      'small.csv',
      'x,label,ok,when\n3,a,true,2024-01-01\n,b,false,2024-01-02\n1.5,,true,2024-01-03\nnan,a,,2024-01-04\n-2,a,true,2024-01-05\n'
    );
    const file = await loadTableFile(connection, path, 'small');
    expect(file.rows).toBe(5);
    expect(file.columns.map((c) => [c.name, c.kind])).toEqual([
      ['x', 'number'],
      ['label', 'text'],
      ['ok', 'boolean'],
      ['when', 'other'],
    ]);
    expect(Array.from(await readSortedNumbers(connection, file, column(file, 'x')))).toEqual([-2, 1.5, 3]);
    expect(await readCategoryCounts(connection, file, column(file, 'label'))).toEqual(
      new Map([
        ['a', 3],
        ['b', 1],
      ])
    );
    expect(await readCategoryCounts(connection, file, column(file, 'ok'))).toEqual(
      new Map([
        ['true', 3],
        ['false', 1],
      ])
    );
  });

  it('labels equal numbers alike whatever the stored type (3 and 3.0 are one category)', async () => {
    const ints = await loadTableFile(connection, write('ints.csv', 'code\n3\n3\n7\n'), 'ints');
    const floats = await loadTableFile(connection, write('floats.csv', 'code\n3.0\n7.5\nnan\n'), 'floats');
    expect(await readCategoryCounts(connection, ints, column(ints, 'code'))).toEqual(
      new Map([
        ['3', 2],
        ['7', 1],
      ])
    );
    expect(await readCategoryCounts(connection, floats, column(floats, 'code'))).toEqual(
      new Map([
        ['3', 1],
        ['7.5', 1],
      ])
    );
  });

  it('reads a column as text when a word appears after the sniffed sample, and finds that word', async () => {
    const lines = ['n,other'];
    for (let i = 0; i < 30000; i++) {
      lines.push(`${i % 97},${i}`);
    }
    lines.push('oops,1');
    const file = await loadTableFile(connection, write('late.csv', lines.join('\n') + '\n'), 'late');
    expect(column(file, 'n').kind).toBe('text');
    expect(column(file, 'other').kind).toBe('number');
    expect(await firstNonNumber(connection, file, column(file, 'n'))).toEqual({ row: 30001, value: 'oops' });
    expect(await firstNonNumber(connection, file, column(file, 'other'))).toBeUndefined();
  });

  it('parses a text column of numbers and sorts a large one like Float64Array.prototype.sort', async () => {
    await connection.run(
      `CREATE OR REPLACE TABLE big AS SELECT CAST(v AS VARCHAR) AS s, v FROM (SELECT sin(i * 12.9898) * 1000 AS v FROM range(20000) t(i))`
    );
    const unsorted = (await connection.runAndReadAll('SELECT v FROM big'))
      .getRowObjectsJS()
      .map((row) => Number(row.v));
    const path = join(dir, 'big.parquet');
    await connection.run(`COPY big TO '${path}' (FORMAT parquet)`);
    const file = await loadTableFile(connection, path, 'bigfile');
    const expected = Float64Array.from(unsorted).sort();
    expect(expected.length).toBe(20000);
    expect(await readSortedNumbers(connection, file, column(file, 'v'))).toEqual(expected);
    expect(await readSortedNumbers(connection, file, column(file, 's'))).toEqual(expected);
  });

  it('names the file in every loading error', async () => {
    await expect(loadTableFile(connection, join(dir, 'absent.csv'), 'a')).rejects.toThrow(
      `${join(dir, 'absent.csv')}: no such file; check the path`
    );
    await expect(loadTableFile(connection, dir, 'a')).rejects.toThrow(`${dir}: not a regular file`);
    const headerOnly = write('header.csv', 'a,b\n');
    await expect(loadTableFile(connection, headerOnly, 'h')).rejects.toThrow(
      `${headerOnly}: the file has no data rows`
    );
    const notParquet = write('fake.parquet', 'not parquet at all');
    await expect(loadTableFile(connection, notParquet, 'f')).rejects.toThrow(
      new RegExp(`^${notParquet}: DuckDB could not read the file as PARQUET: `)
    );
  });
});

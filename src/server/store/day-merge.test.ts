/**
 * day-merge.ts: the plan of a merge, the thread and size helpers it relies on, workspace ownership, and the
 * de-duplication rules of keptCopiesSql on real DuckDB (ties, ranges, days, file order).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import {
  isAbandonedWorkspace,
  keptCopiesSql,
  mergePlan,
  rowBytesOfColumns,
  workspaceName,
  type Columns,
  type KeptCopy,
} from './day-merge';
import { duckdbStringLiteral, parseDuckDBSize, threadsForMemory } from './duckdb-sql';

const MB = 1e6;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('sizes and threads', () => {
  test.each([
    ['244.1 MiB', 244.1 * 2 ** 20],
    ['256MB', 256e6],
    ['1.5 GiB', 1.5 * 2 ** 30],
    ['512 KiB', 512 * 1024],
    ['0 bytes', 0],
  ])('reads %j', (text, bytes) => {
    expect(parseDuckDBSize(text)).toBeCloseTo(bytes, 0);
  });

  test.each(['80%', 'lots', '', 'MB'])('does not guess %j', (text) => {
    expect(parseDuckDBSize(text)).toBeUndefined();
  });

  test('one thread per 125 MB, at least one, never more than the cores', () => {
    expect(threadsForMemory(256 * MB, 2)).toBe(2);
    expect(threadsForMemory(256 * MB, 64)).toBe(2);
    expect(threadsForMemory(64 * MB, 8)).toBe(1);
    expect(threadsForMemory(4000 * MB, 4)).toBe(4);
  });
});

describe('mergePlan', () => {
  const columns: Columns = [
    ['ts', 'BIGINT'],
    ['id', 'VARCHAR'],
    ...Array.from({ length: 20 }, (_, k): [string, 'DOUBLE'] => [`f_x${k}`, 'DOUBLE']),
  ];
  const limit = 256 * MB;
  const rowBytes = rowBytesOfColumns(columns);

  test('sorts a day that fits in an eighth of memory, or whose files span more than an hour; streams the others', () => {
    const small = Math.floor(limit / 8 / rowBytes);
    expect(mergePlan({ rows: small, bytes: 0, widestRowGroupMs: DAY }, columns, limit).sort).toBe(true);
    expect(mergePlan({ rows: 5e6, bytes: 0, widestRowGroupMs: HOUR }, columns, limit).sort).toBe(false);
    expect(mergePlan({ rows: 5e6, bytes: 0, widestRowGroupMs: HOUR + 1 }, columns, limit).sort).toBe(true);
  });

  test('row groups take about 1/32 of memory, counted from the files when their rows are wider than the schema says', () => {
    expect(mergePlan({ rows: 5e6, bytes: 0, widestRowGroupMs: 0 }, columns, limit).rowGroupRows).toBe(
      Math.floor(limit / 32 / rowBytes)
    );
    expect(mergePlan({ rows: 1e6, bytes: 2000e6, widestRowGroupMs: 0 }, columns, limit).rowGroupRows).toBe(4000);
    expect(mergePlan({ rows: 1e6, bytes: 1e12, widestRowGroupMs: 0 }, columns, limit).rowGroupRows).toBe(2048);
    expect(mergePlan({ rows: 10, bytes: 0, widestRowGroupMs: 0 }, columns, 1e12).rowGroupRows).toBe(122_880);
  });
});

describe('workspaces', () => {
  test("another process's workspace is abandoned once that process is gone; this process's never", () => {
    const mine = workspaceName();
    expect(isAbandonedWorkspace(mine, () => false)).toBe(false);
    expect(isAbandonedWorkspace(`.compact-${process.pid}-00000000-x`, () => true)).toBe(true);
    expect(isAbandonedWorkspace('.compact-999999-0123abcd-x', () => false)).toBe(true);
    expect(isAbandonedWorkspace('.compact-999999-0123abcd-x', () => true)).toBe(false);
    expect(isAbandonedWorkspace('x.parquet', () => false)).toBe(false);
    expect(isAbandonedWorkspace('.abc.parquet.part', () => false)).toBe(false);
  });
});

describe('keptCopiesSql on DuckDB', () => {
  let dir: string;
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;
  const columns: Columns = [
    ['ts', 'BIGINT'],
    ['id', 'VARCHAR'],
    ['ingested_at', 'BIGINT'],
    ['f_x', 'DOUBLE'],
  ];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mlmon-day-merge-'));
    instance = await DuckDBInstance.create(':memory:');
    connection = await instance.connect();
  });
  afterAll(async () => {
    connection.closeSync();
    instance.closeSync();
    await rm(dir, { recursive: true, force: true });
  });

  /** Writes rows [ts, id, ingested_at, x] to a Parquet file named `name`. */
  async function file(name: string, rows: Array<[number, string, number, number]>): Promise<string> {
    const path = join(dir, name);
    const values = rows.map(([ts, id, at, x]) => `(${ts}::BIGINT, '${id}', ${at}::BIGINT, ${x}::DOUBLE)`).join(', ');
    await connection.run(
      `COPY (SELECT * FROM (VALUES ${values}) t(ts, id, ingested_at, f_x)) TO ${duckdbStringLiteral(path)} (FORMAT parquet)`
    );
    return path;
  }

  async function read(files: string[], keep: KeptCopy, range?: { from: number; to: number }) {
    const reader = await connection.runAndReadAll(
      `${keptCopiesSql(files, columns, { identity: ['id'], keep }, range)} ORDER BY id, ts`
    );
    return reader.getRowObjectsJS().map((row) => `${row.id}@${row.ts}=${row.f_x}`);
  }

  test('first: the earliest ingested copy wins, a tie the file whose name sorts first; last: the reverse', async () => {
    const a = await file('a.parquet', [
      [10, 'p', 1, 1],
      [20, 'q', 5, 1],
      [30, 'r', 1, 1],
    ]);
    const b = await file('b.parquet', [
      [10, 'p', 2, 2],
      [20, 'q', 5, 2],
    ]);
    expect(await read([a, b], 'first')).toEqual(['p@10=1', 'q@20=1', 'r@30=1']);
    expect(await read([b, a], 'first')).toEqual(['p@10=1', 'q@20=1', 'r@30=1']);
    expect(await read([a, b], 'last')).toEqual(['p@10=2', 'q@20=2', 'r@30=1']);
    expect(await read([b, a], 'last')).toEqual(['p@10=2', 'q@20=2', 'r@30=1']);
  });

  test('copies on different days are different rows; a range applies after de-duplication, as on a compacted day', async () => {
    const first = await file('c.parquet', [[10, 's', 1, 1]]);
    const second = await file('d.parquet', [[DAY + 10, 's', 1, 1]]);
    const later = await file('e.parquet', [[HOUR, 's', 2, 2]]);
    expect(await read([first, second, later], 'last')).toEqual(['s@3600000=2', 's@86400010=1']);
    expect(await read([first, second, later], 'last', { from: 0, to: 100 })).toEqual([]);
    expect(await read([first, second, later], 'first')).toEqual(['s@10=1', 's@86400010=1']);
    expect(await read([first, second, later], 'first', { from: 0, to: 100 })).toEqual(['s@10=1']);
  });

  test('a column no file has reads as NULL', async () => {
    const a = await file('f.parquet', [[10, 't', 1, 1]]);
    const reader = await connection.runAndReadAll(
      `SELECT f_y FROM (${keptCopiesSql([a], [...columns, ['f_y', 'VARCHAR']], { identity: ['id'], keep: 'first' })})`
    );
    expect(reader.getRowObjectsJS()).toEqual([{ f_y: null }]);
  });
});

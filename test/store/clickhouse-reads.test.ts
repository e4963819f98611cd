/**
 * ClickHouse reads (src/server/store/clickhouse.ts `query`) on a real ClickHouse 18.16 server: a query whose signal
 * aborts rejects promptly AND stops on the server (it leaves system.processes), so the queries after it do not queue
 * behind it; the client's request timeout comes from the options and kills what it gives up on; reads run with the
 * small read buffer that keeps FINAL's memory down and parse statements longer than the default 256 KiB.
 */
import {
  ClickHouseStore,
  MAX_QUERY_BYTES,
  READ_BUFFER_BYTES,
  isServerError,
  killQuerySql,
} from '../../src/server/store/clickhouse';
import { ClickHouseError } from '@clickhouse/client';
import { startClickHouse, type ClickHouseHandle } from '../support/clickhouse';

/** A read that runs for minutes on 2 threads: 10^11 numbers counted. */
const LONG_QUERY = 'SELECT count() AS n FROM system.numbers_mt WHERE number < 100000000000';

let clickhouse: ClickHouseHandle;
let store: ClickHouseStore;

beforeAll(async () => {
  clickhouse = await startClickHouse();
  store = await ClickHouseStore.open({ url: clickhouse.url, database: clickhouse.database });
}, 60_000);

afterAll(async () => {
  await store?.close();
  await clickhouse?.stop();
});

/** Reads still running on the server that contain `marker` (other than this lookup itself). */
async function runningWith(marker: string): Promise<number> {
  const rows = await store.query<{ n: number }>(
    "SELECT count() AS n FROM system.processes WHERE query LIKE {pattern} AND query NOT LIKE '%system.processes%'",
    { pattern: `%${marker}%` }
  );
  return Number(rows[0].n);
}

/** Polls until no query containing `marker` runs; returns how long that took (ms), or throws after `limitMs`. */
async function waitUntilGone(marker: string, limitMs: number): Promise<number> {
  const started = Date.now();
  while ((await runningWith(marker)) > 0) {
    if (Date.now() - started > limitMs) {
      throw new Error(`a query with ${marker} still runs on the server after ${limitMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return Date.now() - started;
}

test('an aborted long read rejects promptly and stops on the server', async () => {
  const marker = 'mlmon_abort_marker_1';
  const controller = new AbortController();
  const started = Date.now();
  const running = store.query(`${LONG_QUERY} /* ${marker} */`, {}, { signal: controller.signal });
  const outcome = running.then(
    () => 'resolved',
    (error: Error) => error.message
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(await runningWith(marker)).toBe(1);
  controller.abort();
  expect(await outcome).toMatch(/ClickHouse query cancelled .*the server was told to stop it/);
  expect(Date.now() - started).toBeLessThan(3_000);
  await waitUntilGone(marker, 5_000);
  // The server is free again: a short read answers at once.
  const quick = Date.now();
  expect(await store.query<{ one: number }>('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  expect(Date.now() - quick).toBeLessThan(1_000);
}, 30_000);

test('a signal aborted before the call sends nothing and rejects with the abort reason', async () => {
  const marker = 'mlmon_abort_marker_2';
  const controller = new AbortController();
  controller.abort(new Error('the panel was closed'));
  await expect(store.query(`${LONG_QUERY} /* ${marker} */`, {}, { signal: controller.signal })).rejects.toThrow(
    'the panel was closed'
  );
  expect(await runningWith(marker)).toBe(0);
});

test('reads finish normally when the signal does not abort, and server errors pass through unchanged', async () => {
  const controller = new AbortController();
  expect(
    await store.query<{ n: number }>(
      'SELECT count() AS n FROM numbers({count})',
      { count: 1000 },
      {
        signal: controller.signal,
      }
    )
  ).toEqual([{ n: 1000 }]);
  const failure = await store.query('SELECT no_such_column', {}, { signal: controller.signal }).catch((e: Error) => e);
  expect(failure).toBeInstanceOf(Error);
  expect((failure as Error).message).toMatch(/^Code: 47.*no_such_column/s);
  expect(isServerError(failure)).toBe(true);
});

test('the request timeout comes from the options, and a read it gives up on is killed on the server', async () => {
  const marker = 'mlmon_timeout_marker';
  const short = await ClickHouseStore.open({
    url: clickhouse.url,
    database: clickhouse.database,
    requestTimeoutMs: 1_500,
  });
  try {
    const started = Date.now();
    await expect(short.query(`${LONG_QUERY} /* ${marker} */`)).rejects.toThrow(
      /ClickHouse query given up by the client .*the server was told to stop it/
    );
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(1_400);
    expect(waited).toBeLessThan(5_000);
    await waitUntilGone(marker, 5_000);
  } finally {
    await short.close();
  }
}, 30_000);

test('the request timeout must be a positive number of ms', async () => {
  await expect(
    ClickHouseStore.open({ url: clickhouse.url, database: clickhouse.database, requestTimeoutMs: 0 })
  ).rejects.toThrow('requestTimeoutMs must be a positive number of milliseconds, got 0');
});

test('errors answered by old and current servers count as server errors; aborts and timeouts do not', () => {
  expect(
    isServerError(new Error('Code: 62, e.displayText() = DB::Exception: Syntax error, e.what() = DB::Exception'))
  ).toBe(true);
  expect(
    isServerError(new ClickHouseError({ message: 'Unknown identifier', code: '47', type: 'UNKNOWN_IDENTIFIER' }))
  ).toBe(true);
  expect(isServerError(new Error('Timeout error.'))).toBe(false);
  expect(isServerError(new Error('The user aborted a request.'))).toBe(false);
  expect(isServerError('Code: 1, not an Error')).toBe(false);
});

test('the kill statement quotes the query id as a literal', () => {
  expect(killQuerySql("a'b")).toBe("KILL QUERY WHERE query_id = 'a\\'b' ASYNC");
});

test('reads run with the small read buffer that keeps FINAL over many parts within memory', async () => {
  const rows = await store.query<{ value: string }>(
    "SELECT value FROM system.settings WHERE name = 'max_read_buffer_size'"
  );
  expect(rows).toEqual([{ value: String(READ_BUFFER_BYTES) }]);
  expect(READ_BUFFER_BYTES).toBeLessThan(1_048_576);
});

test('statements longer than the default 256 KiB parse (old servers get bound values as literals)', async () => {
  expect(store.bindMode).toBe('clickhouse-literals');
  const values = Array.from({ length: 40_000 }, (_, i) => i + 0.123456789);
  const [row] = await store.query<{ n: number; total: number }>(
    'SELECT length({values}) AS n, arraySum({values}) AS total',
    {
      values,
    }
  );
  expect(row.n).toBe(values.length);
  expect(row.total).toBeCloseTo(
    values.reduce((a, b) => a + b, 0),
    3
  );
  expect(MAX_QUERY_BYTES).toBeGreaterThan(2 * 40_000 * 'xxxxx.123456789, '.length);
});

/**
 * Runs SQL on a CURRENT ClickHouse engine in-process through chdb (ClickHouse from PyPI), so that the SQL written
 * for Debian's ClickHouse 18.16 is also checked on the engine users run.
 *
 * chdb is optional: set MLMON_CHDB_PYTHON to a Python that can `import chdb` (for example a venv made with
 * `python3 -m venv ~/.cache/mlmon-chdb-venv && ~/.cache/mlmon-chdb-venv/bin/pip install chdb==4.4.0`, as .ci/run
 * does); ~/.cache/mlmon-chdb-venv and /tmp/mlmon-chdb-venv are tried by default. Without one the tests using it are
 * skipped, with the reason in their name (`npm test` lists skipped tests and counts them in its last line) —
 * unless MLMON_CHDB_PYTHON is set (as CI sets it), in which case a missing chdb is a failure, never a skip.
 */
import { execFileSync } from 'node:child_process';
import type { FeatureKind, PredictionRecord, PredictionStore } from '../../src/server/store/types';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindParams, clickHouseLiteral, type BindMode, type Params } from '../../src/server/store/sql-params';
import { encodeNativeBlock, type NativeType } from '../../src/server/store/clickhouse-native';
import { predictionColumnTypes } from '../../src/server/store/clickhouse';
import { featureColumns, toStoredColumns, type StoredColumns } from '../../src/server/store/schema';

export function findChdbPython(): { python?: string; reason?: string } {
  const candidates = [
    process.env.MLMON_CHDB_PYTHON,
    join(homedir(), '.cache/mlmon-chdb-venv/bin/python'),
    '/tmp/mlmon-chdb-venv/bin/python',
  ].filter((c): c is string => Boolean(c));
  for (const python of candidates) {
    try {
      execFileSync(python, ['-c', 'import chdb'], { stdio: 'ignore', timeout: 60_000 });
      return { python };
    } catch {
      // try the next one
    }
  }
  return {
    reason: `no Python that can import chdb (tried ${candidates.join(', ')}); install it as README "Setup" says`,
  };
}

/** A test that needs chdb: `name`, its body and optional timeout, as for jest's `test`. */
export type ChdbTest = (name: string, fn: jest.ProvidesCallback, timeout?: number) => void;

/**
 * The `test` to use for chdb checks in `file`: `test` when chdb is there; when not, `test.skip` with the reason in
 * the test's name (so every report of skipped tests says why) and a warning; a failing test when MLMON_CHDB_PYTHON
 * names a Python without chdb.
 */
export function chdbTest(file: string): { python?: string; testWithChdb: ChdbTest } {
  const { python, reason } = findChdbPython();
  if (!python && process.env.MLMON_CHDB_PYTHON) {
    test('chdb is importable from MLMON_CHDB_PYTHON', () => {
      throw new Error(reason);
    });
  } else if (!python) {
    console.warn(`SKIPPED ${file}: ${reason}`);
  }
  const testWithChdb: ChdbTest = (name, fn, timeout) =>
    python ? test(name, fn, timeout) : test.skip(`${name} (skipped: ${reason})`, fn, timeout);
  return { python, testWithChdb };
}

/** The placeholder of a step's Native file in its SQL. */
const NATIVE_FILE = '__native_file__';

const RUNNER = `import sys, json, os, base64
from chdb import session
steps = json.load(open(sys.argv[1]))
s = session.Session(sys.argv[2])
out = []
for i, step in enumerate(steps):
    try:
        sql = step['sql']
        if step.get('native'):
            path = os.path.join(os.path.dirname(sys.argv[1]), 'step%d.native' % i)
            with open(path, 'wb') as f:
                f.write(base64.b64decode(step['native']))
            sql = sql.replace('${NATIVE_FILE}', path)
        res = s.query(sql, 'JSONEachRow', params=step.get('params') or None)
        text = res.bytes().decode() if hasattr(res, 'bytes') else str(res)
        out.append({'rows': [json.loads(line) for line in text.splitlines() if line.strip()]})
    except Exception as e:
        out.append({'error': str(e)[:500]})
print(json.dumps(out))
`;

export interface Step {
  sql: string;
  params?: Params;
  /** Bytes of the Native format (base64), written to a file whose path replaces NATIVE_FILE in `sql`. */
  native?: string;
}

export type StepResult = { rows?: Array<Record<string, unknown>>; error?: string };

/** Runs the steps in one fresh chdb session (a temporary directory), in order; each step reports rows or its error. */
export function runSteps(python: string, steps: Step[]): StepResult[] {
  const dir = mkdtempSync(join(tmpdir(), 'mlmon-chdb-'));
  try {
    writeFileSync(join(dir, 'runner.py'), RUNNER);
    writeFileSync(join(dir, 'steps.json'), JSON.stringify(steps));
    const output = execFileSync(python, [join(dir, 'runner.py'), join(dir, 'steps.json'), join(dir, 'db')], {
      encoding: 'utf8',
      timeout: 120_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return JSON.parse(output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A step binding `params` in `mode`; parameter values travel as text, arrays in ClickHouse's quoted form. */
export function boundStep(sql: string, params: Params, mode: BindMode): Step {
  const b = bindParams(sql, params, mode);
  const asText = Object.fromEntries(
    Object.entries(b.values).map(([k, v]) => [k, Array.isArray(v) ? clickHouseLiteral(v) : v])
  );
  return { sql: b.sql, params: mode === 'clickhouse-params' ? asText : undefined };
}

export function insertSql(table: string, rows: Array<Record<string, unknown>>): string {
  return `INSERT INTO ${table} FORMAT JSONEachRow ${rows.map((r) => JSON.stringify(r)).join('\n')}`;
}

/** A step inserting a Native block into the columns (SQL list, `a`, `b`) of `table`, read from a file by `file`. */
function nativeFileInsertStep(table: string, columns: string, block: Buffer): Step {
  return {
    sql: `INSERT INTO ${table} (${columns}) SELECT ${columns} FROM file('${NATIVE_FILE}', 'Native')`,
    native: block.toString('base64'),
  };
}

/**
 * A step inserting stored columns into `table` as the store does on a server: one block of the Native format
 * (encodeNativeBlock).
 */
export function nativeInsertStep(table: string, stored: StoredColumns, types: readonly NativeType[]): Step {
  const columns = stored.columns.map((name) => `\`${name}\``).join(', ');
  return nativeFileInsertStep(table, columns, Buffer.concat(encodeNativeBlock(stored, types)));
}

/** The step replaying an `INSERT INTO <table> (<columns>) FORMAT Native` the store sent with the block `block`. */
export function nativeInsertReplayStep(sql: string, block: Buffer): Step {
  const match = /^INSERT INTO (\S+) \((.+)\) FORMAT Native$/.exec(sql);
  if (!match) {
    throw new Error(`Not an INSERT … FORMAT Native: ${sql.slice(0, 160)}`);
  }
  return nativeFileInsertStep(match[1], match[2], block);
}

/** A step inserting predictions into a predictions table of these features, as the ClickHouse store writes them. */
export function predictionsInsertStep(
  table: string,
  records: readonly PredictionRecord[],
  features: ReadonlyArray<{ name: string; kind: FeatureKind }>,
  ingestedAt: number
): Step {
  return nativeInsertStep(
    table,
    toStoredColumns(records, featureColumns(features), ingestedAt),
    predictionColumnTypes(features)
  );
}

/** Rows made comparable: numeric text as numbers rounded to 9 significant digits, sorted. */
export function comparableRows(rows: Array<Record<string, unknown>> = []): string[] {
  const value = (v: unknown) => {
    const n = typeof v === 'string' && /^-?\d+(\.\d+)?(e[-+]?\d+)?$/i.test(v) ? Number(v) : v;
    return typeof n === 'number' ? Number(n.toPrecision(9)) : n;
  };
  return rows.map((row) => JSON.stringify(Object.entries(row).map(([k, v]) => [k, value(v)]))).sort();
}

/**
 * The steps that copy a ClickHouse 18.16 database (DDL and rows) into chdb: materialized views (the ingestion
 * ledgers) last, after the tables they read and write, and without rows of their own (reading one reads the table it
 * writes to).
 */
export async function copyDatabaseSteps(clickhouse: Pick<PredictionStore, 'query'>, database: string): Promise<Step[]> {
  const tables = await clickhouse.query<{ name: string; view: number }>(
    `SELECT name, engine = 'MaterializedView' AS view FROM system.tables WHERE database = '${database}' ORDER BY view, name`
  );
  const copy: Step[] = [{ sql: `CREATE DATABASE IF NOT EXISTS ${database}` }];
  for (const { name, view } of tables) {
    const [ddl] = await clickhouse.query<{ statement: string }>(`SHOW CREATE TABLE ${database}.\`${name}\``);
    const rows = Number(view)
      ? []
      : await clickhouse.query<Record<string, unknown>>(`SELECT * FROM ${database}.\`${name}\``);
    copy.push({ sql: ddl.statement });
    if (rows.length > 0) {
      copy.push({ sql: insertSql(`${database}.\`${name}\``, rows) });
    }
  }
  return copy;
}

/** A statement a handler ran on ClickHouse 18.16, with the rows it got. */
export interface RecordedStatement {
  sql: string;
  params: Params;
  rows: Array<Record<string, unknown>>;
}

/**
 * Records, from now on, the statements `store` runs whose SQL matches `pattern` (a handler's own, not the store's
 * metadata reads), with their rows; the list returned fills as they run.
 */
export function recordStatements(store: Pick<PredictionStore, 'query'>, pattern: RegExp): RecordedStatement[] {
  const recorded: RecordedStatement[] = [];
  const query = store.query.bind(store);
  (store as { query: PredictionStore['query'] }).query = async <T>(sql: string, params: Params = {}) => {
    const rows = await query<T>(sql, params);
    if (pattern.test(sql)) {
      recorded.push({ sql, params, rows: rows as Array<Record<string, unknown>> });
    }
    return rows;
  };
  return recorded;
}

/**
 * Copies the database into chdb, replays the recorded statements there in both value-binding modes, and expects no
 * error and, for every statement, rows that are not empty and equal those ClickHouse 18.16 gave.
 */
export async function expectSameRowsOnCurrentEngine(
  python: string,
  clickhouse: Pick<PredictionStore, 'query'>,
  database: string,
  recorded: readonly RecordedStatement[]
): Promise<void> {
  const copy = await copyDatabaseSteps(clickhouse, database);
  const replay = (mode: BindMode): Step[] => recorded.map(({ sql, params }) => boundStep(sql, params, mode));
  const steps = [...copy, ...replay('clickhouse-params'), ...replay('clickhouse-literals')];
  const results = runSteps(python, steps);
  const errors = results.map((r, i) => (r.error ? `${steps[i].sql.slice(0, 160)} → ${r.error}` : '')).filter(Boolean);
  expect(errors).toEqual([]);
  const replayed = results.slice(copy.length);
  recorded.forEach(({ rows }, i) => {
    expect(comparableRows(rows).length).toBeGreaterThan(0);
    expect(comparableRows(replayed[i].rows)).toEqual(comparableRows(rows));
    expect(comparableRows(replayed[recorded.length + i].rows)).toEqual(comparableRows(rows));
  });
}

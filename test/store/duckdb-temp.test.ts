/**
 * DuckDB's spill files when several mlmon processes share a host (the collector, the backend, `mlmon maintain`):
 * each DuckDB spills into a directory of its own under MLMON_DUCKDB_TEMP_DIR (src/server/store/duckdb-sql.ts
 * openMemoryDuckDB). DuckDB names its spill files alike in every process, so with one shared directory two
 * processes spilling at once overwrote each other's blocks and crashed.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EmbeddedStore } from '../../src/server/store/embedded';

const ROOT = resolve(__dirname, '../..');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlmon-duckdb-temp-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A query that spills at 64 MB: a sort of 3 M rows with a 60-character key. */
const SPILLING_QUERY =
  "SELECT sum(i) AS total FROM (SELECT i, hash(i)::VARCHAR || repeat('y', 40) AS key FROM range(3000000) r(i) ORDER BY key)";

/** Runs the spilling query through an EmbeddedStore in another process; resolves its output or its failure. */
function spillInChild(script: string, temp: string): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: { ...process.env, MLMON_DUCKDB_MEMORY_LIMIT: '64MB', MLMON_DUCKDB_TEMP_DIR: temp },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  return new Promise((done) =>
    child.on('exit', (code, signal) => done(code === 0 ? output.trim() : `${signal ?? `exit ${code}`}: ${output}`))
  );
}

test('two processes spilling at the same time under one MLMON_DUCKDB_TEMP_DIR both finish, and leave nothing behind', async () => {
  const script = join(dir, 'spill.ts');
  await writeFile(
    script,
    `import { EmbeddedStore } from ${JSON.stringify(join(ROOT, 'src/server/store/embedded'))};
     (async () => {
       const store = await EmbeddedStore.open(${JSON.stringify(join(dir, 'store'))});
       const [row] = await store.query(${JSON.stringify(SPILLING_QUERY)});
       console.log(String(row.total));
       await store.close();
     })().catch((e) => { console.error(e); process.exit(1); });`
  );
  const temp = join(dir, 'spill');
  const answers = await Promise.all([spillInChild(script, temp), spillInChild(script, temp)]);
  const total = String((3_000_000 * 2_999_999) / 2);
  expect(answers).toEqual([total, total]);
  expect(await readdir(temp)).toEqual([]);
});

test("a killed process's spill directory is removed by the next store opened; a live one's is kept", async () => {
  const temp = join(dir, 'spill');
  const dead = join(temp, '999999999-left-by-a-killed-process');
  const live = join(temp, '1-of-a-running-process');
  await mkdir(dead, { recursive: true });
  await mkdir(live);
  await writeFile(join(dead, 'duckdb_temp_storage_S32K-0.tmp'), 'x');
  const saved = process.env.MLMON_DUCKDB_TEMP_DIR;
  process.env.MLMON_DUCKDB_TEMP_DIR = temp;
  try {
    const store = await EmbeddedStore.open(join(dir, 'store'));
    await store.close();
  } finally {
    if (saved === undefined) {
      delete process.env.MLMON_DUCKDB_TEMP_DIR;
    } else {
      process.env.MLMON_DUCKDB_TEMP_DIR = saved;
    }
  }
  expect(await readdir(temp)).toEqual(['1-of-a-running-process']);
});

/**
 * Compaction's atomicity with real processes and real DuckDB (issue 9, item 5): a compaction killed with SIGKILL
 * leaves a day that reads every id once, and the next compaction finishes the job and leaves nothing behind; a
 * crash between the merged file's rename and the inputs' deletion reads the same and cleans the counts cached
 * beside removed files; concurrent compactions of one day (another process's live workspace) do not collide.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { countWindow } from '../../src/server/counting/window-counts';
import { wholeRangeGrid, windowWhere } from '../../src/server/counting/window';
import { dayWriter } from '../support/day-writer';
import { dayDir, DAY_MS, resentIdsSql, writeUncompactedDay, type UncompactedDay } from '../support/uncompacted-day';

const ROOT = resolve(__dirname, '../..');
const DAY = Date.UTC(2026, 0, 5);

let dir: string;
const generator = dayWriter();

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlmon-compaction-crash-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const spec: UncompactedDay = {
  model: 'm',
  day: DAY,
  rows: 400_000,
  files: 20,
  numeric: 15,
  categorical: 5,
  resentPercent: 3,
  layout: 'interleaved',
};

const scalar = generator.scalar;

/** What the store reads for the day: rows, distinct ids and rows of re-sent copies (marked `resent`). */
async function readDay(storeDir: string): Promise<{ rows: number; ids: number; resent: number }> {
  const store = await EmbeddedStore.open(storeDir);
  try {
    const [row] = await store.query<{ rows: number; ids: number; resent: number }>(
      `SELECT count(*) AS rows, count(DISTINCT id) AS ids, count(*) FILTER (prediction_cat = 'resent') AS resent ` +
        `FROM ${await store.predictionsRelation('m')}`
    );
    return { rows: Number(row.rows), ids: Number(row.ids), resent: Number(row.resent) };
  } finally {
    await store.close();
  }
}

async function compact(storeDir: string): Promise<number> {
  const store = await EmbeddedStore.open(storeDir);
  try {
    return (await store.compact('m')).rowsKept;
  } finally {
    await store.close();
  }
}

const parquetFiles = async (day: string) => (await readdir(day)).filter((name) => name.endsWith('.parquet'));

/** Starts `mlmon`'s compaction of model m in another process; resolves its exit code or signal. */
function compactInChild(storeDir: string, script: string): { pid: number; exited: Promise<string> } {
  // node itself (not the tsx launcher, which would run the script in a grandchild): the pid killed is the compactor.
  const child = spawn(process.execPath, ['--import', 'tsx', script, storeDir], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<string>((done) =>
    child.on('exit', (code, signal) => done(signal ?? (code === 0 ? 'ok' : `exit ${code}: ${stderr}`)))
  );
  return { pid: child.pid!, exited };
}

async function writeChildScript(): Promise<string> {
  const script = join(dir, 'compact.ts');
  await writeFile(
    script,
    `import { EmbeddedStore } from ${JSON.stringify(join(ROOT, 'src/server/store/embedded'))};
     (async () => {
       const store = await EmbeddedStore.open(process.argv[2]);
       await store.compact('m');
       await store.close();
     })().catch((e) => { console.error(e); process.exit(1); });`
  );
  return script;
}

/** Polls until `ready` says so (every 2 ms, up to 60 s). */
async function until(ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await ready())) {
    if (Date.now() > deadline) {
      throw new Error('timed out waiting for the child compaction');
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** The workspaces of compactions in a day directory. */
const workspaces = async (day: string) => (await readdir(day)).filter((name) => name.startsWith('.compact-'));

describe('a compaction killed with SIGKILL', () => {
  test.each([
    ['while it plans (its workspace just created)', async () => true],
    [
      'while it writes the merged file',
      async (workspace: string) => (await stat(join(workspace, 'merged.parquet')).catch(() => undefined))?.size! > 0,
    ],
  ])('%s leaves a day read whole, and the next compaction finishes it', async (_, moment) => {
    const storeDir = join(dir, 'store');
    const day = await writeUncompactedDay(generator.connection(), storeDir, spec);
    expect(await scalar(resentIdsSql(spec))).toBeGreaterThan(0);
    const expected = { rows: spec.rows, ids: spec.rows, resent: 0 }; // the first copy of each id wins
    const child = compactInChild(storeDir, await writeChildScript());
    await until(async () => {
      const [workspace] = await workspaces(day);
      return workspace !== undefined && (await moment(join(day, workspace)));
    });
    process.kill(child.pid, 'SIGKILL');
    expect(await child.exited).toBe('SIGKILL');

    expect(await workspaces(day)).toHaveLength(1);
    expect(await parquetFiles(day)).toHaveLength(spec.files);
    expect(await readDay(storeDir)).toEqual(expected);

    expect(await compact(storeDir)).toBe(spec.rows);
    expect(await readdir(day)).toEqual(await parquetFiles(day));
    expect(await parquetFiles(day)).toHaveLength(1);
    expect(await readDay(storeDir)).toEqual(expected);
  });
});

test('a crash between the rename and the deletes reads the same, and the next round merges again and drops stale counts', async () => {
  const storeDir = join(dir, 'store');
  const small = { ...spec, rows: 20_000, files: 4 };
  const day = await writeUncompactedDay(generator.connection(), storeDir, small);
  expect(await compact(storeDir)).toBe(small.rows);
  // The day file gets counts cached beside it (as the backend or `mlmon maintain` leaves them).
  const store = await EmbeddedStore.open(storeDir);
  const columns = [{ column: '"f_x0"', kind: 'numeric' as const, edges: [50] }];
  const range = { from: DAY, to: DAY + DAY_MS };
  await countWindow({
    store,
    model: 'm',
    range,
    columns,
    where: windowWhere('duckdb', { model: 'm' }, wholeRangeGrid(range)),
    grid: wholeRangeGrid(range),
  });
  const [first] = await parquetFiles(day);
  expect((await readdir(day)).filter((name) => name.endsWith('.counts'))).toHaveLength(1);
  // A late copy of r1's prediction (same version) for the same day, told by its x0 (it loses: the first copy
  // wins), then a merge of a copy of the day put back
  // before any delete: the state a crash right after the rename leaves.
  await store.writePredictions('m', [
    { id: 'r1', ts: DAY + 1000, version: 'v1', features: { x0: 5000 }, prediction: 1, samplingRate: 1 },
  ]);
  await store.close();
  const copy = join(dir, 'copy');
  await mkdir(join(copy, 'models', 'm', 'predictions'), { recursive: true });
  await copyFile(join(storeDir, 'models', 'm', 'schema.json'), join(copy, 'models', 'm', 'schema.json'));
  const copyDay = dayDir(copy, small);
  await mkdir(copyDay);
  for (const name of await parquetFiles(day)) {
    await copyFile(join(day, name), join(copyDay, name));
  }
  expect(await compact(copy)).toBe(small.rows);
  const [merged] = await parquetFiles(copyDay);
  await copyFile(join(copyDay, merged), join(day, merged));
  expect(await parquetFiles(day)).toHaveLength(3);

  const late = { rows: small.rows, ids: small.rows, resent: 0 };
  expect(await readDay(storeDir)).toEqual(late);
  expect(await compact(storeDir)).toBe(small.rows);
  const names = await readdir(day);
  expect(names.filter((name) => name.endsWith('.parquet'))).toHaveLength(1);
  expect(names).not.toContain(first);
  expect(names.filter((name) => name.endsWith('.counts'))).toHaveLength(0);
  expect(await readDay(storeDir)).toEqual(late);
  const after = await EmbeddedStore.open(storeDir);
  const [row] = await after.query<{ version: string; x: number }>(
    `SELECT version, f_x0 AS x FROM ${await after.predictionsRelation('m')} WHERE id = 'r1'`
  );
  await after.close();
  expect(row.version).toBe('v1');
  expect(row.x).toBeLessThan(1000);
});

test('a day another live process is compacting is left to it; three processes compacting at once lose nothing', async () => {
  const storeDir = join(dir, 'store');
  const small = { ...spec, rows: 100_000, files: 10 };
  const day = await writeUncompactedDay(generator.connection(), storeDir, small);
  const copies = await scalar(resentIdsSql(small));
  const expected = { rows: small.rows, ids: small.rows, resent: 0 };

  // pid 1 is always alive: its workspace marks the day as being compacted.
  const foreign = join(day, '.compact-1-0123abcd-0000');
  await mkdir(foreign);
  expect(await compact(storeDir)).toBe(small.rows + copies);
  expect(await parquetFiles(day)).toHaveLength(small.files);
  await rm(foreign, { recursive: true });

  const script = await writeChildScript();
  const children = [compactInChild(storeDir, script), compactInChild(storeDir, script)];
  const here = compact(storeDir);
  expect(await Promise.all(children.map((child) => child.exited))).toEqual(['ok', 'ok']);
  expect(await here).toBeGreaterThanOrEqual(small.rows);
  expect(await readDay(storeDir)).toEqual(expected);
  expect(await compact(storeDir)).toBe(small.rows);
  expect(await readdir(day)).toEqual(await parquetFiles(day));
  expect(await parquetFiles(day)).toHaveLength(1);
  expect(await readDay(storeDir)).toEqual(expected);
});

/**
 * The `mlmon serve` and `mlmon simulate` commands as a user runs them (child processes through bin/mlmon.js).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { REPO_ROOT } from './harness';

function mlmon(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'mlmon.js'), ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, MLMON_COLLECTOR_TOKEN: '', ...env },
    timeout: 120_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-cli-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('serve refuses to start without a token, and --demo only on loopback', () => {
  const noToken = mlmon(['serve', '--data-dir', path.join(dir, 'd')]);
  expect(noToken.code).toBe(2);
  expect(noToken.stderr).toMatch(/needs a bearer token.*--tokens-file.*--demo/);
  const demoOutside = mlmon(['serve', '--demo', '--listen', '0.0.0.0:0', '--data-dir', path.join(dir, 'd')]);
  expect(demoOutside.code).toBe(2);
  expect(demoOutside.stderr).toMatch(/only listens on loopback/);
  const badListen = mlmon(['serve', '--token', 'abcdefgh1', '--listen', 'nowhere', '--data-dir', path.join(dir, 'd')]);
  expect(badListen.stderr).toMatch(/not HOST:PORT/);
});

test('simulate writes both models, their labels and baselines, deterministically, with progress on stderr', async () => {
  const dataDir = path.join(dir, 'sim');
  const args = [
    'simulate',
    '--days',
    '4',
    '--rate',
    '1',
    '--seed',
    '3',
    '--end',
    '2026-03-05T00:00:00Z',
    '--reference-rows',
    '2000',
    '--data-dir',
    dataDir,
  ];
  const run = mlmon(args);
  expect(run.code).toBe(0);
  expect(run.stderr).toMatch(/credit_risk: day \d+\/4/);
  expect(run.stderr).toMatch(/delivery_time: \d+ predictions and \d+ labels written/);
  const again = mlmon(args); // same seed: same ids, counted once
  expect(again.code).toBe(0);
  const store = await EmbeddedStore.open(dataDir);
  try {
    expect((await store.listModels()).sort()).toEqual(['credit_risk', 'delivery_time']);
    const written = Number(/credit_risk: (\d+) predictions and (\d+) labels written/.exec(run.stderr)![1]);
    const relation = await store.predictionsRelation('credit_risk');
    const [counts] = await store.query<{ n: number; first: number; last: number }>(
      `SELECT count(*) AS n, min(ts) AS first, max(ts) AS last FROM ${relation}`
    );
    expect(Number(counts.n)).toBe(written);
    expect(Number(counts.first)).toBeGreaterThanOrEqual(Date.UTC(2026, 2, 1));
    expect(Number(counts.last)).toBeLessThan(Date.UTC(2026, 2, 5));
    const labels = await store.labelsRelation('credit_risk');
    const [labelled] = await store.query<{ n: number; lag: number }>(
      `SELECT count(*) AS n, min(l.ts - p.ts) AS lag FROM ${labels} l JOIN ${relation} p ON l.id = p.id`
    );
    expect(Number(labelled.n)).toBeGreaterThan(0);
    expect(Number(labelled.lag)).toBeGreaterThanOrEqual(3 * 86_400_000);
    const baseline = await store.getBaseline('credit_risk', 'v3');
    expect(baseline?.rows).toBe(2000);
    expect(Object.keys(baseline!.features)).toHaveLength(15);
    expect(baseline?.performance).toMatchObject({ task: 'classification' });
    expect((await store.getBaseline('delivery_time', 'v1'))?.performance).toMatchObject({ task: 'regression' });
  } finally {
    await store.close();
  }
});

test('maintain compacts the simulated store and prepares the counts of the default queries beside each day', async () => {
  const dataDir = path.join(dir, 'sim'); // written by the simulate test above (twice: days with two files)
  const days = path.join(dataDir, 'models', 'credit_risk', 'predictions');
  const bad = mlmon(['maintain', '--retention-days', '0', '--data-dir', dataDir]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--retention-days 0 is not a whole number of days >= 1/);

  const run = mlmon(['maintain', '--data-dir', dataDir]);
  expect(run.code).toBe(0);
  expect(run.stderr).toMatch(/credit_risk: compacted, \d+ prediction rows kept/);
  // 15 features and the output for drift, the 15 features with the output summed per bin for ranking
  expect(run.stderr).toMatch(/credit_risk: counts of 31 columns on baseline v3 ready/);
  for (const day of fs.readdirSync(days)) {
    const names = fs.readdirSync(path.join(days, day));
    expect(names.filter((n) => n.endsWith('.parquet'))).toHaveLength(1);
    const [counts] = names.filter((n) => n.endsWith('.counts'));
    expect(fs.readdirSync(path.join(days, day, counts))).toHaveLength(31);
  }
});

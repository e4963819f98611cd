/**
 * `mlmon simulate --models churn --challenger` into an embedded store (docs/SIMULATION.md "Champion and
 * challenger"): both versions are stored, each shadow pair shares its id and time, the id's one label joins both
 * versions' predictions, the performance handler reads each version's realized accuracy (the challenger's higher
 * after the concept drift), and the flags refuse what they cannot do.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command as simulate } from '../../src/server/cli/simulate';
import { performanceQuery } from '../../src/server/queries/performance';
import { DAY_MS, INCIDENTS } from '../../src/server/simulate/scenario';
import type { DatasourceInstance } from '../../src/server/backend/instances';
import { column, runHandler } from '../queries/traffic-fixture';
import { simulatedStore, type SimulatedStore } from '../support/simulated-store';

const END = Date.UTC(2026, 2, 16);
const START = END - 14 * DAY_MS;
const dayStart = (day: number) => START + (day - 1) * DAY_MS;
const SPLIT_DAY = 13;

let simulated: SimulatedStore;
let instance: DatasourceInstance;
/** Where the refused runs would have written. */
let dir: string;

beforeAll(async () => {
  const args = ['--models', 'churn', '--days', '14', '--rate', '1', '--seed', '7', '--reference-rows', '2000'];
  const challenger = ['--challenger', '--shadow-share', '0.3', '--split-from-day', String(SPLIT_DAY)];
  simulated = await simulatedStore([...args, ...challenger], END);
  instance = simulated.instance;
  dir = await mkdtemp(join(tmpdir(), 'mlmon-sim-refused-'));
}, 120_000);

afterAll(async () => {
  await simulated?.remove();
  await rm(dir, { recursive: true, force: true });
});

test('both versions are stored; shadow pairs share id and ts; the split serves the challenger alone', async () => {
  const store = await instance.store();
  expect((await store.listVersions('churn')).map((v) => v.version).sort()).toEqual([
    'v1',
    INCIDENTS.churnChallenger.version,
  ]);
  const relation = await store.predictionsRelation('churn');
  const [pairs] = await store.query<{ pairs: number; same_ts: number; before_split: number }>(
    `SELECT count(*) AS pairs, count(*) FILTER (WHERE times = 1) AS same_ts, ` +
      `count(*) FILTER (WHERE first_ts < ${dayStart(SPLIT_DAY)}) AS before_split FROM (` +
      `SELECT id, count(DISTINCT ts) AS times, min(ts) AS first_ts FROM ${relation} GROUP BY id HAVING count(*) = 2)`
  );
  const [requests] = await store.query<{ early: number; alone: number; late: number }>(
    `SELECT count(DISTINCT id) FILTER (WHERE ts < ${dayStart(SPLIT_DAY)}) AS early, ` +
      `count(*) FILTER (WHERE ts >= ${dayStart(SPLIT_DAY)} AND version = 'v2' AND id NOT IN ` +
      `(SELECT id FROM ${relation} WHERE version = 'v1')) AS alone, ` +
      `count(DISTINCT id) FILTER (WHERE ts >= ${dayStart(SPLIT_DAY)}) AS late FROM ${relation}`
  );
  expect(Number(pairs.pairs)).toBeGreaterThan(0);
  expect(Number(pairs.same_ts)).toBe(Number(pairs.pairs));
  expect(Number(pairs.before_split) / Number(requests.early)).toBeCloseTo(0.3, 1);
  expect(Number(requests.alone) / Number(requests.late)).toBeCloseTo(0.5, 1);
});

test("each id's label joins both versions' predictions of it", async () => {
  const store = await instance.store();
  const relation = await store.predictionsRelation('churn');
  const rows = await store.query<{ version: string; n: number }>(
    `SELECT p.version AS version, count(*) AS n FROM ${relation} AS p JOIN ${await store.labelsRelation('churn')} AS l ` +
      `ON p.id = l.id WHERE p.id IN (SELECT id FROM ${relation} GROUP BY id HAVING count(*) = 2) ` +
      'GROUP BY p.version ORDER BY p.version'
  );
  expect(rows.map((r) => r.version)).toEqual(['v1', 'v2']);
  expect(Number(rows[0].n)).toBeGreaterThan(1000);
  // Every labelled pair is joined on both sides (a failed shadow answer is stored too, and joins its label).
  expect(Number(rows[1].n)).toBe(Number(rows[0].n));
});

test('the performance handler reads each version: the challenger is more accurate after the concept drift', async () => {
  const accuracy = async (version: string) => {
    const [frame] = await runHandler(
      performanceQuery,
      instance,
      { queryType: 'performance', model: 'churn', metric: 'accuracy', version, bucket: '3d' },
      { range: { from: dayStart(INCIDENTS.competitorOffer.day), to: dayStart(14) } }
    );
    return (column(frame, 'value') as Array<number | null>).filter((v): v is number => v !== null);
  };
  const [champion, challenger] = [await accuracy('v1'), await accuracy('v2')];
  expect(champion.length).toBeGreaterThan(0);
  expect(challenger).toHaveLength(champion.length);
  const gains = challenger.map((value, i) => value - champion[i]);
  expect(gains.every((gain) => gain > 0)).toBe(true);
  expect(gains.reduce((a, b) => a + b) / gains.length).toBeGreaterThan(0.03);
});

test('the challenger flags refuse what they cannot do, naming the fix', async () => {
  const errors: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((text: string) => (errors.push(String(text)), true)) as typeof process.stderr.write;
  try {
    const common = ['--days', '1', '--data-dir', join(dir, 'refused')];
    expect(await simulate.run(['--models', 'credit_risk', '--challenger', ...common])).toBe(2);
    expect(await simulate.run(['--models', 'churn', '--shadow-share', '0.2', ...common])).toBe(2);
    expect(await simulate.run(['--models', 'churn', '--challenger', '--split-from-day', '3', ...common])).toBe(2);
    expect(await simulate.run(['--models', 'churn', '--challenger', '--shadow-share', '1.5', ...common])).toBe(2);
  } finally {
    process.stderr.write = write;
  }
  const text = errors.join('');
  expect(text).toContain('none of the models has a challenger; use --models churn');
  expect(text).toContain('--shadow-share needs --challenger');
  expect(text).toContain('--split-from-day 3 is not valid');
  expect(text).toContain('--shadow-share 1.5 is not valid');
});

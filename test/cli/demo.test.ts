/**
 * `npm run demo` (scripts/demo.ts, with --no-serve so that it ends after printing) in a data directory that also
 * holds other models: one a mistyped model name created before the demo ever ran, and another baseline of the demo
 * model. The demo must write its own models, compare them with their own baselines, and list the others.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifierRows, toCsv } from '../support/classifier-data';
import { mlmon, REPO_ROOT } from '../support/mlmon';

let dir: string;
const dataDir = () => join(dir, 'mlmon-data');

function demo(): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--require', 'tsx/cjs', 'scripts/demo.ts', '--no-serve'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, MLMON_DATA_DIR: dataDir() },
    timeout: 300_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The feature names of a model's printed severity matrix. */
function matrixFeatures(stdout: string, model: string): string[] {
  const block = stdout.split(`\n${model}: PSI per day`)[1]?.split('\n\n')[0] ?? '';
  return block
    .split('\n')
    .slice(2)
    .map((line) => line.split(/\s+/)[0])
    .filter(Boolean);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mlmon-demo-'));
  writeFileSync(join(dir, 'other.csv'), toCsv(classifierRows(200, 5)));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('a model created by a typo before the demo ran does not stop it: the demo writes its models and lists the typo', () => {
  const typo = mlmon([
    'ingest',
    join(dir, 'other.csv'),
    '--model',
    'credti_risk',
    '--version',
    'v1',
    '--data-dir',
    dataDir(),
  ]);
  expect(typo.code).toBe(0);

  const run = demo();
  expect(run.stdout).not.toContain('demo failed'); // the demo's own messages go to stdout
  expect(run.code).toBe(0);
  expect(run.stdout).toContain(
    `Writing 14 days of demo traffic for credit_risk, delivery_time and churn into ${dataDir()}`
  );
  expect(matrixFeatures(run.stdout, 'credit_risk')).toHaveLength(15);
  expect(matrixFeatures(run.stdout, 'delivery_time').length).toBeGreaterThan(0);
  expect(matrixFeatures(run.stdout, 'churn').length).toBeGreaterThan(0);
  // churn's challenger scores in shadow, so Model overview's champion-vs-challenger row has two versions to compare
  const churn = mlmon(['models', 'list', '--data-dir', dataDir()])
    .stdout.split('\n')
    .find((l) => l.startsWith('churn '));
  expect(churn?.split(/\s+/)[2]).toBe('v1,v2');
  expect(run.stdout).toContain(
    `Other models in ${dataDir()}, not part of the demo: credti_risk. \`npx mlmon models list\` shows what each holds; ` +
      '`npx mlmon models delete NAME --yes` removes one that a mistyped model name created.'
  );
});

test('another baseline of a demo model (the README example) leaves the demo comparing with its own', () => {
  const readmeBaseline = mlmon([
    'baseline',
    '--model',
    'credit_risk',
    '--version',
    'v4',
    '--from',
    join(dir, 'other.csv'),
    '--prediction',
    'approved',
    '--score',
    'score',
    '--label',
    'defaulted',
    '--data-dir',
    dataDir(),
  ]);
  expect(readmeBaseline.code).toBe(0);
  const run = demo();
  expect(run.code).toBe(0);
  expect(run.stdout).not.toContain('Writing 14 days');
  const features = matrixFeatures(run.stdout, 'credit_risk');
  expect(features).toHaveLength(15); // v4 has 3 features (income, age, region): the demo did not switch to it
  expect(features).toEqual(expect.arrayContaining(['debt_to_income', 'credit_score', 'income', 'age']));
});

/**
 * The first hour of a new user, through the real command line (node bin/mlmon.js in a child process): one exit-code
 * rule for every command, `--version`, labels without a time, baselines that are never overwritten silently and
 * never take ids or times for features, `baseline list` on a typo, and models that a typo created, listed and
 * deleted.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { classifierRows, toCsv } from '../support/classifier-data';
import { mlmon, REPO_ROOT } from '../support/mlmon';

let dir: string;
const path = (name: string) => join(dir, name);
const dataDir = () => ['--data-dir', path('data')];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mlmon-first-hour-'));
  writeFileSync(path('training.csv'), toCsv(classifierRows(400, 1)));
  writeFileSync(path('current.csv'), toCsv(classifierRows(300, 2, 1.6, '2026-02-01T00:00:00Z')));
  writeFileSync(path('header-only.csv'), 'id,ts,income,prediction\n');
  writeFileSync(path('broken.parquet'), 'not parquet at all');
  writeFileSync(
    path('partly-bad.csv'),
    'id,ts,version,income,prediction\na1,2026-01-01T00:00:00Z,v1,10,1\na2,not-a-time,v1,11,0\n'
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('one exit-code rule for every command: 2 for usage and input errors, 1 for failures', () => {
  const report = (current: string) => ['report', '--reference', path('training.csv'), '--current', current];
  const baseline = (from: string, ...more: string[]) => [
    'baseline',
    '--model',
    'm',
    '--version',
    'v1',
    '--from',
    from,
    ...more,
  ];
  const ingest = (file: string, ...more: string[]) => ['ingest', file, '--model', 'm', '--version', 'v1', ...more];

  it.each([
    ['report', 'a missing file', () => report(path('nope.csv')), 'nope.csv: no such file'],
    ['baseline', 'a missing file', () => baseline(path('nope.csv')), 'nope.csv: no such file'],
    ['ingest', 'a missing file', () => ingest(path('nope.csv')), 'nope.csv: no such file'],
    [
      'report',
      'a header-only CSV',
      () => report(path('header-only.csv')),
      'header-only.csv: the file has no data rows',
    ],
    [
      'baseline',
      'a header-only CSV',
      () => baseline(path('header-only.csv')),
      'header-only.csv: the file has no data rows',
    ],
    [
      'ingest',
      'a header-only CSV',
      () => ingest(path('header-only.csv')),
      'header-only.csv: the file has no data rows',
    ],
    ['report', 'a file that is not Parquet', () => report(path('broken.parquet')), 'broken.parquet'],
    [
      'baseline',
      'a file that is not Parquet',
      () => baseline(path('broken.parquet')),
      'broken.parquet: cannot be read',
    ],
    ['ingest', 'a file that is not Parquet', () => ingest(path('broken.parquet')), 'broken.parquet: cannot be read'],
    ['report', 'an unknown flag', () => [...report(path('current.csv')), '--colour'], "Unknown option '--colour'"],
    ['baseline', 'an unknown flag', () => baseline(path('training.csv'), '--colour'), "Unknown option '--colour'"],
    ['ingest', 'an unknown flag', () => ingest(path('training.csv'), '--colour'), "Unknown option '--colour'"],
    ['models', 'an unknown flag', () => ['models', '--colour'], "Unknown option '--colour'"],
    ['report', 'an unknown column', () => [...report(path('current.csv')), '--exclude', 'nope'], '--exclude nope'],
    [
      'baseline',
      'an unknown column',
      () => baseline(path('training.csv'), '--prediction', 'nope'),
      '--prediction nope: no such column',
    ],
    [
      'baseline',
      'an invalid model name',
      () => ['baseline', '--model', 'a b', '--version', 'v1', '--from', path('training.csv')],
      'Invalid model name "a b"',
    ],
    [
      'ingest',
      'an invalid model name',
      () => ['ingest', path('training.csv'), '--model', 'a b'],
      'Invalid model name "a b"',
    ],
    ['models', 'two stores at once', () => ['models', '--clickhouse', 'http://127.0.0.1:9'], 'Choose one store'],
    ['models', 'an invalid model name', () => ['models', 'delete', 'a;b', '--yes'], 'Invalid model name "a;b"'],
  ])('%s, %s: exit 2, a last line naming it, nothing on stdout', (command, _case, args, fragment) => {
    const run = mlmon([...args(), ...(command === 'report' ? [] : dataDir())]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trimEnd().split('\n'); // progress lines (baseline: "reading FILE"), then the error
    expect(lines.every((line) => line.startsWith(`mlmon ${command}: `))).toBe(true);
    expect(lines[lines.length - 1]).toContain(fragment);
  });

  it('exits 1 when the command ran but did not fully succeed', () => {
    const partly = mlmon([...ingest(path('partly-bad.csv')), ...dataDir()]);
    expect(partly.code).toBe(1);
    expect(partly.stderr).toContain('1 rows stored, 1 rejected');
    expect(partly.stderr).toContain('rejected row 2: no usable ts');
    const gated = mlmon([...report(path('current.csv')), '--fail-on', 'critical']);
    expect(gated.code).toBe(1);
    expect(gated.stdout).toContain('--fail-on critical: reached by income; exit code 1.');
  });

  it('lists the rule in mlmon help and in each command help', () => {
    const help = mlmon(['help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('2 usage or input error');
    for (const command of ['baseline', 'ingest', 'models', 'report']) {
      expect(mlmon([command, '--help']).stdout).toMatch(/Exit codes: 0 .*1 .*2 usage or input error/s);
    }
  });
});

test('mlmon --version prints the package version', () => {
  const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const run = mlmon(['--version']);
  expect(run).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
});

test('ingest --labels takes ts as optional, as the collector does: absent or empty means the time of loading', async () => {
  writeFileSync(path('labels-no-ts.csv'), 'id,label\nr1-0,1\nr1-1,0\n');
  writeFileSync(path('labels-some-ts.csv'), 'id,label,ts\nr1-2,1,\nr1-3,0,2026-03-01T00:00:00Z\nr1-4,1,soon\n');
  const before = Date.now();
  const noTs = mlmon(['ingest', path('labels-no-ts.csv'), '--labels', '--model', 'labelled', ...dataDir()]);
  expect(noTs.code).toBe(0);
  expect(noTs.stderr).toContain('done, 2 rows stored');
  const someTs = mlmon(['ingest', path('labels-some-ts.csv'), '--labels', '--model', 'labelled', ...dataDir()]);
  expect(someTs.code).toBe(1);
  expect(someTs.stderr).toContain('rejected row 3: ts "soon" is neither epoch milliseconds nor an ISO 8601 time');
  const after = Date.now();
  const store = await EmbeddedStore.open(path('data'));
  try {
    const rows = await store.query<{ id: string; ts: number }>(
      `SELECT id, ts FROM ${await store.labelsRelation('labelled')} ORDER BY id`
    );
    expect(rows.map((r) => r.id)).toEqual(['r1-0', 'r1-1', 'r1-2', 'r1-3']);
    for (const row of rows.filter((r) => r.id !== 'r1-3')) {
      expect(Number(row.ts)).toBeGreaterThanOrEqual(before);
      expect(Number(row.ts)).toBeLessThanOrEqual(after);
    }
    expect(Number(rows[3].ts)).toBe(Date.parse('2026-03-01T00:00:00Z'));
  } finally {
    await store.close();
  }
});

describe('mlmon baseline', () => {
  const create = (version: string, ...more: string[]) =>
    mlmon([
      'baseline',
      '--model',
      'credit_risk',
      '--version',
      version,
      '--from',
      path('training.csv'),
      ...more,
      ...dataDir(),
    ]);
  const show = async (version: string) => {
    const store = await EmbeddedStore.open(path('data'));
    try {
      return await store.getBaseline('credit_risk', version);
    } finally {
      await store.close();
    }
  };

  it('never takes id or ts for features, and stores a classifier with its AUC', async () => {
    const run = create('v1', '--prediction', 'approved', '--score', 'score', '--label', 'defaulted');
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(
      "stored baseline credit_risk v1: 400 rows, 3 features; not features: id (the record's id, not a feature), ts (the record's ts, not a feature)"
    );
    const baseline = (await show('v1'))!;
    expect(Object.keys(baseline.features)).toEqual(['income', 'age', 'region']);
    expect(baseline.skipped).toEqual({ id: "the record's id, not a feature", ts: "the record's ts, not a feature" });
    expect(baseline.performance).toMatchObject({ task: 'classification', averaging: 'binary', positiveLabel: '1' });
    expect(baseline.performance).toHaveProperty('auc', expect.any(Number));
  });

  it('refuses to replace a stored baseline unless --force', async () => {
    const stored = (await show('v1'))!;
    const again = create('v1', '--prediction', 'approved', '--label', 'defaulted');
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('model credit_risk already has a baseline v1 (400 rows from');
    expect(again.stderr).toContain('give a new --version, or --force to replace it');
    expect(await show('v1')).toEqual(stored);
    const forced = create('v1', '--prediction', 'approved', '--label', 'defaulted', '--force');
    expect(forced.code).toBe(0);
    const replaced = (await show('v1'))!;
    expect(replaced.createdAt).toBeGreaterThan(stored.createdAt);
    expect(replaced.performance).toHaveProperty('auc', null);
  });

  it('refuses a score given as the prediction of a classifier, saying what to give instead', async () => {
    const run = create('v2', '--prediction', 'score', '--label', 'defaulted');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      '--label defaulted holds the classes 0 and 1 but --prediction score holds fractions between 0 and 1: ' +
        'give the predicted class as --prediction and the positive-class score as --score score'
    );
    expect(await show('v2')).toBeUndefined();
    const regression = create('v2', '--prediction', 'score', '--label', 'defaulted', '--task', 'regression');
    expect(regression.code).toBe(0);
    expect((await show('v2'))!.performance).toMatchObject({ task: 'regression' });
  });

  it('baseline list: an unknown model is an error naming the models; a model without baselines says so', () => {
    const typo = mlmon(['baseline', 'list', '--model', 'credti_risk', ...dataDir()]);
    expect(typo.code).toBe(2);
    expect(typo.stdout).toBe('');
    expect(typo.stderr).toMatch(
      /^mlmon baseline: no model credti_risk in the embedded Parquet store at .*; the models are .*credit_risk/
    );
    const none = mlmon(['baseline', 'list', '--model', 'labelled', ...dataDir()]);
    expect(none.code).toBe(0);
    expect(none.stderr).toContain(
      "model labelled has no baseline yet; create one with 'mlmon baseline --model labelled"
    );
    const listed = mlmon(['baseline', 'list', '--model', 'credit_risk', '--format', 'json', ...dataDir()]);
    expect(
      JSON.parse(listed.stdout)
        .map((b: { version: string }) => b.version)
        .sort()
    ).toEqual(['v1', 'v2']);
  });
});

describe('mlmon models: a typo creates a model, which is listed and can be deleted', () => {
  it('lists the models with what each holds', () => {
    expect(
      mlmon(['ingest', path('training.csv'), '--model', 'credti_risk', '--version', 'v1', ...dataDir()]).code
    ).toBe(0);
    const run = mlmon(['models', 'list', '--format', 'json', ...dataDir()]);
    expect(run.code).toBe(0);
    const models = JSON.parse(run.stdout) as Array<{ model: string; predictions: number; baselines: string[] }>;
    expect(models.find((m) => m.model === 'credti_risk')).toEqual({
      model: 'credti_risk',
      predictions: 400,
      versions: ['v1'],
      firstTs: Date.parse('2026-01-01T00:00:00Z'),
      lastTs: Date.parse('2026-01-01T00:00:00Z') + 399 * 60_000,
      baselines: [],
    });
    expect(models.find((m) => m.model === 'credit_risk')?.baselines).toEqual(['v1', 'v2']);
    const table = mlmon(['models', ...dataDir()]);
    expect(table.stdout).toMatch(/^model\s+predictions\s+versions\s+first\s+last\s+baselines$/m);
    expect(table.stdout).toMatch(
      /^credti_risk\s+400\s+v1\s+2026-01-01T00:00:00.000Z\s+\S+\s+none: drift is not computed/m
    );
  });

  it('deletes a model only with --yes, and says what it deletes', async () => {
    const unconfirmed = mlmon(['models', 'delete', 'credti_risk', ...dataDir()]);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain(
      'this would delete model credti_risk: 400 predictions (versions v1), their labels, and baselines none, for good; run again with --yes'
    );
    const deleted = mlmon(['models', 'delete', 'credti_risk', '--yes', ...dataDir()]);
    expect(deleted.code).toBe(0);
    expect(deleted.stderr).toContain('deleted model credti_risk: 400 predictions');
    const store = await EmbeddedStore.open(path('data'));
    try {
      expect(await store.listModels()).not.toContain('credti_risk');
      expect((await store.listModels()).sort()).toEqual(['credit_risk', 'labelled', 'm']);
    } finally {
      await store.close();
    }
    const again = mlmon(['models', 'delete', 'credti_risk', '--yes', ...dataDir()]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(
      /no model credti_risk in the embedded Parquet store at .*; the models are credit_risk, labelled, m/
    );
  });
});

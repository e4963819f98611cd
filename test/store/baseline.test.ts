/**
 * Baselines: computed with the stats core, checked against numpy/scipy, stored and read back from both stores,
 * through the CLI from a file and from logged traffic.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binCountsSorted, meanAndStd, prepareNumeric, referenceEdges } from '../../src/core/stats';
import { computeBaseline, type DeclaredFeature, type ReferenceColumn } from '../../src/server/baseline/compute';
import { rocAuc } from '../../src/server/baseline/performance';
import { readReferenceFile } from '../../src/server/baseline/sources';
import { command as baselineCommand } from '../../src/server/cli/baseline';
import { ClickHouseStore } from '../../src/server/store/clickhouse';
import { EmbeddedStore } from '../../src/server/store/embedded';
import type { Baseline, NumericReference, PredictionStore } from '../../src/server/store/types';
import { startClickHouse, type ClickHouseHandle } from '../support/clickhouse';
import { findPythonWithScipy, runPython } from '../support/python';

/** Deterministic uniform numbers in [0, 1) (a 32-bit LCG), so the test data is the same on every run. */
function uniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Reference data: 1 500 rows; age with missing values and ties, a skewed income, a city, a binary classifier. */
function referenceData() {
  const next = uniform(7);
  const rows = Array.from({ length: 1500 }, (_, i) => {
    const age = i % 37 === 0 ? null : Math.round(20 + 50 * next());
    const score = Math.round(next() * 1000) / 1000;
    return {
      id: `ref-${i}`,
      age,
      income: Math.round(Math.exp(8 + 2 * next())),
      city: ['paris', 'oslo', 'rome', 'lima'][Math.floor(next() * next() * 4)],
      score,
      pred: score > 0.5 ? 1 : 0,
      label: next() < score ? 1 : 0,
    };
  });
  return rows;
}

function toCsv(rows: Array<Record<string, unknown>>): string {
  const header = Object.keys(rows[0]);
  return (
    [header.join(','), ...rows.map((r) => header.map((h) => (r[h] === null ? '' : String(r[h]))).join(','))].join(
      '\n'
    ) + '\n'
  );
}

let dir: string;
let clickhouse: ClickHouseHandle;
let csvPath: string;
const data = referenceData();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlmon-baseline-'));
  csvPath = join(dir, 'reference.csv');
  await writeFile(csvPath, toCsv(data));
  clickhouse = await startClickHouse();
});

afterAll(async () => {
  await clickhouse?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function fileBaseline(): Promise<Baseline> {
  return computeBaseline({
    model: 'churn',
    version: 'v1',
    source: csvPath,
    columns: await readReferenceFile(csvPath),
    predictionColumn: 'pred',
    labelColumn: 'label',
    scoreColumn: 'score',
    exclude: ['id'],
    createdAt: 1_700_000_000_000,
  });
}

test('numbers come from the stats core and match numpy/scipy on the same data', async () => {
  const baseline = await fileBaseline();
  expect(Object.keys(baseline.features).sort()).toEqual(['age', 'city', 'income']);
  const age = baseline.features.age as NumericReference;
  const ages = prepareNumeric(data.map((r) => r.age));
  expect(age.edges).toEqual(referenceEdges(ages.sorted, 10));
  expect(age.counts).toEqual(binCountsSorted(age.edges, ages.sorted));
  expect(age.missing).toBe(data.filter((r) => r.age === null).length);
  expect(age.proportions.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  expect(age.mean).toBe(meanAndStd(ages.sorted).mean);
  expect(age.sketch.quantiles).toHaveLength(1001);
  expect(age.ksCdfError).toBeCloseTo(1 / 1000 + 1 / ages.sorted.length, 15);
  const city = baseline.features.city;
  expect(city.kind).toBe('categorical');
  expect(baseline.prediction?.kind).toBe('numeric');
  expect(baseline.performance?.task).toBe('classification');

  const python = findPythonWithScipy();
  const script = join(dir, 'reference.py');
  await writeFile(
    script,
    `import sys, json, numpy as np
from scipy.stats import mannwhitneyu
d = json.load(open(sys.argv[1]))
age = np.array([a for a in d['age'] if a is not None], dtype=float)
inc = np.array(d['income'], dtype=float)
y = np.array(d['label']); p = np.array(d['pred']); s = np.array(d['score'])
tp = int(((p == 1) & (y == 1)).sum()); fp = int(((p == 1) & (y == 0)).sum()); fn = int(((p == 0) & (y == 1)).sum())
u = mannwhitneyu(s[y == 1], s[y == 0]).statistic
prec = tp / (tp + fp); rec = tp / (tp + fn)
print(json.dumps({
  'age_deciles': np.quantile(age, np.arange(1, 10) / 10).tolist(),
  'income_deciles': np.quantile(inc, np.arange(1, 10) / 10).tolist(),
  'age_quantiles': np.quantile(age, np.arange(1001) / 1000).tolist(),
  'age_mean': age.mean(), 'age_std': age.std(ddof=0), 'income_std': inc.std(ddof=0),
  'accuracy': float((p == y).mean()), 'precision': prec, 'recall': rec, 'f1': 2 * prec * rec / (prec + rec),
  'auc': float(u / ((y == 1).sum() * (y == 0).sum())),
}))`
  );
  const input = join(dir, 'data.json');
  await writeFile(
    input,
    JSON.stringify({
      age: data.map((r) => r.age),
      income: data.map((r) => r.income),
      label: data.map((r) => r.label),
      pred: data.map((r) => r.pred),
      score: data.map((r) => r.score),
    })
  );
  const expected = JSON.parse(runPython(python, script, [input]));
  const unique = (xs: number[]) => xs.filter((x, i) => i === 0 || x !== xs[i - 1]);
  expect(age.edges).toEqual(unique(expected.age_deciles).map((x: number) => expect.closeTo(x, 9)));
  expect((baseline.features.income as NumericReference).edges).toEqual(
    unique(expected.income_deciles).map((x: number) => expect.closeTo(x, 6))
  );
  expect(age.sketch.quantiles).toEqual(expected.age_quantiles.map((x: number) => expect.closeTo(x, 9)));
  expect(age.mean).toBeCloseTo(expected.age_mean, 10);
  expect(age.std).toBeCloseTo(expected.age_std, 10);
  expect((baseline.features.income as NumericReference).std).toBeCloseTo(expected.income_std, 6);
  const performance = baseline.performance!;
  if (performance.task !== 'classification') {
    throw new Error('expected a classifier');
  }
  expect(performance.accuracy).toBeCloseTo(expected.accuracy, 12);
  expect(performance.precision).toBeCloseTo(expected.precision, 12);
  expect(performance.recall).toBeCloseTo(expected.recall, 12);
  expect(performance.f1).toBeCloseTo(expected.f1, 12);
  expect(performance.auc).toBeCloseTo(expected.auc, 12);
});

test('regression performance and tied AUC follow their definitions', () => {
  const columns: ReferenceColumn[] = [
    { name: 'x', kind: 'numeric', values: [1, 2, 3, 4] },
    { name: 'yhat', kind: 'numeric', values: [2, 2, 5, 0.5] },
    { name: 'y', kind: 'numeric', values: [1, 2, 4, 0] },
  ];
  const baseline = computeBaseline({
    model: 'reg',
    version: 'v1',
    source: 'inline',
    columns,
    predictionColumn: 'yhat',
    labelColumn: 'y',
  });
  // errors 1, 0, 1, 0.5 → MAE 0.625, RMSE √(2.25/4) = 0.75, MAPE over y≠0: (1 + 0 + 0.25)/3
  expect(baseline.performance).toEqual({ task: 'regression', mae: 0.625, rmse: 0.75, mape: 1.25 / 3, count: 4 });
  // positives score 0.8, 0.5; negatives 0.5, 0.1 → pairs: (0.8>0.5) 1, (0.8>0.1) 1, (0.5=0.5) ½, (0.5>0.1) 1 → 3.5/4
  expect(rocAuc([true, true, false, false], [0.8, 0.5, 0.5, 0.1])).toBe(0.875);
  expect(rocAuc([true, true], [0.1, 0.2])).toBeNull();
});

test('declared ranges and categories are kept beside the observed ones; misfits are errors', () => {
  const columns: ReferenceColumn[] = [
    { name: 'age', kind: 'numeric', values: [30, 40, 50] },
    { name: 'plan', kind: 'categorical', values: ['free', 'pro', 'pro'] },
  ];
  const make = (declared: Record<string, DeclaredFeature>) =>
    computeBaseline({ model: 'm', version: 'v1', source: 'inline', columns, declared });
  const baseline = make({ age: { min: 0, max: 120 }, plan: { categories: ['free', 'pro', 'team'] } });
  expect(baseline.features.age).toMatchObject({ min: 30, max: 50, declaredMin: 0, declaredMax: 120 });
  expect(baseline.features.plan).toMatchObject({
    proportions: { free: 1 / 3, pro: 2 / 3 },
    declaredCategories: ['free', 'pro', 'team'],
  });
  expect(() => make({ height: { min: 0 } })).toThrow(
    'Declared feature "height" is not a feature of the reference (age, plan)'
  );
  expect(() => make({ plan: { min: 0 } })).toThrow('Declaration of plan does not fit its kind categorical');
  expect(() => make({ age: { min: 5, max: 1 } })).toThrow('Declared range of age is empty');
});

const stores: Array<{ name: string; open: () => Promise<PredictionStore> }> = [
  { name: 'embedded', open: () => EmbeddedStore.open(join(dir, 'store')) },
  { name: 'clickhouse', open: () => ClickHouseStore.open({ url: clickhouse.url, database: clickhouse.database }) },
];

describe.each(stores)('$name store', ({ name, open }) => {
  test('a baseline round-trips unchanged', async () => {
    const store = await open();
    try {
      const baseline = await fileBaseline();
      await store.saveBaseline(baseline);
      expect(await store.getBaseline('churn', 'v1')).toEqual(baseline);
    } finally {
      await store.close();
    }
  });

  test('the CLI stores a baseline from a file and shows it', async () => {
    const flags =
      name === 'embedded'
        ? ['--data-dir', join(dir, 'cli-store')]
        : ['--clickhouse', clickhouse.url, '--clickhouse-database', clickhouse.database];
    const stdout: string[] = [];
    const stderr: string[] = [];
    const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => (stdout.push(String(chunk)), true));
    const err = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => (stderr.push(String(chunk)), true));
    try {
      const create = [
        '--model',
        'churn',
        '--version',
        'v7',
        '--from',
        csvPath,
        '--prediction',
        'pred',
        '--label',
        'label',
        '--score',
        'score',
        '--exclude',
        'id',
      ];
      expect(await baselineCommand.run([...create, ...flags])).toBe(0);
      expect(stderr.join('')).toContain('stored baseline churn v7: 1500 rows, 3 features');
      expect(
        await baselineCommand.run(['show', '--model', 'churn', '--version', 'v7', '--format', 'json', ...flags])
      ).toBe(0);
      const shown = JSON.parse(stdout.join('')) as Baseline;
      const expected = await fileBaseline();
      expect({ ...shown, createdAt: 0, version: 'v1' }).toEqual({ ...expected, createdAt: 0 });
      stdout.length = 0;
      expect(await baselineCommand.run(['list', '--model', 'churn', ...flags])).toBe(0);
      expect(stdout.join('')).toMatch(/^version\s+created\s+rows\s+features\s+source\n(.*\n)*v7\s+\S+\s+1500\s+3\s+/);
      stdout.length = 0;
      expect(await baselineCommand.run(['show', '--model', 'churn', '--version', 'v8', ...flags])).toBe(2);
      expect(stderr.join('')).toContain('no baseline for model churn version v8');
      expect(await baselineCommand.run(['--model', 'bad;name', '--version', 'v1', '--from', csvPath, ...flags])).toBe(
        2
      );
      expect(stderr.join('')).toContain('Invalid model name "bad;name"');
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  });

  test('a baseline taken from logged traffic equals one computed on the same values', async () => {
    const store = await open();
    const t0 = Date.parse('2024-06-01T00:00:00Z');
    try {
      const logged = data.slice(0, 600);
      await store.writePredictions(
        'traffic',
        logged.map((r, i) => ({
          id: r.id,
          ts: t0 + i * 60_000,
          version: 'v1',
          features: { age: r.age, income: r.income, city: r.city },
          prediction: r.pred,
          score: r.score,
          samplingRate: 1,
        }))
      );
      await store.writeLabels(
        'traffic',
        logged.slice(0, 400).map((r, i) => ({ id: r.id, label: r.label, ts: t0 + 40 * 86_400_000 + i }))
      );
      const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
      const flags =
        name === 'embedded'
          ? ['--data-dir', join(dir, 'store')]
          : ['--clickhouse', clickhouse.url, '--clickhouse-database', clickhouse.database];
      try {
        const argv = [
          '--model',
          'traffic',
          '--version',
          'v1',
          '--from-store',
          '--start',
          '2024-06-01T00:00:00Z',
          '--end',
          '2024-06-01T05:00:00Z',
        ];
        expect(await baselineCommand.run([...argv, ...flags])).toBe(0);
      } finally {
        stderr.mockRestore();
      }
      const stored = (await store.getBaseline('traffic', 'v1'))!;
      const window = logged.slice(0, 300); // 5 hours of one row per minute
      const expected = computeBaseline({
        model: 'traffic',
        version: 'v1',
        source: stored.source,
        createdAt: stored.createdAt,
        columns: [
          { name: 'age', kind: 'numeric', values: window.map((r) => r.age) },
          { name: 'income', kind: 'numeric', values: window.map((r) => r.income) },
          { name: 'city', kind: 'categorical', values: window.map((r) => r.city) },
          { name: 'prediction', kind: 'numeric', values: window.map((r) => r.pred) },
          { name: 'label', kind: 'numeric', values: window.map((r) => r.label) },
          { name: 'score', kind: 'numeric', values: window.map((r) => r.score) },
        ],
        predictionColumn: 'prediction',
        labelColumn: 'label',
        scoreColumn: 'score',
      });
      expect(stored).toEqual(expected);
      expect(stored.source).toBe('store:2024-06-01T00:00:00.000Z/2024-06-01T05:00:00.000Z');
      expect(stored.performance?.count).toBe(300);
    } finally {
      await store.close();
    }
  });
});

/**
 * End to end: the real `mlmon report` (node bin/mlmon.js) on CSV and Parquet files written by the test, checked
 * against the statistics core on the same values and against scipy (bench/report/reference_report.py).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import {
  compareCategorical,
  compareNumeric,
  datasetDrift,
  prepareCategorical,
  prepareNumeric,
  type FeatureComparison,
} from '../../src/core/stats';
import { findPythonWithScipy, runPython } from '../support/python';
import type { FeatureReport, ReportJson } from '../../src/server/cli/report-model';

const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, 'bin/mlmon.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI; NO_COLOR is left unset so that only the pipe (not a TTY) keeps colour out. */
function mlmon(...args: string[]): Promise<Run> {
  const env = { ...process.env };
  delete env.NO_COLOR;
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLI, 'report', ...args],
      { cwd: ROOT, env, timeout: 60000, maxBuffer: 1 << 24 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      }
    );
  });
}

/** Deterministic uniform numbers in [0, 1) (mulberry32), so the data and the expected numbers never change. */
function uniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Cell = number | string | boolean | null;
type Table = Record<string, Cell[]>;

function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

function pick<T>(random: () => number, items: readonly T[], weights: readonly number[]): T {
  let u = random() * weights.reduce((a, b) => a + b, 0);
  for (const [index, weight] of weights.entries()) {
    u -= weight;
    if (u < 0) {
      return items[index];
    }
  }
  return items[items.length - 1];
}

/** Reference or current data: `drift` shifts income, changes the city mix (new 'e', no 'd') and member share. */
function makeTable(rows: number, seed: number, drift: boolean, extra: string): Table {
  const random = uniform(seed);
  const table: Table = { age: [], income: [], score: [], city: [], member: [], code: [], [extra]: [] };
  for (let i = 0; i < rows; i++) {
    table.age.push(Math.round(40 + 10 * normal(random)));
    const income = Math.exp(10 + 0.5 * normal(random)) * (drift ? 1.3 : 1);
    table.income.push(random() < 0.03 ? null : Number(income.toFixed(2)));
    table.score.push(Number(normal(random).toFixed(6)));
    table.city.push(
      drift ? pick(random, ['a', 'b', 'c', 'e'], [4, 3, 2, 1]) : pick(random, ['a', 'b', 'c', 'd'], [4, 3, 2, 1])
    );
    table.member.push(random() < (drift ? 0.5 : 0.3));
    table.code.push(1 + Math.floor(random() * 5));
    table[extra].push(Number(random().toFixed(4)));
  }
  return table;
}

function csvText(table: Table): string {
  const names = Object.keys(table);
  const lines = [names.join(',')];
  for (let i = 0; i < table[names[0]].length; i++) {
    lines.push(names.map((name) => (table[name][i] === null ? '' : String(table[name][i]))).join(','));
  }
  return lines.join('\n') + '\n';
}

/** The core's comparison of one column, as `mlmon report` should print it. */
function expectedFeature(
  name: string,
  kind: 'numeric' | 'categorical',
  reference: Table,
  current: Table,
  bins = 10
): FeatureComparison {
  return kind === 'numeric'
    ? compareNumeric(prepareNumeric(reference[name] as number[]), prepareNumeric(current[name] as number[]), { bins })
    : compareCategorical(prepareCategorical(reference[name]), prepareCategorical(current[name]));
}

function withoutName({ name, ...rest }: FeatureReport): Omit<FeatureReport, 'name'> {
  expect(typeof name).toBe('string');
  return rest;
}

const oneLine = (text: string) => text.trimEnd().split('\n').length === 1;

describe('mlmon report (end to end)', () => {
  // Created when the suite is defined, so that the bad-input cases below can name their paths.
  const dir = mkdtempSync(join(tmpdir(), 'mlmon-report-'));
  let reference: Table;
  let current: Table;
  const path = (name: string) => join(dir, name);

  beforeAll(async () => {
    reference = makeTable(3000, 1, false, 'ref_only');
    current = makeTable(2500, 2, true, 'cur_only');
    writeFileSync(path('ref.csv'), csvText(reference));
    writeFileSync(path('cur.csv'), csvText(current));
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    for (const name of ['ref', 'cur']) {
      await connection.run(
        `COPY (SELECT * FROM read_csv('${path(`${name}.csv`)}')) TO '${path(`${name}.parquet`)}' (FORMAT parquet)`
      );
    }
    connection.closeSync();
    instance.closeSync();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describe('--format json', () => {
    let csvRun: Run;
    let report: ReportJson;
    beforeAll(async () => {
      csvRun = await mlmon('--reference', path('ref.csv'), '--current', path('cur.csv'), '--format', 'json');
      report = JSON.parse(csvRun.stdout);
    });

    it('prints exactly the documented shape', () => {
      expect(csvRun.code).toBe(0);
      expect(Object.keys(report)).toEqual(['convention', 'reference', 'current', 'features', 'dataset']);
      expect(report.convention).toBe('reference-deciles');
      expect(report.reference).toEqual({ rows: 3000 });
      expect(report.current).toEqual({ rows: 2500 });
      expect(Object.keys(report.dataset)).toEqual(['driftedShare', 'drifting']);
      expect(report.features.map((f) => [f.name, f.kind])).toEqual([
        ['age', 'numeric'],
        ['income', 'numeric'],
        ['score', 'numeric'],
        ['city', 'categorical'],
        ['member', 'categorical'],
        ['code', 'numeric'],
      ]);
      for (const feature of report.features) {
        expect(Object.keys(feature)).toEqual([
          'name',
          'kind',
          'reference',
          'current',
          'metrics',
          'noiseFloor',
          'severity',
        ]);
        expect(Object.keys(feature.reference)).toEqual(['count', 'missing']);
        expect(Object.keys(feature.current)).toEqual(['count', 'missing']);
        expect(['ok', 'info', 'warning', 'critical', 'insufficient_data']).toContain(feature.severity);
        const specific = feature.kind === 'numeric' ? ['ks', 'wasserstein'] : ['chiSquare'];
        expect(Object.keys(feature.metrics)).toEqual(['psi', 'jsDistance', 'hellinger', 'lInf', ...specific]);
        expect(Object.keys(feature.metrics.ks ?? { statistic: 0, pValue: 0 })).toEqual(['statistic', 'pValue']);
        expect(Object.keys(feature.metrics.wasserstein ?? { normalized: 0 })).toEqual(['normalized']);
        expect(Object.keys(feature.metrics.chiSquare ?? { statistic: 0, pValue: 0, dof: 0 })).toEqual([
          'statistic',
          'pValue',
          'dof',
        ]);
        for (const value of Object.values(feature.noiseFloor)) {
          expect(Number.isFinite(value)).toBe(true);
        }
      }
    });

    it('counts missing cells and says which columns were not compared', () => {
      const income = report.features.find((f) => f.name === 'income')!;
      const missing = reference.income.filter((v) => v === null).length;
      expect(missing).toBeGreaterThan(50);
      expect(income.reference).toEqual({ count: 3000 - missing, missing });
      expect(csvRun.stderr).toContain(`not compared: ref_only: only in ${path('ref.csv')}`);
      expect(csvRun.stderr).toContain(`not compared: cur_only: only in ${path('cur.csv')}`);
    });

    it('gives the numbers of the statistics core on the same values', () => {
      for (const feature of report.features) {
        expect(withoutName(feature)).toEqual(expectedFeature(feature.name, feature.kind, reference, current));
      }
      expect(report.dataset).toEqual(datasetDrift(report.features.map((f) => f.severity)));
      expect(report.features.find((f) => f.name === 'income')!.severity).toBe('critical');
      expect(report.features.find((f) => f.name === 'score')!.severity).toBe('ok');
    });

    it('reads Parquet to the same report as CSV', async () => {
      const parquetRun = await mlmon(
        '--reference',
        path('ref.parquet'),
        '--current',
        path('cur.parquet'),
        '--format',
        'json'
      );
      expect(parquetRun.code).toBe(0);
      expect(JSON.parse(parquetRun.stdout)).toEqual(report);
    });

    it('agrees with numpy/scipy on the numeric features (KS, Wasserstein, binned distances)', () => {
      const python = findPythonWithScipy();
      const script = join(ROOT, 'bench/report/reference_report.py');
      const scipy = JSON.parse(runPython(python, script, [path('ref.csv'), path('cur.csv')]));
      const numeric = report.features.filter((f) => f.kind === 'numeric');
      expect(Object.keys(scipy)).toEqual(numeric.map((f) => f.name));
      for (const feature of numeric) {
        const expected = scipy[feature.name];
        expect(feature.metrics.ks!.statistic).toBeCloseTo(expected.ks.statistic, 12);
        expect(Math.abs(feature.metrics.ks!.pValue - expected.ks.pValue)).toBeLessThanOrEqual(
          0.002 + 0.05 * expected.ks.pValue
        );
        expect(feature.metrics.wasserstein!.normalized).toBeCloseTo(expected.wasserstein.normalized, 10);
        for (const metric of ['psi', 'jsDistance', 'hellinger', 'lInf'] as const) {
          expect(feature.metrics[metric]).toBeCloseTo(expected[metric], 10);
        }
      }
    });
  });

  it('applies --categorical, --numeric and --bins', async () => {
    const run = await mlmon(
      '--reference',
      path('ref.csv'),
      '--current',
      path('cur.csv'),
      '--format',
      'json',
      '--categorical',
      'code',
      '--bins',
      '5'
    );
    expect(run.code).toBe(0);
    const report: ReportJson = JSON.parse(run.stdout);
    const code = report.features.find((f) => f.name === 'code')!;
    expect(code.kind).toBe('categorical');
    expect(code.metrics.chiSquare!.dof).toBe(4);
    expect(withoutName(code)).toEqual(expectedFeature('code', 'categorical', reference, current));
    const age = report.features.find((f) => f.name === 'age')!;
    expect(withoutName(age)).toEqual(expectedFeature('age', 'numeric', reference, current, 5));
    expect(age.metrics.psi).not.toBe(expectedFeature('age', 'numeric', reference, current, 10).metrics.psi);

    const text = await mlmon(
      '--reference',
      path('ref.csv'),
      '--current',
      path('cur.csv'),
      '--format',
      'json',
      '--numeric',
      'member'
    );
    const member = (JSON.parse(text.stdout) as ReportJson).features.find((f) => f.name === 'member')!;
    expect(member.kind).toBe('numeric');
    const asNumbers = (table: Table) => prepareNumeric(table.member.map((v) => (v ? 1 : 0)));
    expect(withoutName(member)).toEqual(compareNumeric(asNumbers(reference), asNumbers(current)));
  });

  it('exits 1 with --fail-on when a feature reaches the level, else 0', async () => {
    const [drifted, same, critical] = await Promise.all([
      mlmon('--reference', path('ref.csv'), '--current', path('cur.csv'), '--fail-on', 'warning'),
      mlmon('--reference', path('ref.csv'), '--current', path('ref.parquet'), '--fail-on', 'warning'),
      mlmon('--reference', path('ref.csv'), '--current', path('cur.csv'), '--fail-on', 'critical', '--format', 'json'),
    ]);
    expect(drifted.code).toBe(1);
    expect(drifted.stdout).toContain('income');
    expect(same.code).toBe(0);
    expect(critical.code).toBe(1);
    expect((JSON.parse(critical.stdout) as ReportJson).features.some((f) => f.severity === 'critical')).toBe(true);
  });

  it('prints a readable, aligned table without colour when stdout is not a terminal', async () => {
    const run = await mlmon('--reference', path('ref.csv'), '--current', path('cur.csv'));
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(/\x1b\[/);
    const lines = run.stdout.split('\n');
    const headerIndex = lines.findIndex((line) => line.startsWith('feature'));
    const header = lines[headerIndex];
    const rows = lines.slice(headerIndex + 1, headerIndex + 7);
    expect(rows.map((row) => row.split(/\s+/)[0])).toEqual(['age', 'income', 'score', 'city', 'member', 'code']);
    const severityAt = header.indexOf('severity');
    const psiEnd = header.indexOf('PSI') + 'PSI'.length;
    for (const row of rows) {
      expect(row.slice(severityAt).split(' ')[0]).toMatch(/^(ok|info|warning|critical|insufficient_data)$/);
      expect(row[psiEnd - 1]).toMatch(/\d/); // numbers are right-aligned under their header
    }
    expect(run.stdout).toMatch(/^Features: \d+ critical \(income[ ,a-z_]*\)(, .*)?\.$/m);
    expect(run.stdout).toMatch(
      /^Dataset: \d of 6 rated features \(\d+\.\d%\) at warning or above, (at or above|below) the 50% share at which METRICS\.md calls a dataset drifting: (the dataset is DRIFTING|no dataset-wide drift, but .*income.* critical)\.$/m
    );
    expect(run.stdout).toContain(`ref_only: only in ${path('ref.csv')}`);
  });

  it('prints usage for --help', async () => {
    const run = await mlmon('--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: mlmon report --reference FILE --current FILE');
    expect(run.stdout).toContain('--fail-on warning|critical');
  });

  describe('bad input: exit 2 and one line on stderr naming the file and the column', () => {
    beforeAll(() => {
      writeFileSync(path('p.csv'), 'p\n1\n2\n');
      writeFileSync(path('q.csv'), 'q\n1\n2\n');
      writeFileSync(path('empty_score.csv'), csvText({ ...current, score: current.score.map(() => null) }));
      const late = [...current.age];
      late[2400] = 'unknown';
      writeFileSync(path('late_word.csv'), csvText({ ...current, age: late }));
    });

    it.each([
      [
        'a missing file',
        ['--reference', path('ref.csv'), '--current', path('nope.csv')],
        [path('nope.csv'), 'no such file'],
      ],
      [
        'no shared columns',
        ['--reference', path('p.csv'), '--current', path('q.csv')],
        [path('p.csv'), path('q.csv'), 'no column to compare'],
      ],
      [
        'a column that is all missing',
        ['--reference', path('ref.csv'), '--current', path('empty_score.csv')],
        [path('empty_score.csv'), '"score"', 'all 2500 cells are missing'],
      ],
      [
        'a non-numeric value in a column forced numeric',
        ['--reference', path('ref.csv'), '--current', path('cur.csv'), '--numeric', 'city'],
        [path('ref.csv'), '"city"', 'is not a number', 'remove city from --numeric'],
      ],
      [
        'a word in a number column after DuckDB’s type sample',
        ['--reference', path('ref.csv'), '--current', path('late_word.csv')],
        [path('late_word.csv'), '"age" row 2401: "unknown" is not a number', '--categorical age'],
      ],
      [
        'an override naming an absent column',
        ['--reference', path('ref.csv'), '--current', path('cur.csv'), '--categorical', 'ref_only'],
        [path('cur.csv'), '"ref_only"'],
      ],
      ['--bins 1', ['--reference', path('ref.csv'), '--current', path('cur.csv'), '--bins', '1'], ['--bins 1']],
      [
        '--format xml',
        ['--reference', path('ref.csv'), '--current', path('cur.csv'), '--format', 'xml'],
        ['--format xml'],
      ],
    ])('%s', async (_case, args, fragments) => {
      const run = await mlmon(...args);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(oneLine(run.stderr)).toBe(true);
      expect(run.stderr.startsWith('mlmon report: ')).toBe(true);
      for (const fragment of fragments) {
        expect(run.stderr).toContain(fragment);
      }
    });
  });
});

import { datasetDrift } from '../../core/stats';
import { formatMetric, renderTable } from './report-table';
import type { FeatureReport, ReportResult } from './report-model';
import { terminalProgress } from './progress';

function feature(name: string, severity: FeatureReport['severity'], kind: FeatureReport['kind']): FeatureReport {
  const numeric = { ks: { statistic: 0.1234567, pValue: 1e-9 }, wasserstein: { normalized: 0.25 } };
  const categorical = { chiSquare: { statistic: 12.5, pValue: 0.0123, dof: 3 } };
  return {
    name,
    kind,
    reference: { count: 1_000_000, missing: 12 },
    current: { count: 900, missing: 0 },
    metrics: {
      psi: 0.21,
      jsDistance: 0.1,
      hellinger: 0.09,
      lInf: 0.05,
      ...(kind === 'numeric' ? numeric : categorical),
    },
    noiseFloor: { psi: 0.0123 },
    severity,
  };
}

const result: ReportResult = {
  json: {
    convention: 'reference-deciles',
    reference: { rows: 1_000_012 },
    current: { rows: 900 },
    features: [feature('a_long_feature_name', 'critical', 'numeric'), feature('city', 'ok', 'categorical')],
    dataset: { driftedShare: 0.5, drifting: true },
  },
  skipped: [{ name: 'extra', reason: 'only in cur.csv' }],
  referencePath: 'ref.csv',
  currentPath: 'cur.csv',
  bins: 10,
};

const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '');

describe('renderTable', () => {
  it('aligns every column and lists the dataset verdict and skipped columns', () => {
    const lines = renderTable(result, false).split('\n');
    expect(lines[0]).toBe(
      'Reference ref.csv (1,000,012 rows) vs current cur.csv (900 rows); convention reference-deciles, 10 bins'
    );
    const [header, first, second] = lines.slice(2, 5);
    for (const label of ['kind', 'severity', 'test']) {
      expect(first.indexOf(first.slice(header.indexOf(label)).trim().split(/\s+/)[0])).toBe(header.indexOf(label));
      expect(second.indexOf(second.slice(header.indexOf(label)).trim().split(/\s+/)[0])).toBe(header.indexOf(label));
    }
    expect(first).toContain('KS D=0.1235 p=1.0e-9');
    expect(second).toContain('chi2=12.5 dof=3 p=0.0123');
    expect(first).toContain('1,000,000 (12)');
    expect(lines).toContain('Features: 1 critical (a_long_feature_name), 1 ok.');
    expect(lines).toContain(
      'Dataset: 1 of 2 rated features (50.0%) at warning or above, at or above the 50% share at which METRICS.md ' +
        'calls a dataset drifting: the dataset is DRIFTING.'
    );
    expect(lines).toContain('Not compared:');
    expect(lines).toContain('  extra: only in cur.csv');
  });

  it('never says "not drifting" without the critical features beside it, and says why --fail-on exits 1', () => {
    const features = [
      feature('income', 'critical', 'numeric'),
      feature('city', 'critical', 'categorical'),
      feature('age', 'warning', 'numeric'),
      ...['a', 'b', 'c', 'd', 'e', 'f'].map((name) => feature(name, 'ok', 'numeric')),
      feature('tiny', 'insufficient_data', 'numeric'),
    ];
    const severities = features.map((f) => f.severity);
    const notDrifting: ReportResult = {
      ...result,
      json: { ...result.json, features, dataset: datasetDrift(severities) },
      failOn: 'critical',
    };
    expect(notDrifting.json.dataset.drifting).toBe(false);
    const lines = renderTable(notDrifting, false).split('\n');
    expect(lines).toContain(
      'Features: 2 critical (income and city), 1 warning (age), 6 ok, 1 with insufficient data (tiny).'
    );
    expect(lines).toContain(
      'Dataset: 3 of 9 rated features (33.3%) at warning or above, below the 50% share at which METRICS.md calls ' +
        'a dataset drifting: no dataset-wide drift, but income and city are critical.'
    );
    expect(lines).toContain('--fail-on critical: reached by income and city; exit code 1.');
    const quiet = features.map((f) => ({ ...f, severity: 'ok' as const }));
    const calm = renderTable(
      {
        ...notDrifting,
        json: { ...notDrifting.json, features: quiet, dataset: datasetDrift(quiet.map((f) => f.severity)) },
      },
      false
    );
    expect(calm).toContain('Dataset: 0 of 10 rated features (0.0%) at warning or above: no drift.');
    expect(calm).toContain('--fail-on critical: not reached; exit code 0.');
  });

  it('colours only the severity, without moving any column', () => {
    const coloured = renderTable(result, true);
    expect(coloured).toContain('\x1b[1;31mcritical');
    expect(coloured).toContain('\x1b[32mok      ');
    expect(stripAnsi(coloured)).toBe(renderTable(result, false));
  });
});

describe('formatMetric', () => {
  it('rounds to 4 significant digits, uses exponents for tiny values and a dash for none', () => {
    expect(formatMetric(0.123456)).toBe('0.1235');
    expect(formatMetric(12345.6)).toBe('12350');
    expect(formatMetric(0)).toBe('0');
    expect(formatMetric(3.2e-7)).toBe('3.2e-7');
    expect(formatMetric(undefined)).toBe('-');
    expect(formatMetric(NaN)).toBe('-');
  });
});

describe('terminalProgress', () => {
  it('rewrites one stderr line on a terminal and clears it at the end', () => {
    const written: string[] = [];
    const stream = {
      isTTY: true,
      columns: 20,
      write: (text: string) => written.push(text),
    } as unknown as NodeJS.WriteStream;
    const progress = terminalProgress(stream);
    progress.update('comparing 1/20: a_very_long_feature_name');
    progress.done();
    expect(written).toEqual(['\r\x1b[Kcomparing 1/20: a_v', '\r\x1b[K']);
  });

  it('writes nothing when stderr is not a terminal', () => {
    const written: string[] = [];
    const stream = { isTTY: false, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream;
    const progress = terminalProgress(stream);
    progress.update('x');
    progress.done();
    expect(written).toEqual([]);
  });
});

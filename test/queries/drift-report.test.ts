/**
 * The numbers of `drift` and `distribution` equal those of `mlmon report` on the same rows: the window's rows are read back from the
 * embedded store (the relation the handler counts) and the baseline's reference rows are written to CSV files, and
 * the real CLI (node bin/mlmon.js report --format json) compares them. The handler bins against the stored baseline
 * built from the same reference rows, so the binned metrics (PSI, JS, Hellinger, L∞, chi-square and their floors)
 * must agree to 1e-12; KS and Wasserstein come from the baseline's quantile sketch and must lie within the bound the
 * handler states (meta.custom.maxError) of the report's exact values.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FeatureReport, ReportJson } from '../../src/server/cli/report-model';
import { createInstance, type DatasourceInstance } from '../../src/server/backend/instances';
import { openStore } from '../../src/server/backend/openStore';
import { localInstanceSettings, parseSettings } from '../../src/server/backend/settings';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { readDistributionFrame } from '../../src/core/query/frames';
import { driftFixture, MODEL, numbers, RANGE, runQuery } from '../support/drift-family';

const ROOT = resolve(__dirname, '../..');
let dir: string;
let instance: DatasourceInstance;
let report: ReportJson;

function csv(header: string[], rows: Array<Array<number | string | null>>): string {
  return [
    header.join(','),
    ...rows.map((row) => row.map((cell) => (cell === null ? '' : String(cell))).join(',')),
  ].join('\n');
}

function mlmonReport(reference: string, current: string): Promise<string> {
  return new Promise((done, fail) =>
    execFile(
      process.execPath,
      [join(ROOT, 'bin/mlmon.js'), 'report', '--reference', reference, '--current', current, '--format', 'json'],
      { cwd: ROOT, timeout: 60_000, maxBuffer: 1 << 24 },
      (error, stdout, stderr) => (error ? fail(new Error(`mlmon report failed: ${stderr}`)) : done(stdout))
    )
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlmon-drift-report-'));
  const fixture = driftFixture();
  const store = await EmbeddedStore.open(join(dir, 'store'));
  await store.writePredictions(MODEL, fixture.records);
  await store.saveBaseline(fixture.baseline);
  const window = await store.query<{ amount: number | null; region: string | null }>(
    `SELECT f_amount AS amount, f_region AS region FROM ${await store.predictionsRelation(MODEL, RANGE)} ORDER BY id`
  );
  await store.close();
  expect(window).toHaveLength(fixture.records.length);
  await writeFile(
    join(dir, 'ref.csv'),
    csv(
      ['amount', 'region'],
      fixture.reference.map((r) => [r.amount, r.region])
    )
  );
  await writeFile(
    join(dir, 'cur.csv'),
    csv(
      ['amount', 'region'],
      window.map((r) => [r.amount, r.region])
    )
  );
  report = JSON.parse(await mlmonReport(join(dir, 'ref.csv'), join(dir, 'cur.csv')));
  instance = createInstance(
    parseSettings(localInstanceSettings({ dataDirectory: join(dir, 'store') }, {}, 'r')),
    openStore
  );
}, 60_000);

afterAll(async () => {
  await instance?.dispose();
  await rm(dir, { recursive: true, force: true });
});

const featureReport = (name: string): FeatureReport => report.features.find((f) => f.name === name)!;

/** The drift value, floor, count and stated error of one feature over the whole range (one 6 h bucket). */
async function driftOf(feature: string, metric: string) {
  const [frame] = await runQuery(instance, 'drift', { bucket: '6h', features: [feature], metric });
  expect(frame.length).toBe(1);
  return {
    value: numbers(frame, 'value')[0]!,
    floor: numbers(frame, 'noise_floor')[0]!,
    count: numbers(frame, 'count')[0]!,
    maxError: (frame.meta?.custom as { maxError?: number }).maxError,
  };
}

describe('drift equals mlmon report on the same rows', () => {
  it.each([
    ['amount', 'psi', 'psi'],
    ['amount', 'js', 'jsDistance'],
    ['amount', 'hellinger', 'hellinger'],
    ['amount', 'linf', 'lInf'],
    ['region', 'psi', 'psi'],
    ['region', 'js', 'jsDistance'],
    ['region', 'hellinger', 'hellinger'],
    ['region', 'linf', 'lInf'],
  ] as const)('%s %s: value and noise floor to 1e-12', async (feature, metric, key) => {
    const expected = featureReport(feature);
    const drift = await driftOf(feature, metric);
    expect(Math.abs(drift.value - expected.metrics[key])).toBeLessThanOrEqual(1e-12);
    expect(Math.abs(drift.floor - expected.noiseFloor[key])).toBeLessThanOrEqual(1e-12);
    expect(drift.count).toBe(expected.current.count);
  });

  it('region chi-square: statistic and critical value to 1e-12', async () => {
    const expected = featureReport('region').metrics.chiSquare!;
    const drift = await driftOf('region', 'chi_square');
    expect(Math.abs(drift.value - expected.statistic)).toBeLessThanOrEqual(1e-12);
    expect(Math.abs(drift.floor - featureReport('region').noiseFloor.chiSquare)).toBeLessThanOrEqual(1e-12);
  });

  it("amount KS and Wasserstein: within the bound the handler states of the report's exact values", async () => {
    const expected = featureReport('amount').metrics;
    const ks = await driftOf('amount', 'ks');
    expect(ks.maxError).toBeGreaterThan(0);
    expect(Math.abs(ks.value - expected.ks!.statistic)).toBeLessThanOrEqual(ks.maxError!);
    const wasserstein = await driftOf('amount', 'wasserstein');
    expect(wasserstein.maxError).toBeGreaterThan(0);
    expect(Math.abs(wasserstein.value - expected.wasserstein!.normalized)).toBeLessThanOrEqual(wasserstein.maxError!);
    // the bounds are tight enough to matter: a hundredth of the KS scale, a few hundredths of a standard deviation
    expect(ks.maxError!).toBeLessThan(0.01);
    expect(wasserstein.maxError!).toBeLessThan(0.05);
    // KS's floor depends on n and m only; Wasserstein's pooled spread is estimated on the grid
    expect(Math.abs(ks.floor - featureReport('amount').noiseFloor.ks)).toBeLessThanOrEqual(1e-12);
    expect(wasserstein.floor / featureReport('amount').noiseFloor.wasserstein).toBeCloseTo(1, 1);
  });
});

describe('distribution equals mlmon report on the same rows', () => {
  it.each(['amount', 'region'])('%s: readouts, noise floors, severity and counts', async (feature) => {
    const expected = featureReport(feature);
    const [frame] = await runQuery(instance, 'distribution', { features: [feature] });
    const { bins, readouts } = readDistributionFrame(frame);
    for (const key of ['psi', 'jsDistance', 'hellinger', 'lInf'] as const) {
      expect(Math.abs(readouts[key] - expected.metrics[key])).toBeLessThanOrEqual(1e-12);
      expect(Math.abs(readouts.noiseFloor[key]! - expected.noiseFloor[key])).toBeLessThanOrEqual(1e-12);
    }
    if (expected.metrics.chiSquare) {
      expect(Math.abs(readouts.chiSquare!.statistic - expected.metrics.chiSquare.statistic)).toBeLessThanOrEqual(1e-12);
      expect(readouts.chiSquare!.dof).toBe(expected.metrics.chiSquare.dof);
    }
    expect(readouts.severity).toBe(expected.severity);
    expect(readouts.counts.current).toBe(expected.current.count);
    expect(readouts.counts.baseline).toBe(expected.reference.count);
    expect(bins.reduce((sum, bin) => sum + bin.current, 0)).toBeCloseTo(1, 12);
  });
});

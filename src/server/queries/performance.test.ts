/** The `performance` query on the embedded store (Parquet files read by DuckDB); cases in test/queries/performance.cases.ts. */
import { embeddedTraffic, type TrafficStore } from '../../../test/queries/traffic-fixture';
import { performanceCases } from '../../../test/queries/performance.cases';
import { classifierPerformance } from '../baseline/performance';
import { binnedAuc, classifierScores } from './performance';
import { requireCalibration } from './performance-estimate';
import type { Baseline } from '../store/types';

let store: TrafficStore;
beforeAll(async () => {
  store = await embeddedTraffic();
});
afterAll(async () => {
  await store?.cleanup();
});

describe('performance query on the embedded store', () => {
  performanceCases(() => store);
});

describe('performance from counts', () => {
  it('gives the row-level classifier scores from confusion counts (binary and macro)', () => {
    const rows = Array.from({ length: 90 }, (_, i) => ({
      label: ['x', 'y', 'z'][i % 3],
      prediction: ['x', 'y', 'z'][((i * 7) % 5) % 3],
      score: null,
    }));
    const counts = new Map<string, number>();
    rows.forEach((r) => counts.set(`${r.label}|${r.prediction}`, (counts.get(`${r.label}|${r.prediction}`) ?? 0) + 1));
    const cells = [...counts].map(([key, n]) => ({ label: key.split('|')[0], prediction: key.split('|')[1], n }));
    const macro = classifierPerformance(rows);
    expect(classifierScores(cells, undefined)).toEqual({
      accuracy: macro.accuracy,
      precision: expect.closeTo(macro.precision, 12),
      recall: expect.closeTo(macro.recall, 12),
      f1: expect.closeTo(macro.f1, 12),
    });
    const binary = classifierPerformance(rows, 'y');
    expect(classifierScores(cells, 'y')).toMatchObject({ precision: binary.precision, recall: binary.recall });
  });

  it('gives the exact AUC when no bin holds both classes, and half credit for ties', () => {
    expect(
      binnedAuc([
        { positives: 0, negatives: 2 },
        { positives: 3, negatives: 0 },
      ])
    ).toEqual({ auc: 1, errorBound: 0 });
    expect(binnedAuc([{ positives: 1, negatives: 1 }])).toEqual({ auc: 0.5, errorBound: 0.5 });
    expect(binnedAuc([{ positives: 2, negatives: 0 }])).toBeNull();
  });

  it('tells a multi-class model and a baseline without calibration apart when asked for an estimate', () => {
    const base = { model: 'tier', version: 'v1', features: {}, skipped: {}, conventions: {} } as unknown as Baseline;
    const macro = { task: 'classification', averaging: 'macro', positiveLabel: null } as Baseline['performance'];
    expect(() => requireCalibration('tier', { ...base, performance: macro })).toThrow(
      /more than two classes .* applies to binary classifiers/
    );
    const binary = { task: 'classification', averaging: 'binary', positiveLabel: '1' } as Baseline['performance'];
    expect(() => requireCalibration('tier', { ...base, performance: binary })).toThrow(
      /\(schema version 1\) has no score calibration: rebuild it with --score and --label/
    );
    expect(() => requireCalibration('tier', undefined)).toThrow(/model "tier" has no baseline/);
  });
});

/**
 * CBPE from counts per score bin: parity with NannyML's algorithm written out with numpy
 * (test/support/cbpe_reference.py) on rows generated here, and the 95 % band's coverage of the realized accuracy
 * and AUC under covariate shift, and its failure under concept drift.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  bandsBroken,
  binomialTail,
  calibratedProbability,
  estimatePerformance,
  fitCalibration,
  isotonicKnots,
  scoreBin,
  type LabelledBin,
  type ScoredCell,
  type ScoreCalibration,
} from './cbpe';
import { createRandom } from './random';
import { rocAuc } from '../../server/baseline/performance';
import { findPythonWithScipy, runPython } from '../../../test/support/python';

/** P(label = 1 | score) of the generated model: monotone but not the identity, so calibration matters. */
const truth = (score: number) => 0.05 + 0.85 * score * score;

/** `n` scores in [0, 1): the mean of `k` uniforms raised to the power `power` (< 1 shifts them up, > 1 down). */
function scores(random: () => number, n: number, power = 1, k = 2): number[] {
  return Array.from({ length: n }, () => {
    let sum = 0;
    for (let i = 0; i < k; i++) {
      sum += random();
    }
    return (sum / k) ** power;
  });
}

const labelsFor = (random: () => number, xs: number[], rate = truth) => xs.map((s) => (random() < rate(s) ? 1 : 0));

function labelledBins(xs: number[], labels: number[]): LabelledBin[] {
  const bins = new Map<number, LabelledBin>();
  xs.forEach((s, i) => {
    const bin = bins.get(scoreBin(s)) ?? { bin: scoreBin(s), positives: 0, rows: 0 };
    bin.positives += labels[i];
    bin.rows += 1;
    bins.set(bin.bin, bin);
  });
  return [...bins.values()];
}

/** Rows per score bin and predicted class, as the store's pushed-down query returns them. */
function cells(xs: number[], threshold: number): ScoredCell[] {
  const counts = new Map<string, ScoredCell>();
  for (const s of xs) {
    const cell = { bin: scoreBin(s), predictedPositive: s >= threshold, rows: 0 };
    const key = `${cell.bin}|${cell.predictedPositive}`;
    (counts.get(key) ?? counts.set(key, cell).get(key)!).rows += 1;
  }
  return [...counts.values()];
}

/** A calibration on `rows` uniform reference scores labelled by `truth`. */
function calibrationOn(seed: number, rows: number): ScoreCalibration {
  const random = createRandom(seed);
  const reference = scores(random, rows, 1, 1);
  return fitCalibration(labelledBins(reference, labelsFor(random, reference)));
}

describe('isotonic calibration on score bins', () => {
  it('pools adjacent violators into their weighted mean and keeps the ends of each block', () => {
    const knots = isotonicKnots([
      { bin: 100, positives: 1, rows: 10 },
      { bin: 300, positives: 2, rows: 10 },
      { bin: 200, positives: 6, rows: 10 },
      { bin: 400, positives: 9, rows: 10 },
      { bin: 500, positives: 0, rows: 0 },
    ]);
    expect(knots).toEqual({ bins: [100, 200, 300, 400], probabilities: [0.1, 0.4, 0.4, 0.9] });
  });

  it('interpolates linearly between knots and clips outside them', () => {
    const calibration = fitCalibration([
      { bin: 100, positives: 1, rows: 10 },
      { bin: 300, positives: 5, rows: 10 },
    ]);
    expect(calibratedProbability(calibration, 0)).toBe(0.1);
    expect(calibratedProbability(calibration, 200)).toBeCloseTo(0.3, 15);
    expect(calibratedProbability(calibration, 1000)).toBe(0.5);
    expect(() => fitCalibration([])).toThrow(/no labelled row/);
  });
});

describe('CBPE against NannyML written out with numpy', () => {
  it('gives the same accuracy, precision, recall, F1 and AUC within 1e-6', () => {
    const python = findPythonWithScipy();
    const random = createRandom(12);
    const referenceScores = scores(random, 4000);
    const referenceLabels = labelsFor(random, referenceScores);
    const threshold = 0.45;
    const chunks = [1, 0.7, 1.5, 0.5].map((power, i) => scores(random, 1500 + 100 * i, power, 1 + i));
    const dir = mkdtempSync(join(tmpdir(), 'mlmon-cbpe-'));
    try {
      const input = join(dir, 'input.json');
      writeFileSync(
        input,
        JSON.stringify({ threshold, reference: { scores: referenceScores, labels: referenceLabels }, chunks })
      );
      const expected = JSON.parse(
        runPython(python, resolve(__dirname, '../../../test/support/cbpe_reference.py'), [input])
      );
      const calibration = fitCalibration(labelledBins(referenceScores, referenceLabels), threshold);
      for (let bin = 0; bin <= 1000; bin += 7) {
        const i = expected.calibration.bins.findIndex((b: number) => b >= bin);
        if (i > 0 && expected.calibration.bins[i] === bin) {
          expect(calibratedProbability(calibration, bin)).toBeCloseTo(expected.calibration.probabilities[i], 12);
        }
      }
      chunks.forEach((chunk, i) => {
        const estimate = estimatePerformance(calibration, cells(chunk, threshold));
        for (const metric of ['accuracy', 'precision', 'recall', 'f1', 'auc'] as const) {
          expect(Math.abs(estimate[metric].value! - expected.chunks[i][metric])).toBeLessThan(1e-6);
        }
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the 95 % band', () => {
  const calibration = calibrationOn(3, 50_000);
  /** Per bucket: generated scores (shifting), labels from `rate`, the estimate and the realized values. */
  const buckets = (seed: number, count: number, rate: (s: number) => number) => {
    const random = createRandom(seed);
    return Array.from({ length: count }, (_, b) => {
      const xs = scores(random, 800, 2 ** Math.sin(b / 5), 1 + (b % 3));
      const ys = labelsFor(random, xs, rate);
      const realizedAccuracy = xs.filter((s, i) => (s >= 0.5 ? 1 : 0) === ys[i]).length / xs.length;
      const predicted = xs.map((x) => x >= 0.5);
      const tp = predicted.filter((positive, i) => positive && ys[i] === 1).length;
      const predictedPositives = predicted.filter(Boolean).length;
      const positives = ys.filter((y) => y === 1).length;
      const realized = {
        precision: tp / predictedPositives,
        recall: tp / positives,
        f1: (2 * tp) / (predictedPositives + positives),
      };
      const realizedAuc = rocAuc(
        ys.map((y) => y === 1),
        xs
      )!;
      return { estimate: estimatePerformance(calibration, cells(xs, 0.5)), realizedAccuracy, realizedAuc, realized };
    });
  };
  const inside = (value: number, band: { lower: number | null; upper: number | null }) =>
    value >= band.lower! && value <= band.upper!;

  it('covers the realized accuracy, precision, recall, F1 and AUC in at least 90 % of buckets under covariate shift', () => {
    const result = buckets(5, 200, truth);
    const accuracyInside = result.filter((r) => inside(r.realizedAccuracy, r.estimate.accuracy)).length;
    const aucInside = result.filter((r) => inside(r.realizedAuc, r.estimate.auc)).length;
    // the window shifts: the estimated accuracy moves with it
    const estimates = result.map((r) => r.estimate.accuracy.value!);
    expect(estimates.reduce((a, b) => Math.max(a, b)) - estimates.reduce((a, b) => Math.min(a, b))).toBeGreaterThan(
      0.1
    );
    expect(accuracyInside / result.length).toBeGreaterThanOrEqual(0.9);
    expect(aucInside / result.length).toBeGreaterThanOrEqual(0.9);
    for (const metric of ['precision', 'recall', 'f1'] as const) {
      const covered = result.filter((r) => inside(r.realized[metric], r.estimate[metric])).length;
      expect(covered / result.length).toBeGreaterThanOrEqual(0.9);
    }
    expect(
      bandsBroken(
        result.map((r) => !inside(r.realizedAccuracy, r.estimate.accuracy)),
        0.05
      )
    ).toBe(false);
  });

  it('is left by the realized accuracy under concept drift, which breaks the assumptions', () => {
    const clean = buckets(5, 40, truth);
    const drifted = buckets(6, 2, (s) => 1 - truth(s));
    const outside = [...clean, ...drifted].map((r) => !inside(r.realizedAccuracy, r.estimate.accuracy));
    expect(outside.slice(-2)).toEqual([true, true]);
    expect(bandsBroken(outside.slice(0, -2), 0.05)).toBe(false);
    expect(bandsBroken(outside, 0.05)).toBe(true);
  });
});

describe('when misses are more than chance', () => {
  const misses = (outside: number, labelled: number) => Array.from({ length: labelled }, (_, i) => i < outside);
  it('takes the binomial tail and needs both the share and the tail past α, or the last two buckets outside', () => {
    expect(binomialTail(0, 10, 0.05)).toBe(1);
    expect(binomialTail(1, 1, 0.05)).toBeCloseTo(0.05, 12);
    expect(binomialTail(2, 2, 0.05)).toBeCloseTo(0.0025, 12);
    expect(binomialTail(2, 30, 0.05)).toBeCloseTo(1 - 0.95 ** 30 - 30 * 0.05 * 0.95 ** 29, 12);
    expect(binomialTail(1, 5000, 0.05)).toBe(1);
    expect(bandsBroken(misses(1, 1), 0.05)).toBe(false);
    expect(bandsBroken(misses(2, 2), 0.05)).toBe(true);
    expect(bandsBroken(misses(2, 30), 0.05)).toBe(false);
    expect(bandsBroken(misses(6, 30), 0.05)).toBe(true);
    expect(bandsBroken(misses(0, 0), 0.05)).toBe(false);
    expect(bandsBroken([...misses(0, 28), true, true], 0.05)).toBe(true);
    expect(bandsBroken([...misses(0, 27), true, false, true], 0.05)).toBe(false);
  });
});

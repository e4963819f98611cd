/**
 * The score calibration a baseline keeps for estimated performance: fitted when the reference has labels and scores of
 * a binary classifier, absent otherwise, and baselines written before it (schema version 1) still load.
 */
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calibratedProbability, createRandom, scoreBin } from '../../core/stats';
import { command as baselineCommand } from '../cli/baseline';
import { EmbeddedStore } from '../store/embedded';
import { BASELINE_SCHEMA_VERSION, baselineSchemaVersion } from '../store/types';
import { computeBaseline, type ReferenceColumn } from './compute';

/** 3 000 reference rows of a classifier whose P(label = 1 | score) is score² and that predicts 1 from 0.3 on. */
function reference(): ReferenceColumn[] {
  const random = createRandom(41);
  const scores = Array.from({ length: 3000 }, () => random());
  return [
    { name: 'x', kind: 'numeric', values: scores.map((s) => s * 10) },
    { name: 'score', kind: 'numeric', values: scores },
    { name: 'pred', kind: 'numeric', values: scores.map((s) => (s >= 0.3 ? 1 : 0)) },
    { name: 'label', kind: 'numeric', values: scores.map((s) => (random() < s * s ? 1 : 0)) },
  ];
}

const input = { model: 'm', version: 'v1', source: 'test', predictionColumn: 'pred', labelColumn: 'label' };

describe('score calibration in the baseline', () => {
  it('is fitted on the labelled scored rows: monotone, close to the true rate, with the threshold given', () => {
    const baseline = computeBaseline({ ...input, columns: reference(), scoreColumn: 'score', threshold: 0.3 });
    const calibration = baseline.calibration!;
    expect(baseline.schemaVersion).toBe(BASELINE_SCHEMA_VERSION);
    expect(calibration).toMatchObject({ count: 3000, threshold: 0.3, predictionAgreement: 1, binsPerUnit: 1000 });
    expect(calibration.probabilities.every((p, i) => i === 0 || p >= calibration.probabilities[i - 1])).toBe(true);
    for (const s of [0.2, 0.5, 0.8]) {
      expect(Math.abs(calibratedProbability(calibration, scoreBin(s)) - s * s)).toBeLessThan(0.08);
    }
    expect(baseline.conventions.calibration).toMatch(/isotonic/);
  });

  it('records how many reference predictions follow the threshold (0.5 by default)', () => {
    const baseline = computeBaseline({ ...input, columns: reference(), scoreColumn: 'score' });
    expect(baseline.calibration!.threshold).toBe(0.5);
    // rows with a score in [0.3, 0.5) are predicted 1 but lie below 0.5: about a fifth
    expect(baseline.calibration!.predictionAgreement).toBeCloseTo(0.8, 1);
  });

  it('is absent without scores or without labels', () => {
    expect(computeBaseline({ ...input, columns: reference() }).calibration).toBeUndefined();
    const unlabelled = computeBaseline({
      ...input,
      labelColumn: undefined,
      columns: reference(),
      scoreColumn: 'score',
    });
    expect(unlabelled.calibration).toBeUndefined();
  });

  it('leaves a baseline of schema version 1 (no version, no calibration) loadable as version 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlmon-calibration-'));
    try {
      const old = computeBaseline({ ...input, columns: reference(), scoreColumn: 'score' });
      delete old.schemaVersion;
      delete old.calibration;
      await mkdir(join(dir, 'models', 'm', 'baselines'), { recursive: true });
      await writeFile(join(dir, 'models', 'm', 'baselines', 'v1.json'), JSON.stringify(old));
      const store = await EmbeddedStore.open(dir);
      try {
        const loaded = await store.getBaseline('m', 'v1');
        expect(loaded).toMatchObject({ performance: old.performance });
        expect(baselineSchemaVersion(loaded!)).toBe(1);
        expect(loaded!.calibration).toBeUndefined();
      } finally {
        await store.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('takes --threshold from the CLI, shows the calibration, and refuses a threshold outside [0, 1]', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlmon-calibration-cli-'));
    const stdout: string[] = [];
    const stderr: string[] = [];
    const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => (stdout.push(String(chunk)), true));
    const err = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => (stderr.push(String(chunk)), true));
    try {
      const columns = reference();
      const lines = columns[0].values.map((_, row) => columns.map((c) => String(c.values[row])).join(','));
      await writeFile(join(dir, 'ref.csv'), [columns.map((c) => c.name).join(','), ...lines].join('\n') + '\n');
      const store = ['--data-dir', join(dir, 'store')];
      const create = ['--model', 'm', '--version', 'v1', '--from', join(dir, 'ref.csv'), '--prediction', 'pred'];
      const labelled = [...create, '--score', 'score', '--label', 'label', ...store];
      expect(await baselineCommand.run([...labelled, '--threshold', '1.5'])).toBe(2);
      expect(stderr.join('')).toContain('--threshold must be a score from 0 to 1, got 1.5');
      expect(await baselineCommand.run([...labelled, '--threshold', '0.3'])).toBe(0);
      expect(await baselineCommand.run(['show', '--model', 'm', '--version', 'v1', ...store])).toBe(0);
      expect(stdout.join('')).toMatch(/Score calibration \(3000 rows, \d+ knots, threshold 0\.3, predictions agreeing/);
    } finally {
      out.mockRestore();
      err.mockRestore();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

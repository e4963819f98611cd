/**
 * shareRepeatedStrings: the store worker receives each batch through a structured clone, which gives every
 * occurrence of a version or categorical value a string of its own; those strings lived as long as the backlog.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  PredictionColumnsBuilder,
  predictionRecordAt,
  shareRepeatedStrings,
  type PredictionColumns,
} from './prediction-columns';

const ROWS = 2_000;
const CATEGORIES = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];

/**
 * Row i of the sample: a unique id, one of two versions, one numeric and three categorical features (one sometimes
 * null), a string prediction, sometimes an error. (Plain JavaScript: the memory test's child process runs it too.)
 */
function sampleRecord(i: number) {
  return {
    id: `request-${i}`,
    ts: 1_700_000_000_000 + i,
    version: i % 3 ? 'v1' : 'v2-challenger',
    features: {
      amount: i / 7,
      country: CATEGORIES[i % 5],
      channel: CATEGORIES[(i * 3) % 5],
      device: i % 11 ? CATEGORIES[i % 2] : null,
    },
    prediction: i % 2 ? 'approve' : 'deny',
    score: null,
    latencyMs: null,
    error: i % 97 ? null : 'timeout',
    samplingRate: 1,
  };
}

function sampleColumns(rows: number): PredictionColumns {
  const builder = new PredictionColumnsBuilder(rows);
  for (let i = 0; i < rows; i++) {
    builder.addRecord(sampleRecord(i));
  }
  return builder.takeAll();
}

/** Every row as a record (typed arrays cloned in a test differ from the original's by realm, not by value). */
function rowsOf(columns: PredictionColumns) {
  return Array.from({ length: columns.rowCount }, (_, i) => predictionRecordAt(columns, i));
}

describe('shareRepeatedStrings', () => {
  test('keeps every value, row by row', () => {
    const original = sampleColumns(ROWS);
    const cloned = structuredClone(original);
    shareRepeatedStrings(cloned);
    expect(rowsOf(cloned)).toEqual(rowsOf(original));
  });

  test('a column of more distinct strings than it compares with keeps its values', () => {
    const columns = sampleColumns(ROWS);
    columns.version = columns.id.map((id) => `v-${id}`);
    const expected = [...columns.version];
    shareRepeatedStrings(columns);
    expect(columns.version).toEqual(expected);
  });

  /**
   * The memory itself, measured in a child process whose garbage collector can be called: 40 cloned batches of
   * 1 000 rows held (a 40 000-record backlog), with and without sharing, in the same process. Without it each row
   * holds 5 strings of its own (version, prediction, 3 categorical values; ~24-32 bytes each).
   */
  test('cloned batches hold no string per row for repeated values', () => {
    const script = `
      const { shareRepeatedStrings, PredictionColumnsBuilder } = require(${JSON.stringify(path.join(__dirname, 'prediction-columns.ts'))});
      const CATEGORIES = ${JSON.stringify(CATEGORIES)};
      const builder = new PredictionColumnsBuilder(1000);
      for (let i = 0; i < 1000; i++) builder.addRecord(${sampleRecord.toString().replace('function sampleRecord', '(function')})(i));
      const batch = builder.takeAll();
      function retainedPerRow(share) {
        global.gc(); global.gc();
        const before = process.memoryUsage().heapUsed;
        const held = [];
        for (let i = 0; i < 40; i++) {
          const cloned = structuredClone(batch);
          if (share) shareRepeatedStrings(cloned);
          held.push(cloned);
        }
        global.gc(); global.gc();
        const bytes = process.memoryUsage().heapUsed - before;
        held.length = 0;
        return bytes / 40000;
      }
      retainedPerRow(true); // warm-up: compiled code and shapes are not counted below
      process.stdout.write(JSON.stringify({ shared: retainedPerRow(true), separate: retainedPerRow(false) }));
    `;
    // A file, not `node -e`: tsx's hook mistakes an eval'd script's imports.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-shared-strings-'));
    const file = path.join(dir, 'measure.js');
    fs.writeFileSync(file, script);
    const child = spawnSync(process.execPath, ['--expose-gc', '--require', require.resolve('tsx/cjs'), file], {
      encoding: 'utf8',
    });
    fs.rmSync(dir, { recursive: true, force: true });
    expect(child.stderr).toBe('');
    const { shared, separate } = JSON.parse(child.stdout) as { shared: number; separate: number };
    process.stderr.write(`heap bytes per held row: ${shared.toFixed(0)} shared, ${separate.toFixed(0)} separate\n`);
    expect(separate - shared).toBeGreaterThanOrEqual(100);
  });
});

/**
 * Child process of clickhouse-write-memory.test.ts, run with a small V8 heap: writes `rows` predictions with 20
 * numeric and 3 categorical features to ClickHouse in ONE writePredictions call (as the collector's store worker
 * writes a flush round), then prints the rows stored. Records are made and pivoted 1 000 at a time, so the columns
 * are all this process holds before the write.
 *
 *   node --max-old-space-size=N -r tsx/cjs clickhouse-write-memory.child.ts URL DATABASE ROWS
 */
import { ClickHouseStore } from '../../src/server/store/clickhouse';
import { concatPredictionColumns, toPredictionColumns } from '../../src/server/store/prediction-columns';
import type { PredictionRecord } from '../../src/server/store/types';

const CATEGORIES = ['alpha', 'beta', 'gamma', 'delta'];

function records(from: number, n: number): PredictionRecord[] {
  return Array.from({ length: n }, (_, j) => {
    const i = from + j;
    const features: Record<string, number | string> = {};
    for (let f = 0; f < 20; f++) {
      features[`num_${f}`] = ((i * 7919 + f * 104729) % 100_000) / 100;
    }
    for (let c = 0; c < 3; c++) {
      features[`cat_${c}`] = CATEGORIES[(i + c) % CATEGORIES.length];
    }
    return {
      id: `row-${i}`,
      ts: 1_767_225_600_000 + i,
      version: 'v1',
      features,
      prediction: i % 2,
      score: 0.5,
      samplingRate: 1,
    };
  });
}

async function main(): Promise<void> {
  const [url, database, rowsText] = process.argv.slice(2);
  const rows = Number(rowsText);
  const pieces = [];
  for (let from = 0; from < rows; from += 1000) {
    pieces.push(toPredictionColumns(records(from, Math.min(1000, rows - from))));
  }
  const store = await ClickHouseStore.open({ url, database });
  try {
    const { rejected } = await store.writePredictions('big', concatPredictionColumns(pieces));
    const counts = await store.countPredictions('big', { from: 0, to: 8.64e15 });
    process.stdout.write(`${JSON.stringify({ rejected: rejected.length, rows: Number(counts.rows) })}\n`);
  } finally {
    await store.close();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});

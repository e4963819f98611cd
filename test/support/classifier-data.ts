/**
 * A small, deterministic data set of a binary classifier as a user exports it for `mlmon baseline`, `report` and
 * `ingest`: an id, an ISO time, three features, the predicted class, the positive-class score and the true label.
 */
import { createRandom } from '../../src/core/stats';

export interface ClassifierRow {
  id: string;
  ts: string;
  income: number;
  age: number;
  region: string;
  approved: number;
  score: number;
  defaulted: number;
}

/** `rows` rows; `incomeShift` multiplies incomes (1: like the reference, 1.6: a drifted window). */
export function classifierRows(
  rows: number,
  seed: number,
  incomeShift = 1,
  start = '2026-01-01T00:00:00Z'
): ClassifierRow[] {
  const random = createRandom(seed);
  const t0 = Date.parse(start);
  return Array.from({ length: rows }, (_, i) => {
    const score = Number(random().toFixed(4));
    return {
      id: `r${seed}-${i}`,
      ts: new Date(t0 + i * 60_000).toISOString(),
      income: Math.round((30_000 + 40_000 * random()) * incomeShift),
      age: 20 + Math.floor(50 * random()),
      region: ['north', 'south', 'east', 'west'][Math.floor(4 * random())],
      approved: score > 0.5 ? 1 : 0,
      score,
      defaulted: random() < score ? 1 : 0,
    };
  });
}

/** The rows as CSV text with a header line. */
export function toCsv(rows: readonly ClassifierRow[]): string {
  const header = Object.keys(rows[0]);
  return [header.join(','), ...rows.map((row) => header.map((k) => String(row[k as keyof ClassifierRow])).join(','))]
    .join('\n')
    .concat('\n');
}

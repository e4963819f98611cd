/**
 * Counted cells as plain lists, for checks on small data: every cell a binned-counts plan hands to its sink, and every
 * cell of window counts.
 */
import type { PredictionStore } from '../../src/server/store/types';
import { runBinnedCounts, type BinnedCountsPlan } from '../../src/server/counting/binned-counts';
import { type CountCell } from '../../src/server/counting/cells';
import type { WindowCounts } from '../../src/server/counting/window-counts';

/** Every cell of a plan, in the order the store returned them. */
export async function collectCells(
  store: Pick<PredictionStore, 'query'>,
  plan: BinnedCountsPlan
): Promise<CountCell[]> {
  const cells: CountCell[] = [];
  await runBinnedCounts(store, plan, (column, bucket, bin, category, n, sum) =>
    cells.push({ column, bucket, bin, category, n, sum })
  );
  return cells;
}

/** The non-empty cells of window counts over `columns` columns and the given bucket starts. */
export function cellsOfWindow(counts: WindowCounts, columns: number, starts: readonly number[]): CountCell[] {
  const cells: CountCell[] = [];
  for (let column = 0; column < columns; column++) {
    for (const bucket of starts) {
      const tally = counts.get(column, bucket);
      tally?.bins.forEach((n, k) => {
        if (n > 0) {
          cells.push({ column, bucket, bin: k - 1, category: '', n, sum: tally.binSums[k] });
        }
      });
      for (const [category, cell] of tally?.categories ?? []) {
        cells.push({ column, bucket, bin: 0, category, n: cell.n, sum: cell.sum });
      }
    }
  }
  return cells;
}

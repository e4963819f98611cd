import { chiSquareSf } from './special';

export interface ChiSquareResult {
  statistic: number;
  pValue: number;
  dof: number;
}

/**
 * Pearson chi-square test of homogeneity on the 2×K table (reference row, current row):
 *   X² = Σ_rows Σ_k (O − E)²/E,  E = row total · column total / grand total,  dof = K − 1,
 * p = P(χ²_dof ≥ X²). Columns empty in both rows are dropped. Equal to
 * `scipy.stats.chi2_contingency([ref, cur], correction=False)` (which gives X² = 0, p = 1 when K = 1).
 */
export function chiSquareHomogeneity(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>
): ChiSquareResult {
  if (referenceCounts.length !== currentCounts.length) {
    throw new Error('chiSquareHomogeneity: the count vectors have different lengths; align the categories first');
  }
  const columns: Array<[number, number]> = [];
  for (let k = 0; k < referenceCounts.length; k++) {
    if (referenceCounts[k] + currentCounts[k] > 0) {
      columns.push([referenceCounts[k], currentCounts[k]]);
    }
  }
  const n = columns.reduce((sum, [r]) => sum + r, 0);
  const m = columns.reduce((sum, [, c]) => sum + c, 0);
  if (n === 0 || m === 0) {
    return { statistic: NaN, pValue: NaN, dof: Math.max(0, columns.length - 1) };
  }
  const total = n + m;
  let statistic = 0;
  for (const [r, c] of columns) {
    const expectedR = (n * (r + c)) / total;
    const expectedC = (m * (r + c)) / total;
    statistic += (r - expectedR) ** 2 / expectedR + (c - expectedC) ** 2 / expectedC;
  }
  const dof = columns.length - 1;
  return { statistic, pValue: dof === 0 ? 1 : chiSquareSf(statistic, dof), dof };
}

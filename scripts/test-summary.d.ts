/** Types of scripts/test-summary.js (plain CommonJS, run by node from scripts/test.js). */
export interface TestCounts {
  passed: number;
  failed: number;
  skipped: number;
  /** Each skipped test, with the reason where the test gives one. */
  skippedNames: string[];
}

export function jestCounts(report: unknown, root: string): TestCounts;
export function goCounts(output: string): TestCounts;
export function summaryLine(counts: Pick<TestCounts, 'passed' | 'failed' | 'skipped'>): string;

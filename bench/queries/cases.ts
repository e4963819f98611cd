/**
 * The benchmarked queries (targets in RESULTS.md): the whole range, 7 days × 1 h buckets, a 24 h window. Shared by
 * the in-process measurement (measure.ts) and the backend-executable measurement (executable.ts).
 */
import type { QueryType } from '../../src/core/query/queryTypes';
import { DAY_MS, END, START } from './generate';

/** One benchmarked query: a query type, its options and the time range. */
export interface Case {
  name: string;
  queryType: QueryType;
  options: Record<string, unknown>;
  range: { from: number; to: number };
  /** Warm repetitions after the first (cold) run; the p95 target is on these. */
  warm: boolean;
}

export const HOUR_MS = 3_600_000;
const WHOLE = { from: START, to: END };
const LAST_7_DAYS = { from: END - 7 * DAY_MS, to: END };
const LAST_24_HOURS = { from: END - DAY_MS, to: END };

/** The measured cases (targets in RESULTS.md): whole range, 7 days × 1 h, 24 h windows. */
export const CASES: Case[] = [
  {
    name: 'distribution, all features, whole range',
    queryType: 'distribution',
    options: {},
    range: WHOLE,
    warm: false,
  },
  {
    name: 'drift, all features, whole range (one bucket)',
    queryType: 'drift',
    options: { bucket: `${(END - START) / DAY_MS}d` },
    range: WHOLE,
    warm: false,
  },
  {
    name: 'severity matrix, 7 days × 1 h buckets',
    queryType: 'severity',
    options: { bucket: '1h' },
    range: LAST_7_DAYS,
    warm: false,
  },
  { name: 'distribution, 24 h window', queryType: 'distribution', options: {}, range: LAST_24_HOURS, warm: true },
  {
    name: 'drift, 24 h window (one bucket)',
    queryType: 'drift',
    options: { bucket: '1d' },
    range: LAST_24_HOURS,
    warm: true,
  },
];

/** The cases measured on ClickHouse with prepared counts (run-clickhouse.js): the above and KS over 24 h. */
export const CLICKHOUSE_CASES: Case[] = [
  ...CASES,
  {
    name: 'drift KS, 24 h window (one bucket)',
    queryType: 'drift',
    options: { bucket: '1d', metric: 'ks' },
    range: LAST_24_HOURS,
    warm: true,
  },
];

/** Time budget of one case's warm repetitions: a slow query stops repeating after it (at least 3 runs). */
const WARM_BUDGET_MS = 30_000;
const MIN_WARM_RUNS = 3;

/**
 * The warm timings of a case: for a `warm` case up to `warmRuns` further runs within WARM_BUDGET_MS, none for the
 * others (their first run is the measure).
 */
export async function warmTimings(benchCase: Case, warmRuns: number, run: () => Promise<number>): Promise<number[]> {
  const timings: number[] = [];
  let spent = 0;
  while (benchCase.warm && timings.length < warmRuns && (spent < WARM_BUDGET_MS || timings.length < MIN_WARM_RUNS)) {
    timings.push(await run());
    spent += timings[timings.length - 1];
  }
  return timings;
}

/** The p-th percentile (nearest rank) of the values; undefined when there are none. */
export function percentile(values: number[], p: number): number | undefined {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0
    ? undefined
    : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

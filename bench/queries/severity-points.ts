/**
 * The statistic per point of a severity matrix (drift.ts pointOf), 25 features × 168 hourly buckets as in the
 * benchmark's `severity matrix, 7 days × 1 h buckets`: compareCounts on each bucket's counts, then reading the
 * rated metric's value and noise floor only (current) against reading every binned metric's value and floor (the
 * former pointOf, which built a record of all of them: the L∞ floor is a root search, computed when read). Both
 * run in this process on the same counts, interleaved; prints one JSON object with the CPU milliseconds per matrix
 * (median of the runs) and the ratio former / current.
 *
 *   node --import tsx bench/queries/severity-points.ts [<runs>]
 */
import { compareCounts, createRandom, type FeatureComparison } from '../../src/core/stats';
import { percentile } from './cases';

const FEATURES = 25;
const BUCKETS = 168;
const BINS = 12;
/** Rows per hour of the 10 M-row benchmark (10 M over 240 hours), and of its baseline. */
const ROWS_PER_BUCKET = 41_667;
const REFERENCE_ROWS = 100_000;

/** Counts of `rows` draws over BINS bins of slightly uneven probabilities (seeded). */
function counts(random: () => number, rows: number): Float64Array {
  const weights = Array.from({ length: BINS }, () => 0.5 + random());
  const total = weights.reduce((a, b) => a + b, 0);
  return Float64Array.from(weights, (w) => Math.round((rows * w) / total));
}

/** What pointOf reads now: the rated metric's value and floor (PSI). */
const ratedOnly = (c: FeatureComparison) => c.metrics.psi! + c.noiseFloor.psi!;

/** What the former pointOf read: every binned metric's value and floor, the L∞ floor included. */
const everyFloor = (c: FeatureComparison) =>
  c.metrics.psi! +
  c.noiseFloor.psi! +
  c.metrics.jsDistance! +
  c.noiseFloor.jsDistance! +
  c.metrics.hellinger! +
  c.noiseFloor.hellinger! +
  c.metrics.lInf! +
  c.noiseFloor.lInf! +
  (c.noiseFloor.chiSquare ?? 0);

function main(runs: number): void {
  const random = createRandom(11);
  const reference = Array.from({ length: FEATURES }, () => counts(random, REFERENCE_ROWS));
  const current = Array.from({ length: FEATURES * BUCKETS }, () => counts(random, ROWS_PER_BUCKET));
  const matrix = (read: (c: FeatureComparison) => number) => {
    const started = process.cpuUsage();
    let checksum = 0;
    current.forEach((bucket, i) => (checksum += read(compareCounts('numeric', reference[i % FEATURES], bucket))));
    const cpu = process.cpuUsage(started);
    return { ms: (cpu.user + cpu.system) / 1000, checksum };
  };
  const timings = { current: [] as number[], former: [] as number[] };
  for (let run = 0; run < runs; run++) {
    timings.former.push(matrix(everyFloor).ms);
    timings.current.push(matrix(ratedOnly).ms);
  }
  const median = (ms: number[]) => percentile(ms, 50)!;
  process.stdout.write(
    JSON.stringify({
      points: FEATURES * BUCKETS,
      runs,
      currentCpuMs: median(timings.current),
      formerCpuMs: median(timings.former),
      formerOverCurrent: median(timings.former) / median(timings.current),
    }) + '\n'
  );
}

main(Number(process.argv[2] ?? 9));

/** CPU time of another process, and a least-squares slope, for the benchmarks that sample a server. */
import { readFileSync } from 'node:fs';

/** CPU seconds (user + system, all threads) of a running process: fields 14 and 15 of /proc/<pid>/stat, in ticks. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Least-squares slope of y over x (Σ(x−x̄)(y−ȳ) / Σ(x−x̄)²); 0 for fewer than two points. */
export function leastSquaresSlope(points: Array<[number, number]>): number {
  if (points.length < 2) {
    return 0;
  }
  const mx = points.reduce((sum, [x]) => sum + x, 0) / points.length;
  const my = points.reduce((sum, [, y]) => sum + y, 0) / points.length;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx === 0 ? 0 : sxy / sxx;
}

/**
 * A debug hook for measuring where memory goes: with $MLMON_DEBUG_HEAP_MS set, each thread of `mlmon serve` that
 * calls it (main, collector, store worker) writes a line `mlmon heap <thread>: {...}` to stderr every that many
 * milliseconds: its V8 heap's resident size (`physical`) and live bytes (`used`), per space, and its ArrayBuffers
 * (process.memoryUsage: per thread). test/collector/rss.test.ts reads them; bench/ingest/RESULTS.md explains them.
 */
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

/** Megabytes with one decimal. */
function mb(bytes: number): number {
  return Math.round(bytes / 1e5) / 10;
}

/** One line of this thread's heap statistics. */
export function heapLine(thread: string): string {
  const heap = getHeapStatistics();
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, mb(s.physical_space_size)]));
  const stats = {
    physical: mb(heap.total_physical_size),
    used: mb(heap.used_heap_size),
    external: mb(heap.external_memory),
    arrayBuffers: mb(process.memoryUsage().arrayBuffers),
    spaces,
  };
  return `mlmon heap ${thread}: ${JSON.stringify(stats)}\n`;
}

/** Writes heapLine(thread) to stderr every $MLMON_DEBUG_HEAP_MS ms (nothing when it is not set). */
export function logHeapPeriodically(thread: string): void {
  const interval = Number(process.env.MLMON_DEBUG_HEAP_MS);
  if (!(interval > 0)) {
    return;
  }
  setInterval(() => process.stderr.write(heapLine(thread)), interval).unref();
}

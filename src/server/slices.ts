/**
 * Long JavaScript loops of a query (parsing a store's answer, adding up tallies, rating every series × bucket) run in
 * slices and give the event loop back between slices (`setImmediate`), so that gRPC calls — another panel's query, a
 * cancellation, Grafana's Shutdown — are served while heavy queries work, and a cancelled query stops at its next
 * slice instead of finishing unseen.
 *
 * The loops running at the same time share one budget of SLICE_MS per turn of the event loop: with n loops, each
 * slice lasts SLICE_MS / n. A request that needs several turns (a trivial query's store round trips) then waits about
 * SLICE_MS per turn, however many heavy queries run.
 */

/** Time the running loops together may hold the event loop before it gets a turn. */
export const SLICE_MS = 8;

/** Shortest slice, so that many loops still make progress. */
const MIN_SLICE_MS = 1;

/** Loops currently running in slices. */
let runningLoops = 0;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs `loop` with a `maybeYield` that ends the current slice when its share of the budget is used up. */
async function sliced<T>(
  signal: AbortSignal | undefined,
  loop: (maybeYield: () => Promise<void>) => Promise<T>
): Promise<T> {
  signal?.throwIfAborted();
  runningLoops += 1;
  let sliceStart = performance.now();
  const maybeYield = async () => {
    if (performance.now() - sliceStart < Math.max(MIN_SLICE_MS, SLICE_MS / runningLoops)) {
      return;
    }
    await yieldToEventLoop();
    signal?.throwIfAborted();
    sliceStart = performance.now();
  };
  try {
    return await loop(maybeYield);
  } finally {
    runningLoops -= 1;
  }
}

/** Calls `work` for every item, in slices (module comment). */
export function forEachSliced<T>(
  items: Iterable<T>,
  work: (item: T, index: number) => void,
  signal?: AbortSignal
): Promise<void> {
  return sliced(signal, async (maybeYield) => {
    let index = 0;
    for (const item of items) {
      work(item, index++);
      await maybeYield();
    }
  });
}

/** Calls `work` for every item of an asynchronous source (a stream), in slices (module comment). */
export function forEachSlicedAsync<T>(
  items: AsyncIterable<T>,
  work: (item: T) => void,
  signal?: AbortSignal
): Promise<void> {
  return sliced(signal, async (maybeYield) => {
    for await (const item of items) {
      work(item);
      await maybeYield();
    }
  });
}

/** `items.map(work)` in slices (module comment). */
export async function mapSliced<T, U>(
  items: readonly T[],
  work: (item: T, index: number) => U,
  signal?: AbortSignal
): Promise<U[]> {
  const results: U[] = new Array(items.length);
  await forEachSliced(items, (item, index) => (results[index] = work(item, index)), signal);
  return results;
}

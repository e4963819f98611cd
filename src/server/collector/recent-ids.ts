/**
 * The de-duplication rule of the collector: **the first acknowledged copy of a prediction id is the record**; a
 * later copy is answered as a duplicate and not stored, whatever its timestamp (so a re-sent id with a `ts` on
 * another day is not stored twice) — within a horizon of the last `capacity` to 2 × `capacity` ids per model.
 * The horizon is the same across restarts: at the first batch of a model after a start, it is seeded with the ids
 * most recently ingested into the store (`PredictionWriter.recentIds`). The stores keep the same rule for copies
 * that reach them anyway (bulk loads, ids older than the horizon within a day): the earliest ingested copy wins.
 *
 * Two generations of bounded sets (the older one is dropped when the newer is full), and the ids whose WAL write is
 * under way, so that a re-sent record is answered as a duplicate only once its first copy is really durable.
 */
export class RecentIds {
  private current = new Set<string>();
  private previous = new Set<string>();
  private readonly writing = new Map<string, Promise<boolean>>();
  constructor(private readonly capacity: number) {}

  /** Adds ids known to be stored (oldest first). */
  seed(ids: Iterable<string>): void {
    for (const id of ids) {
      this.add(id);
    }
  }

  isDurable(id: string): boolean {
    return this.current.has(id) || this.previous.has(id);
  }

  /** Resolves true when the write under way for `id` succeeded, false when it failed; undefined when none is. */
  writeUnderWay(id: string): Promise<boolean> | undefined {
    return this.writing.get(id);
  }

  /** Tracks a WAL write of these ids: under way until it settles, then durable (or forgotten when it failed). */
  track(ids: string[], write: Promise<void>): void {
    const outcome = write.then(
      () => true,
      () => false
    );
    ids.forEach((id) => this.writing.set(id, outcome));
    void outcome.then((durable) => {
      for (const id of ids) {
        if (this.writing.get(id) === outcome) {
          this.writing.delete(id);
        }
        if (durable) {
          this.add(id);
        }
      }
    });
  }

  private add(id: string): void {
    this.current.add(id);
    if (this.current.size >= this.capacity) {
      this.previous = this.current;
      this.current = new Set();
    }
  }
}

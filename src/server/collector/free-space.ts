/**
 * The free-space floor of the collector's state directory. Batches are refused (507 Insufficient Storage) while
 * the file system holding the write-ahead log has less than `minFreeBytes` free, before anything is written, so
 * that a filling disk stops ingestion cleanly with room left for the flusher and compaction (the flood-stage
 * watermark of Elasticsearch follows the same idea). After a write failed for lack of space, batches stay refused
 * until at least twice the size of the failed write is free again. While space suffices it is re-read at most
 * every `cacheMs` (one statfs per interval); while it does not, at every check, so ingestion resumes as soon as
 * space is freed, and /healthz sees that without traffic.
 */
import * as fs from 'node:fs';

export interface FreeSpaceOptions {
  minFreeBytes: number;
  cacheMs?: number;
  statfs?: (dir: string) => { bavail: number; bsize: number };
  now?: () => number;
}

export interface FreeSpaceState {
  ok: boolean;
  freeBytes: number;
  /** Why batches are refused, for the 507 answer and /healthz; undefined when ok. */
  problem?: string;
}

export class FreeSpaceGuard {
  private readonly cacheMs: number;
  private readonly statfs: (dir: string) => { bavail: number; bsize: number };
  private readonly now: () => number;
  private checkedAt = -Infinity;
  private freeBytes = Infinity;
  private ok = true;
  /** Free bytes needed again after a write failed for lack of space. */
  private neededAfterFailure = 0;

  constructor(
    readonly dir: string,
    private readonly options: FreeSpaceOptions
  ) {
    this.cacheMs = options.cacheMs ?? 250;
    this.statfs = options.statfs ?? ((d) => fs.statfsSync(d));
    this.now = options.now ?? Date.now;
  }

  /** Records a write that failed for lack of space: refuse until twice its size is free. */
  noteNoSpace(failedBytes: number): void {
    this.neededAfterFailure = Math.max(this.neededAfterFailure, 2 * failedBytes, 1);
    this.ok = false;
  }

  state(): FreeSpaceState {
    if (!this.ok || this.now() - this.checkedAt >= this.cacheMs) {
      const stats = this.statfs(this.dir);
      this.freeBytes = stats.bavail * stats.bsize;
      this.checkedAt = this.now();
    }
    const needed = Math.max(this.options.minFreeBytes, this.neededAfterFailure);
    this.ok = this.freeBytes >= needed;
    if (this.ok) {
      this.neededAfterFailure = 0;
      return { ok: true, freeBytes: this.freeBytes };
    }
    const why =
      this.neededAfterFailure > this.options.minFreeBytes
        ? 'a write-ahead log write failed for lack of space'
        : `below the floor of ${this.options.minFreeBytes} bytes (--min-free-bytes)`;
    return {
      ok: false,
      freeBytes: this.freeBytes,
      problem:
        `the disk holding the write-ahead log (${this.dir}) has ${this.freeBytes} bytes free, ${why}; ` +
        'free space there — the collector resumes by itself',
    };
  }
}

/**
 * The de-duplication rule of the collector: **a prediction is identified by (model, version, id), and its first
 * acknowledged copy is the record**; a later copy is answered as a duplicate and not stored, whatever its timestamp
 * (so a re-sent id with a `ts` on another day is not stored twice) — within a horizon of the last `capacity` to
 * 2 × `capacity` predictions per model. Another version's prediction of the same id (a challenger scoring a shadow
 * copy of the request) is another prediction. The ids kept here are prediction keys (store/types.ts predictionKey).
 * The horizon is the same across restarts: at the first batch of a model after a start, it is seeded with the keys of
 * the predictions most recently ingested into the store (`PredictionWriter.recentIds`). The stores keep the same rule for copies
 * that reach them anyway (bulk loads, ids older than the horizon within a day): the earliest ingested copy wins.
 *
 * Two generations of bounded id tables (the older one is dropped when the newer is full) hold the ids whose first
 * copy is durable; the ids whose write-ahead log write is under way are kept apart, with the write, so that a
 * re-sent record is answered as a duplicate only once its first copy is really durable (and takes its place when
 * that write fails). An id table keeps ids as UTF-8 bytes outside the JavaScript heap (IdTable): a million ids
 * cost ~50 MB there instead of ~75 MB of heap that every full garbage collection traces.
 */
import { fmix32, fnv1a32 } from './sampling';

/** Bytes before each id in a table's arena: its UTF-8 length. */
const LENGTH_BYTES = 2;

/**
 * A set of at most `capacity` ids: their UTF-8 bytes one after another in an arena, found through an
 * open-addressing table (linear probing, at most half full) of 32-bit hashes and arena offsets. An id is compared
 * in full only when its hash matches, so a new id costs a hash and a probe or two.
 */
export class IdTable {
  private readonly mask: number;
  /** Arena offset + 1 of the id in each slot; 0 for an empty slot. */
  private readonly offsets: Int32Array;
  private readonly hashes: Int32Array;
  private arena: Buffer;
  private used = 0;
  size = 0;

  constructor(readonly capacity: number) {
    let slots = 2;
    while (slots < capacity * 2) {
      slots *= 2;
    }
    this.mask = slots - 1;
    this.offsets = new Int32Array(slots);
    this.hashes = new Int32Array(slots);
    this.arena = Buffer.allocUnsafe(Math.min(capacity, 4096) * 48);
  }

  has(id: string, hash = hashId(id)): boolean {
    return this.offsets[this.slotOf(id, hash)] !== 0;
  }

  /** Adds an id (once); false when the table is full. */
  add(id: string, hash = hashId(id)): boolean {
    const slot = this.slotOf(id, hash);
    if (this.offsets[slot] !== 0) {
      return true;
    }
    if (this.size >= this.capacity) {
      return false;
    }
    const bytes = Buffer.byteLength(id);
    this.reserve(LENGTH_BYTES + bytes);
    this.arena.writeUInt16LE(bytes, this.used);
    this.arena.write(id, this.used + LENGTH_BYTES, bytes, 'utf8');
    this.offsets[slot] = this.used + 1;
    this.hashes[slot] = hash;
    this.used += LENGTH_BYTES + bytes;
    this.size += 1;
    return true;
  }

  /** The slot holding the id, or the empty slot where it would go. */
  private slotOf(id: string, hash: number): number {
    for (let slot = hash & this.mask; ; slot = (slot + 1) & this.mask) {
      const offset = this.offsets[slot];
      if (offset === 0 || (this.hashes[slot] === hash && this.idAt(offset - 1) === id)) {
        return slot;
      }
    }
  }

  private idAt(offset: number): string {
    const length = this.arena.readUInt16LE(offset);
    return this.arena.toString('utf8', offset + LENGTH_BYTES, offset + LENGTH_BYTES + length);
  }

  /** Grows the arena (doubling) so that `bytes` more fit. */
  private reserve(bytes: number): void {
    if (this.used + bytes <= this.arena.length) {
      return;
    }
    let size = this.arena.length * 2;
    while (this.used + bytes > size) {
      size *= 2;
    }
    const grown = Buffer.allocUnsafe(size);
    this.arena.copy(grown, 0, 0, this.used);
    this.arena = grown;
  }
}

/** The 32-bit hash of an id (FNV-1a of its UTF-16 code units, mixed: sampling.ts), as a signed integer. */
function hashId(id: string): number {
  return fmix32(fnv1a32(id)) | 0;
}

/** The write-ahead log write of a batch of ids. */
interface Write {
  /** Resolves true when the write succeeded, false when it failed. */
  outcome: Promise<boolean>;
}

export class RecentIds {
  private current: IdTable;
  private previous: IdTable | undefined;
  private readonly writing = new Map<string, Write>();

  constructor(private readonly capacity: number) {
    this.current = new IdTable(capacity);
  }

  /** Adds ids known to be stored (oldest first). */
  seed(ids: Iterable<string>): void {
    for (const id of ids) {
      this.remember(id);
    }
  }

  /**
   * `true` when the id's first copy is durable; a promise when its write is under way (resolving true when it
   * succeeded); undefined when the id is not within the horizon (or its write failed).
   */
  lookup(id: string): true | Promise<boolean> | undefined {
    const write = this.writing.get(id);
    if (write) {
      return write.outcome;
    }
    const hash = hashId(id);
    return this.current.has(id, hash) || this.previous?.has(id, hash) ? true : undefined;
  }

  /** Tracks a WAL write of these ids: under way until it settles, then durable (or unseen when it failed). */
  track(ids: readonly string[], write: Promise<void>): void {
    const tracked: Write = {
      outcome: write.then(
        () => true,
        () => false
      ),
    };
    for (const id of ids) {
      this.writing.set(id, tracked);
    }
    void tracked.outcome.then((durable) => {
      for (const id of ids) {
        if (this.writing.get(id) === tracked) {
          this.writing.delete(id);
        }
        if (durable) {
          this.remember(id);
        }
      }
    });
  }

  private remember(id: string): void {
    const hash = hashId(id);
    if (!this.current.add(id, hash)) {
      this.previous = this.current;
      this.current = new IdTable(this.capacity);
      this.current.add(id, hash);
    }
  }
}

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
 * that write fails). An id table keeps its ids' UTF-8 bytes in a file of its own and only their hashes and places in
 * memory (IdTable): 8 bytes per slot, 16 per id. An id is read back from the file only when its hash matches, which
 * for a new id is a chance of one in four billion per slot probed, and for a re-sent one the confirmation that keeps
 * the answer exact. Held in memory the bytes cost ~35 more per id: ~35 MB per model at a full horizon of 2 × 500 000
 * (bench/ingest/RESULTS.md, round 8).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fmix32, fnv1a32 } from './sampling';

/** Bytes before each id in a table's arena: its UTF-8 length. */
const LENGTH_BYTES = 2;

/** Key bytes gathered in memory before they are appended to the table's file in one write. */
const WRITE_CHUNK_BYTES = 64 * 1024;

/** The longest id entry read back: its length, the longest version and id (validate.ts LIMITS), 4 bytes a character. */
const MAX_ENTRY_BYTES = LENGTH_BYTES + 4 * (128 + 1 + 256);

/** The file calls an id table makes (replaced by tests to inject failures). */
export interface IdFileIo {
  writeSync(fd: number, buffer: Buffer, offset: number, length: number, position: number): number;
  readSync(fd: number, buffer: Buffer, offset: number, length: number, position: number): number;
}

const NODE_IO: IdFileIo = {
  writeSync: (fd, buffer, offset, length, position) => fs.writeSync(fd, buffer, offset, length, position),
  readSync: (fd, buffer, offset, length, position) => fs.readSync(fd, buffer, offset, length, position),
};

/** Where an id table keeps its ids' bytes: a directory, and the calls it makes there. */
export interface IdFiles {
  dir: string;
  io?: IdFileIo;
}

let tablesOpened = 0;

/**
 * Opens a file of its own for a table's ids in `dir`, and unlinks it at once: the file lives as long as its
 * descriptor, so neither a stop nor a kill -9 leaves it behind. Undefined when that fails (a directory that cannot
 * be written): the table keeps its ids in memory then, as it did before it had a file.
 */
function openAnonymousFile(dir: string): number | undefined {
  const file = path.join(dir, `ids-${process.pid}-${++tablesOpened}.tmp`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    const fd = fs.openSync(file, 'w+', 0o600);
    fs.unlinkSync(file);
    return fd;
  } catch {
    return undefined;
  }
}

/**
 * A set of at most `capacity` ids: their UTF-8 bytes one after another in an arena, found through an
 * open-addressing table (linear probing, at most half full) of 32-bit hashes and arena offsets. An id is compared
 * in full only when its hash matches, so a new id costs a hash and a probe or two. The arena is a file (`files`)
 * with its last bytes in memory until they make a chunk; without a file, or while the file cannot be written (a
 * full disk), the bytes stay in memory, so the set is exact either way.
 */
export class IdTable {
  private readonly mask: number;
  /** Arena offset + 1 of the id in each slot; 0 for an empty slot. */
  private readonly offsets: Int32Array;
  private readonly hashes: Int32Array;
  /** The file's descriptor; undefined without a file, and once closed (a reused descriptor is never written). */
  private fd: number | undefined;
  private readonly io: IdFileIo;
  /** Arena bytes from `written` on: those not in the file. */
  private tail: Buffer;
  /** Arena bytes in the file: the first `written` ones. */
  private written = 0;
  private used = 0;
  private readonly scratch = Buffer.allocUnsafe(MAX_ENTRY_BYTES);
  size = 0;

  constructor(
    readonly capacity: number,
    files?: IdFiles
  ) {
    let slots = 2;
    while (slots < capacity * 2) {
      slots *= 2;
    }
    this.mask = slots - 1;
    this.offsets = new Int32Array(slots);
    this.hashes = new Int32Array(slots);
    this.fd = files ? openAnonymousFile(files.dir) : undefined;
    this.io = files?.io ?? NODE_IO;
    this.tail = Buffer.allocUnsafe(this.fd === undefined ? Math.min(capacity, 4096) * 48 : WRITE_CHUNK_BYTES);
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
    const at = this.used - this.written;
    this.tail.writeUInt16LE(bytes, at);
    this.tail.write(id, at + LENGTH_BYTES, bytes, 'utf8');
    this.offsets[slot] = this.used + 1;
    this.hashes[slot] = hash;
    this.used += LENGTH_BYTES + bytes;
    this.size += 1;
    return true;
  }

  /** Closes the table's file (the table is not used afterwards). */
  close(): void {
    if (this.fd !== undefined) {
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
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

  /** The id at an arena offset: from the bytes in memory, or read back from the file. */
  private idAt(offset: number): string {
    if (offset >= this.written) {
      const at = offset - this.written;
      const length = this.tail.readUInt16LE(at);
      return this.tail.toString('utf8', at + LENGTH_BYTES, at + LENGTH_BYTES + length);
    }
    if (this.fd === undefined) {
      throw new Error('the recent ids were closed: the collector is stopping');
    }
    const read = this.io.readSync(this.fd, this.scratch, 0, Math.min(MAX_ENTRY_BYTES, this.written - offset), offset);
    const length = this.scratch.readUInt16LE(0);
    if (read < LENGTH_BYTES + length) {
      throw new Error(`the recent-ids file ended early (${read} bytes at ${offset}): the collector cannot check ids`);
    }
    return this.scratch.toString('utf8', LENGTH_BYTES, LENGTH_BYTES + length);
  }

  /** Makes room for `bytes` more in memory: appends a full chunk to the file, else grows the memory (doubling). */
  private reserve(bytes: number): void {
    const held = this.used - this.written;
    if (held + bytes <= this.tail.length) {
      return;
    }
    if (this.fd !== undefined && this.append(held)) {
      return;
    }
    let size = this.tail.length * 2;
    while (held + bytes > size) {
      size *= 2;
    }
    const grown = Buffer.allocUnsafe(size);
    this.tail.copy(grown, 0, 0, held);
    this.tail = grown;
  }

  /** Appends the bytes held in memory to the file; false (they stay in memory) when that fails. */
  private append(held: number): boolean {
    try {
      for (let done = 0; done < held;) {
        done += this.io.writeSync(this.fd!, this.tail, done, held - done, this.written + done);
      }
    } catch {
      return false; // e.g. ENOSPC: kept in memory and tried again at the next chunk, the set stays exact
    }
    this.written += held;
    if (this.tail.length > WRITE_CHUNK_BYTES) {
      this.tail = Buffer.allocUnsafe(WRITE_CHUNK_BYTES);
    }
    return true;
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
  private closed = false;

  /** `files`: where the tables keep their ids' bytes (without it, in memory). */
  constructor(
    private readonly capacity: number,
    private readonly files?: IdFiles
  ) {
    this.current = new IdTable(capacity, files);
  }

  /** Closes the tables' files; writes that settle afterwards remember nothing. */
  close(): void {
    this.closed = true;
    this.current.close();
    this.previous?.close();
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
    if (this.closed) {
      return;
    }
    const hash = hashId(id);
    if (!this.current.add(id, hash)) {
      this.previous?.close();
      this.previous = this.current;
      this.current = new IdTable(this.capacity, this.files);
      this.current.add(id, hash);
    }
  }
}

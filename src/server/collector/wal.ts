/**
 * Write-ahead log of the collector: a batch is acknowledged only after its bytes are on disk (fdatasync).
 *
 * Layout: `<dir>/<sequence>.wal` segment files, numbered upwards. Each entry is framed as
 *   [u32 LE payload length][u32 LE CRC-32 of the payload][payload]
 * so a torn write at the tail of a segment (power loss, kill -9 mid-write, a full disk) is recognised and ignored
 * on replay: such an entry was never acknowledged, because acknowledgement waits for the fsync of the whole entry.
 * A payload is never empty, so a run of zero bytes is never mistaken for entries.
 *
 * Every write goes to an explicit position: the durable length of the open segment (what was written and
 * fdatasynced). A failed write or fsync rejects its batch and cuts the segment back to that length before anything
 * else is written, so acknowledged entries always form an unbroken prefix of the segment and replay stops only at
 * a torn tail. While the cut cannot be made, appends are refused rather than written after junk.
 *
 * Group commit: appends that arrive while a write+fsync cycle runs wait for the next cycle, which writes all of
 * them with one writev and one fdatasync. Concurrent requests therefore share fsyncs, which is what makes durable
 * acknowledgements cheap under load (the technique of PostgreSQL's commit_delay and of most databases' WALs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { promisify } from 'node:util';

/** The file operations of the log, replaceable in tests to inject failures (short writes, EIO, ENOSPC). */
export interface WalIo {
  /** Writes the buffers at `position`; resolves with the bytes written (possibly fewer than given). */
  writev(fd: number, buffers: Buffer[], position: number): Promise<number>;
  fdatasync(fd: number): Promise<void>;
  ftruncate(fd: number, length: number): Promise<void>;
}

const writevAt = promisify(fs.writev);
export const FILE_IO: WalIo = {
  writev: async (fd, buffers, position) => (await writevAt(fd, buffers, position)).bytesWritten,
  fdatasync: promisify(fs.fdatasync),
  ftruncate: promisify(fs.ftruncate),
};

const close = promisify(fs.close);

/** A failed append: `code` is the system error code (ENOSPC, EDQUOT, EIO, …) when there is one. */
export class WalWriteError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    /** Bytes the failed cycle tried to write. */
    readonly bytes: number
  ) {
    super(message);
    this.name = 'WalWriteError';
  }

  /** True when the write failed for lack of space (the disk or the user's quota is full). */
  get noSpace(): boolean {
    return this.code === 'ENOSPC' || this.code === 'EDQUOT';
  }
}

const HEADER_BYTES = 8;
/** Size at which a segment is sealed unless told otherwise (WalOptions.segmentBytes). */
export const DEFAULT_SEGMENT_BYTES = 32 * 1024 * 1024;
const SEGMENT_SUFFIX = '.wal';

export interface WalOptions {
  /** A segment is sealed (and becomes flushable) once it holds at least this many bytes. */
  segmentBytes?: number;
  /** File operations (tests inject failures here). */
  io?: WalIo;
  /** The clock, for the age of the oldest entry. */
  now?: () => number;
}

export interface SegmentReadResult {
  entries: Buffer[];
  /** Bytes at the end of the segment that do not form a complete, checksummed entry (a torn write). */
  tornBytes: number;
}

/** What the log holds that is not yet removed (flushed): the collector's backlog. */
export interface WalBacklog {
  bytes: number;
  /** Records in entries appended by this process and not yet removed (replayed segments count once read). */
  records: number;
  segments: number;
  /** Epoch ms of the oldest entry not yet removed, undefined when the log is empty. */
  oldestAt: number | undefined;
}

interface PendingAppend {
  frame: Buffer[];
  records: number;
  resolve: (where: AppendedEntry) => void;
  reject: (err: Error) => void;
}

/** Per segment file: what is in it, for the backlog. */
interface SegmentState {
  bytes: number;
  records: number;
  oldestAt: number | undefined;
  /** Entries this process wrote to the segment; undefined for a segment an earlier process left. */
  entries: number | undefined;
}

/** Where an appended entry is: its segment file and its position among the segment's entries. */
export interface AppendedEntry {
  file: string;
  entry: number;
}

/** Frames a payload (given whole or in parts, which are not copied): length, CRC-32, bytes. */
export function frameEntry(payload: Buffer | readonly Buffer[]): Buffer[] {
  const parts = Buffer.isBuffer(payload) ? [payload] : payload;
  let length = 0;
  let checksum = 0;
  for (const part of parts) {
    length += part.length;
    checksum = crc32(part, checksum);
  }
  if (length === 0) {
    throw new Error('a write-ahead log entry cannot be empty');
  }
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt32LE(length, 0);
  header.writeUInt32LE(checksum, 4);
  return [header, ...parts];
}

/**
 * Splits a segment's bytes into complete entries whose checksum matches; stops at the first torn or corrupt entry
 * (a zero length included: zeros left by a failed write are not entries).
 */
export function parseSegment(bytes: Buffer): SegmentReadResult {
  const entries: Buffer[] = [];
  let offset = 0;
  while (offset + HEADER_BYTES <= bytes.length) {
    const length = bytes.readUInt32LE(offset);
    const checksum = bytes.readUInt32LE(offset + 4);
    const end = offset + HEADER_BYTES + length;
    if (length === 0 || end > bytes.length) {
      break;
    }
    const payload = bytes.subarray(offset + HEADER_BYTES, end);
    if (crc32(payload) !== checksum) {
      break;
    }
    entries.push(payload);
    offset = end;
  }
  return { entries, tornBytes: bytes.length - offset };
}

function segmentName(sequence: number): string {
  return String(sequence).padStart(16, '0') + SEGMENT_SUFFIX;
}

function segmentSequence(name: string): number | undefined {
  const match = /^(\d{16})\.wal$/.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** Makes a directory entry (a created or removed file) durable. */
function fsyncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** The log (see the module comment). */
export class WriteAheadLog {
  private readonly segmentBytes: number;
  private readonly io: WalIo;
  private readonly now: () => number;
  private sequence: number;
  private fd: number;
  /** Bytes of the open segment that are written and fdatasynced: where the next write goes. */
  private durableBytes = 0;
  /** Set after a failed cycle until the open segment is cut back to `durableBytes`; nothing is written meanwhile. */
  private repairError: WalWriteError | undefined;
  private pending: PendingAppend[] = [];
  private readonly segments = new Map<string, SegmentState>();
  private writing = false;
  private sealWaiters: Array<() => void> = [];
  private closed = false;
  /** Number of fdatasync calls made so far (fewer than appends under concurrency: group commit). */
  syncs = 0;
  /** The error of the last failed cycle, cleared by the next successful one. */
  lastError: WalWriteError | undefined;

  private constructor(
    readonly dir: string,
    options: WalOptions,
    lastSequence: number
  ) {
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.io = options.io ?? FILE_IO;
    this.now = options.now ?? Date.now;
    for (const file of WriteAheadLog.listSegments(dir)) {
      const stat = fs.statSync(file);
      this.segments.set(file, { bytes: stat.size, records: 0, oldestAt: stat.mtimeMs, entries: undefined });
    }
    this.sequence = lastSequence + 1;
    this.fd = this.openSegment(this.sequence);
  }

  /**
   * Opens the log in `dir` (created if missing). Segments left by an earlier process, including the one it was
   * writing when it stopped, are sealed as they are: they are replayed by the flusher like any other sealed segment.
   */
  static open(dir: string, options: WalOptions = {}): WriteAheadLog {
    fs.mkdirSync(dir, { recursive: true });
    const existing = WriteAheadLog.listSegments(dir);
    const last = existing.length ? segmentSequence(path.basename(existing[existing.length - 1]))! : 0;
    return new WriteAheadLog(dir, options, last);
  }

  static listSegments(dir: string): string[] {
    return fs
      .readdirSync(dir)
      .filter((name) => segmentSequence(name) !== undefined)
      .sort()
      .map((name) => path.join(dir, name));
  }

  /** Bytes held in the log (sealed segments plus the open one). */
  get bytes(): number {
    let bytes = 0;
    this.segments.forEach((segment) => (bytes += segment.bytes));
    return bytes;
  }

  /** Bytes, records, segments and the age of the oldest entry not yet removed. */
  backlog(): WalBacklog {
    const backlog: WalBacklog = { bytes: 0, records: 0, segments: 0, oldestAt: undefined };
    for (const segment of this.segments.values()) {
      if (segment.bytes === 0) {
        continue;
      }
      backlog.bytes += segment.bytes;
      backlog.records += segment.records;
      backlog.segments += 1;
      if (segment.oldestAt !== undefined && (backlog.oldestAt === undefined || segment.oldestAt < backlog.oldestAt)) {
        backlog.oldestAt = segment.oldestAt;
      }
    }
    return backlog;
  }

  /**
   * Appends one entry, whole or in parts (with the number of records it holds); resolves once it is on disk, with
   * where it is.
   */
  append(payload: Buffer | readonly Buffer[], records = 0): Promise<AppendedEntry> {
    if (this.closed) {
      return Promise.reject(new Error('the write-ahead log is closed; the collector is shutting down'));
    }
    const frame = frameEntry(payload);
    return new Promise((resolve, reject) => {
      this.pending.push({ frame, records, resolve, reject });
      this.kick();
    });
  }

  /** Seals the open segment if it holds anything, so that everything appended so far becomes flushable. */
  seal(): Promise<void> {
    if (this.durableBytes === 0 && this.pending.length === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.sealWaiters.push(resolve);
      this.kick();
    });
  }

  /** Sealed segments, oldest first (the open segment is never listed). */
  sealedSegments(): string[] {
    const open = this.openFile();
    return WriteAheadLog.listSegments(this.dir).filter((file) => file !== open);
  }

  readSegment(file: string): SegmentReadResult {
    return parseSegment(fs.readFileSync(file));
  }

  /** Sets the number of records in a segment this process did not write (known once the flusher decoded it). */
  noteRecords(file: string, records: number): void {
    const segment = this.segments.get(file);
    if (segment) {
      segment.records = records;
    }
  }

  /** Entries this process wrote to a segment (undefined for a segment an earlier process left). */
  entriesOf(file: string): number | undefined {
    return this.segments.get(file)?.entries;
  }

  /** Bytes held in one segment of the log (0 for a segment it does not hold). */
  bytesOf(file: string): number {
    return this.segments.get(file)?.bytes ?? 0;
  }

  /** Deletes a sealed segment whose entries are safely in the store. */
  removeSegment(file: string): void {
    this.forget(file);
    fs.unlinkSync(file);
    fsyncDirectory(this.dir);
  }

  /** Stops accepting appends, waits for the ones under way, closes the open segment. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.writing || this.pending.length) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await close(this.fd);
    if (this.durableBytes === 0) {
      const file = this.openFile();
      this.forget(file);
      fs.unlinkSync(file);
    }
  }

  private openFile(): string {
    return path.join(this.dir, segmentName(this.sequence));
  }

  private forget(file: string): void {
    this.segments.delete(file);
  }

  /** Counts entries just written to the open segment. */
  private rememberWritten(batch: PendingAppend[], bytes: number): void {
    const segment = this.segments.get(this.openFile())!;
    segment.bytes += bytes;
    segment.oldestAt ??= this.now();
    batch.forEach((p) => (segment.records += p.records));
  }

  /** Creates segment `sequence` (exclusively) and makes its directory entry durable. */
  private openSegment(sequence: number): number {
    const file = path.join(this.dir, segmentName(sequence));
    const fd = fs.openSync(file, 'wx');
    this.segments.set(file, { bytes: 0, records: 0, oldestAt: undefined, entries: 0 });
    try {
      fsyncDirectory(this.dir);
    } catch (err) {
      fs.closeSync(fd);
      this.segments.delete(file);
      fs.rmSync(file, { force: true });
      throw err;
    }
    return fd;
  }

  private kick(): void {
    if (!this.writing) {
      this.writing = true;
      void this.drain();
    }
  }

  /** The group-commit loop: one writev + one fdatasync for everything queued, repeated until the queue is empty. */
  private async drain(): Promise<void> {
    while (this.pending.length || this.sealWaiters.length) {
      if (this.pending.length) {
        const batch = this.pending;
        this.pending = [];
        await this.writeBatch(batch);
      }
      if (this.durableBytes >= this.segmentBytes || (this.sealWaiters.length && this.pending.length === 0)) {
        this.rotate();
        const waiters = this.sealWaiters;
        this.sealWaiters = [];
        waiters.forEach((resolve) => resolve());
      }
    }
    this.writing = false;
  }

  /** Writes one group at the durable length and syncs it; on failure rejects it and cuts the segment back. */
  private async writeBatch(batch: PendingAppend[]): Promise<void> {
    const buffers = batch.flatMap((p) => p.frame);
    const size = buffers.reduce((sum, b) => sum + b.length, 0);
    if (this.repairError && !(await this.repair())) {
      batch.forEach((p) => p.reject(this.repairError!));
      return;
    }
    try {
      await writeAll(this.io, this.fd, buffers, this.durableBytes);
      await this.io.fdatasync(this.fd);
    } catch (err) {
      const error = new WalWriteError(
        `could not write the write-ahead log in ${this.dir}: ${(err as Error).message}`,
        errorCode(err),
        size
      );
      this.lastError = error;
      this.repairError = error;
      // Cut the failed bytes away before answering, so a batch reported as failed is not in the log either
      // (unless the process dies in between, when its client got no answer at all).
      await this.repair();
      batch.forEach((p) => p.reject(error));
      return;
    }
    this.syncs += 1;
    this.durableBytes += size;
    this.lastError = undefined;
    this.rememberWritten(batch, size);
    const file = this.openFile();
    const segment = this.segments.get(file)!;
    batch.forEach((p) => p.resolve({ file, entry: segment.entries!++ }));
  }

  /**
   * Cuts the open segment back to its durable length after a failed cycle (part of the failed group may be in the
   * file). Returns false, keeping the log refusing appends, while that is impossible.
   */
  private async repair(): Promise<boolean> {
    try {
      await this.io.ftruncate(this.fd, this.durableBytes);
      await this.io.fdatasync(this.fd);
    } catch (err) {
      this.repairError = new WalWriteError(
        `the write-ahead log segment ${this.openFile()} could not be cut back after a failed write ` +
          `(${(err as Error).message}); appends are refused until it can`,
        errorCode(err) ?? this.repairError?.code,
        this.repairError?.bytes ?? 0
      );
      this.lastError = this.repairError;
      return false;
    }
    this.repairError = undefined;
    return true;
  }

  /** Seals the open segment and continues in a new one; when the new one cannot be created, keeps the open one. */
  private rotate(): void {
    if (this.durableBytes === 0 || this.repairError) {
      return;
    }
    let next: number;
    try {
      next = this.openSegment(this.sequence + 1);
    } catch {
      return; // e.g. no space for a new file: keep appending to the open segment, try again at the next seal
    }
    fs.closeSync(this.fd);
    this.fd = next;
    this.sequence += 1;
    this.durableBytes = 0;
  }
}

/** Writes every byte at `position` (writev may write fewer bytes than asked; Linux caps it at 1024 buffers). */
async function writeAll(io: WalIo, fd: number, buffers: Buffer[], position: number): Promise<void> {
  let remaining = buffers;
  let at = position;
  while (remaining.length) {
    const chunk = remaining.slice(0, 1024);
    let written = await io.writev(fd, chunk, at);
    if (written <= 0) {
      throw Object.assign(new Error('the disk accepted no bytes (no space left?)'), { code: 'ENOSPC' });
    }
    at += written;
    let consumed = 0;
    while (consumed < chunk.length && written >= chunk[consumed].length) {
      written -= chunk[consumed].length;
      consumed += 1;
    }
    const rest = remaining.slice(consumed);
    if (written > 0) {
      rest[0] = rest[0].subarray(written);
    }
    remaining = rest;
  }
}

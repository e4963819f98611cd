/**
 * Write-ahead log of the collector: a batch is acknowledged only after its bytes are on disk (fdatasync).
 *
 * Layout: `<dir>/<sequence>.wal` segment files, numbered upwards. Each entry is framed as
 *   [u32 LE payload length][u32 LE CRC-32 of the payload][payload]
 * so a torn write at the tail of a segment (power loss, kill -9 mid-write) is recognised and ignored on replay:
 * such an entry was never acknowledged, because acknowledgement waits for the fsync of the whole entry.
 *
 * Group commit: appends that arrive while a write+fsync cycle runs wait for the next cycle, which writes all of
 * them with one writev and one fdatasync. Concurrent requests therefore share fsyncs, which is what makes durable
 * acknowledgements cheap under load (the technique of PostgreSQL's commit_delay and of most databases' WALs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { promisify } from 'node:util';

const writev = promisify(fs.writev);
const fdatasync = promisify(fs.fdatasync);
const close = promisify(fs.close);

const HEADER_BYTES = 8;
const SEGMENT_SUFFIX = '.wal';

export interface WalOptions {
  /** A segment is sealed (and becomes flushable) once it holds at least this many bytes. */
  segmentBytes?: number;
  /** Memos are kept for at most this many payload bytes not yet removed (default 256 MiB); beyond, read the disk. */
  memoBytes?: number;
}

export interface SegmentReadResult {
  entries: Buffer[];
  /** Bytes at the end of the segment that do not form a complete, checksummed entry (a torn write). */
  tornBytes: number;
}

interface PendingAppend<T> {
  frame: Buffer[];
  memo: T | undefined;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Frames a payload: length, CRC-32, bytes. */
export function frameEntry(payload: Buffer): Buffer[] {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt32LE(payload.length, 0);
  header.writeUInt32LE(crc32(payload), 4);
  return [header, payload];
}

/** Splits a segment's bytes into complete entries whose checksum matches; stops at the first torn or corrupt entry. */
export function parseSegment(bytes: Buffer): SegmentReadResult {
  const entries: Buffer[] = [];
  let offset = 0;
  while (offset + HEADER_BYTES <= bytes.length) {
    const length = bytes.readUInt32LE(offset);
    const checksum = bytes.readUInt32LE(offset + 4);
    const end = offset + HEADER_BYTES + length;
    if (end > bytes.length) {
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

/**
 * The log. `T` is an optional memo kept in memory beside each entry written by this process (the decoded form of
 * the payload), so that the flusher need not read and decode segments this process wrote itself; segments left
 * by an earlier process, or written while the memo budget was exhausted, have no memos and are read from disk.
 */
export class WriteAheadLog<T = never> {
  private readonly segmentBytes: number;
  private sequence: number;
  private fd: number;
  private currentBytes = 0;
  private pending: Array<PendingAppend<T>> = [];
  /** Memos of the entries of segments written by this process, in entry order; absent when incomplete. */
  private readonly memos = new Map<string, { entries: T[]; bytes: number }>();
  private memoBytes = 0;
  private readonly memoBudget: number;
  private writing = false;
  private sealWaiters: Array<() => void> = [];
  private closed = false;
  private broken: Error | undefined;
  private sealedBytes: number;
  /** Number of fdatasync calls made so far (fewer than appends under concurrency: group commit). */
  syncs = 0;

  private constructor(
    readonly dir: string,
    options: WalOptions,
    lastSequence: number,
    sealedBytes: number
  ) {
    this.segmentBytes = options.segmentBytes ?? 32 * 1024 * 1024;
    this.memoBudget = options.memoBytes ?? 256 * 1024 * 1024;
    this.sequence = lastSequence + 1;
    this.sealedBytes = sealedBytes;
    this.fd = this.openSegment(this.sequence);
  }

  /**
   * Opens the log in `dir` (created if missing). Segments left by an earlier process, including the one it was
   * writing when it stopped, are sealed as they are: they are replayed by the flusher like any other sealed segment.
   */
  static open<T = never>(dir: string, options: WalOptions = {}): WriteAheadLog<T> {
    fs.mkdirSync(dir, { recursive: true });
    const existing = WriteAheadLog.listSegments(dir);
    const last = existing.length ? segmentSequence(path.basename(existing[existing.length - 1]))! : 0;
    const bytes = existing.reduce((sum, file) => sum + fs.statSync(file).size, 0);
    return new WriteAheadLog<T>(dir, options, last, bytes);
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
    return this.sealedBytes + this.currentBytes;
  }

  /** Appends one entry (with its memo); resolves once it is on disk. */
  append(payload: Buffer, memo?: T): Promise<void> {
    if (this.closed) {
      return Promise.reject(new Error('the write-ahead log is closed; the collector is shutting down'));
    }
    if (this.broken) {
      return Promise.reject(this.broken);
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ frame: frameEntry(payload), memo, resolve, reject });
      this.kick();
    });
  }

  /** Seals the open segment if it holds anything, so that everything appended so far becomes flushable. */
  seal(): Promise<void> {
    if (this.currentBytes === 0 && this.pending.length === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.sealWaiters.push(resolve);
      this.kick();
    });
  }

  /** Sealed segments, oldest first (the open segment is never listed). */
  sealedSegments(): string[] {
    const open = path.join(this.dir, segmentName(this.sequence));
    return WriteAheadLog.listSegments(this.dir).filter((file) => file !== open);
  }

  readSegment(file: string): SegmentReadResult {
    return parseSegment(fs.readFileSync(file));
  }

  /** Deletes a sealed segment whose entries are safely in the store. */
  /** The memos of a sealed segment's entries when this process wrote all of them, else undefined. */
  memosOf(file: string): T[] | undefined {
    return this.memos.get(file)?.entries;
  }

  removeSegment(file: string): void {
    this.dropMemos(file);
    const size = fs.statSync(file).size;
    fs.unlinkSync(file);
    fsyncDirectory(this.dir);
    this.sealedBytes -= size;
  }

  /** Stops accepting appends, waits for the ones under way, closes the open segment. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.writing || this.pending.length) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await close(this.fd);
    if (this.currentBytes === 0) {
      fs.unlinkSync(path.join(this.dir, segmentName(this.sequence)));
    }
  }

  private dropMemos(file: string): void {
    this.memoBytes -= this.memos.get(file)?.bytes ?? 0;
    this.memos.delete(file);
  }

  /** Keeps the memos of entries just written to the open segment, or gives the segment up when over budget. */
  private rememberWritten(batch: Array<PendingAppend<T>>, file: string): void {
    const memo = this.memos.get(file);
    if (!memo) {
      return;
    }
    const bytes = batch.reduce((sum, p) => sum + p.frame[1].length, 0);
    if (batch.some((p) => p.memo === undefined) || this.memoBytes + bytes > this.memoBudget) {
      this.dropMemos(file);
      return;
    }
    batch.forEach((p) => memo.entries.push(p.memo as T));
    memo.bytes += bytes;
    this.memoBytes += bytes;
  }

  private openSegment(sequence: number): number {
    const file = path.join(this.dir, segmentName(sequence));
    this.memos.set(file, { entries: [], bytes: 0 });
    const fd = fs.openSync(file, 'wx');
    fsyncDirectory(this.dir);
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
        const buffers = batch.flatMap((p) => p.frame);
        const size = buffers.reduce((sum, b) => sum + b.length, 0);
        try {
          await writeAll(this.fd, buffers);
          await fdatasync(this.fd);
          this.syncs += 1;
          this.currentBytes += size;
          this.rememberWritten(batch, path.join(this.dir, segmentName(this.sequence)));
          batch.forEach((p) => p.resolve());
        } catch (err) {
          const error = new Error(`could not write the write-ahead log in ${this.dir}: ${(err as Error).message}`);
          batch.forEach((p) => p.reject(error));
          await this.discardFailedWrite();
        }
      }
      if (this.currentBytes >= this.segmentBytes || (this.sealWaiters.length && this.pending.length === 0)) {
        await this.rotate();
        const waiters = this.sealWaiters;
        this.sealWaiters = [];
        waiters.forEach((resolve) => resolve());
      }
    }
    this.writing = false;
  }

  /**
   * After a failed write (e.g. disk full) part of the batch may be in the file: cut the file back to its last
   * acknowledged entry, so that replay never stops at a torn entry in the middle, and continue in a new segment.
   */
  private async discardFailedWrite(): Promise<void> {
    const file = path.join(this.dir, segmentName(this.sequence));
    this.dropMemos(file);
    try {
      fs.ftruncateSync(this.fd, this.currentBytes);
      await fdatasync(this.fd);
      await this.rotate();
    } catch (err) {
      // The file cannot be repaired: entries appended after the torn one would be lost on replay, so refuse all.
      this.broken = new Error(
        `the write-ahead log segment ${file} could not be repaired after a failed write (${(err as Error).message}); ` +
          'restart the collector (it replays the log) once the disk problem is solved'
      );
    }
  }

  private async rotate(): Promise<void> {
    if (this.currentBytes === 0) {
      return;
    }
    await close(this.fd);
    this.sealedBytes += this.currentBytes;
    this.currentBytes = 0;
    this.sequence += 1;
    this.fd = this.openSegment(this.sequence);
  }
}

/** writev until every byte is written (writev may write fewer bytes than asked). */
async function writeAll(fd: number, buffers: Buffer[]): Promise<void> {
  let remaining = buffers;
  while (remaining.length) {
    // Linux caps writev at IOV_MAX (1024) buffers per call.
    const chunk = remaining.slice(0, 1024);
    let written = (await writev(fd, chunk)).bytesWritten;
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

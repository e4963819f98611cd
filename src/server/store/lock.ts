/**
 * Exclusive locks between processes: one collector per data directory (and per state directory), one maintenance
 * round per model at a time.
 *
 * Node has no flock(2). DuckDB, which the store loads anyway, takes a POSIX record lock (fcntl F_SETLK) on a
 * database file it opens for writing; the kernel releases it however the holder ends (kill -9 included), it works
 * across containers that share a volume and on NFSv4, and DuckDB's refusal names the holder's PID. So a lock is a
 * small DuckDB database file `<dir>/<name>.lock`, used for nothing but its lock, with `<name>.lock.json` beside
 * it saying who holds it (PID, command, since when), written once the lock is held.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';

/** What the holder of a lock wrote about itself. */
export interface LockHolder {
  pid: number;
  host?: string;
  command?: string;
  since?: string;
  [detail: string]: unknown;
}

export class LockHeldError extends Error {
  constructor(
    readonly lockFile: string,
    readonly holder: LockHolder | undefined
  ) {
    super(`${lockFile} is held by ${describeHolder(holder)}`);
    this.name = 'LockHeldError';
  }
}

export interface HeldLock {
  readonly file: string;
  /** Releases the lock (idempotent). */
  release(): Promise<void>;
}

/** Lock files held by this process: fcntl locks do not exclude their own process, so it keeps count itself. */
const heldHere = new Set<string>();

/** "PID 123 (mlmon serve, since 2026-…, on host h)", or "another process" when nothing is known. */
export function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) {
    return 'another process';
  }
  const details = [holder.command, holder.since && `since ${holder.since}`, holder.host && `on host ${holder.host}`]
    .filter(Boolean)
    .join(', ');
  return `PID ${holder.pid}${details ? ` (${details})` : ''}`;
}

function readHolder(infoFile: string, pid: number | undefined): LockHolder | undefined {
  try {
    const info = JSON.parse(fs.readFileSync(infoFile, 'utf8')) as LockHolder;
    if (pid === undefined || info.pid === pid) {
      return info;
    }
  } catch {
    // no information beyond the PID
  }
  return pid === undefined ? undefined : { pid };
}

/**
 * Takes the lock `<dir>/<name>.lock` at once, or throws LockHeldError naming the holder. `info` (e.g. the
 * collector's URL) is written beside it for the next process that is refused.
 */
export async function acquireLock(dir: string, name: string, info: Record<string, unknown> = {}): Promise<HeldLock> {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(fs.realpathSync(dir), `${name}.lock`);
  const infoFile = `${file}.json`;
  if (heldHere.has(file)) {
    throw new LockHeldError(file, readHolder(infoFile, process.pid));
  }
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(file, { threads: '1', memory_limit: '16MB' });
  } catch (err) {
    const message = (err as Error).message;
    if (/Could not set lock|Conflicting lock/i.test(message)) {
      const pid = /PID (\d+)/.exec(message)?.[1];
      throw new LockHeldError(file, readHolder(infoFile, pid === undefined ? undefined : Number(pid)));
    }
    throw new Error(`cannot take the lock ${file}: ${message}`);
  }
  heldHere.add(file);
  const holder: LockHolder = {
    pid: process.pid,
    host: hostname(),
    command: `mlmon ${process.argv[2] ?? ''}`.trim(),
    since: new Date().toISOString(),
    ...info,
  };
  try {
    fs.writeFileSync(`${infoFile}.tmp`, JSON.stringify(holder));
    fs.renameSync(`${infoFile}.tmp`, infoFile);
  } catch {
    // The information is a courtesy (a full disk must not stop a collector from starting and replaying its log).
    fs.rmSync(`${infoFile}.tmp`, { force: true });
  }
  let released = false;
  return {
    file,
    async release() {
      if (released) {
        return;
      }
      released = true;
      fs.rmSync(infoFile, { force: true });
      instance.closeSync();
      heldHere.delete(file);
    },
  };
}

/**
 * Runs `work` holding `<dir>/<name>.lock`, waiting up to `waitMs` for another holder to finish (polling every
 * `pollMs`); `onWait` is told once who it waits for. Throws LockHeldError when the wait runs out.
 */
export async function withLock<T>(
  dir: string,
  name: string,
  work: () => Promise<T>,
  options: { waitMs: number; pollMs?: number; onWait?: (holder: string) => void }
): Promise<T> {
  const deadline = Date.now() + options.waitMs;
  let told = false;
  for (;;) {
    let lock: HeldLock;
    try {
      lock = await acquireLock(dir, name);
    } catch (err) {
      if (!(err instanceof LockHeldError) || Date.now() >= deadline) {
        throw err;
      }
      if (!told) {
        told = true;
        options.onWait?.(describeHolder(err.holder));
      }
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 100));
      continue;
    }
    try {
      return await work();
    } finally {
      await lock.release();
    }
  }
}

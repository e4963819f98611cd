/**
 * What /healthz says, from the collector's state: `ok`; `degraded` when it accepts batches but something needs
 * attention (store writes failing for some model, a store worker that stopped, a backlog that is old or half the
 * limit); `failing` when it refuses batches (disk below its floor, write-ahead log not writable, backlog over the
 * limit, shutting down).
 * Failing answers 503, so a load balancer sends traffic elsewhere; degraded still answers 200.
 */
import type { FlusherStatus } from './flusher';
import type { FreeSpaceState } from './free-space';
import type { WalBacklog, WalWriteError } from './wal';

export type HealthStatus = 'ok' | 'degraded' | 'failing' | 'stopping';

export interface HealthInput {
  now: number;
  stopping: boolean;
  freeSpace: FreeSpaceState;
  minFreeBytes: number;
  walError: WalWriteError | undefined;
  backlog: WalBacklog;
  maxBacklogBytes: number;
  /** A backlog entry older than this means the store is not keeping up. */
  staleBacklogMs: number;
  flusher: FlusherStatus;
}

export interface HealthReport {
  status: HealthStatus;
  /** One sentence per problem, saying what to do. */
  problems: string[];
  backlog: { records: number; bytes: number; segments: number; oldestAgeSeconds: number };
  disk: { freeBytes: number; minFreeBytes: number };
  flusher: {
    lastSuccessAt: string | undefined;
    consecutiveFailures: number;
    failingTargets: string[];
    /** Why the store writer itself (the store worker) failed in the last round, if it did. */
    writerError: string | undefined;
  };
  /** Kept for clients of earlier versions: backlog.bytes. */
  walBytes: number;
}

/** Seconds of an age, rounded to 0.1 s. */
function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}

export function assessHealth(input: HealthInput): HealthReport {
  const failing: string[] = [];
  const degraded: string[] = [];
  const { backlog, flusher } = input;
  const oldestAgeMs = backlog.oldestAt === undefined ? 0 : Math.max(0, input.now - backlog.oldestAt);
  if (!input.freeSpace.ok) {
    failing.push(input.freeSpace.problem!);
  }
  if (input.walError && !input.walError.noSpace) {
    failing.push(`${input.walError.message}; batches are refused until a write succeeds — check the disk`);
  }
  if (backlog.bytes > input.maxBacklogBytes) {
    failing.push(
      `the backlog (${backlog.bytes} bytes not yet in the store) is over its limit of ${input.maxBacklogBytes} ` +
        'bytes: batches are refused until the store catches up'
    );
  } else if (backlog.bytes > input.maxBacklogBytes / 2) {
    degraded.push(`the backlog holds ${backlog.bytes} bytes, over half its limit of ${input.maxBacklogBytes}`);
  }
  if (flusher.failingTargets.length > 0) {
    const since = flusher.failingSince === undefined ? '' : ` for ${seconds(input.now - flusher.failingSince)} s`;
    degraded.push(
      `store writes of ${flusher.failingTargets.join(', ')} have been failing${since} (${flusher.lastError}); ` +
        'their records stay in the write-ahead log and are retried'
    );
  }
  if (flusher.sinkError !== undefined) {
    degraded.push(
      `the store writer failed (${flusher.sinkError}); every record stays in the write-ahead log and a new ` +
        'writer retries them — see the collector log if this repeats'
    );
  }
  if (oldestAgeMs > input.staleBacklogMs) {
    degraded.push(
      `the oldest record not yet in the store was received ${seconds(oldestAgeMs)} s ago: the store is not keeping up`
    );
  }
  const status: HealthStatus = input.stopping
    ? 'stopping'
    : failing.length
      ? 'failing'
      : degraded.length
        ? 'degraded'
        : 'ok';
  return {
    status,
    problems: [...(input.stopping ? ['the collector is shutting down'] : []), ...failing, ...degraded],
    backlog: {
      records: backlog.records,
      bytes: backlog.bytes,
      segments: backlog.segments,
      oldestAgeSeconds: seconds(oldestAgeMs),
    },
    disk: { freeBytes: input.freeSpace.freeBytes, minFreeBytes: input.minFreeBytes },
    flusher: {
      lastSuccessAt: flusher.lastSuccessAt === undefined ? undefined : new Date(flusher.lastSuccessAt).toISOString(),
      consecutiveFailures: flusher.consecutiveFailures,
      failingTargets: flusher.failingTargets,
      writerError: flusher.sinkError,
    },
    walBytes: backlog.bytes,
  };
}

/** The HTTP status of a health report: 503 when batches are refused, else 200. */
export function healthHttpStatus(report: HealthReport): number {
  return report.status === 'failing' || report.status === 'stopping' ? 503 : 200;
}

/** A health status as a number, for the mlmon_collector_health gauge. */
export function healthLevel(status: HealthStatus): number {
  return { ok: 0, degraded: 1, failing: 2, stopping: 3 }[status];
}

/**
 * Names of the embedded store's Parquet files: `t<ms since the epoch, base 36, 9 digits>-<uuid>.parquet`, so that
 * name order is write order (the plain `<uuid>.parquet` names of older stores sort before all of them: `t` > `f`).
 * Counting adds up a day's files in name order, so a new flush is the last one and is counted alone
 * (src/server/counting/window-counts.ts); between copies of an id ingested in the same millisecond, the
 * de-duplication prefers the earlier name (day-merge.ts), i.e. the earlier write.
 */
import { randomUUID } from 'node:crypto';

export function newDataFileName(now = Date.now()): string {
  return `t${now.toString(36).padStart(9, '0')}-${randomUUID()}.parquet`;
}

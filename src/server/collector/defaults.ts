/**
 * The collector's default limits, in a module of their own so that `mlmon serve`'s main thread can print them in
 * its --help without loading the collector (which runs in its own thread: cli/collector-thread.ts).
 */

/** Batches get 507 while the write-ahead log's file system has less free space than this. */
export const DEFAULT_MIN_FREE_BYTES = 64 * 1024 * 1024;
/**
 * Write-ahead log bytes waiting for the store above which batches are refused (503): 128 MiB is about a quarter of a
 * million records of ~500 bytes, some 5 s of the store's writing at 50 000 records/s, so a full backlog drains — and
 * a graceful stop finishes — in seconds, while a store that stalls for a few seconds costs no refusals. A rate the
 * store cannot sustain shows as refusals instead of a queue that grows until the disk is full. The store writer
 * keeps the whole backlog in memory as columns (deliveryBudget), so it is never read back from the log while it is
 * within this limit; columns take about two thirds of the log's bytes.
 */
export const DEFAULT_MAX_BACKLOG_BYTES = 128 * 1024 * 1024;

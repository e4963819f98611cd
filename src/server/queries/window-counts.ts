/**
 * How `distribution` and the drift family count a window: the cells of binned-counts.ts for every column × bin ×
 * bucket of [from, to), answered in two parts on a file-backed store (the embedded one).
 *
 * - Inside a day held in ONE file, the whole time slots (1 h, or the largest of 15 / 5 / 1 min dividing the bucket)
 *   are counted once per file, slot, column and filter, and kept in memory: a day file never changes under its name
 *   (EmbeddedStore.predictionDays), so these counts stay exact, and a dashboard that refreshes, or a query over ten
 *   days, reads a few kilobytes per column and day instead of the rows.
 * - The rest (the partial slots at the range's ends, the day still being written and deduplicated) is counted by
 *   the store at each query.
 *
 * Slot counts are also written beside the file (EmbeddedStore.writeFileCounts: `<file>.counts/`, removed with the
 * file; nothing when the store is read-only), so a restarted backend, or one that reads what `mlmon maintain`
 * prepared, starts warm. Slots add up to buckets because a slot divides the bucket and both are aligned on the epoch
 * (window.ts). A ClickHouse store and a bucket that is not a whole number of minutes count straight from the store
 * with the same plan. Memory is bounded (MLMON_COUNT_CACHE_MB, default 64 MB; least recently used entries go
 * first).
 */
import { createHash } from 'node:crypto';
import type { PredictionStore, StoredDay, TimeRange } from '../store/types';
import { binnedCountsPlan, runBinnedCounts, type CountCell, type CountedColumn } from './binned-counts';
import type { WhereClause } from './scope';

const MINUTE_MS = 60_000;
/** Slot sizes, largest first; each divides a day, so day files hold whole slots. */
const SLOT_SIZES_MS = [60, 15, 5, 1].map((minutes) => minutes * MINUTE_MS);

/** The slot size for a bucket: the largest in SLOT_SIZES_MS dividing it (1 h for one bucket over the range). */
export function slotSizeMs(bucketMs: number): number | undefined {
  return bucketMs === 0 ? SLOT_SIZES_MS[0] : SLOT_SIZES_MS.find((slot) => bucketMs % slot === 0);
}

/** The part of a range read from one day file's cached slots. */
export interface CachedPart {
  file: string;
  from: number;
  to: number;
}

/**
 * Splits a range into whole slots inside single-file days (served from the cache) and the rest (counted by the
 * store), the latter merged into as few ranges as possible.
 */
export function splitRange(
  range: TimeRange,
  days: readonly StoredDay[],
  slotMs: number
): { cached: CachedPart[]; direct: TimeRange[] } {
  const first = Math.ceil(range.from / slotMs) * slotMs;
  const last = Math.floor(range.to / slotMs) * slotMs;
  const cached: CachedPart[] = [];
  for (const day of days) {
    const from = Math.max(day.start, first);
    const to = Math.min(day.end, last);
    if (day.file !== undefined && from < to) {
      cached.push({ file: day.file, from, to });
    }
  }
  const direct: TimeRange[] = [];
  let cursor = range.from;
  for (const part of [...cached, { file: '', from: range.to, to: range.to }]) {
    if (part.from > cursor) {
      const previous = direct[direct.length - 1];
      if (previous && previous.to === cursor) {
        previous.to = part.from;
      } else {
        direct.push({ from: cursor, to: part.from });
      }
    }
    cursor = Math.max(cursor, part.to);
  }
  return { cached, direct };
}

/** Counts of one column in one slot or bucket: bins dense (index bin + 1, so 0 = missing), categories by name. */
interface Tally {
  bins: Float64Array;
  binSums: Float64Array;
  categories: Map<string, { n: number; sum: number }>;
}

function emptyTally(column: CountedColumn): Tally {
  const size = column.kind === 'numeric' ? (column.edges?.length ?? 0) + 2 : 1;
  return { bins: new Float64Array(size), binSums: new Float64Array(size), categories: new Map() };
}

function addCell(tally: Tally, cell: CountCell): void {
  if (cell.bin === -1 || cell.category === '') {
    tally.bins[cell.bin + 1] += cell.n;
    tally.binSums[cell.bin + 1] += cell.sum;
    return;
  }
  const found = tally.categories.get(cell.category);
  tally.categories.set(cell.category, { n: (found?.n ?? 0) + cell.n, sum: (found?.sum ?? 0) + cell.sum });
}

function addTally(into: Tally, from: Tally): void {
  for (let k = 0; k < from.bins.length; k++) {
    into.bins[k] += from.bins[k];
    into.binSums[k] += from.binSums[k];
  }
  for (const [category, cell] of from.categories) {
    addCell(into, { column: 0, bucket: 0, bin: 0, category, n: cell.n, sum: cell.sum });
  }
}

function cellsOfTally(column: number, bucket: number, tally: Tally): CountCell[] {
  const cells: CountCell[] = [];
  tally.bins.forEach((n, k) => {
    if (n > 0) {
      cells.push({ column, bucket, bin: k - 1, category: '', n, sum: tally.binSums[k] });
    }
  });
  for (const [category, cell] of tally.categories) {
    cells.push({ column, bucket, bin: 0, category, n: cell.n, sum: cell.sum });
  }
  return cells;
}

/** Bytes a tally holds (for the cache budget): the two arrays plus about 64 bytes per category. */
const tallyBytes = (tally: Tally) => tally.bins.byteLength * 2 + 64 * tally.categories.size + 64;

/** One column's counts per slot of one file under one filter. */
type SlotTallies = Map<number, Tally>;

/** A least-recently-used map bounded by the bytes of its entries. */
export class CountCache {
  private readonly entries = new Map<string, { value: SlotTallies; bytes: number }>();
  private bytes = 0;

  constructor(readonly budgetBytes: number) {}

  get(key: string): SlotTallies | undefined {
    const entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry?.value;
  }

  set(key: string, value: SlotTallies): void {
    const bytes = [...value.values()].reduce((sum, tally) => sum + tallyBytes(tally), key.length + 64);
    this.entries.delete(key);
    this.entries.set(key, { value, bytes });
    this.bytes += bytes;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.budgetBytes) {
        break;
      }
      this.entries.delete(oldest);
      this.bytes -= entry.bytes;
    }
  }

  get usedBytes(): number {
    return this.bytes;
  }
}

const DEFAULT_CACHE_MB = 64;
const caches = new WeakMap<PredictionStore, CountCache>();

/** The cache of a store (one per datasource instance), sized by MLMON_COUNT_CACHE_MB. */
function cacheOf(store: PredictionStore): CountCache {
  let cache = caches.get(store);
  if (!cache) {
    const mb = Number(process.env.MLMON_COUNT_CACHE_MB ?? DEFAULT_CACHE_MB);
    cache = new CountCache((Number.isFinite(mb) && mb >= 0 ? mb : DEFAULT_CACHE_MB) * 1024 * 1024);
    caches.set(store, cache);
  }
  return cache;
}

/**
 * The name of a cached tally beside its file: the slot size and a hash of what decides the counts besides the file,
 * the filter (without the bucket size) and the column.
 */
function countsKey(slotMs: number, where: WhereClause, column: CountedColumn): string {
  const { bucket_ms: _bucket, ...filter } = where.params;
  const spec = JSON.stringify([
    where.sql,
    filter,
    column.column,
    column.kind,
    column.edges,
    column.sumOf,
    column.sumCells,
  ]);
  return `${slotMs / MINUTE_MS}m-${createHash('sha1').update(spec).digest('hex')}`;
}

/** Slot tallies as JSON: `[[slot, bins, binSums, [[category, n, sum], …]], …]`. */
export function serializeTallies(slots: SlotTallies): string {
  return JSON.stringify(
    [...slots].map(([slot, tally]) => [
      slot,
      [...tally.bins],
      [...tally.binSums],
      [...tally.categories].map(([category, cell]) => [category, cell.n, cell.sum]),
    ])
  );
}

export function parseTallies(text: string): SlotTallies {
  const slots = JSON.parse(text) as Array<[number, number[], number[], Array<[string, number, number]>]>;
  return new Map(
    slots.map(([slot, bins, binSums, categories]) => [
      slot,
      {
        bins: Float64Array.from(bins),
        binSums: Float64Array.from(binSums),
        categories: new Map(categories.map(([category, n, sum]) => [category, { n, sum }])),
      },
    ])
  );
}

export interface WindowCountsRequest {
  store: PredictionStore;
  model: string;
  range: TimeRange;
  columns: CountedColumn[];
  /** window.ts `windowWhere` (its `bucket_ms` is set here for each part). */
  where: WhereClause;
  /** Bucket size in ms; 0 = the whole range as one bucket (bucket 0). */
  bucketMs: number;
  signal?: AbortSignal;
}

/** Counts a relation of the store with the binned-counts plan at the given bucket size. */
async function countRelation(
  request: WindowCountsRequest,
  relation: string,
  columns: CountedColumn[],
  bucketMs: number
): Promise<CountCell[]> {
  const where = { sql: request.where.sql, params: { ...request.where.params, bucket_ms: bucketMs } };
  const plan = binnedCountsPlan(request.store.dialect, relation, columns, { where, bucketMs });
  return runBinnedCounts(request.store, plan, request.signal);
}

/** Cached tallies of a file: from memory, else from beside the file (kept in memory from then on). */
async function cachedTallies(store: PredictionStore, file: string, key: string): Promise<SlotTallies | undefined> {
  const cache = cacheOf(store);
  const inMemory = cache.get(`${file}|${key}`);
  if (inMemory) {
    return inMemory;
  }
  const text = await store.readFileCounts?.(file, key);
  const stored = text === undefined ? undefined : parseTallies(text);
  if (stored) {
    cache.set(`${file}|${key}`, stored);
  }
  return stored;
}

/**
 * The slot tallies of every column over one file (`keys[i]` names column i's, countsKey): cached ones, and the
 * others counted in one scan of the file, then cached in memory and beside the file.
 */
async function fileTallies(
  request: WindowCountsRequest,
  file: string,
  slotMs: number,
  keys: string[]
): Promise<SlotTallies[]> {
  const { store } = request;
  const found = await Promise.all(keys.map((key) => cachedTallies(store, file, key)));
  const missing = request.columns.flatMap((column, index) => (found[index] ? [] : [index]));
  if (missing.length > 0) {
    const relation = await store.fileRelation!(request.model, file);
    const cells = await countRelation(
      request,
      relation,
      missing.map((index) => request.columns[index]),
      slotMs
    );
    const counted = missing.map((): SlotTallies => new Map());
    for (const cell of cells) {
      const slots = counted[cell.column];
      const tally = slots.get(cell.bucket) ?? emptyTally(request.columns[missing[cell.column]]);
      addCell(tally, cell);
      slots.set(cell.bucket, tally);
    }
    for (const [i, index] of missing.entries()) {
      found[index] = counted[i];
      cacheOf(store).set(`${file}|${keys[index]}`, counted[i]);
      await store.writeFileCounts?.(file, keys[index], serializeTallies(counted[i]));
    }
  }
  return found as SlotTallies[];
}

/**
 * The cells of every column × bin × bucket of the window (binned-counts.ts CountCell, column = index into
 * `columns`), from the cached slot counts of whole day files and the store for the rest (see the module comment).
 */
export async function countWindow(request: WindowCountsRequest): Promise<CountCell[]> {
  const { store, model, range, columns, bucketMs } = request;
  const slotMs = slotSizeMs(bucketMs);
  if (slotMs === undefined || !store.predictionDays || !store.fileRelation) {
    return countRelation(request, await store.predictionsRelation(model, range), columns, bucketMs);
  }
  const { cached, direct } = splitRange(range, await store.predictionDays(model, range), slotMs);
  const keys = columns.map((column) => countsKey(slotMs, request.where, column));
  const buckets = new Map<string, Tally>();
  const bucketTally = (column: number, bucket: number) => {
    const key = `${column}@${bucket}`;
    const tally = buckets.get(key) ?? emptyTally(columns[column]);
    buckets.set(key, tally);
    return tally;
  };
  for (const part of cached) {
    const tallies = await fileTallies(request, part.file, slotMs, keys);
    tallies.forEach((slots, column) => {
      for (const [slot, tally] of slots) {
        if (slot >= part.from && slot < part.to) {
          addTally(bucketTally(column, bucketMs > 0 ? slot - (slot % bucketMs) : 0), tally);
        }
      }
    });
  }
  for (const part of direct) {
    for (const cell of await countRelation(request, await store.predictionsRelation(model, part), columns, bucketMs)) {
      addCell(bucketTally(cell.column, cell.bucket), cell);
    }
  }
  return [...buckets].flatMap(([key, tally]) => {
    const [column, bucket] = key.split('@').map(Number);
    return cellsOfTally(column, bucket, tally);
  });
}

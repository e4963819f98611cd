/**
 * The counting engine's entry point (`countWindow`): how `distribution` and the drift family count a window — the
 * cells of binned-counts.ts for every column × bin × bucket of [from, to) — deciding per store between counts
 * prepared per time slot and the rows:
 *
 * - Embedded store: inside a day held in ONE file, the whole time slots (1 h, or the largest of 15 / 5 / 1 min
 *   dividing the buckets) are counted once per file, slot, column and filter, and kept in memory: a day file never
 *   changes under its name (EmbeddedStore.predictionDays), so these counts stay exact, and a dashboard that
 *   refreshes, or a query over ten days, reads a few kilobytes per column and day instead of the rows. Slot counts
 *   are also written beside the file (EmbeddedStore.writeFileCounts: `<file>.counts/`, removed with the file; nothing
 *   when the store is read-only), so a restarted backend, or one that reads what `mlmon maintain` prepared, starts
 *   warm.
 * - ClickHouse: the hours `mlmon maintain` (or the collector's maintenance) prepared in ClickHouse tables and that no
 *   insert has touched since (clickhouse-hours.ts); a query never prepares them itself.
 * - The rest (the partial slots at the range's ends, the day still being written and deduplicated, hours not
 *   prepared or changed since) is counted from the rows at each query.
 *
 * Slots add up to buckets because a slot divides the buckets and both are aligned on the epoch (window.ts) — or, for
 * one bucket over the range and for the few buckets of an alert rule, because the slots cut by a bucket's edges are
 * counted from the rows with the rest. A store without prepared counts, a bucket that is not a whole number of
 * minutes (of hours, on ClickHouse), and a column whose slots of a day hold more than MAX_SLOT_CELLS_PER_DAY cells (a
 * KS grid counted per minute) count straight from the rows with the same plan, only over the query's range. Cells go
 * straight into tallies (binned-counts.ts CellSink), added up in slices (slices.ts). The embedded store's memory is
 * bounded (MLMON_COUNT_CACHE_MB, default 64 MB; least recently used entries go first).
 */
import { createHash } from 'node:crypto';
import type { PredictionStore, ShardReader, TimeRange } from '../store/types';
import { addTally, addToTally, binnedCountsPlan, emptyTally, runBinnedCounts, type Tally } from './binned-counts';
import { type CellSink, type CountedColumn } from './cells';
import { addPreparedHours, freshHours, HOUR_MS } from './clickhouse-hours';
import type { WhereClause } from './scope';
import { onEveryShard } from './shard-sums';
import { forEachSliced } from '../slices';
import { bucketCount, bucketOf, bucketStarts, epochGrid, gridParams, type BucketGrid } from './window';

const MINUTE_MS = 60_000;
const DAY_MS = 24 * HOUR_MS;
/** Slot sizes, largest first; each divides a day, so day files hold whole slots. */
const SLOT_SIZES_MS = [60, 15, 5, 1].map((minutes) => minutes * MINUTE_MS);
/** Most buckets of a grid whose slots are cut at every bucket edge (an alert rule's grid; see `slotPlan`). */
const MAX_CUT_BUCKETS = 1000;
/**
 * Most cells (slots of a day × bins) one column's counts of a day file may hold to be counted whole and kept; past it
 * (a ~1 000-knot KS grid counted per 5 or 1 min) the column is counted over the query's range only.
 */
export const MAX_SLOT_CELLS_PER_DAY = 100_000;
/** Bins assumed for a categorical column when sizing its counts. */
const CATEGORIES_ASSUMED = 32;

/** How a grid's buckets are read from cached slots: the slot size, and whether slots are cut at the buckets' edges. */
export interface SlotPlan {
  slotMs: number;
  /** True when the slot divides the buckets (no slot straddles two); else slots are cut at every bucket edge. */
  aligned: boolean;
}

/**
 * The slots for a grid: the largest of SLOT_SIZES_MS dividing its bucket size and origin; for one bucket over the
 * range, or up to MAX_CUT_BUCKETS buckets of at least an hour on another origin, hours cut at the bucket edges; none
 * otherwise (the store counts the range).
 */
export function slotPlan(grid: BucketGrid, range: TimeRange): SlotPlan | undefined {
  if (grid.sizeMs === 0) {
    return { slotMs: HOUR_MS, aligned: false };
  }
  const slotMs = SLOT_SIZES_MS.find((slot) => grid.sizeMs % slot === 0 && grid.originMs % slot === 0);
  if (slotMs !== undefined) {
    return { slotMs, aligned: true };
  }
  return grid.sizeMs >= HOUR_MS && bucketCount(range, grid) <= MAX_CUT_BUCKETS
    ? { slotMs: HOUR_MS, aligned: false }
    : undefined;
}

/** Cells one column's counts of a day hold at this slot size (see MAX_SLOT_CELLS_PER_DAY). */
function cellsPerDay(column: CountedColumn, slotMs: number): number {
  const bins = column.kind === 'numeric' ? (column.edges?.length ?? 0) + 2 : CATEGORIES_ASSUMED;
  return (DAY_MS / slotMs) * bins;
}

/**
 * A part of the range held in prepared slots, and what holds them: the day's files in name order (embedded), or the
 * stamp of the hour's preparation (ClickHouse).
 */
export interface PreparedUnit extends TimeRange {
  holders: readonly string[];
}

/** The part of a range read from one unit's prepared slots. */
export interface CachedPart {
  holders: readonly string[];
  from: number;
  to: number;
}

/**
 * Splits a range into whole slots inside prepared units (served from their slots) and the rest (counted by the
 * store), the latter merged into as few ranges as possible. `windows` are the parts of the range no slot may straddle
 * (its buckets when the slots are cut at their edges; the whole range otherwise).
 */
export function splitRange(
  range: TimeRange,
  units: readonly PreparedUnit[],
  slotMs: number,
  windows: readonly TimeRange[] = [range]
): { cached: CachedPart[]; direct: TimeRange[] } {
  const cached: CachedPart[] = [];
  for (const window of windows) {
    const first = Math.ceil(Math.max(window.from, range.from) / slotMs) * slotMs;
    const last = Math.floor(Math.min(window.to, range.to) / slotMs) * slotMs;
    for (const unit of units) {
      const from = Math.max(unit.from, first);
      const to = Math.min(unit.to, last);
      if (from < to) {
        cached.push({ holders: unit.holders, from, to });
      }
    }
  }
  cached.sort((a, b) => a.from - b.from);
  const direct: TimeRange[] = [];
  let cursor = range.from;
  for (const part of [...cached, { from: range.to, to: range.to }]) {
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
 * the filter (without the bucket grid) and the column.
 */
export function countsKey(slotMs: number, where: WhereClause, column: CountedColumn): string {
  const { bucket_ms: _size, bucket_origin: _origin, ...filter } = where.params;
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

/** Tallies kept beside a file, or undefined when the text is not whole (a cache written without fsync, cut short). */
function parseStoredTallies(text: string): SlotTallies | undefined {
  try {
    return parseTallies(text);
  } catch {
    return undefined;
  }
}

export interface WindowCountsRequest {
  store: PredictionStore;
  model: string;
  range: TimeRange;
  columns: CountedColumn[];
  /** window.ts `windowWhere` (its grid parameters are set here for each part). */
  where: WhereClause;
  /** The buckets to count by (plan.ts). */
  grid: BucketGrid;
  signal?: AbortSignal;
}

/** The counts of a window: one tally per column and bucket start (buckets without rows have none). */
export class WindowCounts {
  private readonly byColumn: Array<Map<number, Tally>>;

  constructor(
    private readonly columns: readonly CountedColumn[],
    private readonly grid: BucketGrid
  ) {
    this.byColumn = columns.map(() => new Map());
  }

  /** The tally of a column in the bucket holding `time`, made empty when missing. */
  private at(column: number, time: number): Tally {
    return tallyAt(this.byColumn[column], bucketOf(this.grid, time), this.columns[column]);
  }

  /** A sink for the cells of `columns[subset[i]]` counted as column i (all columns when no subset is given). */
  sink(subset?: readonly number[]): CellSink {
    return (column, bucket, bin, category, n, sum) =>
      addToTally(this.at(subset ? subset[column] : column, bucket), bin, category, n, sum);
  }

  /** Adds a slot's tally of a column to its bucket. */
  addSlot(column: number, slot: number, tally: Tally): void {
    addTally(this.at(column, slot), tally);
  }

  /** The tally of a column in the bucket starting at `bucket`, if the window had rows there. */
  get(column: number, bucket: number): Tally | undefined {
    return this.byColumn[column].get(bucket);
  }
}

/** Counts a relation with the binned-counts plan on `grid`, into `add`, running on `reader` (the store or a shard). */
async function countRelation(
  request: WindowCountsRequest,
  reader: ShardReader,
  relation: string,
  columns: CountedColumn[],
  grid: BucketGrid,
  add: CellSink
): Promise<void> {
  const where = { sql: request.where.sql, params: { ...request.where.params, ...gridParams(grid) } };
  const plan = binnedCountsPlan(reader.dialect, relation, columns, { where, grid });
  await runBinnedCounts(reader, plan, add, request.signal);
}

/**
 * Counts the model's rows in `range` on the request's grid, into `add`: on the store, or on every shard of a cluster
 * store over the shard's own rows, adding up what the shards return (shardReaders).
 */
async function countRows(
  request: WindowCountsRequest,
  range: TimeRange,
  columns: CountedColumn[],
  add: CellSink
): Promise<void> {
  await onEveryShard(request.store, request.model, range, (reader, relation) =>
    countRelation(request, reader, relation, columns, request.grid, add)
  );
}

/**
 * Cached tallies of a file under each key: from memory, else from beside the file, asked for all the keys missing
 * from memory at once (kept in memory from then on).
 */
async function cachedTallies(
  store: PredictionStore,
  file: string,
  keys: readonly string[]
): Promise<Array<SlotTallies | undefined>> {
  const cache = cacheOf(store);
  const found = keys.map((key) => cache.get(`${file}|${key}`));
  const absent = keys.filter((_key, i) => !found[i]);
  if (absent.length === 0 || !store.readFileCounts) {
    return found;
  }
  const texts = await store.readFileCounts(file, absent);
  const stored = new Map(
    absent.map((key, i) => [key, texts[i] === undefined ? undefined : parseStoredTallies(texts[i])])
  );
  return keys.map((key, i) => {
    const tallies = found[i] ?? stored.get(key);
    if (tallies && !found[i]) {
      cache.set(`${file}|${key}`, tallies);
    }
    return tallies;
  });
}

/** Keeps counted tallies of a file under their keys: in memory, and beside the file (one write for all). */
async function keepTallies(
  store: PredictionStore,
  file: string,
  entries: ReadonlyArray<readonly [key: string, tallies: SlotTallies]>
): Promise<void> {
  for (const [key, tallies] of entries) {
    cacheOf(store).set(`${file}|${key}`, tallies);
  }
  await store.writeFileCounts?.(
    file,
    entries.map(([key, tallies]) => [key, serializeTallies(tallies)])
  );
}

/**
 * The slot tallies of the given columns over a day's files, in name order (`keys[i]` names `columns[i]`'s
 * countsKey), cached under the last file: in memory and beside it, past a first file under the key and the names of
 * the files before it. When the day less its last file is cached and that file shares no id with the others (a new
 * flush), the day is those tallies plus the last file's rows, counted in one scan of that file alone; otherwise
 * the kept copies of all the files are counted (day-merge.ts's rule).
 */
async function dayTallies(
  request: WindowCountsRequest,
  files: readonly string[],
  slotMs: number,
  columns: readonly CountedColumn[],
  keys: readonly string[]
): Promise<SlotTallies[]> {
  const { store } = request;
  const last = files.length - 1;
  const keyOf = (end: number, key: string) =>
    end === 0 ? key : `${key}-${createHash('sha1').update(files.slice(0, end).join('\n')).digest('hex').slice(0, 16)}`;
  const found = await cachedTallies(
    store,
    files[last],
    keys.map((key) => keyOf(last, key))
  );
  const missing = columns.flatMap((_column, i) => (found[i] ? [] : [i]));
  if (missing.length > 0) {
    const missingColumns = missing.map((i) => columns[i]);
    const counted = missing.map((): SlotTallies => new Map());
    const before =
      last === 0
        ? []
        : await cachedTallies(
            store,
            files[last - 1],
            missing.map((i) => keyOf(last - 1, keys[i]))
          );
    const extend =
      last > 0 &&
      before.every((tallies) => tallies !== undefined) &&
      !(await store.filesSharePredictions!(files[last], files.slice(0, last)));
    const relation = await store.fileRelation!(request.model, last === 0 || extend ? [files[last]] : files);
    await countRelation(request, store, relation, missingColumns, epochGrid(slotMs), slotSink(counted, missingColumns));
    for (const [j, i] of missing.entries()) {
      if (extend) {
        addSlotTallies(counted[j], before[j]!, columns[i]);
      }
      found[i] = counted[j];
    }
    await keepTallies(
      store,
      files[last],
      missing.map((i, j) => [keyOf(last, keys[i]), counted[j]])
    );
  }
  return found as SlotTallies[];
}

/** The tally of `column` at `key` (a bucket or slot start) in `tallies`, made empty when missing. */
function tallyAt(tallies: Map<number, Tally>, key: number, column: CountedColumn): Tally {
  let tally = tallies.get(key);
  if (!tally) {
    tally = emptyTally(column);
    tallies.set(key, tally);
  }
  return tally;
}

/** A sink adding the cells of column i to `counted[i]` by slot (`columns[i]` is that column). */
function slotSink(counted: readonly SlotTallies[], columns: readonly CountedColumn[]): CellSink {
  return (column, slot, bin, category, n, sum) =>
    addToTally(tallyAt(counted[column], slot, columns[column]), bin, category, n, sum);
}

/** Adds every slot of `from` into `into` (the same column's). */
function addSlotTallies(into: SlotTallies, from: SlotTallies, column: CountedColumn): void {
  for (const [slot, tally] of from) {
    addTally(tallyAt(into, slot, column), tally);
  }
}

/** The parts of the range no cached slot may straddle: its buckets when slots are cut at their edges. */
function slotWindows(range: TimeRange, grid: BucketGrid, plan: SlotPlan): TimeRange[] {
  if (plan.aligned || grid.sizeMs === 0) {
    return [range];
  }
  return bucketStarts(range, grid).map((start) => ({ from: start, to: start + grid.sizeMs }));
}

/**
 * Where a store keeps counts prepared per slot: the day files' cached slots (embedded) or the prepared hours kept in
 * ClickHouse (clickhouse-hours.ts).
 */
interface PreparedSlots {
  /** Whether it holds slots of this size. */
  serves(slotMs: number): boolean;
  /** The parts of the range held in prepared slots for these keys, ascending. */
  units(request: WindowCountsRequest, keys: readonly string[]): Promise<PreparedUnit[]>;
  /** Adds the slots of `parts` of the columns `kept` (whose counts `keys` name, in order) to the counts. */
  add(
    request: WindowCountsRequest,
    parts: readonly CachedPart[],
    slotMs: number,
    kept: readonly number[],
    keys: readonly string[],
    counts: WindowCounts
  ): Promise<void>;
}

/**
 * Counts the days of `parts` held in one file whose counts are not cached at all (a cold range of compacted days)
 * several days per statement, and caches each file's slots (a slot lies in one day) as dayTallies would: DuckDB then
 * plans once and reads the files in parallel, where a statement per file paid its fixed cost file by file. A
 * statement's cells stay within MAX_SLOT_CELLS_PER_DAY (its result is converted in one synchronous step).
 */
async function countColdFiles(
  request: WindowCountsRequest,
  parts: readonly CachedPart[],
  slotMs: number,
  columns: readonly CountedColumn[],
  keys: readonly string[]
): Promise<void> {
  const { store } = request;
  const dayOf = new Map<string, number>();
  for (const part of parts) {
    if (part.holders.length === 1) {
      dayOf.set(part.holders[0], Math.floor(part.from / DAY_MS) * DAY_MS);
    }
  }
  const cold: string[] = [];
  for (const file of dayOf.keys()) {
    const found = await cachedTallies(store, file, keys);
    if (found.every((tallies) => tallies === undefined)) {
      cold.push(file);
    }
  }
  const cellsPerFile = columns.reduce((sum, column) => sum + cellsPerDay(column, slotMs), 0);
  const filesPerStatement = Math.floor(MAX_SLOT_CELLS_PER_DAY / cellsPerFile);
  for (let first = 0; filesPerStatement > 1 && cold.length - first > 1; first += filesPerStatement) {
    await countFilesTogether(request, cold.slice(first, first + filesPerStatement), dayOf, slotMs, columns, keys);
  }
}

/** Counts `files` (each a whole day, starting at `dayOf`) in one statement and caches each file's slots. */
async function countFilesTogether(
  request: WindowCountsRequest,
  files: readonly string[],
  dayOf: ReadonlyMap<string, number>,
  slotMs: number,
  columns: readonly CountedColumn[],
  keys: readonly string[]
): Promise<void> {
  const { store } = request;
  const counted = columns.map((): SlotTallies => new Map());
  const relation = await store.fileRelation!(request.model, files);
  await countRelation(request, store, relation, [...columns], epochGrid(slotMs), slotSink(counted, columns));
  for (const file of files) {
    const start = dayOf.get(file)!;
    const ofFile = counted.map((slots, i): [string, SlotTallies] => {
      const own: SlotTallies = new Map();
      for (const [slot, tally] of slots) {
        if (slot >= start && slot < start + DAY_MS) {
          own.set(slot, tally);
        }
      }
      return [keys[i], own];
    });
    await keepTallies(store, file, ofFile);
  }
}

/**
 * The embedded store's day files: slots counted once per file (on first use or by `mlmon maintain`) and cached; a
 * file added to a day (a flush) is counted alone (dayTallies).
 */
const DAY_FILE_SLOTS: PreparedSlots = {
  serves: () => true,
  units: async (request) =>
    (await request.store.predictionDays!(request.model, request.range)).map((day) => ({
      from: day.start,
      to: day.end,
      holders: day.files,
    })),
  async add(request, parts, slotMs, kept, keys, counts) {
    const keptColumns = kept.map((index) => request.columns[index]);
    await countColdFiles(request, parts, slotMs, keptColumns, keys);
    for (const part of parts) {
      const tallies = await dayTallies(request, part.holders, slotMs, keptColumns, keys);
      for (const [i, slots] of tallies.entries()) {
        await forEachSliced(
          slots,
          ([slot, tally]) => {
            if (slot >= part.from && slot < part.to) {
              counts.addSlot(kept[i], slot, tally);
            }
          },
          request.signal
        );
      }
    }
  },
};

/** ClickHouse: the hours prepared in its own tables and unchanged since (clickhouse-hours.ts). */
const CLICKHOUSE_HOURS: PreparedSlots = {
  serves: (slotMs) => slotMs === HOUR_MS,
  async units(request, keys) {
    const hours = await freshHours(request.store, request.model, keys, request.range, request.signal);
    return hours.map(({ hour, preparedAt }) => ({ from: hour, to: hour + HOUR_MS, holders: [String(preparedAt)] }));
  },
  add: (request, parts, _slotMs, kept, keys, counts) =>
    addPreparedHours(
      request.store,
      request.model,
      keys,
      parts.map((part) => ({ hour: part.from, preparedAt: Number(part.holders[0]) })),
      request.grid,
      counts.sink(kept),
      request.signal
    ),
};

/** The prepared slots of a store, if it keeps any. */
function preparedSlotsOf(store: PredictionStore): PreparedSlots | undefined {
  if (store.predictionDays && store.fileRelation) {
    return DAY_FILE_SLOTS;
  }
  return store.writePreparedCounts ? CLICKHOUSE_HOURS : undefined;
}

/**
 * The counts of every column × bin × bucket of the window, from the store's prepared slots where it has them and
 * from the rows for the rest (see the module comment).
 */
export async function countWindow(request: WindowCountsRequest): Promise<WindowCounts> {
  const { store, range, columns, grid } = request;
  const counts = new WindowCounts(columns, grid);
  const prepared = preparedSlotsOf(store);
  const found = prepared ? slotPlan(grid, range) : undefined;
  const plan = found && prepared!.serves(found.slotMs) ? found : undefined;
  const all = columns.map((_column, index) => index);
  const kept = plan ? all.filter((index) => cellsPerDay(columns[index], plan.slotMs) <= MAX_SLOT_CELLS_PER_DAY) : [];
  const ranged = all.filter((index) => !kept.includes(index));
  if (ranged.length > 0) {
    await countRows(
      request,
      range,
      ranged.map((index) => columns[index]),
      counts.sink(ranged)
    );
  }
  if (!plan || kept.length === 0) {
    return counts;
  }
  const { slotMs } = plan;
  const keptColumns = kept.map((index) => columns[index]);
  const keys = keptColumns.map((column) => countsKey(slotMs, request.where, column));
  const units = await prepared!.units(request, keys);
  const { cached, direct } = splitRange(range, units, slotMs, slotWindows(range, grid, plan));
  await prepared!.add(request, cached, slotMs, kept, keys, counts);
  for (const part of direct) {
    await countRows(request, part, keptColumns, counts.sink(kept));
  }
  return counts;
}

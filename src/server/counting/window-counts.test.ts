/**
 * window-counts.ts: the split of a range into cached whole slots of single-file days and the rest, and, on a real
 * embedded store, that the cached answer equals the plain plan over the store's relation for any range and bucket,
 * that cached slots are reused in memory and from beside the file, and that compaction removes them with their file.
 */
import fc from 'fast-check';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRandom } from '../../core/stats';
import { EmbeddedStore } from '../store/embedded';
import { StoreChangedError } from '../store/errors';
import type { PredictionRecord } from '../store/types';
import { cellsOfWindow, collectCells } from '../../../test/support/counts';
import { binnedCountsPlan } from './binned-counts';
import { type CountCell, type CountedColumn } from './cells';
import {
  CountCache,
  countWindow,
  parseTallies,
  serializeTallies,
  slotPlan,
  splitRange,
  type PreparedUnit,
} from './window-counts';
import { bucketStarts, epochGrid, wholeRangeGrid, windowWhere, type BucketGrid } from './window';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 10, 20);

describe('slots and ranges', () => {
  it('picks the largest slot dividing the buckets, hours cut at the edges of one or few buckets, none below a minute', () => {
    const range = { from: T0, to: T0 + 3 * DAY };
    const slot = (grid: BucketGrid) => slotPlan(grid, range);
    const sizes = [HOUR, 6 * HOUR, DAY, 30 * MINUTE, 10 * MINUTE, 2 * MINUTE, 90_000];
    expect(sizes.map((size) => slot(epochGrid(size))?.slotMs)).toEqual([
      HOUR,
      HOUR,
      HOUR,
      15 * MINUTE,
      5 * MINUTE,
      MINUTE,
      undefined,
    ]);
    expect(slot(epochGrid(DAY))?.aligned).toBe(true);
    expect(slot(wholeRangeGrid(range))).toEqual({ slotMs: HOUR, aligned: false });
    // an alert rule's daily buckets ending at 12:00:10: hours, cut at every bucket edge
    expect(slot({ sizeMs: DAY, originMs: T0 + 12 * HOUR + 10_000 - DAY })).toEqual({ slotMs: HOUR, aligned: false });
    expect(slot({ sizeMs: 5 * MINUTE, originMs: T0 + 10_000 })).toBeUndefined();
  });

  it('covers the range exactly once: whole slots of prepared units cached, everything else direct', () => {
    const layout = fc.array(fc.boolean(), { minLength: 1, maxLength: 5 });
    const point = fc.integer({ min: -DAY, max: 6 * DAY });
    fc.assert(
      fc.property(layout, point, point, fc.constantFrom(MINUTE, 15 * MINUTE, HOUR), (stored, a, b, slot) => {
        const range = { from: T0 + Math.min(a, b), to: T0 + Math.max(a, b) + 1 };
        const units: PreparedUnit[] = stored.flatMap((kept, d) =>
          kept ? [{ from: T0 + d * DAY, to: T0 + (d + 1) * DAY, holders: [`f${d}`] }] : []
        );
        const { cached, direct } = splitRange(range, units, slot);
        const parts = [...cached, ...direct].sort((x, y) => x.from - y.from);
        expect(parts[0].from).toBe(range.from);
        expect(parts[parts.length - 1].to).toBe(range.to);
        parts.slice(1).forEach((part, i) => expect(part.from).toBe(parts[i].to));
        for (const part of cached) {
          const unit = units.find((u) => u.holders === part.holders)!;
          expect(part.from % slot).toBe(0);
          expect(part.to % slot).toBe(0);
          expect(part.from).toBeGreaterThanOrEqual(unit.from);
          expect(part.to).toBeLessThanOrEqual(unit.to);
        }
        direct.slice(1).forEach((part, i) => expect(part.from).toBeGreaterThan(direct[i].to - 1));
      }),
      { numRuns: 300 }
    );
  });

  it('serialises slot tallies without loss and evicts the least recently used entries past its budget', () => {
    const slots = new Map([
      [
        T0,
        {
          bins: Float64Array.from([1, 2, 0.5]),
          binSums: Float64Array.from([0, 3.25, -1]),
          categories: new Map([['a"b', { n: 4, sum: 1.5 }]]),
        },
      ],
    ]);
    expect(parseTallies(serializeTallies(slots))).toEqual(slots);
    const cache = new CountCache(1000);
    cache.set('a', slots);
    cache.set('b', slots);
    cache.get('a');
    for (let i = 0; i < 10; i++) {
      cache.set(`c${i}`, slots);
    }
    expect(cache.usedBytes).toBeLessThanOrEqual(1000);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('c9')).toBe(slots);
  });
});

describe('countWindow on the embedded store', () => {
  let dir: string;
  const random = createRandom(11);
  const CATEGORIES = ['a', 'b', 'c', ''];
  const record = (i: number, ts: number): PredictionRecord => ({
    id: `r${i}`,
    ts,
    version: i % 3 === 0 ? 'v2' : 'v1',
    features: { x: i % 37 === 0 ? null : Math.round(1000 * random()) / 10, c: CATEGORIES[i % 4] },
    prediction: random(),
    score: random(),
    samplingRate: 1,
  });
  const records = Array.from({ length: 3000 }, (_, i) => record(i, T0 + Math.floor((i / 3000) * 3 * DAY)));
  const EDGES = [10, 25.5, 50, 90];
  const columns: CountedColumn[] = [
    { column: '"f_x"', kind: 'numeric', edges: EDGES },
    { column: '"f_c"', kind: 'categorical' },
    { column: '"f_x"', kind: 'numeric', edges: EDGES, sumOf: '"score"' },
    { column: '"f_x"', kind: 'numeric', edges: [20, 40, 60, 80], sumOf: '"f_x"', sumCells: 'outer' },
    { column: '"f_c"', kind: 'categorical', sumOf: '"score"' },
  ];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mlmon-window-counts-'));
    const store = await EmbeddedStore.open(dir);
    await store.writePredictions('m', records);
    // day 2 gets a second file re-sending 100 of its ids with new values: that day is read deduplicated, directly
    await store.writePredictions(
      'm',
      records.slice(2100, 2200).map((r, i) => record(2100 + i, r.ts))
    );
    await store.close();
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** The plain plan over the store's (deduplicated) relation: what countWindow must equal. */
  async function direct(store: EmbeddedStore, range: { from: number; to: number }, grid: BucketGrid, version?: string) {
    const where = windowWhere('duckdb', { model: 'm', version }, grid);
    const plan = binnedCountsPlan('duckdb', await store.predictionsRelation('m', range), columns, { where, grid });
    return collectCells(store, plan);
  }

  const normalised = (cells: CountCell[]) =>
    cells.map((c) => `${c.column}|${c.bucket}|${c.bin}|${c.category}|${c.n}|${c.sum.toFixed(6)}`).sort();

  /** The grids a window is counted by: one bucket, epoch-aligned sizes, and an alert rule's end-aligned buckets. */
  const gridsOf = (range: { from: number; to: number }): BucketGrid[] => [
    wholeRangeGrid(range),
    ...[HOUR, 30 * MINUTE, 10 * MINUTE, 90_000, DAY].map(epochGrid),
    { sizeMs: 6 * HOUR, originMs: range.to - Math.ceil((range.to - range.from) / (6 * HOUR)) * 6 * HOUR },
  ];

  it('equals the plain plan for aligned and unaligned ranges, every bucket size, with and without a filter', async () => {
    const store = await EmbeddedStore.open(dir);
    try {
      const ranges = [
        { from: T0, to: T0 + 3 * DAY },
        { from: T0 + 5 * HOUR + 17 * MINUTE + 3, to: T0 + 2 * DAY + 7 * HOUR + 1 },
        { from: T0 + DAY - 90_000, to: T0 + DAY + 90_000 },
        { from: T0 - DAY, to: T0 + 4 * DAY },
      ];
      for (const range of ranges) {
        for (const grid of gridsOf(range)) {
          for (const version of [undefined, 'v2']) {
            const where = windowWhere('duckdb', { model: 'm', version }, grid);
            const counts = await countWindow({ store, model: 'm', range, columns, where, grid });
            const cells = cellsOfWindow(counts, columns.length, bucketStarts(range, grid));
            expect(normalised(cells)).toEqual(normalised(await direct(store, range, grid, version)));
          }
        }
      }
    } finally {
      await store.close();
    }
  });

  it('reads cached slots from memory, then from beside the file in a new process, and drops them with the file', async () => {
    const range = { from: T0, to: T0 + 3 * DAY };
    const grid = epochGrid(HOUR);
    const where = windowWhere('duckdb', { model: 'm', version: 'v1' }, grid);
    const statementsOf = (store: EmbeddedStore) => {
      const sql: string[] = [];
      const query = store.query.bind(store);
      store.query = ((text: string, ...rest: never[]) => (sql.push(text), query(text, ...rest))) as typeof store.query;
      return sql;
    };
    const count = async (store: EmbeddedStore) =>
      cellsOfWindow(
        await countWindow({ store, model: 'm', range, columns, where, grid }),
        columns.length,
        bucketStarts(range, grid)
      );
    const first = await EmbeddedStore.open(dir);
    const sql = statementsOf(first);
    const expected = normalised(await count(first));
    // counted per slot (a histogram and an unpivot statement each): the two single-file days in one pair of
    // statements over both files; nothing was cached for the two-file day, so its kept copies, kept beside its last file
    expect(sql).toHaveLength(4);
    expect(sql.filter((text) => text.includes('dedup_winners'))).toHaveLength(2);
    const [bothDays] = sql.filter((text) => !text.includes('dedup_winners'));
    expect(bothDays).toContain('day=2026-11-20');
    expect(bothDays).toContain('day=2026-11-21');
    expect(normalised(await count(first))).toEqual(expected);
    expect(sql).toHaveLength(4);
    await first.close();

    const restarted = await EmbeddedStore.open(dir);
    const fresh = statementsOf(restarted);
    expect(normalised(await count(restarted))).toEqual(expected);
    expect(fresh).toEqual([]);
    const dayDir = join(dir, 'models', 'm', 'predictions', 'day=2026-11-20');
    const countsDirs = (await readdir(dayDir)).filter((name) => name.endsWith('.counts'));
    expect(countsDirs).toHaveLength(1);
    await restarted.close();

    // Counts are a cache written without fsync: one cut short by a crash is counted again, not trusted.
    for (const kept of await readdir(join(dayDir, countsDirs[0]))) {
      await writeFile(join(dayDir, countsDirs[0], kept), '[[1795132800000,[1,');
    }
    const afterCrash = await EmbeddedStore.open(dir);
    const recount = statementsOf(afterCrash);
    expect(normalised(await count(afterCrash))).toEqual(expected);
    expect(recount.length).toBeGreaterThan(0);
    await afterCrash.close();
    const reopened = await EmbeddedStore.open(dir);

    await reopened.writePredictions('m', [record(1, T0 + 1000)]);
    await reopened.compact('m');
    const names = await readdir(dayDir);
    expect(names.filter((name) => name.endsWith('.parquet'))).toHaveLength(1);
    expect(names.filter((name) => name.endsWith('.counts'))).toHaveLength(0);
    await reopened.close();
  });

  it('counts a flush of new ids alone (its file only) and adds it to the day; a flush re-sending ids, with its day', async () => {
    const range = { from: T0, to: T0 + 3 * DAY };
    const grid = wholeRangeGrid(range);
    const where = windowWhere('duckdb', { model: 'm' }, grid);
    const store = await EmbeddedStore.open(dir);
    try {
      await countWindow({ store, model: 'm', range, columns, where, grid }); // every day prepared
      await store.writePredictions(
        'm',
        Array.from({ length: 200 }, (_, i) => record(5000 + i, T0 + DAY + 60_000 * i))
      );
      const [day] = await store.predictionDays('m', { from: T0 + DAY, to: T0 + 2 * DAY });
      expect(day.files).toHaveLength(2);
      const sql: string[] = [];
      const query = store.query.bind(store);
      store.query = ((text: string, ...rest: never[]) => (sql.push(text), query(text, ...rest))) as typeof store.query;
      const counts = await countWindow({ store, model: 'm', range, columns, where, grid });
      const counting = [...sql];
      expect(normalised(cellsOfWindow(counts, columns.length, bucketStarts(range, grid)))).toEqual(
        normalised(await direct(store, range, grid))
      );
      // one id check, then the new file alone (a histogram and an unpivot statement), nothing else read
      const newest = day.files[day.files.length - 1];
      expect(counting).toHaveLength(3);
      expect(counting[0]).toContain('SEMI JOIN');
      for (const text of counting.slice(1)) {
        expect(text).toContain(newest);
        expect(text).not.toContain(day.files[0]);
        expect(text).not.toContain('dedup_winners');
      }
      // a flush re-sending ids the day holds: its kept copies are counted (the first copies stay)
      await store.writePredictions(
        'm',
        Array.from({ length: 50 }, (_, i) => ({ ...record(5000 + i, T0 + DAY + 60_000 * i), prediction: 7 }))
      );
      sql.length = 0;
      const again = await countWindow({ store, model: 'm', range, columns, where, grid });
      const recounted = [...sql];
      expect(normalised(cellsOfWindow(again, columns.length, bucketStarts(range, grid)))).toEqual(
        normalised(await direct(store, range, grid))
      );
      expect(recounted).toHaveLength(3);
      expect(recounted[0]).toContain('SEMI JOIN');
      expect(recounted.slice(1).every((text) => text.includes('dedup_winners'))).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('asks the store for the counts beside each file once for all columns, and writes them once per file', async () => {
    // A cold range costs a listing per file, not a failed read per column and file: 40 features over 30 days tried
    // 1 200 absent counts files and wrote 1 200 more one after the other, a quarter of a cold whole-range drift.
    const coldDir = await mkdtemp(join(tmpdir(), 'mlmon-window-counts-cold-'));
    const store = await EmbeddedStore.open(coldDir);
    try {
      await store.writePredictions('m', records);
      const range = { from: T0, to: T0 + 3 * DAY };
      const grid = wholeRangeGrid(range);
      const where = windowWhere('duckdb', { model: 'm' }, grid);
      const days = await store.predictionDays('m', range);
      const calls = { read: 0, write: 0 };
      const read = store.readFileCounts.bind(store);
      const write = store.writeFileCounts.bind(store);
      store.readFileCounts = ((...args: Parameters<typeof read>) => (calls.read++, read(...args))) as typeof read;
      store.writeFileCounts = ((...args: Parameters<typeof write>) => (calls.write++, write(...args))) as typeof write;
      const counts = await countWindow({ store, model: 'm', range, columns, where, grid });
      expect(normalised(cellsOfWindow(counts, columns.length, bucketStarts(range, grid)))).toEqual(
        normalised(await direct(store, range, grid))
      );
      expect(days).toHaveLength(3);
      expect(calls.read).toBeLessThanOrEqual(2 * days.length);
      expect(calls.write).toBeLessThanOrEqual(days.length);
      // every column's counts were kept: a new process reads them and counts nothing
      const restarted = await EmbeddedStore.open(coldDir);
      const sql: string[] = [];
      const query = restarted.query.bind(restarted);
      restarted.query = ((text: string, ...rest: never[]) => (sql.push(text), query(text, ...rest))) as typeof query;
      const again = await countWindow({ store: restarted, model: 'm', range, columns, where, grid });
      expect(normalised(cellsOfWindow(again, columns.length, bucketStarts(range, grid)))).toEqual(
        normalised(cellsOfWindow(counts, columns.length, bucketStarts(range, grid)))
      );
      expect(sql).toEqual([]);
      // a column more: the kept ones are read from beside the files, only the new one is counted (file by file)
      const wider = [...columns, { column: '"score"', kind: 'numeric' as const, edges: [0.25, 0.5, 0.75] }];
      const widened = await countWindow({ store: restarted, model: 'm', range, columns: wider, where, grid });
      const counting = [...sql];
      const plan = binnedCountsPlan('duckdb', await restarted.predictionsRelation('m', range), wider, { where, grid });
      expect(normalised(cellsOfWindow(widened, wider.length, bucketStarts(range, grid)))).toEqual(
        normalised(await collectCells(restarted, plan))
      );
      expect(counting).toHaveLength(days.length);
      for (const text of counting) {
        expect(text).toContain('"score"');
        expect(text).not.toContain('histogram("f_x"');
      }
      await restarted.close();
    } finally {
      await store.close();
      await rm(coldDir, { recursive: true, force: true });
    }
  });

  it('says the store changed when a file it planned to read was compacted away', async () => {
    const reader = await EmbeddedStore.open(dir);
    const writer = await EmbeddedStore.open(dir);
    try {
      const relation = await reader.predictionsRelation('m', { from: T0, to: T0 + DAY });
      await writer.writePredictions('m', [record(2, T0 + 2000)]);
      await writer.compact('m');
      await expect(reader.query(`SELECT count(*) AS n FROM ${relation}`)).rejects.toThrow(StoreChangedError);
    } finally {
      await reader.close();
      await writer.close();
    }
  });
});

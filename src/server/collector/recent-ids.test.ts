import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IdTable, RecentIds, type IdFileIo } from './recent-ids';
import { fmix32, fnv1a32 } from './sampling';

/** The table's hash of an id (recent-ids.ts hashId). */
const hashOf = (id: string) => fmix32(fnv1a32(id)) | 0;

/** Two different ids with the same 32-bit hash, found once by hashing `v1 id-<n>` for n = 0, 1, 2, … */
const COLLIDING_IDS = ['v1 id-565479', 'v1 id-1231896'] as const;

describe('IdTable', () => {
  test('holds exactly the ids added, whatever their characters, up to its capacity', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ maxLength: 40 }), { maxLength: 300 }),
        fc.array(fc.string()),
        (ids, others) => {
          const table = new IdTable(ids.length + 1);
          ids.forEach((id) => expect(table.add(id)).toBe(true));
          expect(table.size).toBe(ids.length);
          ids.forEach((id) => expect(table.has(id)).toBe(true));
          const held = new Set(ids);
          others.forEach((id) => expect(table.has(id)).toBe(held.has(id)));
        }
      )
    );
  });

  test('grows its arena for long ids, refuses the id past its capacity, and adds an id once', () => {
    const table = new IdTable(3);
    const long = 'é'.repeat(200); // 400 UTF-8 bytes
    expect(table.add(long)).toBe(true);
    expect(table.add(long)).toBe(true);
    expect(table.add('b')).toBe(true);
    expect(table.add('😀')).toBe(true);
    expect(table.size).toBe(3);
    expect(table.add('c')).toBe(false);
    expect([long, 'b', '😀', 'c'].map((id) => table.has(id))).toEqual([true, true, true, false]);
  });
});

describe('IdTable with its ids in a file', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-ids-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('holds exactly the ids added once they are in the file, leaves no file behind', () => {
    const table = new IdTable(20_000, { dir });
    const ids = Array.from({ length: 20_000 }, (_, i) => `v${i % 3} ${'é'.repeat(i % 5)}id-${i}`);
    ids.forEach((id) => expect(table.add(id)).toBe(true));
    expect(table.add('one more')).toBe(false);
    // Most ids were appended to the file in chunks (64 KiB): a re-sent id is confirmed from there.
    expect(ids.every((id) => table.has(id))).toBe(true);
    expect(ids.some((id) => table.has(id + 'x'))).toBe(false);
    expect(fs.readdirSync(dir)).toEqual([]); // the file is unlinked at once: it lives as long as its descriptor
    table.close();
  });

  test('two ids with one hash are told apart by their bytes read back from the file', () => {
    const [first, second] = COLLIDING_IDS;
    expect(hashOf(first)).toBe(hashOf(second));
    const table = new IdTable(10_000, { dir });
    expect(table.add(first)).toBe(true);
    for (let i = 0; i < 5_000; i++) {
      table.add(`filler-${i}`); // pushes `first` out of memory into the file
    }
    expect(table.has(first)).toBe(true);
    expect(table.has(second)).toBe(false);
    expect(table.add(second)).toBe(true);
    expect([first, second].map((id) => table.has(id))).toEqual([true, true]);
    table.close();
  });

  test('while the file cannot be written (a full disk) the ids stay in memory and the set stays exact', () => {
    let failing = true;
    const io: IdFileIo = {
      writeSync: (fd, buffer, offset, length, position) => {
        if (failing) {
          throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        }
        return fs.writeSync(fd, buffer, offset, length, position);
      },
      readSync: (fd, buffer, offset, length, position) => fs.readSync(fd, buffer, offset, length, position),
    };
    const table = new IdTable(20_000, { dir, io });
    const ids = Array.from({ length: 20_000 }, (_, i) => `v1 id-${i}`);
    ids.slice(0, 10_000).forEach((id) => table.add(id));
    failing = false; // space freed: the next chunk writes everything held so far
    ids.slice(10_000).forEach((id) => table.add(id));
    expect(ids.every((id) => table.has(id))).toBe(true);
    expect(['v1 id-20000', 'v2 id-1'].map((id) => table.has(id))).toEqual([false, false]);
    table.close();
  });

  test('a directory where no file can be made leaves the ids in memory, exact', () => {
    const notADirectory = path.join(dir, 'file');
    fs.writeFileSync(notADirectory, '');
    const table = new IdTable(100_000, { dir: notADirectory });
    const ids = Array.from({ length: 100_000 }, (_, i) => `v1 id-${i}`);
    ids.forEach((id) => table.add(id));
    expect(ids.every((id) => table.has(id))).toBe(true);
    expect(table.has('v1 id-100000')).toBe(false);
    table.close();
  });

  test('costs at most 20 bytes of memory per id (its bytes are in the file): 250 000 ids with versions', () => {
    const before = process.memoryUsage().arrayBuffers;
    const table = new IdTable(250_000, { dir });
    for (let i = 0; i < 250_000; i++) {
      table.add(`champion-2024-06 0f3c1b7e-9d2a-4c55-8e61-${String(i).padStart(12, '0')}`);
    }
    const perId = (process.memoryUsage().arrayBuffers - before) / 250_000;
    // In memory (the tables before): 16 bytes of slots + 54 of UTF-8 with its length, in an arena that doubles.
    expect(perId).toBeLessThanOrEqual(20);
    expect(table.has('champion-2024-06 0f3c1b7e-9d2a-4c55-8e61-000000000007')).toBe(true);
    table.close();
  });
});

describe('RecentIds', () => {
  const settled = () => new Promise((resolve) => setImmediate(resolve));

  test('an id is a duplicate once its write is durable, and remembered for capacity to 2 × capacity ids', async () => {
    const ids = new RecentIds(3);
    ids.seed(['s1', 's2']);
    expect(ids.lookup('s1')).toBe(true);
    ids.track(['a', 'b', 'c', 'd'], Promise.resolve());
    await settled();
    // s1, s2, a fill the first table; b, c, d the next: s1 and s2 are still remembered, in the older table.
    expect(['s1', 's2', 'a', 'b', 'c', 'd'].map((id) => ids.lookup(id))).toEqual(Array(6).fill(true));
    ids.track(['e'], Promise.resolve());
    await settled();
    // The older table is dropped when the newer one is full: the horizon is 3 to 6 ids.
    expect(['s1', 's2', 'a'].map((id) => ids.lookup(id))).toEqual([undefined, undefined, undefined]);
    expect(['b', 'c', 'd', 'e'].map((id) => ids.lookup(id))).toEqual(Array(4).fill(true));
  });

  test('a write that settles after close remembers nothing and touches no file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-ids-'));
    try {
      const ids = new RecentIds(10, { dir });
      ids.track(['v1 late'], Promise.resolve());
      ids.close();
      await settled();
      expect(ids.lookup('v1 late')).toBeUndefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a copy of an id whose write is under way waits for it; a failed write leaves the id unseen', async () => {
    const ids = new RecentIds(10);
    let fail!: (err: Error) => void;
    const failing = new Promise<void>((_, reject) => (fail = reject));
    let succeed!: () => void;
    const succeeding = new Promise<void>((resolve) => (succeed = resolve));
    ids.track(['x'], failing);
    ids.track(['y'], succeeding);
    const waitX = ids.lookup('x');
    const waitY = ids.lookup('y');
    expect(waitX).toBeInstanceOf(Promise);
    fail(new Error('disk full'));
    succeed();
    await expect(waitX).resolves.toBe(false);
    await expect(waitY).resolves.toBe(true);
    await settled();
    expect(ids.lookup('x')).toBeUndefined();
    expect(ids.lookup('y')).toBe(true);
    // A later copy of x takes its place.
    ids.track(['x'], Promise.resolve());
    await settled();
    expect(ids.lookup('x')).toBe(true);
  });
});

import fc from 'fast-check';
import { IdTable, RecentIds } from './recent-ids';

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

import { largest, smallest } from './extremes';

describe('largest and smallest', () => {
  it('take any number of values, where spreading them into Math.max throws', () => {
    const values = Array.from({ length: 1_000_000 }, (_, i) => (i * 7919) % 1_000_003);
    expect(() => Math.max(...values)).toThrow(RangeError);
    expect(largest(values)).toBe(1_000_002);
    expect(smallest(values)).toBe(0);
  });

  it('give −Infinity and +Infinity for no values, like Math.max() and Math.min()', () => {
    expect(largest([])).toBe(-Infinity);
    expect(smallest(new Set<number>())).toBe(Infinity);
  });
});

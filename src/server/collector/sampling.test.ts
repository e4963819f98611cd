import { fnv1a32, isSampled, validateSamplingRate } from './sampling';

test('FNV-1a 32 matches the published test vectors', () => {
  // From the FNV reference test suite (http://www.isthe.com/chongo/src/fnv/test_fnv.c).
  expect(fnv1a32('')).toBe(0x811c9dc5);
  expect(fnv1a32('a')).toBe(0xe40c292c);
  expect(fnv1a32('foobar')).toBe(0xbf9cf968);
});

test('sampling is deterministic and keeps about `rate` of sequential ids', () => {
  const ids = Array.from({ length: 100_000 }, (_, i) => `req-${i}`);
  for (const rate of [0.01, 0.1, 0.5]) {
    const kept = ids.filter((id) => isSampled(id, rate));
    // Binomial standard deviation sqrt(n p (1-p)) ≤ 158; allow 5 of them.
    expect(Math.abs(kept.length - rate * ids.length)).toBeLessThan(5 * Math.sqrt(ids.length * rate * (1 - rate)));
    expect(ids.filter((id) => isSampled(id, rate))).toEqual(kept);
  }
  // A lower rate keeps a subset of what a higher rate keeps (same hash threshold).
  expect(ids.filter((id) => isSampled(id, 0.1)).every((id) => isSampled(id, 0.5))).toBe(true);
  expect(ids.every((id) => isSampled(id, 1))).toBe(true);
});

test('rates outside (0, 1] are refused with advice', () => {
  expect(() => validateSamplingRate(0)).toThrow(/--sample-rate/);
  expect(() => validateSamplingRate(1.5)).toThrow(/not in \(0, 1\]/);
  expect(validateSamplingRate(0.25)).toBe(0.25);
});

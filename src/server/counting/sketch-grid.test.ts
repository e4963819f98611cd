/**
 * KS and normalised Wasserstein from counts on a baseline sketch's grid against the exact values on the raw
 * reference (ksTwoSample, normalizedWasserstein): the difference stays within the bound each result states, for
 * continuous, tied (discrete) and heavy-tailed references and for current windows inside and outside its range.
 */
import {
  binIndex,
  buildQuantileSketch,
  createRandom,
  ksTwoSample,
  meanAndStd,
  normalizedWasserstein,
  prepareNumeric,
  type Random,
} from '../../core/stats';
import { ksOnGrid, sketchGrid, wassersteinOnGrid, type GridCounts } from './sketch-grid';

function gridCounts(knots: number[], values: number[]): GridCounts {
  const counts = new Array(knots.length + 1).fill(0);
  const sums = new Array(knots.length + 1).fill(0);
  for (const v of values) {
    const k = binIndex(knots, v);
    counts[k] += 1;
    sums[k] += v;
  }
  return { counts, sums };
}

const draws: Record<string, (random: Random) => number> = {
  uniform: (random) => 100 * random(),
  integers: (random) => Math.floor(6 * random()),
  lognormal: (random) => Math.exp(2 * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())),
};

describe('KS and Wasserstein on the sketch grid', () => {
  it.each(Object.keys(draws))('stay within their stated bounds of the exact values (%s reference)', (name) => {
    const draw = draws[name];
    const random = createRandom(name.length);
    const reference = prepareNumeric(Array.from({ length: 5000 }, () => draw(random)));
    const sketch = buildQuantileSketch(reference.sorted, 1000);
    const knots = sketchGrid(sketch);
    const { std } = meanAndStd(reference.sorted);
    for (const [shift, scale, m] of [
      [0, 1, 300],
      [0.1, 1, 2000],
      [0, 1.5, 500],
      [-50, 1, 200],
    ]) {
      const current = Array.from({ length: m }, () => scale * draw(random) + shift);
      const sorted = prepareNumeric(current).sorted;
      const counted = gridCounts(knots, current);
      const ks = ksOnGrid(sketch, knots, counted, 0.01);
      const exactKs = ksTwoSample(reference.sorted, sorted).statistic;
      expect(Math.abs(ks.statistic - exactKs)).toBeLessThanOrEqual(ks.maxError);
      const w = wassersteinOnGrid(sketch, knots, counted, std, 0.01);
      const exactW = normalizedWasserstein(reference.sorted, sorted);
      expect(Math.abs(w.normalized - exactW)).toBeLessThanOrEqual(w.maxError);
      expect(ks.noiseFloor).toBeGreaterThan(0);
      expect(w.noiseFloor).toBeGreaterThan(0);
    }
  });

  it('says nothing for an empty window', () => {
    const sketch = buildQuantileSketch([1, 2, 3, 4], 4);
    const knots = sketchGrid(sketch);
    const empty = { counts: new Array(knots.length + 1).fill(0), sums: new Array(knots.length + 1).fill(0) };
    expect(ksOnGrid(sketch, knots, empty, 0.01).statistic).toBeNaN();
    expect(wassersteinOnGrid(sketch, knots, empty, 1, 0.01).normalized).toBeNaN();
  });

  it('finds the gap at the knot where the CDFs part most', () => {
    const sketch = buildQuantileSketch([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 10);
    const knots = sketchGrid(sketch);
    // every current value at or below 2: F_C = 1 from knot 2 on, G(2) = 0.2
    const ks = ksOnGrid(sketch, knots, gridCounts(knots, [0.5, 1.5, 2, 2]), 0.01);
    expect(ks.location).toBe(2);
    expect(ks.baselineCdf).toBeCloseTo(0.2, 12);
    expect(ks.currentCdf).toBe(1);
    expect(ks.statistic).toBeCloseTo(0.8, 12);
  });
});

import { cdfDomain, cdfLayout, histogramLayout, niceCeiling } from './layout';
import type { DistributionBin } from '../../core/query';

const bin = (
  lower: number | null,
  upper: number | null,
  baseline: number,
  current: number,
  cdfs: [number, number]
): DistributionBin => ({
  label: `${lower}-${upper}`,
  lower,
  upper,
  baseline,
  current,
  baselineCdf: cdfs[0],
  currentCdf: cdfs[1],
});

const bins = [bin(null, 1, 0.5, 0.2, [0.5, 0.2]), bin(1, 2, 0.3, 0.3, [0.8, 0.5]), bin(2, null, 0.2, 0.5, [1, 1])];
const box = { width: 300, height: 100 };

describe('distribution layout', () => {
  it('rounds axis maxima up to 1, 2, 2.5 or 5 × 10^k', () => {
    expect([0.16, 0.2, 0.21, 0.5, 0.7, 3, 0].map(niceCeiling)).toEqual([0.2, 0.2, 0.25, 0.5, 1, 5, 1]);
  });

  it('gives each bin an equal slot and bar heights proportional to the proportions', () => {
    const layout = histogramLayout(bins, box, 'overlaid');
    expect(layout.yMax).toBe(0.5);
    expect(layout.slotCenters).toEqual([50, 150, 250]);
    const baseline = layout.bars.filter((bar) => bar.series === 'baseline');
    const current = layout.bars.filter((bar) => bar.series === 'current');
    expect(baseline.map((bar) => bar.height)).toEqual([100, 60, 40]);
    expect(current.map((bar) => bar.height)).toEqual([40, 60, 100]);
    // overlaid: the current bar is narrower and centred on the baseline bar
    expect(current[0].x + current[0].width / 2).toBeCloseTo(baseline[0].x + baseline[0].width / 2);
    expect(current[0].width).toBeLessThan(baseline[0].width);
  });

  it('puts bars side by side without overlap', () => {
    const layout = histogramLayout(bins, box, 'side-by-side');
    for (let index = 0; index < bins.length; index++) {
      const [baseline, current] = layout.bars.filter((bar) => bar.bin === index);
      expect(baseline.x + baseline.width).toBeCloseTo(current.x);
      expect(current.x + current.width).toBeLessThanOrEqual((index + 1) * 100);
    }
  });

  it('pads open outer bins by a mean bin width and includes the KS location', () => {
    expect(cdfDomain(bins, { kind: 'numeric' })).toEqual([0, 3]);
    expect(
      cdfDomain(bins, {
        kind: 'numeric',
        ks: { statistic: 0.3, pValue: 0.01, location: 5, baselineCdf: 1, currentCdf: 1 },
      })
    ).toEqual([-3, 9]);
    expect(cdfDomain(bins, { kind: 'categorical' })).toEqual([0, 3]);
  });

  it('draws right-continuous steps at the upper edges and the KS gap at its location', () => {
    const ks = { statistic: 0.3, pValue: 0.01, location: 1, baselineCdf: 0.5, currentCdf: 0.2 };
    const layout = cdfLayout(bins, { kind: 'numeric', ks }, box);
    // domain [0, 3]: edge 1 at x = 100, edge 2 at x = 200
    expect(layout.baselinePath).toBe('M0,100 H100.00 V50.00 H200.00 V20.00 H300.00 V0.00 H300');
    expect(layout.currentPath).toBe('M0,100 H100.00 V80.00 H200.00 V50.00 H300.00 V0.00 H300');
    expect(layout.ksGap).toEqual({ x: 100, y1: 50, y2: 80, location: 1, statistic: 0.3 });
    expect(layout.ticks.map((tick) => tick.label)).toEqual(['1', '2']);
  });

  it('has no KS gap for categories, and ticks per category', () => {
    const layout = cdfLayout(bins, { kind: 'categorical' }, box);
    expect(layout.ksGap).toBeUndefined();
    expect(layout.ticks.map((tick) => tick.x)).toEqual([50, 150, 250]);
  });
});

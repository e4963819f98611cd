/**
 * Geometry of the distribution overlay, as pure functions of the bins and the plot size (no React), so that what
 * the panel draws can be tested without a browser.
 */
import { largest, smallest } from '../../core/stats/extremes';
import type { DistributionBin, DistributionReadouts } from '../../core/query';
import { formatNumber } from '../../utils/format';
import type { BarLayout } from './types';

export interface Box {
  width: number;
  height: number;
}

export interface Bar {
  series: 'baseline' | 'current';
  bin: number;
  x: number;
  y: number;
  width: number;
  height: number;
  value: number;
}

export interface HistogramLayout {
  bars: Bar[];
  /** Centre of each bin's slot, for its label. */
  slotCenters: number[];
  yMax: number;
}

/** A "nice" upper bound for an axis: the smallest of 1, 2, 2.5, 5 × 10^k not below `value`. */
export function niceCeiling(value: number): number {
  if (!(value > 0)) {
    return 1;
  }
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((factor) => factor * magnitude >= value * (1 - 1e-12)) ?? 10;
  return step * magnitude;
}

/**
 * Bars of both series per bin. Bins get equal slots (reference-decile bins hold about the same baseline share, so
 * equal slots make the baseline flat and a shift stand out). Side by side: two bars per slot; overlaid: both bars
 * take the slot and the current bar is drawn narrower over the baseline bar.
 */
export function histogramLayout(bins: DistributionBin[], box: Box, layout: BarLayout): HistogramLayout {
  const yMax = niceCeiling(Math.max(0, largest(bins.map((bin) => Math.max(bin.baseline, bin.current)))));
  const slot = bins.length > 0 ? box.width / bins.length : 0;
  const gap = Math.min(slot * 0.15, 8);
  const bars: Bar[] = [];
  bins.forEach((bin, index) => {
    const left = index * slot + gap / 2;
    const inner = slot - gap;
    const series = [
      { series: 'baseline' as const, value: bin.baseline },
      { series: 'current' as const, value: bin.current },
    ];
    series.forEach(({ series: name, value }, order) => {
      const width = layout === 'side-by-side' ? inner / 2 : order === 0 ? inner : inner * 0.6;
      const x = layout === 'side-by-side' ? left + order * width : left + (inner - width) / 2;
      const height = (value / yMax) * box.height;
      bars.push({ series: name, bin: index, x, y: box.height - height, width, height, value });
    });
  });
  return { bars, slotCenters: bins.map((_, index) => (index + 0.5) * slot), yMax };
}

export interface CdfLayout {
  baselinePath: string;
  currentPath: string;
  /** x of each finite bin edge (numeric) or category boundary, for ticks. */
  ticks: Array<{ x: number; label: string }>;
  /** The KS gap: a vertical segment at the KS location between both CDFs (numeric features with a KS readout). */
  ksGap?: { x: number; y1: number; y2: number; location: number; statistic: number };
  domain: [number, number];
}

/**
 * The x positions of the bins: numeric bins by value (bin upper edges; the open outer bins get one mean bin width of
 * room), categories by index.
 */
export function cdfDomain(
  bins: DistributionBin[],
  readouts: Pick<DistributionReadouts, 'kind' | 'ks'>
): [number, number] {
  if (readouts.kind === 'categorical') {
    return [0, bins.length];
  }
  const edges = bins.flatMap((bin) => [bin.lower, bin.upper]).filter((edge): edge is number => edge !== null);
  const points = readouts.ks ? [...edges, readouts.ks.location] : edges;
  if (points.length === 0) {
    return [0, 1];
  }
  const min = smallest(points);
  const max = largest(points);
  const room = max > min ? (max - min) / Math.max(1, bins.length - 2) : 1;
  return [min - room, max + room];
}

/**
 * Two step curves: each CDF holds its value at a bin's upper edge until the next edge (right-continuous, as an
 * empirical CDF is); the last bin reaches 1 at the right end. The KS gap is drawn where the readout says it is.
 */
export function cdfLayout(
  bins: DistributionBin[],
  readouts: Pick<DistributionReadouts, 'kind' | 'ks'>,
  box: Box
): CdfLayout {
  const domain = cdfDomain(bins, readouts);
  const xOf = (value: number) => ((value - domain[0]) / (domain[1] - domain[0])) * box.width;
  const yOf = (cdf: number) => box.height - cdf * box.height;
  const stepX = (bin: DistributionBin, index: number) => {
    if (readouts.kind === 'categorical') {
      return xOf(index + 1);
    }
    return bin.upper === null ? box.width : xOf(bin.upper);
  };
  const path = (key: 'baselineCdf' | 'currentCdf') => {
    let d = `M0,${yOf(0)}`;
    bins.forEach((bin, index) => {
      const x = stepX(bin, index);
      d += ` H${x.toFixed(2)} V${yOf(bin[key]).toFixed(2)}`;
    });
    return `${d} H${box.width}`;
  };
  const ticks =
    readouts.kind === 'categorical'
      ? bins.map((bin, index) => ({ x: xOf(index + 0.5), label: bin.label }))
      : bins
          .filter((bin) => bin.upper !== null)
          .map((bin) => ({ x: xOf(bin.upper as number), label: formatNumber(bin.upper as number) }));
  const ks = readouts.kind === 'numeric' ? readouts.ks : undefined;
  return {
    baselinePath: path('baselineCdf'),
    currentPath: path('currentCdf'),
    ticks,
    domain,
    ksGap: ks && {
      x: xOf(ks.location),
      y1: yOf(ks.baselineCdf),
      y2: yOf(ks.currentCdf),
      location: ks.location,
      statistic: ks.statistic,
    },
  };
}

import { drilldownUrl, heatmapLayout, sortFeatures, timeTicks } from './layout';
import type { SeverityCell, SeverityGrid } from '../../core/query';

const HOUR = 3_600_000;
const cell = (feature: string, hour: number, level: SeverityCell['level']): SeverityCell => ({
  feature,
  time: hour * HOUR,
  level,
  value: level === null ? null : level / 10,
  noiseFloor: 0.05,
  count: 100,
});

const cells = [
  cell('b', 0, 0),
  cell('b', 1, 2),
  cell('a', 0, 2),
  cell('a', 1, 2),
  cell('c', 0, null),
  cell('c', 1, 0),
  cell('d', 0, 3),
  cell('d', 1, 0),
];

describe('severity layout', () => {
  it('sorts worst level first, then most buckets at it, then by name; or by name', () => {
    expect(sortFeatures(cells, 'worst')).toEqual(['d', 'a', 'b', 'c']);
    expect(sortFeatures(cells, 'name')).toEqual(['a', 'b', 'c', 'd']);
  });

  it('places one cell per feature and bucket on a grid', () => {
    const grid: SeverityGrid = {
      meta: { model: 'm', metric: 'psi', bucketMs: HOUR, thresholds: { warning: 0.1, critical: 0.2 } },
      cells,
    };
    const layout = heatmapLayout(grid, 200, 400, 'worst', 2);
    expect(layout.times).toEqual([0, HOUR]);
    expect(layout.rowHeight).toBe(100);
    expect(layout.columnWidth).toBe(100);
    const d1 = layout.cells.find((placed) => placed.feature === 'd' && placed.time === HOUR)!;
    expect([d1.x, d1.y, d1.width, d1.height]).toEqual([101, 1, 98, 98]);
    const c0 = layout.cells.find((placed) => placed.feature === 'c' && placed.time === 0)!;
    expect([c0.x, c0.y]).toEqual([1, 301]);
  });

  it('fills the drill-down URL template with the cell, URL-encoded', () => {
    const url = drilldownUrl(
      '/d/x?var-model=${__model}&var-feature=${__feature}&from=${__from}&to=${__to}&var-env=$env',
      cell('a b&c', 2, 1),
      'fraud/eu',
      HOUR
    );
    expect(url).toBe(`/d/x?var-model=fraud%2Feu&var-feature=a%20b%26c&from=${2 * HOUR}&to=${3 * HOUR}&var-env=$env`);
  });

  it('labels at most the asked number of buckets, with dates only across days', () => {
    const times = Array.from({ length: 48 }, (_, hour) => hour * HOUR);
    const ticks = timeTicks(times, 6);
    expect(ticks).toHaveLength(6);
    expect(ticks[0]).toEqual({ index: 0, label: '01-01 00:00' });
    expect(ticks[1]).toEqual({ index: 8, label: '01-01 08:00' });
    expect(timeTicks(times.slice(0, 3), 10).map((tick) => tick.label)).toEqual(['00:00', '01:00', '02:00']);
    expect(timeTicks([], 5)).toEqual([]);
  });
});

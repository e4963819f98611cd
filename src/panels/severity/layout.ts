/**
 * Geometry of the severity heatmap as pure functions (no React): rows are features, columns time buckets.
 */
import type { SeverityCell, SeverityGrid, SeverityLevel } from '../../core/query';
import type { SeveritySort } from './types';

export interface PlacedCell extends SeverityCell {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface HeatmapLayout {
  features: string[];
  times: number[];
  cells: PlacedCell[];
  rowHeight: number;
  columnWidth: number;
}

const rank = (level: SeverityLevel) => (level === null ? -1 : level);

/**
 * Features in display order. `worst`: highest level reached first, then the most buckets at that level, then the
 * highest sum of levels, then by name; `name`: alphabetical.
 */
export function sortFeatures(cells: SeverityCell[], sortBy: SeveritySort): string[] {
  const stats = new Map<string, { worst: number; atWorst: number; sum: number }>();
  for (const cell of cells) {
    const entry = stats.get(cell.feature) ?? { worst: -1, atWorst: 0, sum: 0 };
    const level = rank(cell.level);
    if (level > entry.worst) {
      entry.worst = level;
      entry.atWorst = 0;
    }
    if (level === entry.worst) {
      entry.atWorst += 1;
    }
    entry.sum += Math.max(level, 0);
    stats.set(cell.feature, entry);
  }
  const byName = (a: string, b: string) => a.localeCompare(b);
  const names = Array.from(stats.keys());
  if (sortBy === 'name') {
    return names.sort(byName);
  }
  return names.sort((a, b) => {
    const sa = stats.get(a)!;
    const sb = stats.get(b)!;
    return sb.worst - sa.worst || sb.atWorst - sa.atWorst || sb.sum - sa.sum || byName(a, b);
  });
}

/** Cells placed on a `width` × `height` plot area, with a `gap` in pixels between cells. */
export function heatmapLayout(
  grid: SeverityGrid,
  width: number,
  height: number,
  sortBy: SeveritySort,
  gap = 1
): HeatmapLayout {
  const features = sortFeatures(grid.cells, sortBy);
  const times = Array.from(new Set(grid.cells.map((cell) => cell.time))).sort((a, b) => a - b);
  const rowHeight = features.length ? height / features.length : 0;
  const columnWidth = times.length ? width / times.length : 0;
  const rowOf = new Map(features.map((feature, index) => [feature, index]));
  const columnOf = new Map(times.map((time, index) => [time, index]));
  const cells = grid.cells.map((cell) => ({
    ...cell,
    x: columnOf.get(cell.time)! * columnWidth + gap / 2,
    y: rowOf.get(cell.feature)! * rowHeight + gap / 2,
    width: Math.max(columnWidth - gap, 0.5),
    height: Math.max(rowHeight - gap, 0.5),
  }));
  return { features, times, cells, rowHeight, columnWidth };
}

/**
 * The drill-down URL of a cell: the template's `${__model}`, `${__feature}`, `${__from}`, `${__to}` replaced by the
 * cell's values, URL-encoded.
 */
export function drilldownUrl(template: string, cell: SeverityCell, model: string, bucketMs: number): string {
  const values: Record<string, string> = {
    __model: model,
    __feature: cell.feature,
    __from: String(cell.time),
    __to: String(cell.time + bucketMs),
  };
  return template.replace(/\$\{(__model|__feature|__from|__to)\}/g, (_, key: string) =>
    encodeURIComponent(values[key])
  );
}

/** Time labels for at most `maxTicks` columns, evenly spaced, as `MM-DD HH:mm` (UTC) or `HH:mm` within one day. */
export function timeTicks(times: number[], maxTicks: number): Array<{ index: number; label: string }> {
  if (times.length === 0) {
    return [];
  }
  const step = Math.max(1, Math.ceil(times.length / Math.max(1, maxTicks)));
  const sameDay =
    new Date(times[0]).toISOString().slice(0, 10) === new Date(times[times.length - 1]).toISOString().slice(0, 10);
  const ticks: Array<{ index: number; label: string }> = [];
  for (let index = 0; index < times.length; index += step) {
    const iso = new Date(times[index]).toISOString();
    ticks.push({ index, label: sameDay ? iso.slice(11, 16) : `${iso.slice(5, 10)} ${iso.slice(11, 16)}` });
  }
  return ticks;
}

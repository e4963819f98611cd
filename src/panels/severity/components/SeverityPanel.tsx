import React, { useMemo, useState } from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2, PanelProps } from '@grafana/data';
import { useStyles2, useTheme2 } from '@grafana/ui';
import { FrameLike, isSeverityFrame, readSeverityFrame, SeverityGrid, severityName } from '../../../core/query';
import { PanelMessage } from '../../../components/PanelMessage';
import { LEGEND_LEVELS, SEVERITY_LABELS, severityColor } from '../../../components/severityColors';
import { formatNumber } from '../../../utils/format';
import { drilldownUrl, heatmapLayout, PlacedCell, timeTicks } from '../layout';
import type { SeverityOptions } from '../types';

const MARGIN = { top: 4, right: 8, bottom: 22, left: 120 };
const LEGEND_HEIGHT = 24;

/** The severity grid in the panel's data (all severity frames merged), or the message to show instead. */
export function severityGrid(series: FrameLike[]): { grid?: SeverityGrid; problem?: string } {
  if (series.length === 0) {
    return { problem: 'No data' };
  }
  const frames = series.filter(isSeverityFrame);
  if (frames.length === 0) {
    return { problem: 'No severity frames: use the Model Monitor datasource with the Severity query type' };
  }
  try {
    const grids = frames.map(readSeverityFrame);
    const cells = grids.flatMap((grid) => grid.cells);
    return cells.length > 0 ? { grid: { meta: grids[0].meta, cells } } : { problem: 'No buckets in the time range' };
  } catch (error) {
    return { problem: error instanceof Error ? error.message : String(error) };
  }
}

/** Heatmap of drift severity: features × time buckets, with legend, tooltip and a drill-down link per cell. */
export function SeverityPanel({ data, width, height, options, replaceVariables }: PanelProps<SeverityOptions>) {
  const theme = useTheme2();
  const styles = useStyles2(getStyles);
  const { grid, problem } = useMemo(() => severityGrid(data.series as unknown as FrameLike[]), [data.series]);
  const [hovered, setHovered] = useState<PlacedCell | null>(null);
  const plot = {
    width: Math.max(width - MARGIN.left - MARGIN.right, 10),
    height: Math.max(height - MARGIN.top - MARGIN.bottom - (options.showLegend ? LEGEND_HEIGHT : 0), 10),
  };
  const layout = useMemo(
    () => grid && heatmapLayout(grid, plot.width, plot.height, options.sortBy),
    [grid, plot.width, plot.height, options.sortBy]
  );
  const error = data.errors?.[0]?.message;
  if (error || problem || !grid || !layout) {
    return <PanelMessage width={width} height={height} kind={error ? 'error' : 'info'} text={error ?? problem ?? ''} />;
  }
  const { meta } = grid;
  const ticks = timeTicks(layout.times, Math.floor(plot.width / 70));
  const link = (cell: PlacedCell) =>
    options.drilldownUrl
      ? replaceVariables(drilldownUrl(options.drilldownUrl, cell, meta.model, meta.bucketMs))
      : undefined;

  return (
    <div className={styles.panel} style={{ width, height }} data-testid="mlmon-severity-panel">
      <svg
        width={width}
        height={height - (options.showLegend ? LEGEND_HEIGHT : 0)}
        onMouseLeave={() => setHovered(null)}
      >
        <g transform={`translate(${MARGIN.left},${MARGIN.top})`}>
          {layout.features.map((feature, row) => (
            <text
              key={feature}
              x={-6}
              y={row * layout.rowHeight + layout.rowHeight / 2 + 4}
              textAnchor="end"
              fontSize={11}
              fill={theme.colors.text.primary}
              data-testid="mlmon-row-label"
            >
              {feature.length > 18 ? `${feature.slice(0, 17)}…` : feature}
            </text>
          ))}
          {layout.cells.map((cell) => {
            const href = link(cell);
            const rect = (
              <rect
                data-testid="mlmon-cell"
                data-feature={cell.feature}
                data-time={cell.time}
                data-level={cell.level === null ? 'insufficient_data' : cell.level}
                x={cell.x}
                y={cell.y}
                width={cell.width}
                height={cell.height}
                rx={2}
                fill={severityColor(theme, cell.level)}
                stroke={hovered === cell ? theme.colors.text.primary : 'none'}
                onMouseEnter={() => setHovered(cell)}
              />
            );
            return href ? (
              <a key={`${cell.feature}-${cell.time}`} href={href} data-testid="mlmon-cell-link">
                {rect}
              </a>
            ) : (
              <React.Fragment key={`${cell.feature}-${cell.time}`}>{rect}</React.Fragment>
            );
          })}
          {ticks.map((tick) => (
            <text
              key={tick.index}
              x={(tick.index + 0.5) * layout.columnWidth}
              y={plot.height + 14}
              textAnchor="middle"
              fontSize={10}
              fill={theme.colors.text.secondary}
            >
              {tick.label}
            </text>
          ))}
        </g>
      </svg>
      {options.showLegend && (
        <div className={styles.legend} data-testid="mlmon-legend">
          {LEGEND_LEVELS.map((level) => (
            <span key={String(level)} className={styles.legendItem}>
              <span className={styles.swatch} style={{ background: severityColor(theme, level) }} />
              {SEVERITY_LABELS[severityName(level)]}
            </span>
          ))}
          <span className={styles.metric}>
            {meta.metric.toUpperCase()} · warning ≥ {meta.thresholds.warning} · critical ≥ {meta.thresholds.critical}
          </span>
        </div>
      )}
      {hovered && (
        <div
          className={styles.tooltip}
          data-testid="mlmon-tooltip"
          style={{
            left: Math.min(MARGIN.left + hovered.x + hovered.width + 6, Math.max(width - 220, 0)),
            top: Math.min(MARGIN.top + hovered.y, Math.max(height - 110, 0)),
          }}
        >
          <div className={styles.tooltipTitle}>{hovered.feature}</div>
          <div>{`${new Date(hovered.time).toISOString().slice(0, 16).replace('T', ' ')} UTC, ${meta.bucketMs / 60000} min`}</div>
          <div>
            {SEVERITY_LABELS[severityName(hovered.level)]}: {meta.metric}{' '}
            {hovered.value === null ? '–' : formatNumber(hovered.value)}
          </div>
          <div>noise floor {hovered.noiseFloor === null ? '–' : formatNumber(hovered.noiseFloor)}</div>
          <div>{hovered.count.toLocaleString('en-US')} rows</div>
        </div>
      )}
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  panel: css({ position: 'relative', overflow: 'hidden' }),
  legend: css({
    display: 'flex',
    alignItems: 'center',
    gap: theme.spacing(1.5),
    height: LEGEND_HEIGHT,
    fontSize: theme.typography.bodySmall.fontSize,
    padding: `0 ${MARGIN.right}px 0 ${MARGIN.left}px`,
  }),
  legendItem: css({ display: 'inline-flex', alignItems: 'center', gap: theme.spacing(0.5) }),
  swatch: css({ width: 10, height: 10, borderRadius: 2, display: 'inline-block' }),
  metric: css({ color: theme.colors.text.secondary, marginLeft: 'auto' }),
  tooltip: css({
    position: 'absolute',
    pointerEvents: 'none',
    background: theme.colors.background.elevated,
    border: `1px solid ${theme.colors.border.weak}`,
    boxShadow: theme.shadows.z2,
    borderRadius: theme.shape.radius.default,
    padding: theme.spacing(0.75, 1),
    fontSize: theme.typography.bodySmall.fontSize,
    minWidth: 180,
  }),
  tooltipTitle: css({ fontWeight: theme.typography.fontWeightMedium }),
});

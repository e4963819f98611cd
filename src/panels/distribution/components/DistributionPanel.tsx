import React, { useMemo, useState } from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2, PanelProps } from '@grafana/data';
import { Combobox, RadioButtonGroup, useStyles2, useTheme2 } from '@grafana/ui';
import { DistributionView, FrameLike, isDistributionFrame, readDistributionFrame } from '../../../core/query';
import { PanelMessage } from '../../../components/PanelMessage';
import { useElementSize } from '../../../components/useElementSize';
import type { DistributionOptions } from '../types';
import { formatNumber } from '../../../utils/format';
import { cdfLayout, histogramLayout } from '../layout';
import { Readouts } from './Readouts';

const MARGIN = { top: 8, right: 12, bottom: 34, left: 44 };
const MAX_RADIO_FEATURES = 6;

/** The distribution views in the panel's data, or the message to show instead. */
export function distributionViews(series: FrameLike[]): { views: DistributionView[]; problem?: string } {
  const frames = series.filter(isDistributionFrame);
  if (series.length === 0) {
    return { views: [], problem: 'No data' };
  }
  if (frames.length === 0) {
    return {
      views: [],
      problem: 'No distribution frames: use the Model Monitor datasource with the Distribution query type',
    };
  }
  try {
    return { views: frames.map(readDistributionFrame) };
  } catch (error) {
    return { views: [], problem: error instanceof Error ? error.message : String(error) };
  }
}

/** Baseline vs current distribution of one feature at a time: histogram or CDF overlay, with readouts. */
export function DistributionPanel({ data, width, height, options, replaceVariables }: PanelProps<DistributionOptions>) {
  const theme = useTheme2();
  const styles = useStyles2(getStyles);
  const { views, problem } = useMemo(() => distributionViews(data.series as unknown as FrameLike[]), [data.series]);
  const [chosen, setChosen] = useState<string | undefined>(undefined);
  const [measurePlot, plotSize] = useElementSize<HTMLDivElement>();
  const error = data.errors?.[0]?.message;
  if (error || problem) {
    return <PanelMessage width={width} height={height} kind={error ? 'error' : 'info'} text={error ?? problem ?? ''} />;
  }
  const names = views.map((view) => view.readouts.feature);
  const feature = [chosen, replaceVariables(options.feature)].find((name) => name && names.includes(name)) ?? names[0];
  const view = views[names.indexOf(feature)];
  const colors = {
    baseline: theme.visualization.getColorByName('blue'),
    current: theme.visualization.getColorByName('orange'),
  };

  return (
    <div className={styles.panel} style={{ width, height }} data-testid="mlmon-distribution-panel">
      {names.length > 1 && (
        <div className={styles.selector}>
          {names.length <= MAX_RADIO_FEATURES ? (
            <RadioButtonGroup
              size="sm"
              options={names.map((name) => ({ label: name, value: name }))}
              value={feature}
              onChange={setChosen}
            />
          ) : (
            <Combobox
              width={30}
              options={names.map((name) => ({ label: name, value: name }))}
              value={feature}
              onChange={(option) => setChosen(option.value)}
            />
          )}
        </div>
      )}
      <div className={styles.plot} ref={measurePlot}>
        {plotSize.width > 0 && plotSize.height > 0 && (
          <Plot view={view} options={options} colors={colors} theme={theme} size={plotSize} />
        )}
      </div>
      <div className={styles.legend}>
        <Swatch color={colors.baseline} label={`Baseline (${view.readouts.counts.baseline.toLocaleString('en-US')})`} />
        <Swatch color={colors.current} label={`Current (${view.readouts.counts.current.toLocaleString('en-US')})`} />
        {options.mode === 'cdf' && view.readouts.ks && (
          <Swatch color={theme.colors.text.primary} label={`KS gap D = ${formatNumber(view.readouts.ks.statistic)}`} />
        )}
      </div>
      {options.showReadouts && <Readouts readouts={view.readouts} />}
    </div>
  );
}

function Swatch({ color, label }: { color: string; label: string }) {
  const styles = useStyles2(getStyles);
  return (
    <span className={styles.swatch}>
      <span className={styles.swatchBox} style={{ background: color }} />
      {label}
    </span>
  );
}

interface PlotProps {
  view: DistributionView;
  options: DistributionOptions;
  colors: { baseline: string; current: string };
  theme: GrafanaTheme2;
  size: { width: number; height: number };
}

/** The SVG plot, drawn at the pixel size of its container. */
function Plot({ view, options, colors, theme, size }: PlotProps) {
  const outer = { width: Math.floor(size.width), height: Math.floor(size.height) };
  const box = { width: outer.width - MARGIN.left - MARGIN.right, height: outer.height - MARGIN.top - MARGIN.bottom };
  const axis = { stroke: theme.colors.border.medium, fontSize: 10, fill: theme.colors.text.secondary };
  const label = (value: number) => `${Math.round(value * 1000) / 10}%`;

  if (options.mode === 'cdf') {
    const cdf = cdfLayout(view.bins, view.readouts, box);
    return (
      <svg viewBox={`0 0 ${outer.width} ${outer.height}`} width={outer.width} height={outer.height} data-mode="cdf">
        <g transform={`translate(${MARGIN.left},${MARGIN.top})`}>
          <YAxis box={box} max={1} format={label} axis={axis} />
          <path
            d={cdf.baselinePath}
            fill="none"
            stroke={colors.baseline}
            strokeWidth={2}
            data-testid="mlmon-cdf-baseline"
          />
          <path
            d={cdf.currentPath}
            fill="none"
            stroke={colors.current}
            strokeWidth={2}
            data-testid="mlmon-cdf-current"
          />
          {cdf.ksGap && (
            <line
              data-testid="mlmon-ks-gap"
              data-location={cdf.ksGap.location}
              x1={cdf.ksGap.x}
              x2={cdf.ksGap.x}
              y1={cdf.ksGap.y1}
              y2={cdf.ksGap.y2}
              stroke={theme.colors.text.primary}
              strokeWidth={2.5}
              strokeDasharray="4 2"
            />
          )}
          {cdf.ksGap && (
            <text
              x={cdf.ksGap.x + 6}
              y={(cdf.ksGap.y1 + cdf.ksGap.y2) / 2 + 4}
              fontSize={11}
              fill={theme.colors.text.primary}
              data-testid="mlmon-ks-label"
            >
              {`D = ${formatNumber(cdf.ksGap.statistic)}`}
            </text>
          )}
          {cdf.ticks.map((tick) => (
            <text
              key={`${tick.label}-${tick.x}`}
              x={tick.x}
              y={box.height + 14}
              textAnchor="middle"
              fontSize={axis.fontSize}
              fill={axis.fill}
            >
              {tick.label}
            </text>
          ))}
        </g>
      </svg>
    );
  }
  const histogram = histogramLayout(view.bins, box, options.barLayout);
  return (
    <svg viewBox={`0 0 ${outer.width} ${outer.height}`} width={outer.width} height={outer.height} data-mode="histogram">
      <g transform={`translate(${MARGIN.left},${MARGIN.top})`}>
        <YAxis box={box} max={histogram.yMax} format={label} axis={axis} />
        {histogram.bars.map((bar) => (
          <rect
            key={`${bar.series}-${bar.bin}`}
            data-testid={`mlmon-bar-${bar.series}`}
            data-bin={bar.bin}
            x={bar.x}
            y={bar.y}
            width={Math.max(bar.width, 0)}
            height={Math.max(bar.height, 0)}
            fill={colors[bar.series]}
            fillOpacity={bar.series === 'baseline' && options.barLayout === 'overlaid' ? 0.55 : 0.9}
          >
            <title>{`${view.bins[bar.bin].label}: ${bar.series} ${label(bar.value)}`}</title>
          </rect>
        ))}
        {histogram.slotCenters.map((x, index) => (
          <text key={index} x={x} y={box.height + 14} textAnchor="middle" fontSize={axis.fontSize} fill={axis.fill}>
            {view.bins[index].label}
          </text>
        ))}
      </g>
    </svg>
  );
}

interface YAxisProps {
  box: { width: number; height: number };
  max: number;
  format: (value: number) => string;
  axis: { stroke: string; fontSize: number; fill: string };
}

function YAxis({ box, max, format, axis }: YAxisProps) {
  return (
    <g>
      {[0, 0.5, 1].map((fraction) => {
        const y = box.height - fraction * box.height;
        return (
          <g key={fraction}>
            <line x1={0} x2={box.width} y1={y} y2={y} stroke={axis.stroke} strokeWidth={fraction === 0 ? 1 : 0.5} />
            <text x={-6} y={y + 3} textAnchor="end" fontSize={axis.fontSize} fill={axis.fill}>
              {format(max * fraction)}
            </text>
          </g>
        );
      })}
    </g>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  panel: css({ display: 'flex', flexDirection: 'column', overflow: 'hidden' }),
  selector: css({ paddingBottom: theme.spacing(0.5) }),
  plot: css({ flex: '1 1 0', minHeight: 60, overflow: 'hidden' }),
  legend: css({ display: 'flex', gap: theme.spacing(2), fontSize: theme.typography.bodySmall.fontSize }),
  swatch: css({ display: 'inline-flex', alignItems: 'center', gap: theme.spacing(0.5) }),
  swatchBox: css({ width: 10, height: 10, borderRadius: 2, display: 'inline-block' }),
});

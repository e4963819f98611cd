/**
 * Browser harness for the panel tests: renders one panel component with PanelProps built from frames of the
 * frame contract, under a Grafana theme, the way Grafana would (React 19, ThemeContext from @grafana/data).
 * The test page sets `window.mlmonCase` before this script runs; `window.mlmonTheme` exposes the theme's named
 * colours so that the test can check the colours of what was drawn.
 */
import React from 'react';
import { createRoot } from 'react-dom/client';
import {
  createTheme,
  dateTime,
  fieldMatchers,
  getDefaultTimeRange,
  getDisplayProcessor,
  getFieldDisplayName,
  LoadingState,
  PanelProps,
  ThemeContext,
  toDataFrame,
  type DataFrame,
  type GrafanaTheme2,
} from '@grafana/data';
import { TimeSeries } from '@grafana/ui';
import { DistributionPanel } from '../../src/panels/distribution/components/DistributionPanel';
import { SeverityPanel } from '../../src/panels/severity/components/SeverityPanel';

export interface HarnessCase {
  /** `timeseries`: Grafana's time series graph (@grafana/ui TimeSeries) with a dashboard panel's fieldConfig. */
  panel: 'distribution' | 'severity' | 'timeseries';
  width: number;
  height: number;
  options: Record<string, unknown>;
  series: unknown[];
  errorMessage?: string;
  variables?: Record<string, string>;
  themeMode?: 'dark' | 'light';
  /** The panel's fieldConfig (defaults and byName / byRegexp overrides), for `timeseries`. */
  fieldConfig?: { defaults: Record<string, unknown>; overrides: FieldOverride[] };
  /** The time range drawn, for `timeseries` (epoch ms). */
  range?: { from: number; to: number };
}

interface FieldOverride {
  matcher: { id: string; options: string };
  properties: Array<{ id: string; value: unknown }>;
}

/** Sets `id` (`custom.x` → config.custom.x) on a field config. */
function setProperty(config: Record<string, any>, id: string, value: unknown) {
  if (id.startsWith('custom.')) {
    config.custom = { ...config.custom, [id.slice('custom.'.length)]: value };
  } else {
    config[id] = value;
  }
}

/**
 * The frames as a dashboard panel shows them: the panel's defaults under each field's own config, then its overrides
 * (Grafana's byName / byRegexp matchers on the display name or field name), and a display processor per field.
 */
function withFieldConfig(
  frames: DataFrame[],
  fieldConfig: NonNullable<HarnessCase['fieldConfig']>,
  theme: GrafanaTheme2
) {
  for (const frame of frames) {
    for (const field of frame.fields) {
      const defaults = fieldConfig.defaults as Record<string, any>;
      const config: Record<string, any> = { ...defaults, ...field.config, custom: { ...defaults.custom } };
      field.config = config;
      for (const override of fieldConfig.overrides) {
        const matcher = fieldMatchers.get(override.matcher.id).get(override.matcher.options);
        if (matcher(field, frame, frames) || field.name === override.matcher.options) {
          override.properties.forEach(({ id, value }) => setProperty(config, id, value));
        }
      }
      field.state = { ...field.state, displayName: getFieldDisplayName(field, frame, frames) };
      field.display = getDisplayProcessor({ field, theme });
    }
  }
  return frames;
}

/** Grafana's time series graph of the case's frames. */
function TimeSeriesCase({ testCase, theme }: { testCase: HarnessCase; theme: GrafanaTheme2 }) {
  const frames = withFieldConfig(testCase.series.map(toDataFrame), testCase.fieldConfig!, theme);
  const from = dateTime(testCase.range!.from);
  const to = dateTime(testCase.range!.to);
  return (
    <div data-testid="mlmon-timeseries-panel">
      <TimeSeries
        frames={frames}
        width={testCase.width}
        height={testCase.height}
        timeRange={{ from, to, raw: { from, to } }}
        timeZone="utc"
        legend={{ showLegend: true, displayMode: 'list', placement: 'bottom', calcs: [] } as never}
        options={testCase.options}
      />
    </div>
  );
}

declare global {
  interface Window {
    mlmonCase: HarnessCase;
    mlmonTheme: { named: Record<string, string>; textDisabled: string; textPrimary: string; background: string };
  }
}

const PANELS = { distribution: DistributionPanel, severity: SeverityPanel } as const;

function render(testCase: HarnessCase) {
  const theme = createTheme({ colors: { mode: testCase.themeMode ?? 'dark' } });
  window.mlmonTheme = {
    named: Object.fromEntries(
      ['green', 'blue', 'orange', 'red'].map((name) => [name, theme.visualization.getColorByName(name)])
    ),
    textDisabled: theme.colors.text.disabled,
    textPrimary: theme.colors.text.primary,
    background: theme.colors.background.primary,
  };
  document.body.style.margin = '0';
  document.body.style.background = theme.colors.background.primary;
  document.body.style.color = theme.colors.text.primary;
  document.body.style.fontFamily = theme.typography.fontFamily;
  const timeRange = getDefaultTimeRange();
  // Grafana's forms `$name` and `${name}`.
  const replaceVariables = (text: string) =>
    text.replace(
      /\$\{(\w+)\}|\$(\w+)/g,
      (whole, braced?: string, name?: string) => testCase.variables?.[(braced ?? name)!] ?? whole
    );
  const props = {
    id: 1,
    data: {
      state: testCase.errorMessage ? LoadingState.Error : LoadingState.Done,
      series: testCase.series,
      timeRange,
      errors: testCase.errorMessage ? [{ message: testCase.errorMessage }] : undefined,
    },
    timeRange,
    timeZone: 'utc',
    options: testCase.options,
    fieldConfig: { defaults: {}, overrides: [] },
    transparent: false,
    width: testCase.width,
    height: testCase.height,
    renderCounter: 1,
    title: 'test',
    eventBus: undefined,
    replaceVariables,
    onOptionsChange: () => undefined,
    onFieldConfigChange: () => undefined,
    onChangeTimeRange: () => undefined,
  } as unknown as PanelProps<never>;
  const container = document.getElementById('root')!;
  container.style.width = `${testCase.width}px`;
  container.style.height = `${testCase.height}px`;
  if (testCase.panel === 'timeseries') {
    createRoot(container).render(
      <ThemeContext.Provider value={theme}>
        <TimeSeriesCase testCase={testCase} theme={theme} />
      </ThemeContext.Provider>
    );
    return;
  }
  const Panel = PANELS[testCase.panel] as unknown as React.ComponentType<PanelProps<never>>;
  createRoot(container).render(
    <ThemeContext.Provider value={theme}>
      <Panel {...props} />
    </ThemeContext.Provider>
  );
}

render(window.mlmonCase);

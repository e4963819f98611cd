/**
 * Browser harness for the panel tests: renders one panel component with PanelProps built from frames of the
 * frame contract, under a Grafana theme, the way Grafana would (React 19, ThemeContext from @grafana/data).
 * The test page sets `window.mlmonCase` before this script runs; `window.mlmonTheme` exposes the theme's named
 * colours so that the test can check the colours of what was drawn.
 */
import React from 'react';
import { createRoot } from 'react-dom/client';
import { createTheme, getDefaultTimeRange, LoadingState, PanelProps, ThemeContext } from '@grafana/data';
import { DistributionPanel } from '../../src/panels/distribution/components/DistributionPanel';
import { SeverityPanel } from '../../src/panels/severity/components/SeverityPanel';

export interface HarnessCase {
  panel: 'distribution' | 'severity';
  width: number;
  height: number;
  options: Record<string, unknown>;
  series: unknown[];
  errorMessage?: string;
  variables?: Record<string, string>;
  themeMode?: 'dark' | 'light';
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
  const Panel = PANELS[testCase.panel] as unknown as React.ComponentType<PanelProps<never>>;
  const container = document.getElementById('root')!;
  container.style.width = `${testCase.width}px`;
  container.style.height = `${testCase.height}px`;
  createRoot(container).render(
    <ThemeContext.Provider value={theme}>
      <Panel {...props} />
    </ThemeContext.Provider>
  );
}

render(window.mlmonCase);

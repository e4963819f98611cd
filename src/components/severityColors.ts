import type { GrafanaTheme2 } from '@grafana/data';
import { SEVERITY_NAMES, SeverityLevel, SeverityName } from '../core/query';

/** The colour of each severity, from the theme's visualization palette; insufficient data is grey. */
export function severityColor(theme: GrafanaTheme2, level: SeverityLevel): string {
  const names = ['green', 'blue', 'orange', 'red'] as const;
  return level === null ? theme.colors.text.disabled : theme.visualization.getColorByName(names[level]);
}

export const SEVERITY_LABELS: Record<SeverityName, string> = {
  ok: 'OK',
  info: 'Info',
  warning: 'Warning',
  critical: 'Critical',
  insufficient_data: 'Insufficient data',
};

/** Levels in legend order, insufficient data last. */
export const LEGEND_LEVELS: SeverityLevel[] = [...SEVERITY_NAMES.map((_, level) => level as SeverityLevel), null];

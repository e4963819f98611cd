import React from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { useStyles2, useTheme2 } from '@grafana/ui';
import { DistributionReadouts, METRIC_READOUT_KEY, severityLevel } from '../../../core/query';
import { SEVERITY_LABELS, severityColor } from '../../../components/severityColors';
import { formatNumber } from '../../../utils/format';

interface Readout {
  id: string;
  label: string;
  value: string;
  /** The primary metric is what the severity is rated on. */
  primary?: boolean;
}

/** The readouts of one feature, in display order; metrics the feature does not have are left out. */
export function readoutList(readouts: DistributionReadouts): Readout[] {
  const floor = (key: keyof DistributionReadouts['noiseFloor']) => {
    const value = readouts.noiseFloor[key];
    return value === undefined ? '' : ` (floor ${formatNumber(value)})`;
  };
  const primary = METRIC_READOUT_KEY[readouts.primaryMetric];
  const list: Readout[] = [
    { id: 'psi', label: 'PSI', value: formatNumber(readouts.psi) + floor('psi') },
    { id: 'jsDistance', label: 'JS distance', value: formatNumber(readouts.jsDistance) + floor('jsDistance') },
  ];
  if (readouts.ks) {
    const { statistic, pValue, approximate } = readouts.ks;
    const p = `p=${formatNumber(pValue)}${approximate ? ', approx.' : ''}`;
    list.push({ id: 'ks', label: 'KS D', value: `${formatNumber(statistic)} (${p})${floor('ks')}` });
  }
  if (readouts.wasserstein !== undefined) {
    list.push({
      id: 'wasserstein',
      label: 'Wasserstein (norm.)',
      value: formatNumber(readouts.wasserstein) + floor('wasserstein'),
    });
  }
  if (readouts.chiSquare) {
    const { statistic, pValue, dof } = readouts.chiSquare;
    list.push({
      id: 'chiSquare',
      label: 'χ²',
      value: `${formatNumber(statistic)} (dof ${dof}, p=${formatNumber(pValue)})`,
    });
  }
  list.push({ id: 'hellinger', label: 'Hellinger', value: formatNumber(readouts.hellinger) + floor('hellinger') });
  list.push({ id: 'lInf', label: 'L∞', value: formatNumber(readouts.lInf) + floor('lInf') });
  const { baseline, current, currentMissing } = readouts.counts;
  const missing = currentMissing ? `, ${currentMissing.toLocaleString('en-US')} missing` : '';
  list.push({
    id: 'counts',
    label: 'Rows',
    value: `baseline ${baseline.toLocaleString('en-US')} · current ${current.toLocaleString('en-US')}${missing}`,
  });
  return list.map((readout) => ({ ...readout, primary: readout.id === primary }));
}

/** Metric readouts with the severity badge. */
export function Readouts({ readouts }: { readouts: DistributionReadouts }) {
  const theme = useTheme2();
  const styles = useStyles2(getStyles);
  const level = severityLevel(readouts.severity);
  return (
    <div className={styles.row} data-testid="mlmon-readouts">
      <span
        className={styles.badge}
        data-testid="mlmon-severity-badge"
        style={{
          background: severityColor(theme, level),
          color: theme.colors.getContrastText(severityColor(theme, level)),
        }}
        title={`Severity on ${readouts.primaryMetric} (${readouts.convention})`}
      >
        {SEVERITY_LABELS[readouts.severity]}
      </span>
      {readoutList(readouts).map((readout) => (
        <span key={readout.id} className={styles.item} data-testid={`mlmon-readout-${readout.id}`}>
          <span className={readout.primary ? styles.primaryLabel : styles.label}>{readout.label}</span> {readout.value}
        </span>
      ))}
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  row: css({
    display: 'flex',
    flexWrap: 'wrap',
    alignItems: 'center',
    gap: theme.spacing(0.5, 1.5),
    fontSize: theme.typography.bodySmall.fontSize,
    padding: theme.spacing(0.5, 0),
  }),
  badge: css({
    borderRadius: theme.shape.radius.default,
    padding: theme.spacing(0, 1),
    fontWeight: theme.typography.fontWeightMedium,
  }),
  item: css({ whiteSpace: 'nowrap' }),
  label: css({ color: theme.colors.text.secondary }),
  primaryLabel: css({ color: theme.colors.text.primary, fontWeight: theme.typography.fontWeightBold }),
});

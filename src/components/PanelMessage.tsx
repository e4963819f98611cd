import React from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { Icon, useStyles2 } from '@grafana/ui';

interface Props {
  width: number;
  height: number;
  kind: 'info' | 'error';
  text: string;
}

/** What a panel shows instead of a chart: no data, frames of the wrong kind, or a query error. */
export function PanelMessage({ width, height, kind, text }: Props) {
  const styles = useStyles2(getStyles);
  return (
    <div className={styles.box} style={{ width, height }} data-testid="mlmon-panel-message" data-kind={kind}>
      <Icon
        name={kind === 'error' ? 'exclamation-triangle' : 'info-circle'}
        className={kind === 'error' ? styles.error : undefined}
      />
      <span>{text}</span>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  box: css({
    display: 'flex',
    alignItems: 'center',
    justifyContent: 'center',
    gap: theme.spacing(1),
    color: theme.colors.text.secondary,
    textAlign: 'center',
    padding: theme.spacing(1),
  }),
  error: css({ color: theme.colors.error.text }),
});

import React from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { PluginPage } from '@grafana/runtime';
import { useStyles2 } from '@grafana/ui';
import { RULE_KINDS, RUNBOOK } from '../core/alerting/runbook';

/**
 * The alerting runbook: one section per kind of provisioned rule (what fired, where to look, what to do). Every
 * rule's `runbook_url` points at its section's anchor.
 */
export function RunbookPage() {
  const styles = useStyles2(getStyles);
  return (
    <PluginPage>
      <div data-testid="mlmon-runbook">
        {RULE_KINDS.map((kind) => {
          const entry = RUNBOOK[kind];
          return (
            <section key={kind} id={kind} className={styles.section}>
              <h3>{entry.title}</h3>
              <p>{entry.meaning}</p>
              <h5>Check</h5>
              <ul>
                {entry.check.map((line) => (
                  <li key={line}>{line}</li>
                ))}
              </ul>
              <h5>Act</h5>
              <ul>
                {entry.act.map((line) => (
                  <li key={line}>{line}</li>
                ))}
              </ul>
            </section>
          );
        })}
      </div>
    </PluginPage>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  section: css({ marginBottom: theme.spacing(3), maxWidth: '80ch' }),
});

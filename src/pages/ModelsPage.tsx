import React, { useEffect, useState } from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { getDataSourceSrv, PluginPage } from '@grafana/runtime';
import { Alert, Button, Combobox, LinkButton, LoadingPlaceholder, useStyles2, useTheme2 } from '@grafana/ui';
import { alertRulesUrl, DASHBOARDS, dashboardUrl, type DashboardKey } from '../core/alerting/dashboards';
import { RUNBOOK_PATH } from '../core/alerting/runbook';
import { ModelSummary, severityLevel } from '../core/query';
import { SEVERITY_LABELS, severityColor } from '../components/severityColors';
import { errorMessage } from '../datasource/components/useAsyncOptions';
import type { MonitorDataSource } from '../datasource/datasource';
import { DATASOURCE_TYPE, OVERVIEW_DASHBOARD_URL } from '../constants';

/** Models worst severity first (insufficient data after ok), then by name. */
export function sortModels(models: ModelSummary[]): ModelSummary[] {
  const rank = (model: ModelSummary) => severityLevel(model.severity) ?? -1;
  return [...models].sort((a, b) => rank(b) - rank(a) || a.name.localeCompare(b.name));
}

export function overviewUrl(datasourceUid: string, model: string): string {
  return `${OVERVIEW_DASHBOARD_URL}?var-datasource=${encodeURIComponent(datasourceUid)}&var-model=${encodeURIComponent(model)}`;
}

/** The dashboards a model row links to, in this order. */
const MODEL_DASHBOARDS: DashboardKey[] = ['modelHealth', 'featureDrift', 'dataQualityOps'];

/**
 * Downloads the datasource's alert rules (file-provisioning document and provisioning API requests) as
 * `mlmon-alerting-<uid>.json`.
 */
async function downloadAlertingExport(datasourceUid: string): Promise<void> {
  const datasource = (await getDataSourceSrv().get(datasourceUid)) as unknown as MonitorDataSource;
  const text = JSON.stringify(await datasource.getAlertingExport(), null, 2);
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  link.download = `mlmon-alerting-${datasourceUid}.json`;
  link.click();
  URL.revokeObjectURL(link.href);
}

type Load = { state: 'loading' } | { state: 'error'; message: string } | { state: 'done'; models: ModelSummary[] };
type Loaded = { uid: string } & Load;

/** The app's root page: every model of a Model Monitor datasource with its health in the last 24 hours. */
export function ModelsPage() {
  const styles = useStyles2(getStyles);
  const theme = useTheme2();
  const datasources = getDataSourceSrv().getList({ type: DATASOURCE_TYPE });
  const [uid, setUid] = useState<string | undefined>(datasources[0]?.uid);
  const [loaded, setLoaded] = useState<Loaded | undefined>(undefined);

  useEffect(() => {
    if (!uid) {
      return;
    }
    let current = true;
    getDataSourceSrv()
      .get(uid)
      .then((datasource) => (datasource as unknown as MonitorDataSource).getModels())
      .then(
        (response) => current && setLoaded({ uid, state: 'done', models: sortModels(response.models) }),
        (error: unknown) => current && setLoaded({ uid, state: 'error', message: errorMessage(error) })
      );
    return () => {
      current = false;
    };
  }, [uid]);
  const load: Load = loaded && loaded.uid === uid ? loaded : { state: 'loading' };
  const [exportError, setExportError] = useState<string | undefined>(undefined);

  if (!uid) {
    return (
      <PluginPage>
        <Alert severity="info" title="No Model Monitor datasource yet">
          Add a datasource of type Model Monitor that points at your store, then come back here.
          <div className={styles.action}>
            <LinkButton href="/connections/datasources/new" icon="plus">
              Add datasource
            </LinkButton>
          </div>
        </Alert>
      </PluginPage>
    );
  }

  return (
    <PluginPage>
      <div data-testid="mlmon-models-page">
        {datasources.length > 1 && (
          <Combobox
            aria-label="Datasource"
            width={40}
            options={datasources.map((ds) => ({ value: ds.uid, label: ds.name }))}
            value={uid}
            onChange={(option) => setUid(option.value)}
          />
        )}
        <div className={styles.actions}>
          <Button
            icon="download-alt"
            variant="secondary"
            tooltip="Alert rules, contact points and notification policy for this datasource's models: a provisioning file and the provisioning API requests"
            onClick={() => {
              setExportError(undefined);
              downloadAlertingExport(uid).catch((error: unknown) => setExportError(errorMessage(error)));
            }}
          >
            Export alert rules
          </Button>
          <LinkButton href={RUNBOOK_PATH} icon="book" variant="secondary">
            Alerting runbook
          </LinkButton>
        </div>
        {exportError && (
          <Alert severity="error" title="Could not export the alert rules">
            {exportError}
          </Alert>
        )}
        {load.state === 'loading' && <LoadingPlaceholder text="Loading models…" />}
        {load.state === 'error' && (
          <Alert severity="error" title="Could not list the models">
            {load.message}
          </Alert>
        )}
        {load.state === 'done' && load.models.length === 0 && (
          <Alert severity="info" title="No models in this store yet">
            Send predictions to the collector or load them with <code>mlmon ingest</code>, and record a baseline with{' '}
            <code>mlmon baseline</code>.
          </Alert>
        )}
        {load.state === 'done' && load.models.length > 0 && (
          <table className={styles.table}>
            <thead>
              <tr>
                <th>Model</th>
                <th>Health (24 h)</th>
                <th>Drifting features</th>
                <th>Versions</th>
                <th>Predictions (24 h)</th>
                <th>Last prediction</th>
                <th>Dashboards</th>
                <th>Alerts</th>
              </tr>
            </thead>
            <tbody>
              {load.models.map((model) => {
                const color = severityColor(theme, severityLevel(model.severity));
                return (
                  <tr key={model.name} data-testid="mlmon-model-row">
                    <td>
                      <a className={styles.link} href={overviewUrl(uid, model.name)}>
                        {model.name}
                      </a>
                    </td>
                    <td>
                      <span
                        className={styles.badge}
                        style={{ background: color, color: theme.colors.getContrastText(color) }}
                      >
                        {SEVERITY_LABELS[model.severity]}
                      </span>
                    </td>
                    <td>
                      {model.driftingFeatures} / {model.features}
                    </td>
                    <td>{model.versions.join(', ') || '–'}</td>
                    <td>{model.predictions24h.toLocaleString('en-US')}</td>
                    <td>{model.lastPrediction ?? 'never'}</td>
                    <td>
                      {MODEL_DASHBOARDS.map((key) => (
                        <a key={key} className={styles.dashboardLink} href={dashboardUrl(key, uid, model.name)}>
                          {DASHBOARDS[key].title}
                        </a>
                      ))}
                    </td>
                    <td>
                      <a className={styles.link} href={alertRulesUrl(model.name)}>
                        Alert rules
                      </a>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </div>
    </PluginPage>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  action: css({ marginTop: theme.spacing(1) }),
  actions: css({ display: 'flex', gap: theme.spacing(1), marginTop: theme.spacing(1) }),
  dashboardLink: css({ color: theme.colors.text.link, marginRight: theme.spacing(1.5), whiteSpace: 'nowrap' }),
  table: css({
    width: '100%',
    marginTop: theme.spacing(2),
    borderCollapse: 'collapse',
    'th, td': {
      textAlign: 'left',
      padding: theme.spacing(0.75, 1),
      borderBottom: `1px solid ${theme.colors.border.weak}`,
    },
    th: { color: theme.colors.text.secondary, fontWeight: theme.typography.fontWeightMedium },
  }),
  link: css({ color: theme.colors.text.link }),
  badge: css({ borderRadius: theme.shape.radius.default, padding: theme.spacing(0.25, 1) }),
});

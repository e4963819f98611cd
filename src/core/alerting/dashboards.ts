/**
 * The bundled dashboards (src/dashboards/*.json) as the app page and the alert rules refer to them: uid, URL and
 * the ids of the panels a rule belongs to (its `dashboardUid` and `panelId`). src/server/alerting's tests check that
 * every id here names a panel of that dashboard that runs the rule's query type.
 *
 * Isomorphic: no Node, React or Grafana imports.
 */

export interface BundledDashboard {
  uid: string;
  title: string;
  /** For whom it is made. */
  audience: string;
  /** The JSON file under src/dashboards (and dist/dashboards). */
  file: string;
  panels: Record<string, number>;
}

export const DASHBOARDS = {
  modelHealth: {
    uid: 'mlmon-model-health',
    title: 'Model health',
    audience: 'stakeholders',
    file: 'model-health.json',
    panels: {
      status: 1,
      performance: 2,
      coverage: 3,
      latency: 4,
      throughput: 5,
      errorRate: 6,
      topDrift: 7,
      alerts: 8,
      predictionDrift: 9,
      estimated: 10,
    },
  },
  featureDrift: {
    uid: 'mlmon-feature-drift',
    title: 'Feature drift',
    audience: 'analysts',
    file: 'feature-drift.json',
    panels: { heatmap: 1, distribution: 2, driftOverTime: 3, predictionDrift: 4, ranking: 5, dataProblems: 6 },
  },
  dataQualityOps: {
    uid: 'mlmon-data-quality-ops',
    title: 'Data quality and operations',
    audience: 'platform engineers',
    file: 'data-quality-ops.json',
    panels: {
      nullRate: 1,
      outOfRange: 2,
      unseenCategory: 3,
      typeErrors: 4,
      schemaChanges: 5,
      latency: 6,
      errorRate: 7,
      throughput: 8,
    },
  },
} as const satisfies Record<string, BundledDashboard>;

export type DashboardKey = keyof typeof DASHBOARDS;

/** A dashboard's URL for a datasource and a model (`/d/<uid>?var-datasource=…&var-model=…`). */
export function dashboardUrl(key: DashboardKey, datasourceUid: string, model: string): string {
  const params = new URLSearchParams({ 'var-datasource': datasourceUid, 'var-model': model });
  return `/d/${DASHBOARDS[key].uid}?${params.toString()}`;
}

/** Grafana's alert rule list filtered to one model's rules (the rules carry `monitor=mlmon` and `model`). */
export function alertRulesUrl(model: string): string {
  return `/alerting/list?${new URLSearchParams({ search: `label:monitor=mlmon label:model=${model}` }).toString()}`;
}

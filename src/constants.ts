import pluginJson from './plugin.json';

export const PLUGIN_BASE_URL = `/a/${pluginJson.id}`;
export const DATASOURCE_TYPE = 'mlmon-modelmonitor-datasource';
/** uid of the bundled model overview dashboard (src/dashboards/model-overview.json). */
export const OVERVIEW_DASHBOARD_URL = '/d/mlmon-model-overview/model-overview';

export enum ROUTES {
  Models = 'models',
  Runbook = 'runbook',
}

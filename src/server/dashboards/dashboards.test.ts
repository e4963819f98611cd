/**
 * The bundled dashboards: the committed files are what the builder makes, each is a valid dashboard of Grafana's
 * documented model (the builder is typed with @grafana/schema; the hand-written model-overview.json is checked here
 * at run time) and the alert rules' panels exist. That every query parses is checked in
 * src/components/pluginMetadata.test.ts; that each panel gets data from the real backend in conformance/
 * (dashboards_test.go).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DASHBOARDS } from '../../core/alerting/dashboards';
import { bundledDashboards, dashboardJson } from './build';

const DIR = join(__dirname, '..', '..', 'dashboards');
const read = (file: string) => JSON.parse(readFileSync(join(DIR, file), 'utf8'));
const ALL_FILES = [...Object.values(DASHBOARDS).map((d) => d.file), 'model-overview.json'];

/** Panel types the dashboards may use: Grafana's built-in ones used here and the app's own. */
const PANEL_TYPES = new Set([
  'timeseries',
  'stat',
  'barchart',
  'alertlist',
  'row',
  'mlmon-severity-panel',
  'mlmon-distribution-panel',
]);
/** Grafana's variable types (@grafana/schema VariableType). */
const VARIABLE_TYPES = new Set([
  'query',
  'adhoc',
  'groupby',
  'constant',
  'datasource',
  'interval',
  'textbox',
  'custom',
  'system',
  'snapshot',
  'switch',
]);

describe('bundled dashboards', () => {
  it('are committed exactly as the builder makes them (run `npm run dashboards:generate` after a change)', () => {
    for (const [file, dashboard] of Object.entries(bundledDashboards())) {
      expect(readFileSync(join(DIR, file), 'utf8')).toBe(dashboardJson(dashboard));
    }
  });

  it.each(ALL_FILES)(
    '%s has the documented dashboard model: uid, panels on the 24-column grid, known types',
    (file) => {
      const dashboard = read(file);
      expect(dashboard.id).toBeNull();
      expect(typeof dashboard.uid).toBe('string');
      expect(dashboard.uid.length).toBeLessThanOrEqual(40);
      expect(typeof dashboard.title).toBe('string');
      expect(Number.isInteger(dashboard.schemaVersion)).toBe(true);
      const ids = dashboard.panels.map((p: { id: number }) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      const cells = new Set<string>();
      for (const panel of dashboard.panels) {
        expect(PANEL_TYPES).toContain(panel.type);
        const { x, y, w, h } = panel.gridPos;
        expect(x + w).toBeLessThanOrEqual(24);
        for (let col = x; col < x + w; col++) {
          for (let row = y; row < y + h; row++) {
            expect(cells.has(`${col},${row}`)).toBe(false); // panels do not overlap
            cells.add(`${col},${row}`);
          }
        }
        for (const target of panel.targets ?? []) {
          expect(target.datasource).toEqual({ type: 'mlmon-modelmonitor-datasource', uid: '${datasource}' });
        }
      }
      for (const variable of dashboard.templating.list) {
        expect(VARIABLE_TYPES).toContain(variable.type);
      }
    }
  );

  it('has the panels DASHBOARDS names (what alert rules link to), and the app includes every dashboard', () => {
    for (const { file, uid, panels } of Object.values(DASHBOARDS)) {
      const dashboard = read(file);
      expect(dashboard.uid).toBe(uid);
      for (const id of Object.values(panels)) {
        expect(dashboard.panels.map((p: { id: number }) => p.id)).toContain(id);
      }
    }
    const plugin = JSON.parse(readFileSync(join(DIR, '..', 'plugin.json'), 'utf8'));
    const included = plugin.includes
      .filter((i: { type: string }) => i.type === 'dashboard')
      .map((i: { path: string }) => i.path);
    expect(included.sort()).toEqual(ALL_FILES.map((file) => `dashboards/${file}`).sort());
  });

  it('drills down from a heatmap cell to this dashboard on that feature and bucket', () => {
    const heatmap = read(DASHBOARDS.featureDrift.file).panels.find(
      (p: { type: string }) => p.type === 'mlmon-severity-panel'
    );
    const url: string = heatmap.options.drilldownUrl;
    expect(url.startsWith(`/d/${DASHBOARDS.featureDrift.uid}?`)).toBe(true);
    for (const part of [
      'var-model=${__model}',
      'var-feature=${__feature}',
      'from=${__from}',
      'to=${__to}',
      'var-version=${version}',
    ]) {
      expect(url).toContain(part);
    }
  });
});

/**
 * The plugin's metadata holds together: the app declares every nested plugin and bundled dashboard, the nested
 * datasource declares its backend, and every query in the bundled dashboards is a valid query of the model.
 */
import fs from 'fs';
import path from 'path';
import { parseQuery } from '../core/query';

const SRC = path.resolve(__dirname, '..');
const readJson = (file: string) => JSON.parse(fs.readFileSync(path.join(SRC, file), 'utf8'));

const app = readJson('plugin.json');

describe('plugin metadata', () => {
  it('declares every nested plugin.json in the app includes, with its type and an existing logo', () => {
    const nested = ['datasource/plugin.json', 'panels/distribution/plugin.json', 'panels/severity/plugin.json'];
    for (const file of nested) {
      const plugin = readJson(file);
      expect(app.includes).toContainEqual(expect.objectContaining({ type: plugin.type, path: file }));
      for (const logo of Object.values<string>(plugin.info.logos)) {
        expect(fs.existsSync(path.join(SRC, path.dirname(file), logo))).toBe(true);
      }
      expect(plugin.info.version).toBe('%VERSION%');
    }
  });

  it('gives the datasource its backend, alerting and executable', () => {
    expect(readJson('datasource/plugin.json')).toMatchObject({
      id: 'mlmon-modelmonitor-datasource',
      backend: true,
      alerting: true,
      executable: 'gpx_modelmonitor',
      metrics: true,
    });
  });

  it('bundles every dashboard of src/dashboards and nothing else', () => {
    const files = fs.readdirSync(path.join(SRC, 'dashboards')).filter((file) => file.endsWith('.json'));
    const declared = app.includes
      .filter((include: { type: string }) => include.type === 'dashboard')
      .map((include: { path: string }) => include.path);
    expect(declared.sort()).toEqual(files.map((file) => `dashboards/${file}`).sort());
  });

  it('uses only valid queries of the Model Monitor datasource in the bundled dashboards', () => {
    const sample: Record<string, string> = {
      model: 'credit_risk',
      feature: 'income',
      bucket: '1d',
      datasource: 'mlmon',
    };
    const interpolate = (value: unknown): unknown =>
      JSON.parse(JSON.stringify(value).replace(/\$(\w+)/g, (whole, name: string) => sample[name] ?? whole));
    for (const file of fs.readdirSync(path.join(SRC, 'dashboards'))) {
      const dashboard = readJson(`dashboards/${file}`);
      expect(dashboard.id).toBeNull();
      const targets = dashboard.panels.flatMap((panel: { targets?: unknown[] }) => panel.targets ?? []);
      const variables = dashboard.templating.list.filter((variable: { type: string }) => variable.type === 'query');
      const annotations = (dashboard.annotations?.list ?? []).filter(
        (annotation: { target?: unknown }) => annotation.target
      );
      const queries = [
        ...targets,
        ...variables.map((variable: { query: unknown }) => variable.query),
        ...annotations.map((annotation: { target: unknown }) => annotation.target),
      ];
      expect(queries.length).toBeGreaterThan(10);
      for (const query of queries) {
        expect(() => parseQuery(interpolate(query))).not.toThrow();
      }
      if (file === 'model-overview.json') {
        expect(annotations.map((annotation: { target: { queryType: string } }) => annotation.target.queryType)).toEqual(
          ['events']
        );
      }
    }
  });
});

import { CoreApp, DataSourceInstanceSettings } from '@grafana/data';
import { setTemplateSrv, type TemplateSrv } from '@grafana/runtime';
import { MonitorDataSource } from './datasource';
import type { MonitorDataQuery, MonitorOptions } from './types';

const settings = {
  id: 1,
  uid: 'mlmon',
  type: 'mlmon-modelmonitor-datasource',
  name: 'Model Monitor',
  jsonData: { storeKind: 'embedded', dataDirectory: '/var/lib/mlmon' },
  meta: { id: 'mlmon-modelmonitor-datasource' },
} as unknown as DataSourceInstanceSettings<MonitorOptions>;

describe('MonitorDataSource', () => {
  const datasource = new MonitorDataSource(settings);

  it('defaults new queries to PSI drift without taking Grafana’s refId', () => {
    expect(datasource.getDefaultQuery(CoreApp.PanelEditor)).toEqual({
      queryType: 'drift',
      model: '',
      metric: 'psi',
      persistence: 1,
    });
  });

  it('skips hidden queries and queries that still need a model', () => {
    const query = (changes: object) =>
      ({ refId: 'A', queryType: 'drift', model: 'churn', ...changes }) as MonitorDataQuery;
    expect(datasource.filterQuery(query({}))).toBe(true);
    expect(datasource.filterQuery(query({ model: '' }))).toBe(false);
    expect(datasource.filterQuery(query({ hide: true }))).toBe(false);
    expect(datasource.filterQuery({ refId: 'A', queryType: 'models' } as MonitorDataQuery)).toBe(true);
  });

  it('interpolates template variables with the scoped variables of the request', () => {
    const replace = jest.fn((text: string, scoped?: Record<string, { value: string }>) =>
      text.replace('$model', scoped?.model?.value ?? 'global')
    );
    setTemplateSrv({ replace } as unknown as TemplateSrv);
    const query = { refId: 'A', queryType: 'distribution', model: '$model' } as MonitorDataQuery;
    expect(datasource.applyTemplateVariables(query, { model: { text: 'fraud', value: 'fraud' } })).toEqual({
      ...query,
      model: 'fraud',
    });
  });

  it('offers the registry aliases after the versions in the version picker', async () => {
    setTemplateSrv({ replace: (text: string) => text } as unknown as TemplateSrv);
    const getResource = jest
      .spyOn(datasource, 'getResource')
      .mockResolvedValue({ versions: ['v1', 'v2'], aliases: ['@champion'] });
    expect(await datasource.getVersions('credit')).toEqual(['v1', 'v2', '@champion']);
    expect(getResource).toHaveBeenCalledWith('models/credit/versions');
    getResource.mockResolvedValue({ versions: ['v1'] });
    expect(await datasource.getVersions('credit')).toEqual(['v1']);
    getResource.mockRestore();
  });

  it('offers template variables through the backend queries', () => {
    expect(datasource.variables?.getType()).toBe('datasource');
  });

  it('offers annotations through events queries', () => {
    expect(datasource.annotations?.getDefaultQuery?.()).toMatchObject({ queryType: 'events', model: '$model' });
    expect(datasource.annotations?.processEvents).toBeDefined();
  });
});

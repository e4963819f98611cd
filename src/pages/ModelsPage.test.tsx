import React from 'react';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { setDataSourceSrv, type DataSourceSrv } from '@grafana/runtime';
import type { ModelSummary } from '../core/query';
import { alertRulesUrl, dashboardUrl } from '../core/alerting/dashboards';
import { ModelsPage, overviewUrl, sortModels } from './ModelsPage';

const model = (name: string, severity: ModelSummary['severity'], driftingFeatures = 0): ModelSummary => ({
  name,
  versions: ['v1', 'v2'],
  features: 12,
  predictions24h: 123456,
  lastPrediction: '2026-11-25T21:00:00Z',
  severity,
  driftingFeatures,
});

/** A datasource service holding one Model Monitor datasource whose `models` resource answers `getModels`. */
function useDatasources(
  list: Array<{ uid: string; name: string }>,
  getModels: () => Promise<{ models: ModelSummary[] }>
) {
  setDataSourceSrv({
    getList: () => list,
    get: async () => ({ getModels }),
  } as unknown as DataSourceSrv);
}

describe('ModelsPage', () => {
  it('orders models worst first, insufficient data after ok', () => {
    const sorted = sortModels([
      model('a', 'ok'),
      model('b', 'insufficient_data'),
      model('c', 'critical'),
      model('d', 'warning'),
    ]);
    expect(sorted.map((m) => m.name)).toEqual(['c', 'd', 'a', 'b']);
  });

  it('links a model to the overview dashboard with datasource and model variables', () => {
    expect(overviewUrl('ds 1', 'fraud/eu')).toBe(
      '/d/mlmon-model-overview/model-overview?var-datasource=ds%201&var-model=fraud%2Feu'
    );
  });

  it('lists the models of the datasource with their health', async () => {
    useDatasources([{ uid: 'mlmon', name: 'Model Monitor' }], async () => ({
      models: [model('churn', 'ok'), model('fraud', 'critical', 3)],
    }));
    render(<ModelsPage />);
    const rows = await screen.findAllByTestId('mlmon-model-row');
    expect(rows).toHaveLength(2);
    expect(within(rows[0]).getByRole('link', { name: 'fraud' })).toHaveAttribute('href', overviewUrl('mlmon', 'fraud'));
    expect(within(rows[0]).getByText('Critical')).toBeInTheDocument();
    expect(within(rows[0]).getByText('3 / 12')).toBeInTheDocument();
    expect(within(rows[1]).getByText('123,456')).toBeInTheDocument();
    expect(within(rows[0]).getByRole('link', { name: 'Feature drift' })).toHaveAttribute(
      'href',
      '/d/mlmon-feature-drift?var-datasource=mlmon&var-model=fraud'
    );
    expect(within(rows[0]).getByRole('link', { name: 'Model health' })).toHaveAttribute(
      'href',
      dashboardUrl('modelHealth', 'mlmon', 'fraud')
    );
    expect(within(rows[0]).getByRole('link', { name: 'Data quality and operations' })).toBeInTheDocument();
    expect(within(rows[0]).getByRole('link', { name: 'Alert rules' })).toHaveAttribute('href', alertRulesUrl('fraud'));
    expect(alertRulesUrl('fraud')).toBe('/alerting/list?search=label%3Amonitor%3Dmlmon+label%3Amodel%3Dfraud');
  });

  it("downloads the datasource's alert rules from the export button", async () => {
    const exported = { datasourceUid: 'mlmon', models: ['churn'], provisioning: { apiVersion: 1, groups: [] } };
    setDataSourceSrv({
      getList: () => [{ uid: 'mlmon', name: 'Model Monitor' }],
      get: async () => ({ getModels: async () => ({ models: [] }), getAlertingExport: async () => exported }),
    } as unknown as DataSourceSrv);
    const blobs: Blob[] = [];
    URL.createObjectURL = (blob: Blob) => {
      blobs.push(blob);
      return 'blob:export';
    };
    URL.revokeObjectURL = () => undefined;
    const clicked = jest.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => undefined);
    render(<ModelsPage />);
    fireEvent.click(await screen.findByRole('button', { name: /Export alert rules/ }));
    await waitFor(() => expect(clicked).toHaveBeenCalled());
    const text = await new Promise<string>((resolve) => {
      const reader = new FileReader(); // jsdom's Blob has no text()
      reader.onload = () => resolve(String(reader.result));
      reader.readAsText(blobs[0]);
    });
    expect(JSON.parse(text)).toEqual(exported);
    clicked.mockRestore();
  });

  it('says what went wrong when the backend fails', async () => {
    useDatasources([{ uid: 'mlmon', name: 'Model Monitor' }], () =>
      Promise.reject({ data: { error: 'data directory /nope does not exist' } })
    );
    render(<ModelsPage />);
    expect(await screen.findByText('data directory /nope does not exist')).toBeInTheDocument();
  });

  it('explains how to start when there is no datasource or no model', async () => {
    useDatasources([], async () => ({ models: [] }));
    const { unmount } = render(<ModelsPage />);
    expect(screen.getByText('No Model Monitor datasource yet')).toBeInTheDocument();
    unmount();
    useDatasources([{ uid: 'mlmon', name: 'Model Monitor' }], async () => ({ models: [] }));
    render(<ModelsPage />);
    expect(await screen.findByText('No models in this store yet')).toBeInTheDocument();
  });
});

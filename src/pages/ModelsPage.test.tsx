import React from 'react';
import { render, screen, within } from '@testing-library/react';
import { setDataSourceSrv, type DataSourceSrv } from '@grafana/runtime';
import type { ModelSummary } from '../core/query';
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

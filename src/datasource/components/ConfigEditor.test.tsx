import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';
import type { DataSourceSettings } from '@grafana/data';
import { ConfigEditor } from './ConfigEditor';
import type { MonitorOptions } from '../types';
import type { MonitorSecureJsonData } from '../../core/query';

type Settings = DataSourceSettings<MonitorOptions, MonitorSecureJsonData>;

function settings(jsonData: MonitorOptions, secureJsonFields: Record<string, boolean> = {}): Settings {
  return { id: 1, uid: 'mlmon', name: 'Model Monitor', jsonData, secureJsonFields } as unknown as Settings;
}

function renderEditor(options: Settings) {
  const onOptionsChange = jest.fn();
  const view = render(<ConfigEditor options={options} onOptionsChange={onOptionsChange} />);
  return { onOptionsChange, view };
}

describe('ConfigEditor', () => {
  it('defaults to the embedded store and writes the data directory to jsonData', () => {
    const { onOptionsChange } = renderEditor(settings({}));
    expect(screen.getByText('To finish the setup')).toBeInTheDocument();
    fireEvent.change(screen.getByLabelText(/^Data directory/), { target: { value: '/var/lib/mlmon' } });
    expect(onOptionsChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ jsonData: { dataDirectory: '/var/lib/mlmon' } })
    );
    expect(screen.queryByLabelText(/^ClickHouse URL/)).not.toBeInTheDocument();
  });

  it('switches the store kind to ClickHouse', () => {
    const { onOptionsChange } = renderEditor(settings({ dataDirectory: '/d' }));
    fireEvent.click(screen.getByLabelText('ClickHouse'));
    expect(onOptionsChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ jsonData: { dataDirectory: '/d', storeKind: 'clickhouse' } })
    );
  });

  it('keeps the ClickHouse password in secureJsonData only', () => {
    const { onOptionsChange } = renderEditor(
      settings({ storeKind: 'clickhouse', clickhouseUrl: 'http://127.0.0.1:8123', database: 'mlmon', user: 'mlmon' })
    );
    expect(screen.getByText(/password of ClickHouse user "mlmon"/)).toBeInTheDocument();
    fireEvent.change(screen.getByLabelText(/^Password/), { target: { value: 's3cret' } });
    const saved = onOptionsChange.mock.lastCall[0] as Settings;
    expect(saved.secureJsonData).toEqual({ password: 's3cret' });
    expect(JSON.stringify(saved.jsonData)).not.toContain('s3cret');
  });

  it('shows a configured password as configured and resets it', () => {
    const { onOptionsChange } = renderEditor(
      settings(
        { storeKind: 'clickhouse', clickhouseUrl: 'http://h:8123', database: 'm', user: 'u' },
        { password: true }
      )
    );
    expect(screen.queryByText('To finish the setup')).not.toBeInTheDocument();
    expect(screen.getByDisplayValue('configured')).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Reset' }));
    const saved = onOptionsChange.mock.lastCall[0] as Settings;
    expect(saved.secureJsonFields.password).toBe(false);
    expect(saved.secureJsonData).toEqual({ password: '' });
  });

  it('writes a cluster name and its shard URLs as a list, and asks for the URLs until they are there', () => {
    const base = { storeKind: 'clickhouse' as const, clickhouseUrl: 'http://ch1:8123', database: 'm' };
    const { onOptionsChange } = renderEditor(settings(base));
    expect(screen.queryByLabelText(/^Shard URLs/)).not.toBeInTheDocument();
    fireEvent.change(screen.getByLabelText(/^Cluster/), { target: { value: 'shards' } });
    expect(onOptionsChange.mock.lastCall[0].jsonData).toEqual({ ...base, cluster: 'shards' });

    const { onOptionsChange: onChange } = renderEditor(settings({ ...base, cluster: 'shards' }));
    expect(screen.getByText(/Set the shard URLs of cluster "shards"/)).toBeInTheDocument();
    fireEvent.change(screen.getByLabelText(/^Shard URLs/), { target: { value: 'http://ch1:8123, http://ch2:8123,' } });
    expect(onChange.mock.lastCall[0].jsonData.shardUrls).toEqual(['http://ch1:8123', 'http://ch2:8123']);
  });

  it('writes thresholds as numbers and removes a cleared one (back to the default)', () => {
    const { onOptionsChange } = renderEditor(settings({ dataDirectory: '/d', thresholds: { psiWarning: 0.15 } }));
    const critical = screen.getByLabelText(/^PSI critical/);
    expect(critical).toHaveAttribute('placeholder', '0.2');
    fireEvent.change(critical, { target: { value: '0.3' } });
    expect(onOptionsChange.mock.lastCall[0].jsonData.thresholds).toEqual({ psiWarning: 0.15, psiCritical: 0.3 });
    fireEvent.change(screen.getByLabelText(/^PSI warning/), { target: { value: '' } });
    expect(onOptionsChange.mock.lastCall[0].jsonData.thresholds).toEqual({});
  });

  it('writes the MLflow registry URL and names to jsonData and its token to secureJsonData only', () => {
    const { onOptionsChange, view } = renderEditor(settings({ dataDirectory: '/d' }));
    fireEvent.change(screen.getByLabelText(/^MLflow tracking URL/), { target: { value: 'http://127.0.0.1:5000' } });
    expect(onOptionsChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ jsonData: { dataDirectory: '/d', registryUrl: 'http://127.0.0.1:5000' } })
    );
    fireEvent.change(screen.getByLabelText(/^Registered names/), {
      target: { value: 'loans=credit, churn = churn_v2' },
    });
    expect((onOptionsChange.mock.lastCall[0] as Settings).jsonData.registryModels).toEqual({
      loans: 'credit',
      churn: 'churn_v2',
    });
    fireEvent.change(screen.getByLabelText(/^MLflow token/), { target: { value: 'tok-123' } });
    const saved = onOptionsChange.mock.lastCall[0] as Settings;
    expect(saved.secureJsonData).toEqual({ registryToken: 'tok-123' });
    expect(JSON.stringify(saved.jsonData)).not.toContain('tok-123');
    view.rerender(
      <ConfigEditor
        options={settings({ dataDirectory: '/d', registryUrl: 'mlflow.local:5000' })}
        onOptionsChange={onOptionsChange}
      />
    );
    expect(screen.getByText(/Set the MLflow registry URL as http\(s\):\/\/host:port/)).toBeInTheDocument();
  });

  it('keeps the other secret when one is typed', () => {
    const options = {
      ...settings({ storeKind: 'clickhouse', clickhouseUrl: 'http://h:8123', database: 'm', user: 'u' }),
      secureJsonData: { registryToken: 'tok' },
    } as Settings;
    const { onOptionsChange } = renderEditor(options);
    fireEvent.change(screen.getByLabelText(/^Password/), { target: { value: 'pw' } });
    expect((onOptionsChange.mock.lastCall[0] as Settings).secureJsonData).toEqual({
      registryToken: 'tok',
      password: 'pw',
    });
  });
});

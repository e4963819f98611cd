import React from 'react';
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { setTemplateSrv, type TemplateSrv } from '@grafana/runtime';
import { QueryEditor } from './QueryEditor';
import type { MonitorDataSource } from '../datasource';
import type { MonitorDataQuery } from '../types';
import { defaultQuery } from '../../core/query';

/** A datasource whose resource wrappers answer like the backend's routes (calls recorded). */
function fakeDatasource() {
  return {
    getModels: jest.fn(async () => ({ models: [{ name: 'churn' }, { name: 'fraud' }] })),
    getVersions: jest.fn(async () => ['v1', 'v2']),
    getBaselines: jest.fn(async () => [{ id: 'b-2026-11-01', createdAt: '2026-11-01T00:00:00Z' }]),
    getFeatures: jest.fn(async () => [
      { name: 'age', kind: 'numeric' },
      { name: 'plan', kind: 'categorical' },
    ]),
  };
}

/** Renders inside an async act(), so that the pickers' loads have settled when it returns. */
async function renderEditor(query: MonitorDataQuery, datasource = fakeDatasource()) {
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  await act(async () => {
    render(
      <QueryEditor
        query={query}
        datasource={datasource as unknown as MonitorDataSource}
        onChange={onChange}
        onRunQuery={onRunQuery}
      />
    );
  });
  return { datasource, onChange, onRunQuery };
}

beforeAll(() => {
  // Combobox lists are virtualised: give elements a size so that jsdom renders the options.
  jest.spyOn(Element.prototype, 'clientHeight', 'get').mockReturnValue(300);
  jest.spyOn(Element.prototype, 'clientWidth', 'get').mockReturnValue(300);
  setTemplateSrv({
    getVariables: () => [{ name: 'model' }],
    replace: (text: string) => text,
  } as unknown as TemplateSrv);
});

describe('QueryEditor', () => {
  it('shows the sections of a drift query and loads the pickers for its model', async () => {
    const { datasource } = await renderEditor({ ...defaultQuery('drift'), model: 'churn' } as MonitorDataQuery);
    for (const id of [
      'mlmon-query-type',
      'mlmon-model',
      'mlmon-version',
      'mlmon-baseline',
      'mlmon-features',
      'mlmon-metric',
      'mlmon-bucket',
      'mlmon-sample-fraction',
      'mlmon-persistence',
    ]) {
      expect(document.getElementById(id)).not.toBeNull();
    }
    await waitFor(() => expect(datasource.getFeatures).toHaveBeenCalledWith('churn', undefined));
    expect(datasource.getVersions).toHaveBeenCalledWith('churn');
    expect(datasource.getBaselines).toHaveBeenCalledWith('churn');
  });

  it('shows only the type picker for a models query and loads nothing', async () => {
    const { datasource } = await renderEditor(defaultQuery('models') as MonitorDataQuery);
    expect(document.getElementById('mlmon-query-type')).not.toBeNull();
    for (const id of ['mlmon-model', 'mlmon-version', 'mlmon-features', 'mlmon-metric', 'mlmon-bucket']) {
      expect(document.getElementById(id)).toBeNull();
    }
    await act(async () => undefined);
    expect(datasource.getModels).not.toHaveBeenCalled();
  });

  it('offers versions but no time options for a features query', async () => {
    await renderEditor({ ...defaultQuery('features'), model: 'churn' } as MonitorDataQuery);
    expect(document.getElementById('mlmon-version')).not.toBeNull();
    expect(document.getElementById('mlmon-bucket')).toBeNull();
    expect(document.getElementById('mlmon-features')).toBeNull();
  });

  it('picks a model from the backend list and offers dashboard variables', async () => {
    const { onChange } = await renderEditor(defaultQuery('distribution') as MonitorDataQuery);
    const input = document.getElementById('mlmon-model') as HTMLInputElement;
    await waitFor(() => expect(input).not.toHaveAttribute('aria-busy', 'true'));
    fireEvent.click(input);
    expect(await screen.findByText('$model')).toBeInTheDocument();
    fireEvent.click(await screen.findByText('fraud'));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ queryType: 'distribution', model: 'fraud' }));
  });

  it('keeps the model scope when the query type changes, with the new type defaults', async () => {
    const { onChange, onRunQuery } = await renderEditor({
      ...defaultQuery('drift'),
      model: 'churn',
      bucket: '1h',
    } as MonitorDataQuery);
    fireEvent.click(document.getElementById('mlmon-query-type')!);
    fireEvent.click(await screen.findByText('Operational'));
    expect(onChange).toHaveBeenLastCalledWith({
      refId: 'A',
      queryType: 'operational',
      model: 'churn',
      bucket: '1h',
      metric: 'latency_p95',
      datasource: undefined,
    });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('writes bucket, sample fraction and persistence on blur and runs the query', async () => {
    const { onChange, onRunQuery } = await renderEditor({
      ...defaultQuery('severity'),
      model: 'churn',
    } as MonitorDataQuery);
    fireEvent.blur(document.getElementById('mlmon-bucket')!, { target: { value: ' 6h ' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ bucket: '6h' }));
    fireEvent.blur(document.getElementById('mlmon-sample-fraction')!, { target: { value: '0.1' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ sampleFraction: 0.1 }));
    fireEvent.blur(document.getElementById('mlmon-persistence')!, { target: { value: '3' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ persistence: 3 }));
    expect(onRunQuery).toHaveBeenCalledTimes(3);
  });

  it('offers "Alert on" for drift but not for severity, and writes alertOn level', async () => {
    const severity = await renderEditor({ ...defaultQuery('severity'), model: 'churn' } as MonitorDataQuery);
    expect(screen.queryByLabelText('level')).toBeNull();
    expect(severity.onChange).not.toHaveBeenCalledWith(expect.objectContaining({ alertOn: expect.anything() }));
    cleanup();
    const { onChange } = await renderEditor({ ...defaultQuery('drift'), model: 'churn' } as MonitorDataQuery);
    fireEvent.click(screen.getByLabelText('level'));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ alertOn: 'level' }));
  });

  it("offers Alert on level for rated metrics, and leaves performance's metric to the model (primary score)", async () => {
    const { onChange } = await renderEditor({ ...defaultQuery('performance'), model: 'churn' } as MonitorDataQuery);
    expect(screen.getByPlaceholderText("the model's primary score")).toBeInTheDocument();
    expect(screen.queryByLabelText('noise_floor')).toBeNull();
    fireEvent.click(screen.getByLabelText('level'));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ queryType: 'performance', alertOn: 'level' }));
  });

  it('offers the estimate toggle on performance queries only, and writes estimate: true', async () => {
    const drift = await renderEditor({ ...defaultQuery('drift'), model: 'churn' } as MonitorDataQuery);
    expect(document.getElementById('mlmon-estimate')).toBeNull();
    expect(drift.onChange).not.toHaveBeenCalled();
    cleanup();
    const { onChange, onRunQuery } = await renderEditor({
      ...defaultQuery('performance'),
      model: 'churn',
    } as MonitorDataQuery);
    const toggle = document.getElementById('mlmon-estimate') as HTMLInputElement;
    expect(toggle.checked).toBe(false);
    fireEvent.click(toggle);
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ queryType: 'performance', estimate: true }));
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('offers the Live toggle, on by default, on streamable queries only, and writes live: false', async () => {
    const performance = await renderEditor({ ...defaultQuery('performance'), model: 'churn' } as MonitorDataQuery);
    expect(document.getElementById('mlmon-live')).toBeNull();
    expect(performance.onChange).not.toHaveBeenCalled();
    cleanup();
    const { onChange } = await renderEditor({
      ...defaultQuery('operational'),
      model: 'churn',
    } as MonitorDataQuery);
    const toggle = document.getElementById('mlmon-live') as HTMLInputElement;
    expect(toggle.checked).toBe(true);
    fireEvent.click(toggle);
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ queryType: 'operational', live: false }));
  });

  it('offers champion and challenger from the model’s versions on compare queries (no single version), and writes them', async () => {
    const { onChange, datasource } = await renderEditor({
      ...defaultQuery('compare', { version: 'v1' }),
      model: 'churn',
    } as MonitorDataQuery);
    expect(datasource.getVersions).toHaveBeenCalledWith('churn');
    expect(document.getElementById('mlmon-version')).toBeNull();
    expect(document.getElementById('mlmon-champion')).not.toBeNull();
    fireEvent.click(document.getElementById('mlmon-challenger')!);
    fireEvent.click(await screen.findByRole('option', { name: 'v2' }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ queryType: 'compare', challenger: 'v2' }));
    const tolerance = document.getElementById('mlmon-tolerance') as HTMLInputElement;
    fireEvent.blur(tolerance, { target: { value: '2.5' } });
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ tolerance: 2.5 }));
    expect(onChange.mock.calls.every(([query]) => query.version === undefined)).toBe(true);
  });

  it('offers the minimum level of events queries, and writes minLevel critical', async () => {
    const { onChange } = await renderEditor({ ...defaultQuery('events'), model: 'churn' } as MonitorDataQuery);
    fireEvent.click(screen.getByLabelText('critical'));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ queryType: 'events', minLevel: 'critical' }));
  });

  it('adds a segment condition and types its value as a number when it is one', async () => {
    const query = {
      ...defaultQuery('drift'),
      model: 'churn',
      segment: [{ column: 'score', operator: '>', value: '' }],
    };
    const { onChange } = await renderEditor(query as MonitorDataQuery);
    fireEvent.blur(screen.getByLabelText('Segment value 1'), { target: { value: '0.5' } });
    expect(onChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ segment: [{ column: 'score', operator: '>', value: 0.5 }] })
    );
    fireEvent.click(screen.getByText('Add segment condition'));
    expect(onChange.mock.lastCall[0].segment).toHaveLength(2);
    fireEvent.click(screen.getByLabelText('Remove segment condition 1'));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ segment: undefined }));
  });

  it('shows the backend error under a picker that failed to load', async () => {
    const datasource = fakeDatasource();
    datasource.getModels.mockRejectedValue({
      data: { error: 'ClickHouse at http://127.0.0.1:8123 refused the password' },
    });
    await renderEditor(defaultQuery('drift') as MonitorDataQuery, datasource);
    expect(await screen.findByText(/refused the password/)).toBeInTheDocument();
  });
});

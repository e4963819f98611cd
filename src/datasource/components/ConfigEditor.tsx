import React from 'react';
import type { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { Alert, Field, FieldSet, Input, RadioButtonGroup, SecretInput } from '@grafana/ui';
import {
  DEFAULT_THRESHOLDS,
  MonitorJsonData,
  MonitorSecureJsonData,
  settingsProblems,
  StoreKind,
  Thresholds,
} from '../../core/query';
import type { MonitorOptions } from '../types';

type Props = DataSourcePluginOptionsEditorProps<MonitorOptions, MonitorSecureJsonData>;

const STORE_OPTIONS: Array<{ label: string; value: StoreKind; description: string }> = [
  { label: 'Embedded', value: 'embedded', description: 'Parquet data directory read in-process by DuckDB' },
  { label: 'ClickHouse', value: 'clickhouse', description: 'A ClickHouse server, for large volumes' },
];

const THRESHOLD_FIELDS: Array<{ key: keyof Thresholds; label: string; description: string }> = [
  { key: 'psiWarning', label: 'PSI warning', description: 'PSI at or above which drift is a warning' },
  { key: 'psiCritical', label: 'PSI critical', description: 'PSI at or above which drift is critical' },
  {
    key: 'qualityRate',
    label: 'Data-quality rate',
    description: 'Fraction of rows (null, out of range, …) that warns',
  },
  { key: 'latencyP95Ms', label: 'Latency p95 (ms)', description: 'p95 latency above which latency warns' },
  { key: 'errorRate', label: 'Error rate', description: 'Fraction of failed requests that warns' },
  { key: 'accuracyDrop', label: 'Accuracy drop', description: 'Relative drop below the baseline validation score' },
  { key: 'persistence', label: 'Persistence', description: 'Consecutive buckets a level must last to count' },
];

/** The URLs of a comma- or space-separated list, without empty entries. */
export function shardUrlList(text: string): string[] {
  return text.split(/[\s,]+/).filter((url) => url !== '');
}

/** The `model=registered name` pairs of a comma-separated list (blank entries and entries without `=` left out). */
export function registeredNameMap(text: string): Record<string, string> {
  const pairs = text
    .split(',')
    .map((entry) => entry.split('=').map((part) => part.trim()))
    .filter((parts) => parts.length === 2 && parts[0] !== '' && parts[1] !== '');
  return Object.fromEntries(pairs);
}

/** The settings' `registryModels` as the editor shows them. */
const registeredNameText = (names: Record<string, string> | undefined) =>
  Object.entries(names ?? {})
    .map(([model, name]) => `${model}=${name}`)
    .join(', ');

/** A secret field of secureJsonData: its value, change and reset (other secrets are kept). */
function secretProps(props: Props, key: keyof MonitorSecureJsonData) {
  const { options, onOptionsChange } = props;
  return {
    isConfigured: Boolean(options.secureJsonFields?.[key]),
    value: options.secureJsonData?.[key] ?? '',
    onChange: (event: React.ChangeEvent<HTMLInputElement>) =>
      onOptionsChange({ ...options, secureJsonData: { ...options.secureJsonData, [key]: event.currentTarget.value } }),
    onReset: () =>
      onOptionsChange({
        ...options,
        secureJsonFields: { ...options.secureJsonFields, [key]: false },
        secureJsonData: { ...options.secureJsonData, [key]: '' },
      }),
  };
}

/** Settings of the datasource: where the store is, its credentials (secure), and the default thresholds. */
export function ConfigEditor(props: Props) {
  const { options, onOptionsChange } = props;
  const jsonData = options.jsonData ?? {};
  const storeKind = jsonData.storeKind ?? 'embedded';
  const passwordConfigured = Boolean(options.secureJsonFields?.password || options.secureJsonData?.password);

  const setJsonData = (changes: Partial<MonitorJsonData>) =>
    onOptionsChange({ ...options, jsonData: { ...jsonData, ...changes } });
  const text = (key: 'dataDirectory' | 'clickhouseUrl' | 'database' | 'user' | 'cluster' | 'registryUrl') => ({
    value: jsonData[key] ?? '',
    onChange: (event: React.ChangeEvent<HTMLInputElement>) => setJsonData({ [key]: event.currentTarget.value }),
  });
  const setThreshold = (key: keyof Thresholds, raw: string) => {
    const thresholds = { ...jsonData.thresholds };
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value)) {
      delete thresholds[key];
    } else {
      thresholds[key] = value;
    }
    setJsonData({ thresholds });
  };
  const problems = settingsProblems(jsonData, passwordConfigured);

  return (
    <>
      <FieldSet label="Store">
        <Field label="Store kind">
          <RadioButtonGroup<StoreKind>
            options={STORE_OPTIONS}
            value={storeKind}
            onChange={(value) => setJsonData({ storeKind: value })}
          />
        </Field>
        {storeKind === 'embedded' ? (
          <Field
            htmlFor="mlmon-data-directory"
            label="Data directory"
            description="Directory of the Parquet store, as seen by the Grafana server"
          >
            <Input id="mlmon-data-directory" placeholder="/var/lib/mlmon" width={60} {...text('dataDirectory')} />
          </Field>
        ) : (
          <>
            <Field htmlFor="mlmon-clickhouse-url" label="ClickHouse URL" description="HTTP interface of the server">
              <Input
                id="mlmon-clickhouse-url"
                placeholder="http://127.0.0.1:8123"
                width={60}
                {...text('clickhouseUrl')}
              />
            </Field>
            <Field htmlFor="mlmon-database" label="Database">
              <Input id="mlmon-database" placeholder="mlmon" width={40} {...text('database')} />
            </Field>
            <Field
              htmlFor="mlmon-cluster"
              label="Cluster"
              description="Sharded cluster only: its name in remote_servers (leave empty for one server)"
            >
              <Input id="mlmon-cluster" placeholder="" width={40} {...text('cluster')} />
            </Field>
            {jsonData.cluster ? (
              <Field
                htmlFor="mlmon-shard-urls"
                label="Shard URLs"
                description="HTTP URL of one server of each shard, separated by commas; the ClickHouse URL is one of them"
              >
                <Input
                  id="mlmon-shard-urls"
                  placeholder="http://ch1:8123, http://ch2:8123"
                  width={60}
                  value={(jsonData.shardUrls ?? []).join(', ')}
                  onChange={(event) => setJsonData({ shardUrls: shardUrlList(event.currentTarget.value) })}
                />
              </Field>
            ) : null}
            <Field htmlFor="mlmon-user" label="User">
              <Input id="mlmon-user" placeholder="default" width={40} {...text('user')} />
            </Field>
            <Field
              htmlFor="mlmon-password"
              label="Password"
              description="Stored encrypted; never sent back to the browser"
            >
              <SecretInput id="mlmon-password" width={40} {...secretProps(props, 'password')} />
            </Field>
          </>
        )}
        {problems.length > 0 && (
          <Alert severity="info" title="To finish the setup">
            {problems.map((problem) => (
              <div key={problem}>{problem}</div>
            ))}
          </Alert>
        )}
      </FieldSet>
      <FieldSet label="Model registry (MLflow)">
        <Field
          htmlFor="mlmon-registry-url"
          label="MLflow tracking URL"
          description="Optional: versions and @aliases as template values, version: @champion in queries, registry events"
        >
          <Input id="mlmon-registry-url" placeholder="http://127.0.0.1:5000" width={60} {...text('registryUrl')} />
        </Field>
        <Field
          htmlFor="mlmon-registry-token"
          label="MLflow token"
          description="Sent as a Bearer token; stored encrypted"
        >
          <SecretInput id="mlmon-registry-token" width={40} {...secretProps(props, 'registryToken')} />
        </Field>
        <Field
          htmlFor="mlmon-registry-models"
          label="Registered names"
          description="Only where a model is registered under another name: model=registered name, separated by commas"
        >
          <Input
            id="mlmon-registry-models"
            placeholder="loans=credit_scoring"
            width={60}
            defaultValue={registeredNameText(jsonData.registryModels)}
            onChange={(event) => setJsonData({ registryModels: registeredNameMap(event.currentTarget.value) })}
          />
        </Field>
      </FieldSet>
      <FieldSet label="Default thresholds">
        {THRESHOLD_FIELDS.map(({ key, label, description }) => (
          <Field key={key} htmlFor={`mlmon-threshold-${key}`} label={label} description={description}>
            <Input
              id={`mlmon-threshold-${key}`}
              type="number"
              width={20}
              placeholder={String(DEFAULT_THRESHOLDS[key])}
              value={jsonData.thresholds?.[key] ?? ''}
              onChange={(event) => setThreshold(key, event.currentTarget.value)}
            />
          </Field>
        ))}
      </FieldSet>
    </>
  );
}

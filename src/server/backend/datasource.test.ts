/**
 * The datasource backend in-process, against a real embedded store (DuckDB over Parquet) in a temporary
 * directory: metadata queries, resources, health, error mapping, and that the password never leaks.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { createLogger } from '../grafana/logger';
import { createQueryRunner } from '../grafana/queryRunner';
import { QueryMetrics } from '../grafana/metrics';
import { dispatchResource } from '../grafana/resources';
import { HealthStatus, type DataQuery, type PluginContext } from '../grafana/types';
import { EmbeddedStore } from '../store/embedded';
import type { PredictionRecord } from '../store/types';
import { createDatasource, registerBuiltInHandlers } from './datasource';
import { formatCount } from './health';
import { openStore } from './openStore';
import { QueryHandlerRegistry } from './registry';
import { localPluginContext } from './settings';

const NOW = Date.UTC(2026, 10, 25, 12);
const PASSWORD = 'pa55-W0rd-never-shown';

let dir: string;
const logs: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlmon-backend-'));
  const records: PredictionRecord[] = Array.from({ length: 120 }, (_, i) => ({
    id: `r${i}`,
    ts: NOW - (i + 1) * 15 * 60_000, // every 15 minutes over 30 hours
    version: i % 2 === 0 ? 'v1' : 'v2',
    features: { age: 20 + (i % 50), plan: i % 3 === 0 ? 'gold' : 'basic' },
    prediction: i % 2,
    score: 0.5,
    latencyMs: 10,
    error: null,
    samplingRate: 0.5,
  }));
  const store = await EmbeddedStore.open(dir);
  await store.writePredictions('churn', records);
  await store.close();
});

afterAll(async () => {
  await backend.dispose?.();
  await rm(dir, { recursive: true, force: true });
});

const registry = new QueryHandlerRegistry();
registerBuiltInHandlers(registry);
const backend = createDatasource({
  registry,
  openStore,
  logger: createLogger((line) => logs.push(line)),
  now: () => NOW,
});
const queryData = createQueryRunner({
  execute: backend.execute,
  metricLabel: backend.metricLabel,
  concurrency: 2,
  timeoutMs: 20_000,
  metrics: new QueryMetrics(),
  logger: createLogger((line) => logs.push(line)),
});

const context = localPluginContext;

const query = (refId: string, json: string): DataQuery => ({
  refId,
  maxDataPoints: 100,
  intervalMS: 60_000,
  timeRange: { fromEpochMS: NOW - 24 * 3600_000, toEpochMS: NOW },
  json: Buffer.from(json),
  queryType: '',
});

const run = (pluginContext: PluginContext, ...queries: DataQuery[]) =>
  queryData({ pluginContext, headers: {}, queries }, new AbortController().signal);

const rows = (bytes: Uint8Array) =>
  tableFromIPC(bytes)
    .toArray()
    .map((row) => row.toJSON());

describe('metadata queries', () => {
  it('lists models with versions, features and predictions scaled by the sampling rate', async () => {
    const { responses } = await run(context({ dataDirectory: dir }), query('A', '{"queryType":"models"}'));
    expect(responses.A.status).toBe(200);
    // 96 of the 120 rows fall in the last 24 h, each kept at rate 0.5 → 192 predictions.
    expect(rows(responses.A.frames[0])).toEqual([
      {
        name: 'churn',
        versions: 'v1,v2',
        features: 2,
        predictions: 192,
        last_seen: NOW - 15 * 60_000,
        level: 'insufficient_data',
      },
    ]);
  });

  it('lists versions and features, and answers 404 for an unknown model', async () => {
    const { responses } = await run(
      context({ dataDirectory: dir }),
      query('V', '{"queryType":"versions","model":"churn"}'),
      query('F', '{"queryType":"features","model":"churn"}'),
      query('X', '{"queryType":"versions","model":"nope"}')
    );
    expect(rows(responses.V.frames[0]).map((r) => r.version)).toEqual(['v1', 'v2']);
    expect(rows(responses.F.frames[0])).toEqual([
      { name: 'age', kind: 'numeric' },
      { name: 'plan', kind: 'categorical' },
    ]);
    expect(responses.X).toMatchObject({ status: 404, errorSource: 'downstream' });
    expect(responses.X.error).toMatch(/known models: churn/);
  });

  it('answers 400 for malformed JSON, unknown or unavailable query types, without failing the neighbours', async () => {
    const { responses } = await run(
      context({ dataDirectory: dir }),
      query('ok', '{"queryType":"models"}'),
      query('json', '{"queryType":'),
      query('type', '{"queryType":"astrology"}'),
      query('missing', '{"queryType":"drift","model":"churn"}')
    );
    expect(responses.ok.status).toBe(200);
    expect(responses.json).toMatchObject({ status: 400, errorSource: 'downstream' });
    expect(responses.json.error).toMatch(/query json is not valid JSON/);
    expect(responses.type.error).toMatch(/unknown queryType "astrology"/);
    // drift is served now: its own error (no baseline for churn) answers for its refId only
    expect(responses.missing).toMatchObject({ status: 404 });
    expect(responses.missing.error).toMatch(/model "churn" has no baseline yet/);
    const bare = new QueryHandlerRegistry();
    bare.register('models', (request) => registry.get('models')!(request));
    const partial = createDatasource({
      registry: bare,
      openStore,
      logger: createLogger(() => undefined),
      now: () => NOW,
    });
    await expect(
      partial.execute({
        query: query('D', '{"queryType":"drift","model":"churn"}'),
        pluginContext: context({ dataDirectory: dir }),
        headers: {},
        signal: new AbortController().signal,
      })
    ).rejects.toThrow(/query type 'drift' is not available in this backend; available: models$/);
    await partial.dispose?.();
  });

  it('answers 400 naming the valid columns for a segment on a column the model does not have, not a store error', async () => {
    const segmentOn = (column: string) =>
      JSON.stringify({
        queryType: 'quality',
        model: 'churn',
        metric: 'null_rate',
        segment: [{ column, operator: '=', value: 'x' }],
      });
    const { responses } = await run(
      context({ dataDirectory: dir }),
      query('id', segmentOn('id')),
      query('case', segmentOn('Plan')),
      query('feature', segmentOn('plan')),
      query('system', segmentOn('version')),
      query('unknown', segmentOn('id').replace('"churn"', '"nope"'))
    );
    expect(responses.id).toMatchObject({ status: 400, errorSource: 'downstream' });
    expect(responses.id.error).toMatch(/segment column "id" is not a feature of model "churn" nor a system column/);
    expect(responses.id.error).toMatch(/features: age, plan; system columns: version, /);
    expect(responses.id.error).not.toMatch(/SELECT|Binder|f_id/);
    expect(responses.case.status).toBe(400);
    expect(responses.case.error).toMatch(/did you mean "plan"\?/);
    expect(responses.feature.status).toBe(200);
    expect(responses.system.status).toBe(200);
    expect(responses.unknown.status).toBe(404);
  });

  it('takes the query type from the DataQuery when the JSON has none', async () => {
    const { responses } = await run(context({ dataDirectory: dir }), { ...query('A', '{}'), queryType: 'models' });
    expect(responses.A.status).toBe(200);
  });
});

describe('resources', () => {
  const call = (path: string) =>
    dispatchResource(backend.resources, {
      pluginContext: context({ dataDirectory: dir }),
      path,
      method: 'GET',
      url: path,
      headers: {},
      body: Buffer.alloc(0),
    });

  it('serves the model summaries of the app page', async () => {
    const response = await call('models');
    expect(response.code).toBe(200);
    expect(JSON.parse(response.body.toString())).toEqual({
      models: [
        {
          name: 'churn',
          versions: ['v1', 'v2'],
          features: 2,
          predictions24h: 192,
          lastPrediction: new Date(NOW - 15 * 60_000).toISOString(),
          severity: 'insufficient_data',
          driftingFeatures: 0,
        },
      ],
    });
  });

  it('serves versions, features and baselines per model', async () => {
    expect(JSON.parse((await call('models/churn/versions')).body.toString())).toEqual({ versions: ['v1', 'v2'] });
    expect(JSON.parse((await call('models/churn/features')).body.toString()).features).toHaveLength(2);
    expect(JSON.parse((await call('models/churn/baselines')).body.toString())).toEqual({ baselines: [] });
    expect((await call('models/nope/features')).code).toBe(404);
  });
});

describe('alerting export', () => {
  const exportFor = async (url: string) => {
    const response = await dispatchResource(backend.resources, {
      pluginContext: context({ dataDirectory: dir, modelThresholds: { churn: { psiWarning: 0.15 } } }, {}, 'ds-7'),
      path: url.split('?')[0],
      method: 'GET',
      url,
      headers: {},
      body: Buffer.alloc(0),
    });
    return { code: response.code, body: JSON.parse(response.body.toString()) };
  };

  it("gives the store's models' rules on this datasource, as a provisioning document and as API requests", async () => {
    const { code, body } = await exportFor('alerting/export');
    expect(code).toBe(200);
    expect(body.datasourceUid).toBe('ds-7');
    expect(body.models).toEqual(['churn']);
    const rules = body.provisioning.groups.flatMap((g: { rules: unknown[] }) => g.rules);
    expect(rules.length).toBeGreaterThan(10);
    for (const rule of rules) {
      for (const query of rule.data.filter((q: { datasourceUid: string }) => q.datasourceUid !== '__expr__')) {
        expect(query.datasourceUid).toBe('ds-7');
        expect(query.model.datasource).toEqual({ type: 'mlmon-modelmonitor-datasource', uid: 'ds-7' });
      }
    }
    // The model's own thresholds are the ones the rules quote.
    const warning = rules.find((r: { uid: string }) => r.uid === 'mlmon-drift-warn-churn');
    expect(warning.annotations.description).toContain('warning threshold 0.15');
    const groupRequests = body.api.requests.filter((r: { path: string }) => r.path.includes('/rule-groups/'));
    expect(groupRequests.map((r: { path: string }) => r.path)).toEqual([
      '/api/v1/provisioning/folder/mlmon/rule-groups/churn%20drift',
      '/api/v1/provisioning/folder/mlmon/rule-groups/churn%20data%20quality',
      '/api/v1/provisioning/folder/mlmon/rule-groups/churn%20operations',
      '/api/v1/provisioning/folder/mlmon/rule-groups/churn%20performance',
    ]);
    expect(groupRequests.map((r: { body: { interval: number } }) => r.body.interval)).toEqual([
      3600, 3600, 1800, 21600,
    ]);
    // The API does not read environment variables: no $NAME reaches it.
    expect(JSON.stringify(body.api)).not.toMatch(/\$MLMON_/);
    expect(body.api.policyRoute.object_matchers).toEqual([['monitor', '=', 'mlmon']]);
  });

  it('exports one model, and answers 404 naming the known models for an unknown one', async () => {
    expect((await exportFor('alerting/export?model=churn')).body.models).toEqual(['churn']);
    const unknown = await exportFor('alerting/export?model=nope');
    expect(unknown.code).toBe(404);
    expect(unknown.body.error).toContain('churn');
  });
});

describe('health', () => {
  const health = (jsonData: object, secure: Record<string, string> = {}, uid = 'h') =>
    backend.checkHealth({ pluginContext: context(jsonData, secure, uid), headers: {} });

  it('reports models and predictions of the last 24 h', async () => {
    await expect(health({ dataDirectory: dir })).resolves.toMatchObject({
      status: HealthStatus.OK,
      message: `1 model, 192 predictions in the last 24 h (data directory ${dir})`,
    });
  });

  it('says what is wrong with the data directory', async () => {
    const missing = join(dir, 'nowhere');
    await expect(health({ dataDirectory: missing }, {}, 'missing')).resolves.toMatchObject({
      status: HealthStatus.ERROR,
      message: expect.stringContaining(`data directory ${missing} does not exist`),
    });
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    await expect(health({ dataDirectory: file }, {}, 'file')).resolves.toMatchObject({
      message: expect.stringContaining('is a file, not a directory'),
    });
  });

  it('rebuilds the instance when the settings change (lastUpdatedMS), not before', async () => {
    const pc = context({ dataDirectory: join(dir, 'nowhere') }, {}, 'changing');
    expect((await backend.checkHealth({ pluginContext: pc, headers: {} })).status).toBe(HealthStatus.ERROR);
    const settings = pc.dataSourceInstanceSettings!;
    settings.jsonData = Buffer.from(JSON.stringify({ dataDirectory: dir }));
    expect((await backend.checkHealth({ pluginContext: pc, headers: {} })).status).toBe(HealthStatus.ERROR);
    settings.lastUpdatedMS = 2;
    expect((await backend.checkHealth({ pluginContext: pc, headers: {} })).status).toBe(HealthStatus.OK);
  });

  it('formats counts for people', () => {
    expect([
      formatCount(950),
      formatCount(12_345),
      formatCount(1_234_567),
      formatCount(250_000_000),
      formatCount(3.4e9),
    ]).toEqual(['950', '12.3 k', '1.2 M', '250 M', '3.4 B']);
  });
});

describe('secrets', () => {
  it('never puts the password in responses, health messages or logs', async () => {
    const pc = context(
      { storeKind: 'clickhouse', clickhouseUrl: 'http://127.0.0.1:9', database: 'db', user: 'monitor' },
      { password: PASSWORD },
      'secret'
    );
    const answers = [
      JSON.stringify(await backend.checkHealth({ pluginContext: pc, headers: {} })),
      JSON.stringify(await run(pc, query('A', '{"queryType":"models"}'))),
      (
        await dispatchResource(backend.resources, {
          pluginContext: pc,
          path: 'models',
          method: 'GET',
          url: 'models',
          headers: {},
          body: Buffer.alloc(0),
        })
      ).body.toString(),
    ];
    for (const text of [...answers, ...logs]) {
      expect(text).not.toContain(PASSWORD);
    }
    expect(JSON.parse(answers[0]).status).toBe(HealthStatus.ERROR);
  });
});

/**
 * The backend against a real ClickHouse server (Debian's clickhouse-server, started on loopback): health
 * messages, secrets, and the distribution query's SQL on ClickHouse giving the same numbers as on DuckDB.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClickHouse, type ClickHouseHandle } from '../support/clickhouse';
import { computeBaseline } from '../../src/server/baseline/compute';
import { parseQuery, type QueryOf } from '../../src/core/query/queryTypes';
import { readDistributionFrame } from '../../src/core/query/frames';
import { createRandom } from '../../src/core/stats';
import type { PredictionRecord } from '../../src/server/store/types';
import { createInstance } from '../../src/server/backend/instances';
import { localInstanceSettings, localPluginContext, parseSettings } from '../../src/server/backend/settings';
import { distributionQuery } from '../../src/server/queries/distribution';
import { createLogger } from '../../src/server/grafana/logger';
import { HealthStatus, type PluginContext } from '../../src/server/grafana/types';
import { createDatasource, registerBuiltInHandlers } from '../../src/server/backend/datasource';
import { openStore } from '../../src/server/backend/openStore';
import { QueryHandlerRegistry } from '../../src/server/backend/registry';

const PASSWORD = 'Wr0ng-but-secret-pa55';
let clickhouse: ClickHouseHandle;
const logs: string[] = [];
const registry = new QueryHandlerRegistry();
registerBuiltInHandlers(registry);
const backend = createDatasource({ registry, openStore, logger: createLogger((line) => logs.push(line)) });

beforeAll(async () => {
  clickhouse = await startClickHouse();
});

afterAll(async () => {
  await backend.dispose?.();
  await clickhouse?.stop();
});

const context = (uid: string, jsonData: object, secure: Record<string, string> = {}) =>
  localPluginContext(jsonData, secure, uid);

const health = (pc: PluginContext) => backend.checkHealth({ pluginContext: pc, headers: {} });

describe('ClickHouse health', () => {
  it('connects and reports an empty store', async () => {
    const result = await health(
      context('ok', { storeKind: 'clickhouse', clickhouseUrl: clickhouse.url, database: clickhouse.database })
    );
    expect(result).toMatchObject({ status: HealthStatus.OK });
    expect(result.message).toMatch(
      /^Connected to the ClickHouse at http:\/\/127\.0\.0\.1:\d+ \(database mlmon_test, user default\); no models yet/
    );
  });

  it('says the server refused the password, without showing it', async () => {
    const result = await health(
      context(
        'bad-password',
        { storeKind: 'clickhouse', clickhouseUrl: clickhouse.url, database: clickhouse.database, user: 'default' },
        { password: PASSWORD }
      )
    );
    expect(result.status).toBe(HealthStatus.ERROR);
    expect(result.message).toMatch(/^ClickHouse at http:\/\/127\.0\.0\.1:\d+ refused the password of user "default"/);
    for (const text of [result.message, ...logs]) {
      expect(text).not.toContain(PASSWORD);
    }
  });

  it('says the server cannot be reached', async () => {
    const result = await health(
      context('down', { storeKind: 'clickhouse', clickhouseUrl: 'http://127.0.0.1:9', database: 'db' })
    );
    expect(result.status).toBe(HealthStatus.ERROR);
    expect(result.message).toMatch(/cannot reach ClickHouse at http:\/\/127\.0\.0\.1:9/);
  });
});

describe('distribution on ClickHouse', () => {
  const NOW = Date.UTC(2026, 10, 25, 12);
  const RANGE = { from: NOW - 3600_000, to: NOW };

  it('gives the same bins and readouts as the embedded store for the same data', async () => {
    const random = createRandom(11);
    const records: PredictionRecord[] = Array.from({ length: 300 }, (_, i) => ({
      id: `r${i}`,
      ts: RANGE.from + i * 10_000,
      version: 'v1',
      features: {
        amount: i % 30 === 0 ? null : 10 + 100 * random(),
        region: ['a', 'b', 'c'][Math.floor(3 * random())],
      },
      prediction: 0,
      samplingRate: 1,
    }));
    const baseline = computeBaseline({
      model: 'loan',
      version: 'v1',
      source: 'test',
      columns: [
        { name: 'amount', kind: 'numeric', values: Array.from({ length: 500 }, () => 100 * random()) },
        {
          name: 'region',
          kind: 'categorical',
          values: Array.from({ length: 500 }, () => ['a', 'b', 'd'][Math.floor(3 * random())]),
        },
      ],
    });
    const dir = await mkdtemp(join(tmpdir(), 'mlmon-ch-vs-duckdb-'));
    const settings = (jsonData: object) => parseSettings(localInstanceSettings(jsonData, {}, 'x'));
    const instances = [
      createInstance(
        settings({ storeKind: 'clickhouse', clickhouseUrl: clickhouse.url, database: clickhouse.database }),
        openStore
      ),
      createInstance(settings({ dataDirectory: dir }), openStore),
    ];
    try {
      const views = [];
      for (const instance of instances) {
        const store = await instance.store();
        await store.writePredictions('loan', records);
        await store.saveBaseline(baseline);
        const query = parseQuery({
          refId: 'A',
          queryType: 'distribution',
          model: 'loan',
          segment: [{ column: 'region', operator: '!=', value: "c' --" }],
        }) as QueryOf<'distribution'>;
        const frames = await distributionQuery({
          query,
          range: RANGE,
          intervalMs: 1000,
          maxDataPoints: 10,
          instance,
          signal: new AbortController().signal,
        });
        views.push(frames.map(readDistributionFrame));
      }
      const [onClickHouse, onDuckDB] = views;
      expect(onClickHouse.map((v) => v.readouts.counts)).toEqual(onDuckDB.map((v) => v.readouts.counts));
      expect(onClickHouse.map((v) => v.bins)).toEqual(onDuckDB.map((v) => v.bins));
      expect(onClickHouse[0].readouts.psi).toBeCloseTo(onDuckDB[0].readouts.psi, 12);
      expect(onClickHouse[0].readouts.counts.current).toBe(records.filter((r) => r.features.amount !== null).length);
    } finally {
      await Promise.all(instances.map((instance) => instance.dispose()));
      await rm(dir, { recursive: true, force: true });
    }
  });
});

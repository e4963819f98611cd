/**
 * Routing of a request's queries: streamable queries over a range ending now subscribe to their live channel (with
 * the datasource uid, the path naming the query and the query in the data); the others, alert previews and fixed
 * ranges take the usual QueryData path.
 */
import { CoreApp, dateTime, LiveChannelScope, type DataQueryRequest, type DataQueryResponse } from '@grafana/data';
import {
  DataSourceWithBackend,
  setGrafanaLiveSrv,
  setTemplateSrv,
  type GrafanaLiveSrv,
  type LiveDataStreamOptions,
  type TemplateSrv,
} from '@grafana/runtime';
import { lastValueFrom, of, toArray } from 'rxjs';
import { liveChannelPath, parseLiveSubscription } from '../core/query/live';
import { MonitorDataSource } from './datasource';
import type { MonitorDataQuery } from './types';

const NOW = Date.UTC(2026, 10, 25, 12);
const HOUR = 3_600_000;

const settings = {
  id: 1,
  uid: 'mlmon-uid',
  type: 'mlmon-modelmonitor-datasource',
  name: 'Model Monitor',
  jsonData: {},
  meta: { id: 'mlmon-modelmonitor-datasource' },
} as never;

function request(targets: object[], changes: Partial<DataQueryRequest<MonitorDataQuery>> = {}) {
  return {
    requestId: 'Q1',
    app: CoreApp.Dashboard,
    targets: targets as MonitorDataQuery[],
    range: { from: dateTime(NOW - HOUR), to: dateTime(NOW), raw: { from: 'now-1h', to: 'now' } },
    rangeRaw: { from: 'now-1h', to: 'now' },
    intervalMs: 15_000,
    maxDataPoints: 240,
    scopedVars: { model: { text: 'churn', value: 'churn' } },
    ...changes,
  } as unknown as DataQueryRequest<MonitorDataQuery>;
}

const operational = { refId: 'A', queryType: 'operational', model: '$model', metric: 'throughput' };
const drift = { refId: 'B', queryType: 'drift', model: 'churn', metric: 'psi' };
const performance = { refId: 'C', queryType: 'performance', model: 'churn' };

let streamed: LiveDataStreamOptions[];
let queried: Array<DataQueryRequest<MonitorDataQuery>>;

beforeEach(() => {
  streamed = [];
  queried = [];
  setTemplateSrv({ replace: (text: string) => text.replace('$model', 'churn') } as unknown as TemplateSrv);
  setGrafanaLiveSrv({
    getDataStream: (options: LiveDataStreamOptions) => {
      streamed.push(options);
      return of({ key: options.key, data: [] } as DataQueryResponse);
    },
  } as unknown as GrafanaLiveSrv);
  jest.spyOn(DataSourceWithBackend.prototype, 'query').mockImplementation((req: DataQueryRequest) => {
    queried.push(req as DataQueryRequest<MonitorDataQuery>);
    return of({ data: [] });
  });
});

afterEach(() => jest.restoreAllMocks());

async function route(req: DataQueryRequest<MonitorDataQuery>) {
  await lastValueFrom(new MonitorDataSource(settings).query(req).pipe(toArray()));
  return { streamed: streamed.map((s) => s.addr), queried: queried.map((q) => q.targets.map((t) => t.refId)) };
}

describe('live routing', () => {
  it('streams operational and drift queries over a range ending now, and queries the others', async () => {
    const { streamed: addresses, queried: batches } = await route(request([operational, drift, performance]));
    expect(batches).toEqual([['C']]);
    expect(addresses.map((a) => a.scope)).toEqual([LiveChannelScope.DataSource, LiveChannelScope.DataSource]);
    expect(addresses.map((a) => a.stream)).toEqual(['mlmon-uid', 'mlmon-uid']);
    const window = { rangeMs: HOUR, intervalMs: 15_000, maxDataPoints: 240 };
    // The data holds the interpolated, parsed query; the path is the one the backend derives from it.
    const expected = parseLiveSubscription({ query: { ...operational, model: 'churn' }, window });
    expect(addresses[0]).toMatchObject({ path: liveChannelPath(expected), data: expected });
    expect(addresses[1].path).toMatch(/^drift\/[0-9a-f]{16}$/);
    expect(streamed[0].buffer?.action).toBe('replace');
  });

  it('queries everything when the range does not end now, in alerting, or when the range is too long', async () => {
    const fixed = { from: 'now-2h', to: 'now-1h' };
    expect((await route(request([operational], { rangeRaw: fixed }))).streamed).toEqual([]);
    expect((await route(request([operational], { app: CoreApp.UnifiedAlerting }))).streamed).toEqual([]);
    const month = { from: dateTime(NOW - 30 * 24 * HOUR), to: dateTime(NOW), raw: { from: 'now-30d', to: 'now' } };
    expect((await route(request([operational], { range: month as never }))).streamed).toEqual([]);
    expect(queried.map((q) => q.targets.length)).toEqual([1, 1, 1]);
  });

  it('queries a streamable query whose Live toggle is off, or that the backend would refuse', async () => {
    const off = { ...drift, live: false };
    const broken = { ...operational, refId: 'D', sampleFraction: 7 };
    const { streamed: addresses, queried: batches } = await route(request([off, broken]));
    expect(addresses).toEqual([]);
    expect(batches).toEqual([['B', 'D']]);
  });

  it('never streams a hidden query (the usual path, which drops hidden queries, gets it)', async () => {
    const { streamed: addresses, queried: batches } = await route(request([{ ...operational, hide: true }, drift]));
    expect(addresses.map((a) => a.path.split('/')[0])).toEqual(['drift']);
    expect(batches).toEqual([['A']]);
  });
});

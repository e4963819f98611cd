import { decodeMessage, encodeMessage, loadProtocolRoot, serviceDefinition } from './proto';
import type { DataResponse, QueryDataRequest } from './types';

const root = loadProtocolRoot();
const type = (name: string) => root.lookupType(name);

describe('embedded protocol', () => {
  it('round-trips a QueryDataRequest as Grafana sends it', () => {
    const request = {
      pluginContext: {
        orgId: 1,
        pluginId: 'mlmon-modelmonitor-datasource',
        dataSourceInstanceSettings: {
          uid: 'ds1',
          name: 'Model Monitor',
          jsonData: Buffer.from('{"dataDirectory":"/data"}'),
          decryptedSecureJsonData: { password: 'pw' },
          lastUpdatedMS: 1_764_000_000_000,
        },
        grafanaConfig: { GF_APP_URL: 'http://localhost:3000' },
      },
      headers: { http_X_Rule_Uid: 'r1' },
      queries: [
        {
          refId: 'A',
          maxDataPoints: 500,
          intervalMS: 60_000,
          timeRange: { fromEpochMS: 1_763_900_000_000, toEpochMS: 1_764_000_000_000 },
          json: Buffer.from('{"queryType":"drift"}'),
          queryType: 'drift',
        },
      ],
    };
    const decoded = decodeMessage<QueryDataRequest>(
      type('pluginv2.QueryDataRequest'),
      encodeMessage(type('pluginv2.QueryDataRequest'), request)
    );
    expect(decoded.queries[0].timeRange).toEqual({ fromEpochMS: 1_763_900_000_000, toEpochMS: 1_764_000_000_000 });
    expect(decoded.queries[0].json.toString()).toBe('{"queryType":"drift"}');
    expect(decoded.pluginContext!.dataSourceInstanceSettings!.lastUpdatedMS).toBe(1_764_000_000_000);
    expect(decoded.pluginContext!.dataSourceInstanceSettings!.decryptedSecureJsonData).toEqual({ password: 'pw' });
    expect(decoded.pluginContext!.user).toBeNull();
    expect(decoded.headers).toEqual({ http_X_Rule_Uid: 'r1' });
  });

  it('uses the field numbers of backend.proto on the wire (DataResponse: frames 1, error 2, status 4, errorSource 5)', () => {
    const bytes = encodeMessage(type('pluginv2.DataResponse'), {
      frames: [Buffer.from([7])],
      error: 'e',
      status: 400,
      errorSource: 'plugin',
    });
    // tag = field number << 3 | wire type (2 = length-delimited, 0 = varint)
    expect(Array.from(bytes)).toEqual([0x0a, 1, 7, 0x12, 1, 0x65, 0x20, 0x90, 0x03, 0x2a, 6, ...Buffer.from('plugin')]);
  });

  it('reads DataQuery fields by their backend.proto numbers (json 5, queryType 6)', () => {
    const bytes = Buffer.from([0x0a, 1, 0x41, 0x2a, 2, 0x7b, 0x7d, 0x32, 1, 0x78]);
    const query = decodeMessage<{ refId: string; json: Buffer; queryType: string }>(type('pluginv2.DataQuery'), bytes);
    expect(query.refId).toBe('A');
    expect(query.json.toString()).toBe('{}');
    expect(query.queryType).toBe('x');
  });

  it('fills proto3 defaults for a response with nothing set', () => {
    const decoded = decodeMessage<DataResponse>(type('pluginv2.DataResponse'), Buffer.alloc(0));
    expect(decoded).toEqual({ frames: [], error: '', status: 0, errorSource: '' });
  });

  it('refuses to encode a field of the wrong type', () => {
    expect(() => encodeMessage(type('pluginv2.DataResponse'), { status: 'ok' })).toThrow(/DataResponse.*status/);
  });

  it('builds grpc-js service definitions with go-plugin and Grafana paths', () => {
    expect(serviceDefinition(root, 'pluginv2.Data').QueryData.path).toBe('/pluginv2.Data/QueryData');
    expect(serviceDefinition(root, 'pluginv2.Resource').CallResource.responseStream).toBe(true);
    expect(serviceDefinition(root, 'plugin.GRPCController').Shutdown.path).toBe('/plugin.GRPCController/Shutdown');
    expect(serviceDefinition(root, 'plugin.GRPCBroker').StartStream.requestStream).toBe(true);
    expect(serviceDefinition(root, 'grpc.health.v1.Health').Check.path).toBe('/grpc.health.v1.Health/Check');
  });
});

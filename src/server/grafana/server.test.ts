/**
 * The gRPC server in-process, called through grpc-js clients built from the same embedded protocol: every
 * service answers, per-refId errors and statuses travel, the controller's Shutdown stops the server.
 */
import { credentials, makeGenericClientConstructor, status as GrpcStatus, type Client } from '@grpc/grpc-js';
import { tableFromIPC } from 'apache-arrow';
import { badRequest } from './errors';
import { createLogger } from './logger';
import { loadProtocolRoot, serviceDefinition } from './proto';
import { startServer, type PluginHandlers, type RunningServer } from './server';
import { HealthStatus, StreamStatus } from './types';

const root = loadProtocolRoot();
let server: RunningServer;
let shutdowns = 0;
let abortedByDeadline = false;
let runStopped = false;

const handlers: PluginHandlers = {
  execute: async ({ query, signal }) => {
    const body = JSON.parse(query.json.toString());
    if (body.hang) {
      return new Promise((_resolve, reject) =>
        signal.addEventListener('abort', () => {
          abortedByDeadline = true;
          reject(new Error('aborted'));
        })
      );
    }
    if (body.fail) {
      throw badRequest(`query ${query.refId} asked to fail`);
    }
    return [
      {
        name: 'n',
        meta: { type: 'numeric-long', typeVersion: [0, 1] },
        fields: [{ name: 'v', type: 'number', values: [body.value] }],
      },
    ];
  },
  metricLabel: () => 'test',
  checkHealth: async (request) => ({
    status: request.pluginContext ? HealthStatus.OK : HealthStatus.ERROR,
    message: request.pluginContext ? 'fine' : 'no datasource',
    details: { checked: true },
  }),
  resources: [{ method: 'GET', pattern: 'ping', handler: async () => ({ pong: true }) }],
  streams: {
    subscribe: async ({ path }) => {
      if (path === 'broken') {
        throw badRequest('the subscription data is broken');
      }
      return { status: path === 'ticks' ? StreamStatus.OK : StreamStatus.NOT_FOUND, data: Buffer.from('{}') };
    },
    run: async ({ path }, send, signal) => {
      if (path === 'fails') {
        throw new Error('the store went away');
      }
      for (let tick = 0; !signal.aborted; tick++) {
        await send(JSON.stringify({ data: { values: [[tick]] } }));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      runStopped = true;
    },
  },
  collectMetrics: () => '# TYPE datasource_things gauge\ndatasource_things 7\n',
};

function client(service: string): Client & Record<string, (...args: unknown[]) => unknown> {
  const Constructor = makeGenericClientConstructor(serviceDefinition(root, service), service);
  return new Constructor(`127.0.0.1:${server.port}`, credentials.createInsecure()) as never;
}

function unary<T>(service: string, method: string, request: object, deadlineMs?: number): Promise<T> {
  const c = client(service);
  const options = deadlineMs ? { deadline: Date.now() + deadlineMs } : {};
  return new Promise<T>((resolve, reject) =>
    c[method](request, options, (error: Error | null, response: T) => {
      c.close();
      return error ? reject(error) : resolve(response);
    })
  );
}

beforeAll(async () => {
  server = await startServer(handlers, { logger: createLogger(() => undefined), onShutdown: () => (shutdowns += 1) });
});

afterAll(() => server.stop());

describe('gRPC server', () => {
  it('answers QueryData per refId with Arrow frames and statuses', async () => {
    const response = await unary<{
      responses: Record<string, { frames: Buffer[]; status: number; error: string; errorSource: string }>;
    }>('pluginv2.Data', 'QueryData', {
      queries: [
        { refId: 'A', json: Buffer.from('{"value": 4.5}') },
        { refId: 'B', json: Buffer.from('{"fail": true}') },
      ],
    });
    expect(response.responses.A.status).toBe(200);
    expect(tableFromIPC(response.responses.A.frames[0]).getChild('v')!.get(0)).toBe(4.5);
    expect(response.responses.B).toMatchObject({
      status: 400,
      error: 'query B asked to fail',
      errorSource: 'downstream',
      frames: [],
    });
  });

  it('stops a query when the gRPC deadline passes', async () => {
    await expect(
      unary('pluginv2.Data', 'QueryData', { queries: [{ refId: 'A', json: Buffer.from('{"hang": true}') }] }, 200)
    ).rejects.toMatchObject({
      code: GrpcStatus.DEADLINE_EXCEEDED,
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(abortedByDeadline).toBe(true);
  });

  it('answers CheckHealth with status, message and JSON details', async () => {
    const ok = await unary<{ status: number; message: string; jsonDetails: Buffer }>(
      'pluginv2.Diagnostics',
      'CheckHealth',
      { pluginContext: { orgId: 1 } }
    );
    expect(ok).toMatchObject({ status: HealthStatus.OK, message: 'fine' });
    expect(JSON.parse(ok.jsonDetails.toString())).toEqual({ checked: true });
    const error = await unary<{ status: number; message: string }>('pluginv2.Diagnostics', 'CheckHealth', {});
    expect(error).toMatchObject({ status: HealthStatus.ERROR, message: 'no datasource' });
  });

  it('serves Prometheus metrics that count the queries', async () => {
    const response = await unary<{ metrics: { prometheus: Buffer } }>('pluginv2.Diagnostics', 'CollectMetrics', {});
    expect(response.metrics.prometheus.toString()).toContain('plugin_queries_total{query_type="test"} 3');
  });

  it('streams one CallResource message with the status set', async () => {
    const c = client('pluginv2.Resource');
    const messages: Array<{ code: number; body: Buffer }> = [];
    await new Promise<void>((resolve, reject) => {
      const stream = c.CallResource({ path: 'ping', method: 'GET', url: 'ping' }) as NodeJS.EventEmitter;
      stream.on('data', (m: { code: number; body: Buffer }) => messages.push(m));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    c.close();
    expect(messages).toHaveLength(1);
    expect(messages[0].code).toBe(200);
    expect(JSON.parse(messages[0].body.toString())).toEqual({ pong: true });
  });

  it("answers SubscribeStream with the handler's status, and its error as INVALID_ARGUMENT", async () => {
    await expect(unary('pluginv2.Stream', 'SubscribeStream', { path: 'ticks' })).resolves.toMatchObject({
      status: StreamStatus.OK,
    });
    await expect(unary('pluginv2.Stream', 'SubscribeStream', { path: 'other' })).resolves.toMatchObject({
      status: StreamStatus.NOT_FOUND,
    });
    await expect(unary('pluginv2.Stream', 'SubscribeStream', { path: 'broken' })).rejects.toMatchObject({
      code: GrpcStatus.INVALID_ARGUMENT,
      details: 'the subscription data is broken',
    });
  });

  it('refuses every PublishStream', async () => {
    await expect(
      unary('pluginv2.Stream', 'PublishStream', { path: 'ticks', data: Buffer.from('{"x":1}') })
    ).resolves.toMatchObject({ status: StreamStatus.PERMISSION_DENIED });
  });

  it('streams RunStream packets until the client cancels, and then stops the run', async () => {
    const c = client('pluginv2.Stream');
    const stream = c.RunStream({ path: 'ticks' }) as NodeJS.EventEmitter & { cancel(): void };
    const packets: unknown[] = [];
    await new Promise<void>((resolve) => {
      stream.on('data', (packet: { data: Buffer }) => {
        packets.push(JSON.parse(packet.data.toString()));
        if (packets.length === 3) {
          resolve();
        }
      });
    });
    stream.on('error', () => undefined); // CANCELLED, ours
    stream.cancel();
    await new Promise((resolve) => setTimeout(resolve, 100));
    c.close();
    expect(packets).toEqual([0, 1, 2].map((tick) => ({ data: { values: [[tick]] } })));
    expect(runStopped).toBe(true);
  });

  it('ends a failing RunStream with INTERNAL and the error message', async () => {
    const c = client('pluginv2.Stream');
    const error = await new Promise<{ code: number; details: string }>((resolve) => {
      const stream = c.RunStream({ path: 'fails' }) as NodeJS.EventEmitter;
      stream.on('data', () => undefined);
      stream.on('error', resolve);
    });
    c.close();
    expect(error).toMatchObject({ code: GrpcStatus.INTERNAL, details: 'internal error: the store went away' });
  });

  it("appends the datasource's metrics to its own", async () => {
    const response = await unary<{ metrics: { prometheus: Buffer } }>('pluginv2.Diagnostics', 'CollectMetrics', {});
    expect(response.metrics.prometheus.toString()).toMatch(/plugin_queries_total[\s\S]*\ndatasource_things 7\n$/);
  });

  it('reports SERVING for "plugin" and "" and NOT_FOUND for other services', async () => {
    await expect(unary('grpc.health.v1.Health', 'Check', { service: 'plugin' })).resolves.toEqual({ status: 1 });
    await expect(unary('grpc.health.v1.Health', 'Check', { service: '' })).resolves.toEqual({ status: 1 });
    await expect(unary('grpc.health.v1.Health', 'Check', { service: 'other' })).rejects.toMatchObject({
      code: GrpcStatus.NOT_FOUND,
    });
  });

  it('stops when the controller asks, with the stdio stream open', async () => {
    const stdio = client('plugin.GRPCStdio');
    const stream = stdio.StreamStdio({}) as NodeJS.EventEmitter;
    const ended = new Promise<void>((resolve) => {
      stream.on('end', resolve);
      stream.on('error', () => resolve());
    });
    stream.on('data', () => undefined);
    await unary('plugin.GRPCController', 'Shutdown', {});
    const started = Date.now();
    await ended;
    await new Promise((r) => setTimeout(r, 50));
    expect(Date.now() - started).toBeLessThan(450); // ended, not cut off by the 500 ms force fallback
    stdio.close();
    expect(shutdowns).toBe(1);
  });
});

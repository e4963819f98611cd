import { dispatchResource, matchRoute, type ResourceRoute } from './resources';
import { notFound } from './errors';
import type { CallResourceRequest } from './types';

const request = (method: string, url: string, body = ''): CallResourceRequest => ({
  pluginContext: null,
  method,
  path: url.split('?')[0],
  url,
  headers: {},
  body: Buffer.from(body),
});

const routes: ResourceRoute[] = [
  {
    method: 'GET',
    pattern: 'models/:model/features',
    handler: async ({ params, query }) => ({ model: params.model, version: query.get('version') }),
  },
  { method: 'POST', pattern: 'echo', handler: async ({ body }) => body },
  {
    method: 'GET',
    pattern: 'fail/:kind',
    handler: async ({ params }) => {
      if (params.kind === 'missing') {
        throw notFound('no such thing');
      }
      throw new Error('kaput');
    },
  },
];

const json = (b: Buffer) => JSON.parse(b.toString());

describe('resources', () => {
  it('matches :params and decodes them', () => {
    expect(matchRoute('models/:model/versions', '/models/a%2Fb/versions/')).toEqual({ model: 'a/b' });
    expect(matchRoute('models/:model/versions', 'models//versions')).toBeUndefined();
    expect(matchRoute('models', 'models/x')).toBeUndefined();
  });

  it('answers JSON with status 200, passing params and query', async () => {
    const response = await dispatchResource(routes, request('GET', 'models/credit/features?version=v2'));
    expect(response.code).toBe(200);
    expect(response.headers['Content-Type'].values).toEqual(['application/json']);
    expect(json(response.body)).toEqual({ model: 'credit', version: 'v2' });
  });

  it('parses JSON bodies and rejects malformed ones with 400', async () => {
    expect(json((await dispatchResource(routes, request('POST', 'echo', '{"a":1}'))).body)).toEqual({ a: 1 });
    const bad = await dispatchResource(routes, request('POST', 'echo', '{'));
    expect(bad.code).toBe(400);
    expect(json(bad.body).error).toMatch(/not valid JSON/);
  });

  it('maps errors to statuses and unknown routes to 404 listing the routes', async () => {
    expect((await dispatchResource(routes, request('GET', 'fail/missing'))).code).toBe(404);
    const internal = await dispatchResource(routes, request('GET', 'fail/other'));
    expect(internal.code).toBe(500);
    expect(json(internal.body).error).toBe('internal error: kaput');
    const unknown = await dispatchResource(routes, request('DELETE', 'echo'));
    expect(unknown.code).toBe(404);
    expect(json(unknown.body).error).toMatch(/POST echo/);
  });
});

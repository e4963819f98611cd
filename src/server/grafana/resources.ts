/**
 * CallResource as a small JSON router: `GET models/:model/versions` → handler → JSON body. Grafana takes the
 * status and headers from the first streamed message only, so a response is always one message with `code` set.
 */
import { badRequest, mapError, notFound } from './errors';
import type { CallResourceRequest, CallResourceResponse, PluginContext } from './types';

export interface ResourceCall {
  method: string;
  /** The path after `/resources/`, without leading slash or query. */
  path: string;
  /** Values of the `:name` segments of the route, URL-decoded. */
  params: Record<string, string>;
  query: URLSearchParams;
  /** The parsed JSON body (undefined when the body is empty). */
  body: unknown;
  pluginContext: PluginContext | null;
}

export type ResourceHandler = (call: ResourceCall) => Promise<unknown>;

export interface ResourceRoute {
  method: 'GET' | 'POST';
  /** Segments separated by `/`; `:name` matches one non-empty segment. */
  pattern: string;
  handler: ResourceHandler;
}

const trimSlashes = (path: string) => path.replace(/^\/+|\/+$/g, '');

/** The route params when `path` matches `pattern`, else undefined. */
export function matchRoute(pattern: string, path: string): Record<string, string> | undefined {
  const want = trimSlashes(pattern).split('/');
  const have = trimSlashes(path).split('/');
  if (want.length !== have.length) {
    return undefined;
  }
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(':')) {
      if (have[i] === '') {
        return undefined;
      }
      params[want[i].slice(1)] = decodeURIComponent(have[i]);
    } else if (want[i] !== have[i]) {
      return undefined;
    }
  }
  return params;
}

function jsonResponse(code: number, value: unknown): CallResourceResponse {
  return {
    code,
    headers: { 'Content-Type': { values: ['application/json'] } },
    body: Buffer.from(JSON.stringify(value)),
  };
}

/** The JSON body, or undefined when empty. */
function parseBody(body: Buffer): unknown {
  if (body.length === 0) {
    return undefined;
  }
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw badRequest('the request body is not valid JSON');
  }
}

/** Dispatches one request; unknown routes answer 404 listing the routes, errors answer their status. */
export async function dispatchResource(
  routes: ResourceRoute[],
  request: CallResourceRequest
): Promise<CallResourceResponse> {
  const method = (request.method || 'GET').toUpperCase();
  const path = trimSlashes(request.path);
  try {
    for (const route of routes) {
      const params = route.method === method ? matchRoute(route.pattern, path) : undefined;
      if (params) {
        const queryIndex = request.url.indexOf('?');
        const query = new URLSearchParams(queryIndex >= 0 ? request.url.slice(queryIndex + 1) : '');
        const body = parseBody(request.body);
        return jsonResponse(
          200,
          await route.handler({ method, path, params, query, body, pluginContext: request.pluginContext })
        );
      }
    }
    const available = routes.map((r) => `${r.method} ${r.pattern}`).join(', ');
    throw notFound(`no resource '${method} ${path}'; available: ${available}`);
  } catch (error) {
    const mapped = mapError(error);
    return jsonResponse(mapped.status, { error: mapped.message });
  }
}

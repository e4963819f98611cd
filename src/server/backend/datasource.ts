/**
 * The Model Monitor datasource backend: turns the protocol layer's calls into query handler calls,
 * health checks and resource routes. Everything monitoring-specific behind gRPC starts here.
 */
import { StoreChangedError } from '../store/errors';
import { withNotices } from '../../core/query/frames';
import { isQueryType, parseQuery, QueryError, type QueryType } from '../../core/query/queryTypes';
import { badRequest } from '../grafana/errors';
import type { Logger } from '../grafana/logger';
import type { QueryCall } from '../grafana/queryRunner';
import type { ResourceRoute } from '../grafana/resources';
import type { PluginHandlers } from '../grafana/server';
import type { DataQuery } from '../grafana/types';
import { InvalidIdentifierError } from '../store/identifiers';
import { checkTimeOptions } from '../queries/plan';
import { checkSegmentColumns } from '../counting/scope';
import { alertFrames, isAlertRequest } from './alert-frames';
import { checkHealth } from './health';
import { InstanceManager, type StoreOpener } from './instances';
import { LiveHub } from './live';
import {
  featuresQuery,
  listFeatures,
  modelsQuery,
  requireModel,
  summarizeModels,
  versionChoices,
  versionsQuery,
} from '../queries/metadata';
import { distributionQuery } from '../queries/distribution';
import { driftQuery } from '../queries/drift';
import { predictionDriftQuery } from '../queries/prediction_drift';
import { severityQuery } from '../queries/severity';
import { rankingQuery } from '../queries/ranking';
import { qualityQuery } from '../queries/quality';
import { compareQuery } from '../queries/compare';
import { performanceQuery } from '../queries/performance';
import { operationalQuery } from '../queries/operational';
import { eventsQuery } from '../queries/events';
import type { QueryHandlerRegistry } from './registry';
import { toWireFrame } from './toWireFrame';
import { thresholdsFor } from './settings';
import { apiExport, provisioningDocument } from '../alerting/provisioning';
import { resolvedAliasNotices, resolveVersionAliases } from '../registry/resolve';

const DAY_MS = 24 * 3600 * 1000;

/** Query types answered from the store's schema alone: they read no rows, so they never wait behind counting. */
const SCHEMA_ONLY_TYPES: ReadonlySet<QueryType> = new Set(['features']);

/** Parses the query JSON of a DataQuery; the DataQuery's own queryType wins when the JSON lacks one. */
export function parseDataQuery(query: DataQuery) {
  let raw: unknown;
  try {
    raw = JSON.parse(query.json.toString('utf8') || '{}');
  } catch (error) {
    throw badRequest(`query ${query.refId} is not valid JSON (${(error as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw badRequest(`query ${query.refId} must be a JSON object`);
  }
  const withType = { ...(raw as Record<string, unknown>) };
  withType.queryType ??= query.queryType || undefined;
  withType.refId = query.refId;
  try {
    return parseQuery(withType);
  } catch (error) {
    throw error instanceof QueryError ? badRequest(error.message) : error;
  }
}

/**
 * Runs an instance operation; a wrong option or identifier of the request becomes a 400. (Secrets are removed where
 * errors leave the process: grafana/errors.ts `mapError`.)
 */
async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof QueryError || error instanceof InvalidIdentifierError) {
      throw badRequest(error.message);
    }
    throw error;
  }
}

export interface DatasourceOptions {
  registry: QueryHandlerRegistry;
  openStore: StoreOpener;
  logger: Logger;
  now?: () => number;
  /** How often live channels look for new data (live.ts LIVE_POLL_MS unless set). */
  livePollMs?: number;
}

/** Registers the handlers served by this module: metadata (models, versions, features) and distribution. */
export function registerBuiltInHandlers(registry: QueryHandlerRegistry): void {
  registry.register('models', (request) => modelsQuery(request, registry));
  registry.register('versions', versionsQuery);
  registry.register('features', featuresQuery);
  registry.register('distribution', distributionQuery);
  registry.register('drift', driftQuery);
  registry.register('prediction_drift', predictionDriftQuery);
  registry.register('severity', severityQuery);
  registry.register('ranking', rankingQuery);
  registry.register('quality', qualityQuery);
  registry.register('performance', performanceQuery);
  registry.register('compare', compareQuery);
  registry.register('operational', operationalQuery);
  registry.register('events', eventsQuery);
}

export function createDatasource({
  registry,
  openStore,
  logger,
  now = Date.now,
  livePollMs,
}: DatasourceOptions): PluginHandlers {
  const instances = new InstanceManager(openStore, logger);

  /** The query of a call and its time options, checked: a 400 for anything no plan can be made from (plan.ts). */
  function checkedQuery(call: Pick<QueryCall, 'query' | 'headers'>) {
    const query = parseDataQuery(call.query);
    const received = now();
    const options = {
      range: {
        from: call.query.timeRange?.fromEpochMS ?? received - DAY_MS,
        to: call.query.timeRange?.toEpochMS ?? received,
      },
      intervalMs: call.query.intervalMS,
      maxDataPoints: call.query.maxDataPoints,
      alert: isAlertRequest(call.headers),
    };
    try {
      checkTimeOptions(query, options);
    } catch (error) {
      throw error instanceof QueryError ? badRequest(error.message) : error;
    }
    return { query, options, received };
  }

  async function execute(call: QueryCall) {
    const { query: parsed, options, received } = checkedQuery(call);
    const handler = registry.get(parsed.queryType);
    if (!handler) {
      throw badRequest(
        `query type '${parsed.queryType}' is not available in this backend; available: ${registry.types().join(', ')}`
      );
    }
    const instance = instances.get(call.pluginContext);
    const query = await resolveVersionAliases(parsed, instance.registry, call.signal);
    if ('segment' in query && query.segment?.length) {
      const { model, segment } = query;
      await guarded(async () => {
        // A model without stored traffic has no features: its handler answers (404 or no data).
        const features = await (await instance.store()).getFeatures(model);
        if (features.length > 0) {
          checkSegmentColumns(
            model,
            segment,
            features.map((feature) => feature.name)
          );
        }
      });
    }
    const run = () => handler({ query: query as never, ...options, now: received, instance, signal: call.signal });
    // A compaction that replaced a file mid-query leaves the data intact: planning again reads the new file.
    const frames = await guarded(() =>
      run().catch((error) => {
        if (error instanceof StoreChangedError) {
          return run();
        }
        throw error;
      })
    );
    const notices = resolvedAliasNotices(parsed, query);
    const noted = notices.length === 0 ? frames : frames.map((frame) => withNotices(frame, notices));
    // An alert rule on `@champion` keeps one series as the alias moves: its labels name the version as the rule does.
    return (options.alert ? alertFrames(noted, parsed) : noted).map(toWireFrame);
  }

  const live = new LiveHub({ execute, instances, logger, now, pollMs: livePollMs });

  const resources: ResourceRoute[] = [
    {
      method: 'GET',
      pattern: 'query-types',
      handler: async () => ({ queryTypes: registry.types() }),
    },
    {
      method: 'GET',
      pattern: 'models',
      handler: async ({ pluginContext }) => {
        const instance = instances.get(pluginContext);
        const to = now();
        const models = await guarded(() =>
          summarizeModels(registry, instance, { from: to - DAY_MS, to }, AbortSignal.timeout(30_000))
        );
        return { models };
      },
    },
    {
      method: 'GET',
      pattern: 'models/:model/versions',
      handler: async ({ pluginContext, params }) => {
        const instance = instances.get(pluginContext);
        return guarded(async () => {
          const choices = await versionChoices(instance, params.model, AbortSignal.timeout(30_000));
          return {
            versions: choices.versions.map((v) => v.version),
            ...(instance.registry ? { aliases: choices.aliases } : {}),
            ...(choices.registryProblem ? { registryProblem: choices.registryProblem } : {}),
          };
        });
      },
    },
    {
      method: 'GET',
      pattern: 'models/:model/features',
      handler: async ({ pluginContext, params, query }) => {
        const instance = instances.get(pluginContext);
        const version = query.get('version') || undefined;
        return { features: await guarded(() => listFeatures(instance, { model: params.model, version })) };
      },
    },
    {
      method: 'GET',
      pattern: 'models/:model/baselines',
      handler: async ({ pluginContext, params }) => {
        const instance = instances.get(pluginContext);
        return guarded(async () => {
          const store = await instance.store();
          await requireModel(store, params.model);
          const baselines = await store.listBaselines(params.model);
          return {
            baselines: baselines.map((b) => ({
              id: b.version,
              version: b.version,
              createdAt: new Date(b.createdAt).toISOString(),
            })),
          };
        });
      },
    },
    {
      method: 'GET',
      pattern: 'alerting/export',
      handler: async ({ pluginContext, query }) => {
        const instance = instances.get(pluginContext);
        const uid = pluginContext?.dataSourceInstanceSettings?.uid ?? '';
        return guarded(async () => {
          const store = await instance.store();
          const asked = query.get('model');
          if (asked) {
            await requireModel(store, asked);
          }
          const models = asked ? [asked] : (await store.listModels()).sort();
          const thresholdsOf = (model: string) => thresholdsFor(instance.settings, model);
          return {
            datasourceUid: uid,
            models,
            provisioning: provisioningDocument(models, uid, thresholdsOf),
            api: apiExport(models, uid, thresholdsOf),
          };
        });
      },
    },
  ];

  return {
    execute,
    metricLabel: (query) => queryTypeLabel(query),
    // A query that fails its checks is light: it is refused at once instead of waiting for a heavy query's slot.
    isHeavy: (query, headers) => {
      try {
        return !SCHEMA_ONLY_TYPES.has(checkedQuery({ query, headers }).query.queryType);
      } catch {
        return false;
      }
    },
    checkHealth: (request) => checkHealth(instances, request, now()),
    resources,
    streams: live,
    collectMetrics: () => live.renderMetrics(),
    dispose: () => instances.disposeAll(),
  };
}

/** The query type of a DataQuery, or 'invalid' when it names none the backend knows. */
function queryTypeLabel(query: DataQuery): QueryType | 'invalid' {
  const type: unknown = query.queryType || safeQueryType(query.json);
  return isQueryType(type) ? type : 'invalid';
}

/** The queryType of a query's JSON, or undefined when it cannot be read (metrics labels only). */
function safeQueryType(json: Buffer): unknown {
  try {
    return (JSON.parse(json.toString('utf8')) as { queryType?: unknown }).queryType;
  } catch {
    return undefined;
  }
}

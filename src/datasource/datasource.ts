import {
  CoreApp,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceInstanceSettings,
  DataSourceVariableSupport,
  LiveChannelScope,
  ScopedVars,
  StreamingFrameAction,
} from '@grafana/data';
import { DataSourceWithBackend, getGrafanaLiveSrv, getTemplateSrv } from '@grafana/runtime';
import { merge, Observable } from 'rxjs';
import {
  AlertingExportResponse,
  BaselinesResponse,
  defaultQuery,
  FeaturesResponse,
  ModelsResponse,
  parseModelsResponse,
  QUERY_TYPE_SPECS,
  RESOURCE_PATHS,
  VersionsResponse,
} from '../core/query';
import { annotationSupport } from './annotations';
import { interpolateQuery } from './interpolate';
import { liveTarget, liveWindow, type LiveTarget } from './live';
import type { MonitorDataQuery, MonitorOptions } from './types';

/** Rows a live frame may hold in the browser (the backend sends whole windows, within its own point budget). */
const LIVE_MAX_ROWS = 100_000;

/**
 * The Model Monitor datasource. Queries, health checks and alert rules go to the backend (QueryData, CheckHealth);
 * on a dashboard whose range ends at "now", streamable queries go to Grafana Live instead (live.ts). This class adds
 * defaults, template variables, annotations (`events` queries) and typed wrappers of the backend's resource routes.
 */
export class MonitorDataSource extends DataSourceWithBackend<MonitorDataQuery, MonitorOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<MonitorOptions>) {
    super(instanceSettings);
    this.variables = new MonitorVariableSupport();
    this.annotations = annotationSupport;
  }

  /** A drift query; Grafana gives the refId. */
  getDefaultQuery(_app: CoreApp): Partial<MonitorDataQuery> {
    const { refId: _refId, ...query } = defaultQuery('drift');
    return query;
  }

  /** Skips hidden queries and queries that still lack the model they need. */
  filterQuery(query: MonitorDataQuery): boolean {
    if (query.hide) {
      return false;
    }
    return !QUERY_TYPE_SPECS[query.queryType]?.needsModel || Boolean((query as { model?: string }).model);
  }

  /** Streamable queries of a request over a range ending now subscribe to their live channel; the rest are queried. */
  query(request: DataQueryRequest<MonitorDataQuery>): Observable<DataQueryResponse> {
    const window = liveWindow(request);
    const live = new Map<string, LiveTarget>();
    for (const query of window ? request.targets.filter((q) => this.filterQuery(q)) : []) {
      const target = liveTarget(this.applyTemplateVariables(query, request.scopedVars), window!);
      if (target) {
        live.set(query.refId, target);
      }
    }
    if (live.size === 0) {
      return super.query(request);
    }
    const rest = request.targets.filter((query) => !live.has(query.refId));
    const streams = [...live.values()].map((target) =>
      getGrafanaLiveSrv().getDataStream({
        key: `${request.requestId}/${target.refId}`,
        addr: { scope: LiveChannelScope.DataSource, stream: this.uid, path: target.path, data: target.data },
        // Every packet holds the whole window (the backend merges the newest buckets into it).
        buffer: { action: StreamingFrameAction.Replace, maxLength: LIVE_MAX_ROWS },
      })
    );
    return rest.length > 0 ? merge(super.query({ ...request, targets: rest }), ...streams) : merge(...streams);
  }

  applyTemplateVariables(query: MonitorDataQuery, scopedVars: ScopedVars): MonitorDataQuery {
    const templateSrv = getTemplateSrv();
    return interpolateQuery(query, (text, format) => templateSrv.replace(text, scopedVars, format));
  }

  /** Model names may hold template variables in the editors; resource routes need the real name. */
  private resolve(text: string): string {
    return getTemplateSrv().replace(text);
  }

  async getModels(): Promise<ModelsResponse> {
    return parseModelsResponse(await this.getResource(RESOURCE_PATHS.models()));
  }

  /** The model's versions, then its registry aliases (`@champion`): what a version picker offers. */
  async getVersions(model: string): Promise<string[]> {
    const response = await this.getResource<VersionsResponse>(RESOURCE_PATHS.versions(this.resolve(model)));
    return [...(response.versions ?? []), ...(response.aliases ?? [])];
  }

  async getFeatures(model: string, version?: string): Promise<FeaturesResponse['features']> {
    const params = version ? { version: this.resolve(version) } : undefined;
    const response = await this.getResource<FeaturesResponse>(RESOURCE_PATHS.features(this.resolve(model)), params);
    return response.features ?? [];
  }

  /** The provisioned alert rules for the datasource's models (or one model), to download or send to the API. */
  async getAlertingExport(model?: string): Promise<AlertingExportResponse> {
    return this.getResource<AlertingExportResponse>(RESOURCE_PATHS.alertingExport(), model ? { model } : undefined);
  }

  async getBaselines(model: string): Promise<BaselinesResponse['baselines']> {
    const response = await this.getResource<BaselinesResponse>(RESOURCE_PATHS.baselines(this.resolve(model)));
    return response.baselines ?? [];
  }
}

/**
 * Template variables reuse the query editor and the backend: a `models`, `versions` or `features` query returns a
 * table whose first string field holds the values.
 */
class MonitorVariableSupport extends DataSourceVariableSupport<MonitorDataSource, MonitorDataQuery, MonitorOptions> {}

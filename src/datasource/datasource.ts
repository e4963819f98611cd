import { CoreApp, DataSourceInstanceSettings, DataSourceVariableSupport, ScopedVars } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';
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
import type { MonitorDataQuery, MonitorOptions } from './types';

/**
 * The Model Monitor datasource. Queries, health checks and alert rules go to the backend (QueryData, CheckHealth);
 * this class adds defaults, template variables, annotations (`events` queries) and typed wrappers of the backend's
 * resource routes.
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

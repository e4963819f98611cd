/**
 * The resource routes of the datasource backend (Grafana forwards `GET /api/datasources/uid/<uid>/resources/<path>`
 * to the backend's CallResource). The app's model list and the editors' pickers use them; the backend serves them.
 *
 * | path                               | query        | response            |
 * | ---------------------------------- | ------------ | ------------------- |
 * | `models`                           |              | {@link ModelsResponse}   |
 * | `models/<model>/versions`          |              | {@link VersionsResponse} |
 * | `models/<model>/features`          | `version`?   | {@link FeaturesResponse} |
 * | `models/<model>/baselines`         |              | {@link BaselinesResponse}|
 * | `alerting/export`                  | `model`?     | {@link AlertingExportResponse} |
 *
 * Errors answer with a 4xx/5xx status and `{ "error": "<what went wrong and what to do>" }`.
 */
import type { SeverityName } from './frames';

/** One model as the app's root page lists it. */
export interface ModelSummary {
  name: string;
  versions: string[];
  /** Number of input features in the latest baseline (0 when the model has no baseline yet). */
  features: number;
  /** Predictions in the last 24 hours, scaled back by the sampling rate. */
  predictions24h: number;
  /** Time of the newest prediction, ISO 8601, or null when none was stored. */
  lastPrediction: string | null;
  /** Worst drift severity over the features in the last 24 hours against the latest baseline. */
  severity: SeverityName;
  /** Features rated warning or above in the last 24 hours. */
  driftingFeatures: number;
}

export interface ModelsResponse {
  models: ModelSummary[];
}
export interface VersionsResponse {
  /** The store's and the model registry's versions, in natural order. */
  versions: string[];
  /** With a model registry: its aliases as version references (`@champion`), which queries resolve at run time. */
  aliases?: string[];
  /** With a model registry that could not be read: why its versions and aliases are missing. */
  registryProblem?: string;
}
export interface FeatureSummary {
  name: string;
  kind: 'numeric' | 'categorical';
}
export interface FeaturesResponse {
  features: FeatureSummary[];
}
export interface BaselineSummary {
  id: string;
  /** ISO 8601. */
  createdAt: string;
  version?: string;
}
export interface BaselinesResponse {
  baselines: BaselineSummary[];
}

/**
 * The provisioned alert rules for this datasource's models (or one model): as one file-provisioning document
 * (Grafana reads JSON files in provisioning/alerting/ too) and as provisioning API requests.
 */
export interface AlertingExportResponse {
  datasourceUid: string;
  models: string[];
  provisioning: { apiVersion: 1; groups: unknown[]; [resource: string]: unknown };
  api: {
    requests: Array<{ method: 'POST' | 'PUT'; path: string; body: unknown; note: string }>;
    policyRoute: unknown;
  };
}

export const RESOURCE_PATHS = {
  models: () => 'models',
  versions: (model: string) => `models/${encodeURIComponent(model)}/versions`,
  features: (model: string) => `models/${encodeURIComponent(model)}/features`,
  baselines: (model: string) => `models/${encodeURIComponent(model)}/baselines`,
  alertingExport: () => 'alerting/export',
} as const;

/**
 * Checks the shape of a `models` response, so that a backend of another version yields a clear message rather than
 * a blank page. Returns the response typed or throws.
 */
export function parseModelsResponse(json: unknown): ModelsResponse {
  const models = (json as ModelsResponse | null)?.models;
  if (!Array.isArray(models) || models.some((model) => typeof model?.name !== 'string')) {
    throw new Error('the datasource answered /resources/models without a "models" list; update the plugin backend');
  }
  return { models };
}

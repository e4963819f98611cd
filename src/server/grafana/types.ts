/**
 * TypeScript shapes of the decoded `pluginv2` messages (see protoText.ts): proto field names,
 * int64 as number, bytes as Buffer, enums as numbers.
 */

export interface DataSourceInstanceSettings {
  id: number;
  name: string;
  url: string;
  user: string;
  database: string;
  basicAuthEnabled: boolean;
  basicAuthUser: string;
  jsonData: Buffer;
  decryptedSecureJsonData: Record<string, string>;
  lastUpdatedMS: number;
  uid: string;
  apiVersion: string;
}

export interface PluginContext {
  orgId: number;
  pluginId: string;
  user: { login: string; name: string; email: string; role: string } | null;
  dataSourceInstanceSettings: DataSourceInstanceSettings | null;
  grafanaConfig: Record<string, string>;
  pluginVersion: string;
  userAgent: string;
  apiVersion: string;
}

export interface TimeRange {
  fromEpochMS: number;
  toEpochMS: number;
}

export interface DataQuery {
  refId: string;
  maxDataPoints: number;
  intervalMS: number;
  timeRange: TimeRange | null;
  json: Buffer;
  queryType: string;
}

export interface QueryDataRequest {
  pluginContext: PluginContext | null;
  headers: Record<string, string>;
  queries: DataQuery[];
}

export type ErrorSource = 'plugin' | 'downstream';

export interface DataResponse {
  frames: Uint8Array[];
  error: string;
  /** HTTP-like status; 200 on success (0 would be read as 500 by Grafana). */
  status: number;
  errorSource: ErrorSource | '';
}

export interface QueryDataResponse {
  responses: Record<string, DataResponse>;
}

export enum HealthStatus {
  UNKNOWN = 0,
  OK = 1,
  ERROR = 2,
}

export interface CheckHealthRequest {
  pluginContext: PluginContext | null;
  headers: Record<string, string>;
}

export interface CheckHealthResult {
  status: HealthStatus;
  message: string;
  /** Serialised as the response's jsonDetails. */
  details?: Record<string, unknown>;
}

export interface CallResourceRequest {
  pluginContext: PluginContext | null;
  path: string;
  method: string;
  url: string;
  headers: Record<string, { values: string[] }>;
  body: Buffer;
}

export interface CallResourceResponse {
  code: number;
  headers: Record<string, { values: string[] }>;
  body: Buffer;
}

/** SubscribeStreamResponse.Status and PublishStreamResponse.Status (the same three values). */
export enum StreamStatus {
  OK = 0,
  NOT_FOUND = 1,
  PERMISSION_DENIED = 2,
}

/** SubscribeStreamRequest, RunStreamRequest and PublishStreamRequest share their fields. */
export interface StreamRequest {
  pluginContext: PluginContext | null;
  /** The path part of the channel `ds/<datasource uid>/<path>`. */
  path: string;
  /** JSON the subscriber attached (for this plugin: what the path stands for). */
  data: Buffer;
  headers: Record<string, string>;
}

export interface StreamAnswer {
  status: StreamStatus;
  /** JSON returned to the subscriber (e.g. a frame schema); empty for none. */
  data?: Buffer;
}

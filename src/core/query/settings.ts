/**
 * Datasource settings: what the config editor writes to `jsonData` and `secureJsonData` and the backend reads.
 * The ClickHouse password lives only in `secureJsonData` (encrypted by Grafana, never sent back to the browser).
 */

export const STORE_KINDS = ['embedded', 'clickhouse'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/** Default thresholds; each model can override them. Sources: DESIGN.md "Severity and alerting". */
export interface Thresholds {
  /** PSI at or above which drift is a warning / critical (also needs to clear the noise floor). */
  psiWarning: number;
  psiCritical: number;
  /** Data-quality rate (fraction of rows) above which quality is a warning. */
  qualityRate: number;
  /** Latency p95 in milliseconds above which latency is a warning. */
  latencyP95Ms: number;
  /** Error rate (fraction of requests) above which errors are a warning. */
  errorRate: number;
  /** Relative drop of accuracy below the baseline's validation score that is a warning. */
  accuracyDrop: number;
  /** Consecutive buckets a level must persist to count (1 = no persistence). */
  persistence: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = {
  psiWarning: 0.1,
  psiCritical: 0.2,
  qualityRate: 0.02,
  latencyP95Ms: 200,
  errorRate: 0.005,
  accuracyDrop: 0.05,
  persistence: 1,
};

export interface MonitorJsonData {
  storeKind?: StoreKind;
  /** Embedded store: the data directory of Parquet files, as seen by the Grafana server. */
  dataDirectory?: string;
  /** ClickHouse: HTTP(S) URL, e.g. http://127.0.0.1:8123. */
  clickhouseUrl?: string;
  database?: string;
  user?: string;
  /** ClickHouse cluster mode: the cluster's name in the servers' remote_servers (see the store README, "Cluster"). */
  cluster?: string;
  /** ClickHouse cluster mode: the HTTP URL of one server of each shard, `clickhouseUrl` among them. */
  shardUrls?: string[];
  thresholds?: Partial<Thresholds>;
  /** Per-model overrides of `thresholds`, keyed by model name. */
  modelThresholds?: Record<string, Partial<Thresholds>>;
  /** Model registry: the URL of an MLflow tracking server, e.g. http://127.0.0.1:5000 (README "Model registry"). */
  registryUrl?: string;
  /** Model registry: the registered model name of a product model, where they differ (keyed by product model). */
  registryModels?: Record<string, string>;
}

export interface MonitorSecureJsonData {
  password?: string;
  /** Model registry: the MLflow token, sent as `Authorization: Bearer …`. */
  registryToken?: string;
}

/** The thresholds in force: `base` (the defaults) overridden by the settings' valid (finite, non-negative) values. */
export function effectiveThresholds(
  overrides: Partial<Thresholds> = {},
  base: Thresholds = DEFAULT_THRESHOLDS
): Thresholds {
  const result = { ...base };
  for (const key of Object.keys(DEFAULT_THRESHOLDS) as Array<keyof Thresholds>) {
    const value = overrides[key];
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) {
      result[key] = value;
    }
  }
  return result;
}

/**
 * What is wrong with the shard URLs of a cluster: none, or one that is not an http(s) URL without credentials (the
 * user and password of the settings are used for every shard, and only they are kept secret).
 */
export function shardUrlProblems(cluster: string, shardUrls: unknown): string[] {
  if (!Array.isArray(shardUrls) || shardUrls.length === 0) {
    return [`Set the shard URLs of cluster "${cluster}" (one HTTP URL per shard), or clear the cluster.`];
  }
  const bad = shardUrls.filter((url) => typeof url !== 'string' || !/^https?:\/\/[^/\s@]+(\/\S*)?$/.test(url));
  return bad.length === 0
    ? []
    : [
        `Shard URLs must be http(s) URLs without user or password (those of the settings are used): ` +
          `${bad.length} of ${shardUrls.length} are not.`,
      ];
}

/** What is wrong with the model-registry settings: none, or a URL that is not http(s) without credentials. */
export function registryProblems(jsonData: MonitorJsonData): string[] {
  const url = jsonData.registryUrl;
  if (url === undefined || url === '') {
    return [];
  }
  return /^https?:\/\/[^/\s@]+(\/\S*)?$/.test(url)
    ? []
    : [
        'Set the MLflow registry URL as http(s)://host:port without user or password (the token goes in its own ' +
          'field), or clear it.',
      ];
}

/** What is missing in the settings of a store kind, as messages a user can act on (empty when complete). */
export function settingsProblems(jsonData: MonitorJsonData, passwordConfigured: boolean): string[] {
  return [...storeProblems(jsonData, passwordConfigured), ...registryProblems(jsonData)];
}

/** What is missing in the store settings. */
function storeProblems(jsonData: MonitorJsonData, passwordConfigured: boolean): string[] {
  const kind = jsonData.storeKind ?? 'embedded';
  if (kind === 'embedded') {
    return jsonData.dataDirectory
      ? []
      : ['Set the data directory of the embedded store (where `mlmon ingest` writes).'];
  }
  const problems: string[] = [];
  if (!jsonData.clickhouseUrl || !/^https?:\/\/[^/\s]+/.test(jsonData.clickhouseUrl)) {
    problems.push('Set the ClickHouse URL, e.g. http://127.0.0.1:8123.');
  }
  if (!jsonData.database) {
    problems.push('Set the ClickHouse database.');
  }
  if (jsonData.cluster) {
    problems.push(...shardUrlProblems(jsonData.cluster, jsonData.shardUrls));
  }
  if (jsonData.user && !passwordConfigured) {
    problems.push(`Set the password of ClickHouse user "${jsonData.user}" (leave the user empty for "default").`);
  }
  return problems;
}

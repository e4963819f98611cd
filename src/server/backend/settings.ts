/**
 * Datasource settings as Grafana sends them (DataSourceInstanceSettings: jsonData bytes and the already
 * decrypted secureJsonData), parsed into what the backend needs. The password is wrapped in a Secret
 * that prints as "[redacted]" wherever it ends up (logs, JSON, errors), and registered with the process's
 * redaction (grafana/secrets.ts), which removes it in every form from every error and log line. Credentials written
 * into the ClickHouse URL (`http://user:password@host`) are taken out of it and used as the user and password.
 */
import {
  effectiveThresholds,
  settingsProblems,
  type MonitorJsonData,
  type Thresholds,
} from '../../core/query/settings';
import { badRequest } from '../grafana/errors';
import { registerSecret } from '../grafana/secrets';
import type { DataSourceInstanceSettings, PluginContext } from '../grafana/types';

const REDACTED = '[redacted]';

/** A secret value: only `reveal()` returns it; every other way of printing it gives "[redacted]". */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  get isSet(): boolean {
    return this.#value !== '';
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}

export interface EmbeddedStoreSettings {
  kind: 'embedded';
  dataDirectory: string;
}

export interface ClickHouseStoreSettings {
  kind: 'clickhouse';
  url: string;
  database: string;
  /** Empty means ClickHouse's `default` user. */
  user: string;
  password: Secret;
  /** Cluster mode: the cluster's name and one HTTP URL per shard (absent on a single server). */
  cluster?: { name: string; shardUrls: string[] };
}

export type StoreSettings = EmbeddedStoreSettings | ClickHouseStoreSettings;

export interface DatasourceSettings {
  uid: string;
  name: string;
  lastUpdatedMS: number;
  store: StoreSettings;
  thresholds: Thresholds;
  /** Thresholds of the models that override the datasource's (see `thresholdsFor`). */
  modelThresholds: Record<string, Thresholds>;
  /** The MLflow model registry, when configured (README "Model registry (MLflow)"). */
  registry?: RegistrySettings;
}

export interface RegistrySettings {
  url: string;
  token: Secret;
  /** Product model → registered model name, where they differ. */
  registeredNames: Record<string, string>;
}

/** The thresholds in force for a model: its overrides when the settings have some, else the datasource's. */
export function thresholdsFor(settings: DatasourceSettings, model: string): Thresholds {
  return Object.prototype.hasOwnProperty.call(settings.modelThresholds, model)
    ? settings.modelThresholds[model]
    : settings.thresholds;
}

/** The jsonData object; empty bytes mean `{}`. Throws a message a user can act on when it is not a JSON object. */
export function parseJsonData(bytes: Uint8Array): MonitorJsonData {
  const text = Buffer.from(bytes).toString('utf8').trim();
  if (text === '') {
    return {};
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badRequest('the datasource settings (jsonData) are not valid JSON; open the datasource and save it again');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest('the datasource settings (jsonData) must be a JSON object; open the datasource and save it again');
  }
  return value as MonitorJsonData;
}

/** A ClickHouse URL split into the URL without credentials and the user and password it carried (decoded). */
export function splitUrlCredentials(text: string): { url: string; user: string; password: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { url: text, user: '', password: '' };
  }
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  return { url: user || password ? url.toString() : text, user, password };
}

/** Parses and checks the settings; throws one message listing everything to fix. */
export function parseSettings(instance: DataSourceInstanceSettings): DatasourceSettings {
  const written = parseJsonData(instance.jsonData);
  const inUrl = splitUrlCredentials(written.clickhouseUrl ?? '');
  registerSecret(inUrl.password, inUrl.user);
  const jsonData = {
    ...written,
    ...(written.clickhouseUrl ? { clickhouseUrl: inUrl.url } : {}),
    ...(inUrl.user && !written.user ? { user: inUrl.user } : {}),
  };
  const password = new Secret(instance.decryptedSecureJsonData?.password || inUrl.password);
  registerSecret(password.reveal(), jsonData.user ?? 'default');
  registerSecret(password.reveal(), '');
  const registryToken = new Secret(instance.decryptedSecureJsonData?.registryToken ?? '');
  registerSecret(registryToken.reveal());
  const kind = jsonData.storeKind ?? 'embedded';
  if (kind !== 'embedded' && kind !== 'clickhouse') {
    throw badRequest(
      `store kind "${String(kind)}" is unknown; choose "embedded" or "clickhouse" in the datasource settings`
    );
  }
  const problems = settingsProblems(jsonData, password.isSet);
  if (problems.length > 0) {
    throw badRequest(`the datasource "${instance.name}" is not fully configured: ${problems.join(' ')}`);
  }
  const thresholds = effectiveThresholds(jsonData.thresholds);
  const store: StoreSettings =
    kind === 'embedded'
      ? { kind, dataDirectory: jsonData.dataDirectory! }
      : {
          kind,
          url: jsonData.clickhouseUrl!.replace(/\/+$/, ''),
          database: jsonData.database!,
          user: jsonData.user ?? '',
          password,
          ...(jsonData.cluster
            ? {
                cluster: {
                  name: jsonData.cluster,
                  shardUrls: jsonData.shardUrls!.map((url) => url.replace(/\/+$/, '')),
                },
              }
            : {}),
        };
  return {
    uid: instance.uid,
    name: instance.name,
    lastUpdatedMS: instance.lastUpdatedMS,
    store,
    ...(jsonData.registryUrl
      ? {
          registry: {
            url: jsonData.registryUrl.replace(/\/+$/, ''),
            token: registryToken,
            registeredNames: { ...(jsonData.registryModels ?? {}) },
          },
        }
      : {}),
    thresholds,
    modelThresholds: Object.fromEntries(
      Object.entries(jsonData.modelThresholds ?? {}).map(([model, overrides]) => [
        model,
        effectiveThresholds(overrides ?? {}, thresholds),
      ])
    ),
  };
}

/** Where the data is, in words, without secrets: for logs and health messages. */
export function describeStore(store: StoreSettings): string {
  return store.kind === 'embedded'
    ? `data directory ${store.dataDirectory}`
    : `ClickHouse at ${store.url} (database ${store.database}, user ${store.user || 'default'}` +
        `${store.cluster ? `, cluster ${store.cluster.name} of ${store.cluster.shardUrls.length} shards` : ''})`;
}

/**
 * The instance settings Grafana would send for a datasource with this jsonData and these (decrypted) secrets: how
 * the demo, the tests and the benchmarks configure a datasource outside Grafana.
 */
export function localInstanceSettings(
  jsonData: object,
  decryptedSecureJsonData: Record<string, string> = {},
  uid = 'local'
): DataSourceInstanceSettings {
  return {
    id: 0,
    uid,
    name: uid,
    url: '',
    user: '',
    database: '',
    basicAuthEnabled: false,
    basicAuthUser: '',
    jsonData: Buffer.from(JSON.stringify(jsonData)),
    decryptedSecureJsonData,
    lastUpdatedMS: 1,
    apiVersion: '',
  };
}

/** The plugin context of a call Grafana would make to such a datasource (no user: as for alert evaluation). */
export function localPluginContext(
  jsonData: object,
  decryptedSecureJsonData: Record<string, string> = {},
  uid = 'local'
): PluginContext {
  return {
    orgId: 1,
    pluginId: 'mlmon-modelmonitor-datasource',
    user: null,
    grafanaConfig: {},
    pluginVersion: '',
    userAgent: '',
    apiVersion: '',
    dataSourceInstanceSettings: localInstanceSettings(jsonData, decryptedSecureJsonData, uid),
  };
}

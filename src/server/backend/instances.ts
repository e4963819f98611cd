/**
 * One datasource instance per Grafana datasource (by uid), rebuilt when its settings change
 * (`lastUpdatedMS`), like the Go SDK's instance manager. The store is opened lazily on first use so
 * that start-up (the handshake) never waits for DuckDB or ClickHouse.
 */
import { badRequest, downstreamFailure } from '../grafana/errors';
import type { Logger } from '../grafana/logger';
import type { PluginContext } from '../grafana/types';
import type { PredictionStore } from '../store/types';
import {
  describeStore,
  parseSettings,
  redactSecrets,
  secretsOf,
  type DatasourceSettings,
  type StoreSettings,
} from './settings';

/** Opens the store the settings describe. */
export type StoreOpener = (settings: StoreSettings) => Promise<PredictionStore>;

export interface DatasourceInstance {
  readonly settings: DatasourceSettings;
  /** The open store (opened on first call; a failed open is retried on the next call). */
  store(): Promise<PredictionStore>;
  /** Message of an error with the instance's secrets removed. */
  redact(text: string): string;
  dispose(): Promise<void>;
}

export function createInstance(settings: DatasourceSettings, openStore: StoreOpener): DatasourceInstance {
  let opening: Promise<PredictionStore> | undefined;
  const redact = (text: string) => redactSecrets(text, secretsOf(settings));
  return {
    settings,
    redact,
    store() {
      opening ??= openStore(settings.store).catch((error: unknown) => {
        opening = undefined;
        const message = error instanceof Error ? error.message : String(error);
        throw downstreamFailure(`cannot open the ${describeStore(settings.store)}: ${redact(message)}`);
      });
      return opening;
    },
    async dispose() {
      const store = await opening?.catch(() => undefined);
      opening = undefined;
      await store?.close();
    },
  };
}

export class InstanceManager {
  private readonly instances = new Map<string, DatasourceInstance>();

  constructor(
    private readonly openStore: StoreOpener,
    private readonly logger: Logger
  ) {}

  /** The instance of the request's datasource; throws a 400 when the request carries no datasource. */
  get(pluginContext: PluginContext | null): DatasourceInstance {
    const raw = pluginContext?.dataSourceInstanceSettings;
    if (!raw) {
      throw badRequest('the request names no datasource; call this plugin through a Model Monitor datasource');
    }
    const key = raw.uid || String(raw.id);
    const cached = this.instances.get(key);
    if (cached && cached.settings.lastUpdatedMS === raw.lastUpdatedMS) {
      return cached;
    }
    const settings = parseSettings(raw);
    const instance = createInstance(settings, this.openStore);
    this.instances.set(key, instance);
    if (cached) {
      cached
        .dispose()
        .catch((error: unknown) =>
          this.logger.warn('closing the previous store failed', { uid: key, error: cached.redact(String(error)) })
        );
    }
    this.logger.debug('datasource instance ready', { uid: key, store: describeStore(settings.store) });
    return instance;
  }

  async disposeAll(): Promise<void> {
    const all = [...this.instances.values()];
    this.instances.clear();
    await Promise.all(all.map((instance) => instance.dispose()));
  }
}

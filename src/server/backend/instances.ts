/**
 * One datasource instance per Grafana datasource (by uid), rebuilt when its settings change
 * (`lastUpdatedMS`), like the Go SDK's instance manager. The store is opened lazily on first use so
 * that start-up (the handshake) never waits for DuckDB or ClickHouse.
 */
import { badRequest, downstreamFailure } from '../grafana/errors';
import type { Logger } from '../grafana/logger';
import type { PluginContext } from '../grafana/types';
import type { PredictionStore } from '../store/types';
import { MlflowRegistry } from '../registry/mlflow';
import { ModelRegistryView } from '../registry/resolve';
import { describeStore, parseSettings, type DatasourceSettings, type StoreSettings } from './settings';

/** Opens the store the settings describe. */
export type StoreOpener = (settings: StoreSettings) => Promise<PredictionStore>;

/** How long the backend reuses a store's model list and a model's features (see `withSchemaCache`). */
export const SCHEMA_TTL_MS = 5000;

/**
 * The store with its schema reads — the model list and a model's features — answered from memory. Every panel query
 * starts with them; on ClickHouse each is a round trip that waits behind the heavy queries' work, so a trivial query
 * (a template variable's feature list) would wait too. A read older than SCHEMA_TTL_MS is still answered at once and
 * refreshed in the background, so a new model or feature shows within seconds; a write through this store (tests,
 * the demo) forgets what was kept. The store's own methods keep reading the store itself.
 */
export function withSchemaCache(store: PredictionStore, now: () => number = Date.now): PredictionStore {
  const kept = new Map<string, { readAt: number; value: Promise<unknown> }>();
  const cached = <T>(key: string, read: () => Promise<T>): Promise<T> => {
    const hit = kept.get(key);
    if (hit && hit.readAt + SCHEMA_TTL_MS <= now()) {
      hit.readAt = now(); // one refresh at a time
      read().then(
        (fresh) => kept.get(key) === hit && kept.set(key, { readAt: now(), value: Promise.resolve(fresh) }),
        () => undefined // keep answering with what was read last; the next refresh tries again
      );
    }
    if (hit) {
      return hit.value as Promise<T>;
    }
    const value = read();
    kept.set(key, { readAt: now(), value });
    value.catch(() => kept.delete(key));
    return value;
  };
  const forgetting =
    <A extends unknown[], R>(write: (...args: A) => Promise<R>) =>
    (...args: A) =>
      write(...args).finally(() => kept.clear());
  const overrides: Partial<PredictionStore> = {
    listModels: () => cached('models', () => store.listModels()),
    getFeatures: (model) => cached(`features:${model}`, () => store.getFeatures(model)),
    writePredictions: forgetting(store.writePredictions.bind(store)),
    writeLabels: forgetting(store.writeLabels.bind(store)),
    saveBaseline: forgetting(store.saveBaseline.bind(store)),
  };
  return new Proxy(store, {
    get(target, property, receiver) {
      if (Object.prototype.hasOwnProperty.call(overrides, property)) {
        return overrides[property as keyof PredictionStore];
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

export interface DatasourceInstance {
  readonly settings: DatasourceSettings;
  /** The model registry of the settings, when one is configured. */
  readonly registry?: ModelRegistryView;
  /** The open store (opened on first call; a failed open is retried on the next call). */
  store(): Promise<PredictionStore>;
  dispose(): Promise<void>;
}

export function createInstance(settings: DatasourceSettings, openStore: StoreOpener): DatasourceInstance {
  let opening: Promise<PredictionStore> | undefined;
  const registry = settings.registry
    ? new ModelRegistryView(
        new MlflowRegistry({ url: settings.registry.url, token: settings.registry.token.reveal() }),
        settings.registry.registeredNames
      )
    : undefined;
  return {
    settings,
    registry,
    store() {
      opening ??= openStore(settings.store).then(withSchemaCache, (error: unknown) => {
        opening = undefined;
        const message = error instanceof Error ? error.message : String(error);
        throw downstreamFailure(`cannot open the ${describeStore(settings.store)}: ${message}`);
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
        .catch((error: unknown) => this.logger.warn('closing the previous store failed', { uid: key, error }));
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

/**
 * "Save & test": checks the settings, that the store is reachable, and reports what it holds in words a
 * user can act on ("data directory /x does not exist", "3 models, 1.2 M predictions in the last 24 h").
 */
import { stat } from 'node:fs/promises';
import { mapError } from '../grafana/errors';
import { HealthStatus, type CheckHealthRequest, type CheckHealthResult } from '../grafana/types';
import type { InstanceManager } from './instances';
import { describeStore, type StoreSettings } from './settings';
import { REGISTRY_TIMEOUT_MS } from '../registry/mlflow';
import type { ModelRegistryView } from '../registry/resolve';

const DAY_MS = 24 * 3600 * 1000;

/** A count for people: 950, 12.3 k, 1.2 M, 3.4 B (one decimal below 100 of the unit). */
export function formatCount(n: number): string {
  const units: Array<[number, string]> = [
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [size, suffix] of units) {
    if (Math.abs(n) >= size) {
      const scaled = n / size;
      return `${scaled >= 100 ? Math.round(scaled) : Number(scaled.toFixed(1))} ${suffix}`;
    }
  }
  return String(Math.round(n));
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Why an embedded data directory cannot be used, or undefined when it is a readable directory. */
export async function dataDirectoryProblem(path: string): Promise<string | undefined> {
  try {
    const info = await stat(path);
    return info.isDirectory()
      ? undefined
      : `data directory ${path} is a file, not a directory; fix the path in the datasource settings`;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return `data directory ${path} does not exist on the Grafana server; create it (mlmon ingest --data-dir ${path}) or fix the path`;
    }
    if (code === 'EACCES') {
      return `data directory ${path} cannot be read by the Grafana server's user; give it read access`;
    }
    return `data directory ${path} cannot be opened: ${(error as Error).message}`;
  }
}

/** A store error in the words of the settings: refused password, unreachable server, or the error itself. */
export function explainStoreError(store: StoreSettings, message: string): string {
  if (store.kind === 'clickhouse') {
    if (/authentication|password|AUTHENTICATION_FAILED|code: 516|code: 192|code: 193/i.test(message)) {
      return `ClickHouse at ${store.url} refused the password of user "${store.user || 'default'}"; check the user and password in the datasource settings`;
    }
    if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|socket hang up/i.test(message)) {
      return `cannot reach ClickHouse at ${store.url} (${message.split('\n')[0]}); check the URL and that the server is running`;
    }
  }
  return message;
}

/** Why the datasource's model registry cannot be used (unreachable, token refused), or undefined when it answers. */
async function registryReachability(registry: ModelRegistryView): Promise<string | undefined> {
  try {
    await registry.client.ping(AbortSignal.timeout(REGISTRY_TIMEOUT_MS));
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

export async function checkHealth(
  instances: InstanceManager,
  request: CheckHealthRequest,
  now = Date.now()
): Promise<CheckHealthResult> {
  let instance;
  try {
    instance = instances.get(request.pluginContext);
  } catch (error) {
    return { status: HealthStatus.ERROR, message: mapError(error).message };
  }
  const { store: storeSettings } = instance.settings;
  if (storeSettings.kind === 'embedded') {
    const problem = await dataDirectoryProblem(storeSettings.dataDirectory);
    if (problem) {
      return { status: HealthStatus.ERROR, message: problem };
    }
  }
  const registryProblem = instance.registry ? await registryReachability(instance.registry) : undefined;
  try {
    const store = await instance.store();
    const models = await store.listModels();
    const range = { from: now - DAY_MS, to: now };
    const counts = await Promise.all(models.map((model) => store.countPredictions(model, range)));
    const predictions = counts.reduce((sum, c) => sum + c.estimatedTotal, 0);
    const message =
      models.length === 0
        ? `Connected to the ${describeStore(storeSettings)}; no models yet: send predictions to the collector or run mlmon ingest`
        : `${plural(models.length, 'model')}, ${formatCount(predictions)} predictions in the last 24 h (${describeStore(storeSettings)})`;
    const details = { models: models.length, predictions24h: predictions };
    if (registryProblem) {
      return { status: HealthStatus.ERROR, message: `${message}; but ${registryProblem}`, details };
    }
    const registry = instance.registry ? `; MLflow registry at ${instance.registry.client.url} reachable` : '';
    return { status: HealthStatus.OK, message: message + registry, details };
  } catch (error) {
    const message = mapError(error).message.replace(/^internal error: /, '');
    return { status: HealthStatus.ERROR, message: explainStoreError(storeSettings, message) };
  }
}

/**
 * Opens the store a datasource's settings describe, through the store's own opener. The store module (and
 * with it DuckDB's native library) is loaded on first use, so the handshake does not wait for it.
 */
import type { PredictionStore } from '../store/types';
import type { StoreSettings } from './settings';

export async function openStore(settings: StoreSettings): Promise<PredictionStore> {
  // require, not import(): loaded on first use, and resolvable both in the bundle and under tsx (the demo, tests).
  const { openStore: openStoreOf } = require('../store/open') as typeof import('../store/open');
  if (settings.kind === 'embedded') {
    return openStoreOf({ kind: 'embedded', dataDir: settings.dataDirectory });
  }
  return openStoreOf({
    kind: 'clickhouse',
    url: settings.url,
    database: settings.database,
    username: settings.user || 'default',
    password: settings.password.reveal(),
    ...(settings.cluster ? { cluster: settings.cluster.name, shardUrls: settings.cluster.shardUrls } : {}),
  });
}

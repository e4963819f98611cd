import type { FeatureState, PredictionStore } from '../store/types';
import { SCHEMA_TTL_MS, withSchemaCache } from './instances';

/** A store whose schema reads are counted; `writePredictions` calls its own getFeatures, as the real stores do. */
function countingStore() {
  const reads = { models: 0, features: 0 };
  let models = ['a'];
  const store = {
    async listModels() {
      reads.models += 1;
      return models;
    },
    async getFeatures(): Promise<FeatureState[]> {
      reads.features += 1;
      return [];
    },
    async writePredictions(this: { getFeatures(): Promise<FeatureState[]> }, model: string) {
      await this.getFeatures();
      models = [...models, model];
    },
    async writeLabels() {},
    async saveBaseline() {},
  } as unknown as PredictionStore;
  return { store, reads };
}

describe('the schema cache of a datasource instance', () => {
  it('answers schema reads from memory, refreshes them in the background, and forgets them on a write', async () => {
    let clock = 0;
    const { store, reads } = countingStore();
    const cached = withSchemaCache(store, () => clock);
    expect(await cached.listModels()).toEqual(['a']);
    expect(await cached.listModels()).toEqual(['a']);
    await cached.getFeatures('a');
    await cached.getFeatures('a');
    expect(reads).toEqual({ models: 1, features: 1 });

    clock += SCHEMA_TTL_MS;
    expect(await cached.listModels()).toEqual(['a']); // answered at once, refreshed behind it
    expect(reads.models).toBe(2);

    await cached.writePredictions('b', []);
    expect(reads.features).toBe(2); // the store's own read went to the store, not to the cache
    expect(await cached.listModels()).toEqual(['a', 'b']);
    expect(reads.models).toBe(3);
  });
});

/**
 * `deleteModel` on both stores (`mlmon models delete`): a model's predictions, labels, schema and baselines go,
 * the other models stay, and the name can be used again from scratch. ClickHouse runs for real (18.16).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeBaseline } from '../../src/server/baseline/compute';
import { ClickHouseStore } from '../../src/server/store/clickhouse';
import { EmbeddedStore } from '../../src/server/store/embedded';
import type { PredictionRecord, PredictionStore } from '../../src/server/store/types';
import { startClickHouse, type ClickHouseHandle } from '../support/clickhouse';

const T0 = Date.parse('2026-01-05T10:00:00Z');
const ALL = { from: 0, to: Date.parse('2100-01-01T00:00:00Z') };

function records(prefix: string, features: Record<string, number | string>): PredictionRecord[] {
  return [0, 1, 2].map((i) => ({
    id: `${prefix}${i}`,
    ts: T0 + i * 86_400_000,
    version: 'v1',
    features,
    prediction: i % 2,
    score: 0.5,
    samplingRate: 1,
  }));
}

async function fill(store: PredictionStore, model: string): Promise<void> {
  await store.writePredictions(model, records(model, { amount: 3, city: 'oslo' }));
  await store.writeLabels(model, [{ id: `${model}0`, label: 1, ts: T0 + 5 * 86_400_000 }]);
  await store.saveBaseline(
    computeBaseline({
      model,
      version: 'v1',
      source: 'inline',
      columns: [{ name: 'amount', kind: 'numeric', values: [1, 2, 3, 4] }],
    })
  );
}

let dir: string;
let clickhouse: ClickHouseHandle;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlmon-delete-model-'));
  clickhouse = await startClickHouse();
});
afterAll(async () => {
  await clickhouse?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe.each([
  { name: 'embedded', open: () => EmbeddedStore.open(join(dir, 'embedded')) },
  { name: 'clickhouse', open: () => ClickHouseStore.open({ url: clickhouse.url, database: clickhouse.database }) },
])('$name store', ({ name, open }) => {
  test('deleteModel removes one model entirely, leaves the others, and the name starts afresh', async () => {
    const store = await open();
    try {
      await fill(store, 'credti_risk');
      await fill(store, 'credit_risk');
      expect((await store.listModels()).sort()).toEqual(['credit_risk', 'credti_risk']);

      expect(await store.deleteModel('credti_risk')).toBe(true);
      expect(await store.listModels()).toEqual(['credit_risk']);
      expect(await store.listBaselines('credti_risk')).toEqual([]);
      expect(await store.getFeatures('credti_risk')).toEqual([]);
      expect(await store.getSchemaChanges('credti_risk')).toEqual([]);
      expect(await store.deleteModel('credti_risk')).toBe(false);
      if (name === 'embedded') {
        expect(await readdir(join(dir, 'embedded', 'models'))).toEqual(['credit_risk']);
      }

      // The other model is untouched.
      expect((await store.countPredictions('credit_risk', ALL)).rows).toBe(3);
      expect(await store.listBaselines('credit_risk')).toHaveLength(1);
      const labels = await store.query(`SELECT id FROM ${await store.labelsRelation('credit_risk')}`);
      expect(labels).toEqual([{ id: 'credit_risk0' }]);

      // The name is free: new traffic makes a new model with only its own features.
      await store.writePredictions('credti_risk', records('again', { weight: 'heavy' }));
      expect((await store.getFeatures('credti_risk')).map((f) => f.name)).toEqual(['weight']);
      expect((await store.countPredictions('credti_risk', ALL)).rows).toBe(3);
      expect(await store.query(`SELECT id FROM ${await store.labelsRelation('credti_risk')}`)).toEqual([]);
    } finally {
      await store.close();
    }
  });
});

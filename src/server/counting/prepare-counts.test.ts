/**
 * What maintenance prepares (prepare-counts.ts) is what the default queries read: after it, drift and ranking over
 * whole compacted days read no rows, only the counts kept beside the day files.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseQuery, type QueryOf } from '../../core/query/queryTypes';
import { createRandom } from '../../core/stats';
import { computeBaseline } from '../baseline/compute';
import { createInstance } from '../backend/instances';
import { localInstanceSettings, parseSettings } from '../backend/settings';
import { EmbeddedStore } from '../store/embedded';
import type { PredictionRecord } from '../store/types';
import { driftQuery } from '../queries/drift';
import { prepareCounts } from './prepare-counts';
import { rankingQuery } from '../queries/ranking';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 20);

let dir: string;

beforeAll(async () => {
  const random = createRandom(3);
  const records: PredictionRecord[] = Array.from({ length: 2880 }, (_, i) => ({
    id: `r${i}`,
    ts: T0 + i * 60_000,
    version: 'v1',
    features: { amount: 100 * random() + (i > 1440 ? 20 : 0), region: ['a', 'b', 'c'][i % 3] },
    prediction: random(),
    score: random(),
    samplingRate: 1,
  }));
  dir = await mkdtemp(join(tmpdir(), 'mlmon-prepare-'));
  const store = await EmbeddedStore.open(dir);
  await store.writePredictions('m', records);
  await store.compact('m');
  await store.saveBaseline(
    computeBaseline({
      model: 'm',
      version: 'v1',
      source: 'test',
      predictionColumn: 'prediction',
      columns: [
        { name: 'amount', kind: 'numeric', values: records.slice(0, 1000).map((r) => r.features.amount as number) },
        { name: 'region', kind: 'categorical', values: records.slice(0, 1000).map((r) => r.features.region as string) },
        { name: 'prediction', kind: 'numeric', values: records.slice(0, 1000).map((r) => r.prediction as number) },
      ],
    })
  );
  await prepareCounts(store, 'm');
  await store.close();
});

afterAll(() => rm(dir, { recursive: true, force: true }));

test('after maintenance, drift and ranking over whole days read only the prepared counts', async () => {
  const store = await EmbeddedStore.open(dir);
  const statements: string[] = [];
  const query = store.query.bind(store);
  store.query = ((sql: string, ...rest: never[]) => (statements.push(sql), query(sql, ...rest))) as typeof store.query;
  const instance = createInstance(
    parseSettings(localInstanceSettings({ dataDirectory: dir }, {}, 'p')),
    async () => store
  );
  try {
    const request = { range: { from: T0, to: T0 + 2 * DAY }, intervalMs: DAY, maxDataPoints: 10, instance };
    const signal = new AbortController().signal;
    const ranking = await rankingQuery({
      ...request,
      query: parseQuery({ refId: 'R', queryType: 'ranking', model: 'm' }) as QueryOf<'ranking'>,
      signal,
    });
    const drift = await driftQuery({
      ...request,
      query: parseQuery({ refId: 'D', queryType: 'drift', model: 'm' }) as QueryOf<'drift'>,
      signal,
    });
    expect(ranking[0].length).toBe(2);
    expect(ranking[0].fields.find((f) => f.name === 'share')!.values.some((v) => v !== null)).toBe(true);
    expect(drift).toHaveLength(2);
    expect(statements.filter((sql) => /read_parquet|parquet_scan/i.test(sql))).toEqual([]);
  } finally {
    await instance.dispose();
  }
});

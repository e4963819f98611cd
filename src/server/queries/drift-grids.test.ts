/**
 * KS and Wasserstein drift count a window on each numeric feature's ~1 000-knot sketch grid. On a compacted day (one
 * file) the day is counted per slot and kept; that count of a whole day must never turn into one list of millions of
 * cells spread into a call (it overflowed the stack on any compacted day, for a 10-minute window as for 24 h).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseQuery, type QueryOf } from '../../core/query/queryTypes';
import { createRandom } from '../../core/stats';
import { computeBaseline } from '../baseline/compute';
import { createInstance, type DatasourceInstance } from '../backend/instances';
import { openStore } from '../backend/openStore';
import { localInstanceSettings, parseSettings } from '../backend/settings';
import { EmbeddedStore } from '../store/embedded';
import type { PredictionRecord } from '../store/types';
import { driftQuery } from './drift';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 20);
const FEATURES = Array.from({ length: 10 }, (_, k) => `x${k}`);
const PER_MINUTE = 10;

let dir: string;
let instance: DatasourceInstance;

beforeAll(async () => {
  const random = createRandom(5);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const features = (shift: number) => Object.fromEntries(FEATURES.map((name, k) => [name, 10 * k + normal() + shift]));
  const records: PredictionRecord[] = Array.from({ length: 1440 * PER_MINUTE }, (_, i) => ({
    id: `r${i}`,
    ts: T0 + Math.floor((i * DAY) / (1440 * PER_MINUTE)),
    version: 'v1',
    features: features(i > 720 * PER_MINUTE ? 0.5 : 0),
    prediction: random(),
    samplingRate: 1,
  }));
  const reference = Array.from({ length: 5000 }, () => features(0));
  dir = await mkdtemp(join(tmpdir(), 'mlmon-drift-grids-'));
  const store = await EmbeddedStore.open(dir);
  for (let at = 0; at < records.length; at += 2000) {
    await store.writePredictions('m', records.slice(at, at + 2000));
  }
  await store.compact('m');
  await store.saveBaseline(
    computeBaseline({
      model: 'm',
      version: 'v1',
      source: 'test',
      columns: FEATURES.map((name) => ({ name, kind: 'numeric', values: reference.map((r) => r[name]) })),
    })
  );
  await store.close();
  instance = createInstance(parseSettings(localInstanceSettings({ dataDirectory: dir }, {}, 'g')), openStore);
}, 60_000);

afterAll(async () => {
  await instance?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe.each(['ks', 'wasserstein'])('%s drift on a compacted day', (metric) => {
  it.each([
    ['10 minutes in 1 min buckets', T0 + 20 * 3_600_000, 600_000, 60_000, 1000],
    ['10 minutes, a dashboard at a 1 s interval', T0 + 20 * 3_600_000, 600_000, 1000, 1000],
    ['24 h, a dashboard at a 1 min interval', T0, DAY, 60_000, 1440],
  ])(
    'answers over %s, with values',
    async (_what, from, length, intervalMs, maxDataPoints) => {
      const query = parseQuery({ refId: 'A', queryType: 'drift', model: 'm', metric }) as QueryOf<'drift'>;
      const frames = await driftQuery({
        query,
        range: { from, to: from + length },
        intervalMs,
        maxDataPoints,
        instance,
        signal: new AbortController().signal,
      });
      expect(frames).toHaveLength(FEATURES.length);
      for (const frame of frames) {
        const values = frame.fields.find((f) => f.name === 'value')!.values as Array<number | null>;
        expect(values.some((v) => v !== null && v > 0)).toBe(true);
      }
    },
    60_000
  );
});

/**
 * Traffic for the quality, performance and operational query tests, written through the store layer (either
 * store), with its expected numbers computed here in plain JS from the same records — independently of the SQL the
 * handlers push down.
 *
 * Model `shop` (binary classifier with scores) over six hours, 200 rows an hour: nulls, wrong types, out-of-range
 * amounts, unseen regions, slow requests in hour 3, errors in hour 4, sampling rate ½ from hour 3, labels for
 * 80 % of hours 0–1 and 10 rows of hour 2, a feature that disappears and one that appears in hour 5.
 * Model `price` (regressor) over the same hours, labelled in hours 0–2.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClickHouse } from '../support/clickhouse';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { createInstance, type DatasourceInstance } from '../../src/server/backend/instances';
import { openStore } from '../../src/server/backend/openStore';
import { localInstanceSettings, parseSettings } from '../../src/server/backend/settings';
import { computeBaseline } from '../../src/server/baseline/compute';
import { createRandom } from '../../src/core/stats';
import { parseQuery, type QueryOf, type QueryType } from '../../src/core/query/queryTypes';
import type { FrameLike } from '../../src/core/query/frames';
import type { QueryHandler } from '../../src/server/backend/registry';
import type { LabelRecord, PredictionRecord, PredictionStore } from '../../src/server/store/types';

export const HOUR = 3600_000;
export const NOW = Date.UTC(2026, 10, 25, 12);
export const RANGE = { from: NOW - 6 * HOUR, to: NOW };
export const ROWS_PER_HOUR = 200;
export const AMOUNT_RANGE = { min: 0, max: 120 };

export interface Traffic {
  shop: PredictionRecord[];
  shopLabels: LabelRecord[];
  price: PredictionRecord[];
  priceLabels: LabelRecord[];
  /** Model `tier`: a three-class classifier with text classes, 50 rows an hour, labelled in hours 0–3. */
  tier: PredictionRecord[];
  tierLabels: LabelRecord[];
  /** Rows of each hour that left out `age` (hour 5, first half) and brought `channel` (hour 5, second half). */
  hour5Split: number;
}

/** Hour (0–5) of a record inside RANGE. */
export const hourOf = (ts: number) => Math.floor((ts - RANGE.from) / HOUR);

export function makeTraffic(): Traffic {
  const random = createRandom(2026);
  const shop: PredictionRecord[] = [];
  const shopLabels: LabelRecord[] = [];
  const price: PredictionRecord[] = [];
  const priceLabels: LabelRecord[] = [];
  const tier: PredictionRecord[] = [];
  const tierLabels: LabelRecord[] = [];
  const TIERS = ['gold', 'silver', 'bronze'];
  const tierRandom = createRandom(7);
  for (let i = 0; i < 6 * ROWS_PER_HOUR; i++) {
    const ts = RANGE.from + i * (HOUR / ROWS_PER_HOUR);
    const hour = hourOf(ts);
    const inHour = i % ROWS_PER_HOUR;
    const amount: number | string | null =
      i % 20 === 7 ? null : i % 50 === 3 ? 'abc' : i % 15 === 4 ? 150 : Math.round(1000 * random()) / 10;
    const region: string | number | null =
      i % 40 === 9 ? null : i % 10 === 1 ? 'z' : i % 45 === 2 ? 5 : ['a', 'b', 'c'][Math.floor(3 * random())];
    const features: PredictionRecord['features'] = { amount, region };
    if (!(hour === 5 && inHour < 100)) {
      features.age = 18 + Math.floor(60 * random());
    }
    if (hour === 5 && inHour >= 100) {
      features.channel = random() < 0.5 ? 'web' : 'app';
    }
    const score = Math.round(1000 * random()) / 1000 + (random() < 0.5 ? 0.0004 : 0);
    const latencyMs = hour === 3 ? 250 + 150 * random() : 20 + 80 * random();
    shop.push({
      id: `s${i}`,
      ts,
      version: hour < 3 ? 'v1' : 'v2',
      features,
      prediction: score >= 0.5 ? 1 : 0,
      score,
      latencyMs,
      error: hour === 4 && inHour % 50 === 0 ? 'timeout' : null,
      samplingRate: hour >= 3 ? 0.5 : 1,
    });
    const labelled = (hour <= 1 && inHour % 5 !== 0) || (hour === 2 && inHour < 10);
    if (labelled) {
      // The label agrees with a noisy score: higher scores are more often positive.
      shopLabels.push({ id: `s${i}`, label: random() < 0.15 + 0.7 * score ? 1 : 0, ts: NOW + 86_400_000 });
    }
    const truth = 50 + 40 * random();
    price.push({
      id: `p${i}`,
      ts,
      version: 'v1',
      features: { size: truth / 2 },
      prediction: truth + (random() - 0.5) * 10,
      samplingRate: 1,
    });
    if (hour <= 2) {
      priceLabels.push({ id: `p${i}`, label: i % 100 === 0 ? 0 : truth, ts: NOW + 3_600_000 });
    }
    if (i % 4 === 0) {
      const actual = Math.floor(3 * tierRandom());
      const predicted = tierRandom() < 0.6 ? actual : Math.floor(3 * tierRandom());
      tier.push({
        id: `t${i}`,
        ts,
        version: 'v1',
        features: { size: actual },
        prediction: TIERS[predicted],
        samplingRate: 1,
      });
      if (hour <= 3) {
        tierLabels.push({ id: `t${i}`, label: TIERS[actual], ts: NOW });
      }
    }
  }
  return { shop, shopLabels, price, priceLabels, tier, tierLabels, hour5Split: 100 };
}

/** Writes the traffic and the baselines (shop's from its first two hours, with labels; price's without). */
export async function writeTraffic(store: PredictionStore, traffic: Traffic): Promise<void> {
  await saveTrafficBaselines(store, traffic);
  // Batches: hours 0–4, then hour 5 without `age` (removed), then with `age` back and the new `channel`.
  const split = 5 * ROWS_PER_HOUR + traffic.hour5Split;
  await store.writePredictions('shop', traffic.shop.slice(0, 5 * ROWS_PER_HOUR));
  await store.writePredictions('shop', traffic.shop.slice(5 * ROWS_PER_HOUR, split));
  await store.writePredictions('shop', traffic.shop.slice(split));
  await store.writeLabels('shop', traffic.shopLabels);
  await store.writePredictions('price', traffic.price);
  await store.writeLabels('price', traffic.priceLabels);
  await store.writePredictions('tier', traffic.tier);
  await store.writeLabels('tier', traffic.tierLabels);
}

/** Saves shop's baseline (from its first two hours, with labels). */
export async function saveTrafficBaselines(store: PredictionStore, traffic: Traffic): Promise<void> {
  const reference = traffic.shop.slice(0, 2 * ROWS_PER_HOUR);
  const labelOf = new Map(traffic.shopLabels.map((l) => [l.id, l.label]));
  const labelled = reference.filter((r) => labelOf.has(r.id));
  await store.saveBaseline(
    computeBaseline({
      model: 'shop',
      version: 'v1',
      source: 'test',
      createdAt: NOW - 7 * HOUR,
      columns: [
        {
          name: 'amount',
          kind: 'numeric',
          values: labelled.map((r) => (typeof r.features.amount === 'number' ? r.features.amount : null)),
        },
        { name: 'age', kind: 'numeric', values: labelled.map((r) => r.features.age as number) },
        {
          name: 'region',
          kind: 'categorical',
          values: labelled.map((r) =>
            typeof r.features.region === 'string' && r.features.region !== 'z' ? r.features.region : null
          ),
        },
        { name: 'prediction', kind: 'numeric', values: labelled.map((r) => r.prediction as number) },
        { name: 'label', kind: 'numeric', values: labelled.map((r) => labelOf.get(r.id) as number) },
        { name: 'score', kind: 'numeric', values: labelled.map((r) => r.score as number) },
      ],
      predictionColumn: 'prediction',
      labelColumn: 'label',
      scoreColumn: 'score',
      declared: { amount: AMOUNT_RANGE },
    })
  );
}

/**
 * A datasource instance over settings JSON (embedded: `{dataDirectory}`; ClickHouse: url and database), with
 * optional per-model threshold overrides.
 */
export function instanceFor(jsonData: object, modelThresholds?: Record<string, object>): DatasourceInstance {
  return createInstance(
    parseSettings(localInstanceSettings({ ...jsonData, ...(modelThresholds ? { modelThresholds } : {}) }, {}, 'g2')),
    openStore
  );
}

/** Runs a handler on a query given as JSON (parsed as the backend parses it), over RANGE in hourly buckets. */
export async function runHandler<T extends QueryType>(
  handler: QueryHandler<T>,
  instance: DatasourceInstance,
  raw: Record<string, unknown>,
  options: { range?: { from: number; to: number }; intervalMs?: number; maxDataPoints?: number } = {}
): Promise<FrameLike[]> {
  const query = parseQuery({ refId: 'A', bucket: '1h', ...raw }) as QueryOf<T>;
  return handler({
    query,
    range: options.range ?? RANGE,
    intervalMs: options.intervalMs ?? 60_000,
    maxDataPoints: options.maxDataPoints ?? 1000,
    instance,
    signal: new AbortController().signal,
  });
}

/** The values of a named field of a frame. */
export function column(frame: FrameLike, name: string): unknown[] {
  const field = frame.fields.find((f) => f.name === name);
  if (!field) {
    throw new Error(`frame ${frame.name} has no field ${name} (has ${frame.fields.map((f) => f.name).join(', ')})`);
  }
  return field.values;
}

/** Records grouped by hour 0–5. */
export function byHour<T extends { ts: number }>(records: T[]): T[][] {
  const hours: T[][] = Array.from({ length: 6 }, () => []);
  records.forEach((r) => hours[hourOf(r.ts)].push(r));
  return hours;
}

/** Type-7 quantile (numpy's default) of unsorted values. */
export function type7(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const h = (sorted.length - 1) * q;
  const low = Math.floor(h);
  return sorted[low] + (h - low) * (sorted[Math.min(low + 1, sorted.length - 1)] - sorted[low]);
}

/** A store holding the traffic, with the instance the handlers read it through. */
export interface TrafficStore {
  name: 'embedded' | 'clickhouse';
  instance: DatasourceInstance;
  traffic: Traffic;
  /** A second instance whose settings override the thresholds of model `shop` (STRICT_THRESHOLDS). */
  strict: DatasourceInstance;
  cleanup(): Promise<void>;
}

/** Quality rate 10 %, latency p95 90 ms, error rate 5 %, accuracy drop 1 %. */
export const STRICT_THRESHOLDS = { qualityRate: 0.1, latencyP95Ms: 90, errorRate: 0.05, accuracyDrop: 0.01 };

/** The traffic in a fresh embedded store (Parquet files in a temporary directory). */
export async function embeddedTraffic(): Promise<TrafficStore> {
  const dir = await mkdtemp(join(tmpdir(), 'mlmon-g2-'));
  const traffic = makeTraffic();
  const store = await EmbeddedStore.open(dir);
  await writeTraffic(store, traffic);
  await store.close();
  const instance = instanceFor({ dataDirectory: dir });
  const strict = instanceFor({ dataDirectory: dir }, { shop: STRICT_THRESHOLDS });
  return {
    name: 'embedded',
    instance,
    strict,
    traffic,
    async cleanup() {
      await instance.dispose();
      await strict.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The traffic in a private ClickHouse server (test/support/clickhouse.ts), written through ClickHouseStore. */
export async function clickhouseTraffic(): Promise<TrafficStore> {
  const clickhouse = await startClickHouse();
  const settings = { storeKind: 'clickhouse', clickhouseUrl: clickhouse.url, database: clickhouse.database };
  const instance = instanceFor(settings);
  const strict = instanceFor(settings, { shop: STRICT_THRESHOLDS });
  const traffic = makeTraffic();
  try {
    await writeTraffic(await instance.store(), traffic);
  } catch (error) {
    await instance.dispose();
    await clickhouse.stop();
    throw error;
  }
  return {
    name: 'clickhouse',
    instance,
    strict,
    traffic,
    async cleanup() {
      await instance.dispose();
      await strict.dispose();
      await clickhouse.stop();
    },
  };
}

/**
 * A model with the longest legal name (64 characters) on every store: its ClickHouse tables get fitted names
 * (src/server/store/clickhouse-names.ts) and the query handlers answer for it on the embedded store, one ClickHouse
 * server and a two-shard cluster alike, from rows and from prepared counts; models whose derived names fit keep the
 * names they always had (an existing installation's tables are found, none is made beside them).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FrameLike } from '../../src/core/query/frames';
import type { DatasourceInstance } from '../../src/server/backend/instances';
import { command as ingestCommand } from '../../src/server/cli/ingest';
import { prepareCounts } from '../../src/server/counting/prepare-counts';
import { driftQuery } from '../../src/server/queries/drift';
import { operationalQuery } from '../../src/server/queries/operational';
import { performanceQuery } from '../../src/server/queries/performance';
import { qualityQuery } from '../../src/server/queries/quality';
import { severityQuery } from '../../src/server/queries/severity';
import type { PredictionStore } from '../../src/server/store/types';
import {
  clusterStoreFlags,
  startClickHouse,
  startClickHouseCluster,
  type ClickHouseClusterHandle,
  type ClickHouseHandle,
} from '../support/clickhouse';
import { instanceFor, makeTraffic, runHandler, saveTrafficBaselines, type Traffic } from '../queries/traffic-fixture';

const LONGEST = `model_${'q'.repeat(57)}9`; // 64 characters
const DAY = 86_400_000;
/** Names whose derived names fit exactly: ingested_hours_<49> on one server, ingested_hours_<43>_local on a cluster. */
const FIT_SINGLE = `s${'f'.repeat(48)}`;
const FIT_CLUSTER = `c${'f'.repeat(42)}`;
const DATABASE = 'mlmon_test';

/**
 * The answers of a handler as JSON, numbers to 9 significant digits (the stores sum in different orders), frames
 * sorted: the stores list a model's features of equal first-seen time in different orders (quality's frames follow).
 */
function comparable(frames: FrameLike[]): unknown[] {
  const rounded = (frame: FrameLike) =>
    JSON.stringify(frame, (_key, value: unknown) =>
      typeof value === 'number' && Number.isFinite(value) ? Number(value.toPrecision(9)) : value
    );
  return frames
    .map(rounded)
    .sort()
    .map((text) => JSON.parse(text) as unknown);
}

/** Writes shop's traffic, labels and baseline under `model`, and a few records under the short-named models. */
async function writeModels(store: PredictionStore, traffic: Traffic): Promise<void> {
  await saveTrafficBaselines(store, traffic);
  const baseline = await store.getBaseline('shop', 'v1');
  await store.saveBaseline({ ...baseline!, model: LONGEST });
  await store.writePredictions(LONGEST, traffic.shop);
  await store.writeLabels(LONGEST, traffic.shopLabels);
  for (const model of ['shop', FIT_SINGLE, FIT_CLUSTER]) {
    await store.writePredictions(model, traffic.shop.slice(0, 20));
  }
}

const QUERIES: Array<[string, never, Record<string, unknown>]> = [
  ['drift psi', driftQuery as never, { queryType: 'drift', model: LONGEST, metric: 'psi' }],
  ['drift ks', driftQuery as never, { queryType: 'drift', model: LONGEST, metric: 'ks' }],
  ['severity', severityQuery as never, { queryType: 'severity', model: LONGEST }],
  ['quality null_rate', qualityQuery as never, { queryType: 'quality', model: LONGEST, metric: 'null_rate' }],
  ['performance accuracy', performanceQuery as never, { queryType: 'performance', model: LONGEST, metric: 'accuracy' }],
  [
    'operational latency_p95',
    operationalQuery as never,
    { queryType: 'operational', model: LONGEST, metric: 'latency_p95' },
  ],
];

describe('the longest legal model name on every store', () => {
  let single: ClickHouseHandle;
  let cluster: ClickHouseClusterHandle;
  let dataDir: string;
  const instances: Record<'embedded' | 'single' | 'cluster', DatasourceInstance> = {} as never;

  beforeAll(async () => {
    [single, cluster, dataDir] = await Promise.all([
      startClickHouse({ database: DATABASE }),
      startClickHouseCluster({ database: DATABASE }),
      mkdtemp(join(tmpdir(), 'mlmon-longnames-')),
    ]);
    const shardUrls = cluster.shards.map((shard) => shard.url);
    instances.embedded = instanceFor({ dataDirectory: dataDir });
    instances.single = instanceFor({ storeKind: 'clickhouse', clickhouseUrl: single.url, database: DATABASE });
    instances.cluster = instanceFor({
      storeKind: 'clickhouse',
      clickhouseUrl: shardUrls[0],
      database: DATABASE,
      cluster: cluster.name,
      shardUrls,
    });
    const traffic = makeTraffic();
    for (const instance of Object.values(instances)) {
      await writeModels(await instance.store(), traffic);
    }
  }, 180_000);

  afterAll(async () => {
    await Promise.all(Object.values(instances).map((instance) => instance.dispose()));
    await Promise.all([single?.stop(), cluster?.stop(), dataDir && rm(dataDir, { recursive: true, force: true })]);
  });

  /** The tables and views of a server's database, sorted. */
  const tablesOf = async (url: string) =>
    (
      await fetch(url, {
        method: 'POST',
        body: `SELECT name FROM system.tables WHERE database = '${DATABASE}' ORDER BY name FORMAT TSV`,
      }).then((r) => r.text())
    )
      .split('\n')
      .filter(Boolean);

  it('keeps the names of tables that fit, and fits the long name into 64 characters', async () => {
    const derived = (model: string) => [`ingested_hours_${model}`, `labels_${model}`, `predictions_${model}`];
    const singleTables = await tablesOf(single.url);
    for (const model of ['shop', FIT_SINGLE, FIT_CLUSTER]) {
      expect(singleTables).toEqual(expect.arrayContaining(derived(model)));
    }
    const long = singleTables.filter((name) => name.includes('_model_qqq'));
    expect(long).toHaveLength(3);
    for (const name of long) {
      expect([name, name.length]).toEqual([
        expect.stringMatching(/^(ingested_hours|labels|predictions)_model_q+_[0-9a-f]{12}$/),
        64,
      ]);
    }
    // Nothing but the metadata tables and the four models' tables.
    expect(singleTables.filter((name) => !name.startsWith('mlmon_'))).toHaveLength(12);
    for (const shard of cluster.shards) {
      const shardTables = await tablesOf(shard.url);
      for (const model of ['shop', FIT_CLUSTER]) {
        expect(shardTables).toEqual(expect.arrayContaining(derived(model).map((name) => `${name}_local`)));
      }
      expect(shardTables.filter((name) => name.length > 64)).toEqual([]);
    }
  });

  it.each(QUERIES)('answers %s alike on the embedded store, one server and a cluster', async (_name, handler, raw) => {
    const answers = {
      embedded: comparable(await runHandler(handler, instances.embedded, raw)),
      single: comparable(await runHandler(handler, instances.single, raw)),
      cluster: comparable(await runHandler(handler, instances.cluster, raw)),
    };
    expect(answers.embedded.length).toBeGreaterThan(0);
    expect(answers.single).toEqual(answers.embedded);
    expect(answers.cluster).toEqual(answers.embedded);
  });

  it('prepares counts for it on every store and answers from them as from the rows', async () => {
    const raw = { queryType: 'drift', model: LONGEST, metric: 'psi' };
    const before = comparable(await runHandler(driftQuery as never, instances.embedded, raw));
    for (const instance of Object.values(instances)) {
      expect((await prepareCounts(await instance.store(), LONGEST)).columns).toBeGreaterThan(0);
      expect(comparable(await runHandler(driftQuery as never, instance, raw))).toEqual(before);
    }
  });

  it('takes `mlmon ingest` on a cluster, compacts, drops old days and deletes the model with its fitted tables', async () => {
    const model = `ingest_${'i'.repeat(56)}9`; // 64 characters
    const start = Date.UTC(2026, 0, 1);
    const records = Array.from({ length: 90 }, (_, i) => ({
      id: `i${i}`,
      ts: start + Math.floor(i / 30) * DAY + i,
      features: { x: i },
      prediction: i % 2,
    }));
    const file = join(dataDir, 'long.ndjson');
    await writeFile(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const flags = ['--model', model, '--version', 'v1', ...clusterStoreFlags(cluster)];
    const messages: string[] = [];
    const stderr = jest
      .spyOn(process.stderr, 'write')
      .mockImplementation((chunk) => (messages.push(String(chunk)), true));
    try {
      expect([await ingestCommand.run([file, ...flags]), messages.join('')]).toEqual([
        0,
        expect.stringMatching(/done, 90 rows stored/),
      ]);
    } finally {
      stderr.mockRestore();
    }
    const store = await instances.cluster.store();
    const fitted = async () =>
      (await Promise.all(cluster.shards.map((shard) => tablesOf(shard.url))))
        .flat()
        .filter((name) => name.includes('_ingest_iii'));
    expect(await fitted()).toHaveLength(2 * 5); // per shard: predictions and labels (local, Distributed), the view
    expect(await store.compact(model)).toEqual({ rowsKept: 90 });
    expect(await store.applyRetention(model, start + DAY)).toEqual({ daysDropped: ['2026-01-01'] });
    expect((await store.countPredictions(model, { from: 0, to: start + 10 * DAY })).rows).toBe(60);
    expect(await store.deleteModel(model)).toBe(true);
    expect(await fitted()).toEqual([]);
  });
});

/**
 * Every model name the collector accepts (up to 64 characters, src/server/store/identifiers.ts) is stored on every
 * store: `mlmon serve` on the embedded store, one ClickHouse server and a two-shard cluster receives predictions and
 * labels for a model with the longest legal name, for names just past the lengths at which the derived ClickHouse
 * names used to exceed 64 characters (`ingested_hours_<model>` at 50, `ingested_hours_<model>_local` at 44 on a
 * cluster), for two names that differ only in case, and for an ordinary model at the same time. Each is answered
 * 200, stored in full under its own name, and the collector stays healthy with an empty backlog.
 *
 * Before the fix (seen by running this test on the old code): the embedded store passed; on ClickHouse every request
 * was answered 200 and the ordinary model's records were stored (so one failing model did not hold up the others),
 * but the records of the 64- and 50-character names and of both case variants never were: the store refused the
 * derived names (`Invalid identifier "predictions_<model>"`, `"ingested_hours_<model>"`: our own 64-character rule
 * for names reaching SQL, not a ClickHouse limit), the flusher retried them forever on its backoff, /healthz said
 * "degraded", and SIGTERM ended with exit code 1 and the WAL kept. On the cluster the 44-character name failed too
 * (`ingested_hours_<model>_local`).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClickHouseStore } from '../../src/server/store/clickhouse';
import { EmbeddedStore } from '../../src/server/store/embedded';
import type { PredictionStore } from '../../src/server/store/types';
import {
  clusterStoreFlags,
  startClickHouse,
  startClickHouseCluster,
  type ClickHouseClusterHandle,
  type ClickHouseHandle,
} from '../support/clickhouse';
import { LOAD_TOKEN, spawnCollector, stopCollector } from './harness';
import { predictions, send } from './support';

const LONGEST = `m${'x'.repeat(62)}9`; // 64 characters
const MODELS = [
  LONGEST,
  `Single_${'a'.repeat(43)}`, // 50: ingested_hours_<model> is 65 characters
  `Cluster_${'b'.repeat(36)}`, // 44: ingested_hours_<model>_local is 65 characters
  `Case_${'c'.repeat(59)}`, // 64, and the same name in lower case
  `case_${'c'.repeat(59)}`,
  'ordinary',
];
const PER_MODEL = 120;
const RANGE = { from: 0, to: Date.UTC(2027, 0, 1) };

/** Posts each model's predictions and labels, all answered 200. */
async function sendAll(url: string): Promise<void> {
  for (const model of MODELS) {
    const records = predictions(model.slice(0, 6), PER_MODEL);
    const labels = records.slice(0, 10).map((r) => ({ id: r.id, label: 1, ts: r.ts }));
    for (const [kind, body] of [
      ['predictions', records],
      ['labels', labels],
    ] as const) {
      const reply = await send(url, {
        path: `/api/v1/models/${model}/${kind}`,
        body: JSON.stringify(body),
        token: LOAD_TOKEN,
      });
      expect([model, kind, reply.status]).toEqual([model, kind, 200]);
    }
  }
}

/** The model's stored labels (one per id). */
async function countLabels(store: PredictionStore, model: string): Promise<number> {
  const [row] = await store.query<{ n: number }>(`SELECT count(*) AS n FROM ${await store.labelsRelation(model)}`);
  return Number(row.n);
}

/** Each model's stored predictions and labels, polled until all are in or 30 s have passed. */
async function storedCounts(store: PredictionStore): Promise<Record<string, [number, number]>> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const counts: Record<string, [number, number]> = {};
    for (const model of MODELS) {
      const rows = (await store.listModels()).includes(model) ? (await store.countPredictions(model, RANGE)).rows : 0;
      const labels = rows > 0 ? await countLabels(store, model) : 0;
      counts[model] = [rows, labels];
    }
    if (Object.values(counts).every(([rows, labels]) => rows === PER_MODEL && labels === 10) || Date.now() > deadline) {
      return counts;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Runs the collector on the store flags, sends every model's records, and checks all are stored and health is ok. */
async function expectEveryNameStored(storeArgs: string[], openStore: () => Promise<PredictionStore>): Promise<void> {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-longnames-state-'));
  const collector = await spawnCollector(storeArgs, ['--state-dir', state]);
  const store = await openStore();
  let seen: object = {};
  try {
    await sendAll(collector.url);
    const counts = await storedCounts(store);
    const health = await send(collector.url, { method: 'GET', path: '/healthz', token: null });
    seen = {
      counts,
      health: health.body.status,
      failures: collector.stderr().match(/.*could not (write|finish).*/g) ?? [],
    };
  } finally {
    await store.close();
    seen = { ...seen, exitCode: await stopCollector(collector) };
    fs.rmSync(state, { recursive: true, force: true });
  }
  if (process.env.MLMON_SHOW_LOG) {
    process.stderr.write(`${collector.stderr()}\n`);
  }
  expect(seen).toEqual({
    counts: Object.fromEntries(MODELS.map((model) => [model, [PER_MODEL, 10]])),
    health: 'ok',
    failures: [],
    exitCode: 0,
  });
}

describe('every legal model name is stored by the collector', () => {
  let single: ClickHouseHandle;
  let cluster: ClickHouseClusterHandle;
  beforeAll(async () => {
    [single, cluster] = await Promise.all([startClickHouse(), startClickHouseCluster()]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([single?.stop(), cluster?.stop()]);
  });

  it('on the embedded store', async () => {
    const data = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-longnames-data-'));
    try {
      await expectEveryNameStored(['--data-dir', data], () => EmbeddedStore.open(data));
    } finally {
      fs.rmSync(data, { recursive: true, force: true });
    }
  }, 120_000);

  it('on one ClickHouse server', async () => {
    await expectEveryNameStored(['--clickhouse', single.url, '--clickhouse-database', single.database], () =>
      ClickHouseStore.open({ url: single.url, database: single.database })
    );
  }, 120_000);

  it('on a two-shard ClickHouse cluster', async () => {
    const urls = cluster.shards.map((shard) => shard.url);
    const database = cluster.shards[0].database;
    await expectEveryNameStored(clusterStoreFlags(cluster), () =>
      ClickHouseStore.open({ url: urls[0], database, cluster: cluster.name, shardUrls: urls })
    );
  }, 120_000);
});

/**
 * kill -9 of `mlmon serve` under load, ClickHouse store in cluster mode (two Debian 18.16 servers on loopback as a
 * two-shard cluster, writes through the Distributed tables with insert_distributed_sync=1): no acknowledged record
 * lost, none duplicated. MLMON_CRASH_RECORDS sets the number of records (default 30 000 here).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClickHouseStore } from '../../src/server/store/clickhouse';
import { clusterStoreFlags, startClickHouseCluster, type ClickHouseClusterHandle } from '../support/clickhouse';
import { expectNothingLostOrDuplicated, runCrashScenario } from './crash';

let cluster: ClickHouseClusterHandle;
beforeAll(async () => {
  cluster = await startClickHouseCluster();
}, 120_000);
afterAll(() => cluster?.stop());

test('a collector killed with SIGKILL under load loses no acknowledged record and duplicates none (cluster)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-crash-cluster-'));
  const urls = cluster.shards.map((shard) => shard.url);
  const database = cluster.shards[0].database;
  try {
    const report = await runCrashScenario({
      storeArgs: [...clusterStoreFlags(cluster), '--state-dir', path.join(dir, 'state')],
      openStore: () => ClickHouseStore.open({ url: urls[0], database, cluster: cluster.name, shardUrls: urls }),
      records: Number(process.env.MLMON_CRASH_RECORDS ?? 30_000),
    });
    expectNothingLostOrDuplicated(report);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 600_000);

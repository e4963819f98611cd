/**
 * The ClickHouse store's write path alone, without the collector: which side limits ingest into ClickHouse — the
 * client (this process: schema plan, stored columns, one Native block per insert) or the server? Writes batches of the load generator's
 * records (already in columns, as the store worker has them) through ClickHouseStore.writePredictions, one write at
 * a time as the store worker does, for `--duration` seconds against a private clickhouse-server on loopback, and
 * reports records/s with the CPU seconds per 1 000 records of each side (this process: process.cpuUsage; the server:
 * /proc/<pid>/stat). Results: clickhouse-alone-results.json.
 *
 *   node bench/ingest/clickhouse-alone.js [--duration 60] [--batch 25000]
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { decodePredictions } from '../../src/server/collector/prediction-lines';
import { ClickHouseStore } from '../../src/server/store/clickhouse';
import type { PredictionColumns } from '../../src/server/store/prediction-columns';
import { startClickHouse } from '../../test/support/clickhouse';

const CATEGORIES = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta'];

/** `n` records as the load generator writes them, as columns (ids unique per `seq`). */
function columns(seq: number, n: number): PredictionColumns {
  const ts = Date.now();
  const lines: string[] = [];
  for (let j = 0; j < n; j++) {
    const numeric = Array.from({ length: 20 }, (_, f) => `"num_${f}":${((j * 7919 + f * 104729) % 1_000_000) / 1000}`);
    const categorical = Array.from({ length: 3 }, (_, c) => `"cat_${c}":"${CATEGORIES[(j + c) % 7]}"`);
    lines.push(
      `{"id":"alone-${seq}-${j}","ts":${ts},"version":"v1","features":{${[...numeric, ...categorical].join(',')}},` +
        `"prediction":${j % 2},"score":${(j % 10_000) / 10_000},"latency_ms":${5 + (j % 50)}}`
    );
  }
  const decoded = decodePredictions(Buffer.from(lines.join('\n')), 'ndjson', n, 1);
  return decoded.rows.take(decoded.items.map((item) => ('row' in item ? item.row : -1)));
}

/** User + system CPU seconds of a process (/proc/<pid>/stat, clock ticks of 1/100 s). */
function processCpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { duration: { type: 'string', default: '60' }, batch: { type: 'string', default: '25000' } },
  });
  const duration = Number(values.duration);
  const batch = Number(values.batch);
  const server = await startClickHouse();
  const serverPid = Number(execFileSync('pgrep', ['-f', server.dir], { encoding: 'utf8' }).trim().split('\n')[0]);
  const store = await ClickHouseStore.open({ url: server.url, database: server.database });
  try {
    await store.writePredictions('alone', columns(-1, 10)); // the table and its columns
    const prepared = Array.from({ length: 8 }, (_, k) => columns(k, batch));
    const clientBefore = process.cpuUsage();
    const serverBefore = processCpuSeconds(serverPid);
    const started = Date.now();
    let records = 0;
    for (let k = 0; Date.now() - started < duration * 1000; k++) {
      await store.writePredictions('alone', prepared[k % prepared.length]);
      records += batch;
    }
    const seconds = (Date.now() - started) / 1000;
    const client = process.cpuUsage(clientBefore);
    const result = {
      at: new Date().toISOString(),
      loadAverage: os.loadavg().map((x) => Number(x.toFixed(2))),
      seconds: Number(seconds.toFixed(1)),
      records,
      recordsPerSecond: Math.round(records / seconds),
      clientCpuSecondsPer1000: Number((((client.user + client.system) / 1e6 / records) * 1000).toFixed(4)),
      serverCpuSecondsPer1000: Number((((processCpuSeconds(serverPid) - serverBefore) / records) * 1000).toFixed(4)),
    };
    fs.writeFileSync(path.join(__dirname, 'clickhouse-alone-results.json'), JSON.stringify(result, null, 2) + '\n');
    console.log(`bench ingest/clickhouse-alone: ${JSON.stringify(result)}`);
  } finally {
    await store.close();
    await server.stop();
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

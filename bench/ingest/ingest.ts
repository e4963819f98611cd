/**
 * Ingest benchmark: sustained throughput of the collector with durable acknowledgements (every answer waits for
 * the fsync of the write-ahead log), and the acknowledgement latency seen by the senders.
 *
 *   node bench/ingest/run.js [--records N] [--senders K] [--batch B] [--store embedded|clickhouse] [--no-write]
 *
 * Records have 20 features (14 numeric, 6 categorical). The collector runs as `mlmon serve` in a child process;
 * the senders run in this process. "Sustained" means until the store holds every record: the clock stops when
 * the collector has moved the whole WAL into the store and exited after SIGTERM. Results go to results.json.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import {
  featureSnippets,
  loadBatch,
  percentile,
  postBatch,
  spawnCollector,
  stopCollector,
} from '../../test/collector/harness';
import { startClickHouse } from '../../test/support/clickhouse';

interface Result {
  store: string;
  records: number;
  batchSize: number;
  senders: number;
  features: number;
  ackedSeconds: number;
  ackedRecordsPerSecond: number;
  sustainedSeconds: number;
  sustainedRecordsPerSecond: number;
  ackLatencyMs: { p50: number; p95: number; p99: number; max: number };
  /** CPU seconds (user + system, all threads) the collector process used, and per 1 000 records. */
  collectorCpuSeconds: number;
  collectorCpuSecondsPer1000: number;
  /** 1-minute load average at the start and the end of the run (the machine is shared). */
  loadAverage: [number, number];
  cpus: string;
  node: string;
  date: string;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '1000000' },
      senders: { type: 'string', default: '4' },
      batch: { type: 'string', default: '5000' },
      store: { type: 'string', default: 'embedded' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const records = Number(values.records);
  const senders = Number(values.senders);
  const batchSize = Number(values.batch);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-bench-ingest-'));
  const clickhouse = values.store === 'clickhouse' ? await startClickHouse() : undefined;
  try {
    const storeArgs = clickhouse
      ? ['--clickhouse', clickhouse.url, '--clickhouse-database', clickhouse.database]
      : ['--data-dir', path.join(dir, 'data')];
    const loadAtStart = os.loadavg()[0];
    const childCpuBefore = waitedChildrenCpuSeconds();
    const collector = await spawnCollector([...storeArgs, '--state-dir', path.join(dir, 'state')]);
    const snippets = featureSnippets();
    const batches = Math.ceil(records / batchSize);
    const bodies = Array.from({ length: Math.min(batches, 64) }, (_, i) => loadBatch('warm', i, batchSize, snippets));
    const agent = new http.Agent({ keepAlive: true, maxSockets: senders });
    // Warm-up: a few batches, not counted.
    for (const body of bodies.slice(0, 2)) {
      await postBatch(collector.url, 'bench', body.body, agent);
    }
    const latencies: number[] = [];
    let next = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: senders }, async () => {
        while (next < batches) {
          const index = next++;
          const body = loadBatch('bench', index, batchSize, snippets).body;
          const result = await postBatch(collector.url, 'bench', body, agent);
          if (result.status !== 200 || result.body.accepted !== batchSize) {
            throw new Error(`batch ${index}: status ${result.status} ${JSON.stringify(result.body)}`);
          }
          latencies.push(result.latencyMs);
        }
      })
    );
    const acked = Number(process.hrtime.bigint() - started) / 1e9;
    agent.destroy();
    const exit = await stopCollector(collector);
    const sustained = Number(process.hrtime.bigint() - started) / 1e9;
    const collectorCpu = waitedChildrenCpuSeconds() - childCpuBefore;
    if (exit !== 0) {
      throw new Error(`the collector exited with ${exit}:\n${collector.stderr()}`);
    }
    const total = batches * batchSize;
    const result: Result = {
      store: values.store!,
      records: total,
      batchSize,
      senders,
      features: 20,
      ackedSeconds: round(acked),
      ackedRecordsPerSecond: Math.round(total / acked),
      sustainedSeconds: round(sustained),
      sustainedRecordsPerSecond: Math.round(total / sustained),
      ackLatencyMs: {
        p50: round(percentile(latencies, 50)),
        p95: round(percentile(latencies, 95)),
        p99: round(percentile(latencies, 99)),
        max: round(Math.max(...latencies)),
      },
      collectorCpuSeconds: round(collectorCpu),
      collectorCpuSecondsPer1000: round((collectorCpu / total) * 1000),
      loadAverage: [round(loadAtStart), round(os.loadavg()[0])],
      cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}`,
      node: process.version,
      date: new Date().toISOString(),
    };
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    if (!values['no-write']) {
      const file = path.join(__dirname, 'results.json');
      const previous = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Result>) : {};
      previous[`${result.store}-${result.records}-node${process.versions.node.split('.')[0]}`] = result;
      fs.writeFileSync(file, JSON.stringify(previous, null, 2) + '\n');
    }
  } finally {
    await clickhouse?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * CPU seconds of this process's children that have exited and been waited for: fields cutime and cstime of
 * /proc/self/stat (proc(5)), in clock ticks (100 per second on Linux). The collector's share is the difference
 * around its run; it includes the time spent after SIGTERM moving the WAL into the store.
 */
function waitedChildrenCpuSeconds(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command name, field 3 (state) is index 0, so cutime (16) and cstime (17) are indexes 13 and 14.
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

main().catch((err) => {
  process.stderr.write(`bench ingest: ${err.stack ?? err}\n`);
  process.exit(1);
});

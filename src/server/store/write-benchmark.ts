/**
 * Write throughput of the stores: records with 20 features (18 numeric, 2 categorical) written in batches
 * through `writePredictions`, as the collector does.
 *
 *   npx tsx src/server/store/write-benchmark.ts [--records N] [--batch N] [--clickhouse URL --clickhouse-database DB]
 *
 * Without --clickhouse it measures the embedded store in a temporary directory (removed afterwards). It prints
 * one JSON line: store, records, batch size, seconds (wall) and records/s, plus the process CPU seconds, which
 * say more than wall time on a busy machine.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openStore, STORE_FLAGS, storeOptionsFromFlags } from './open';
import type { PredictionRecord } from './types';

/** Deterministic records: ids r<i>, one per 100 ms from 2024-06-01, 18 numeric and 2 categorical features. */
export function benchmarkRecords(count: number, offset = 0): PredictionRecord[] {
  const t0 = Date.parse('2024-06-01T00:00:00Z');
  return Array.from({ length: count }, (_, k) => {
    const i = offset + k;
    const features: Record<string, number | string> = {};
    for (let f = 0; f < 18; f++) {
      features[`x${f}`] = ((i * 7919 + f * 104729) % 10007) / 10007;
    }
    features.region = `region_${i % 7}`;
    features.plan = i % 3 === 0 ? 'free' : 'pro';
    return {
      id: `r${i}`,
      ts: t0 + i * 100,
      version: 'v1',
      features,
      prediction: (i % 1000) / 1000,
      score: 0.5,
      latencyMs: 10 + (i % 40),
      samplingRate: 1,
    };
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { ...STORE_FLAGS, records: { type: 'string' }, batch: { type: 'string' } } });
  const total = Number(values.records ?? 200_000);
  const batch = Number(values.batch ?? 10_000);
  const temporary = values.clickhouse ? undefined : await mkdtemp(join(tmpdir(), 'mlmon-bench-'));
  const store = await openStore(storeOptionsFromFlags(temporary ? { 'data-dir': temporary } : values));
  try {
    const batches = Array.from({ length: Math.ceil(total / batch) }, (_, b) =>
      benchmarkRecords(Math.min(batch, total - b * batch), b * batch)
    );
    const cpu = process.cpuUsage();
    const started = process.hrtime.bigint();
    for (const records of batches) {
      await store.writePredictions('bench', records);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const used = process.cpuUsage(cpu);
    process.stdout.write(
      JSON.stringify({
        store: store.dialect,
        records: total,
        batch,
        features: 20,
        seconds: Number(seconds.toFixed(3)),
        recordsPerSecond: Math.round(total / seconds),
        processCpuSeconds: Number(((used.user + used.system) / 1e6).toFixed(3)),
      }) + '\n'
    );
  } finally {
    await store.close();
    if (temporary) {
      await rm(temporary, { recursive: true, force: true });
    }
  }
}

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`write-benchmark: ${(error as Error).message}\n`);
    process.exit(1);
  });
}

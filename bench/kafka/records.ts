/**
 * Prediction records for the Kafka benchmarks, in the shape of the ingest benchmark's load generator
 * (bench/ingest/loadgen/main.go `appendBatch`): `numeric` numeric and `categorical` categorical features, a unique
 * id, the current time, version v1, a prediction, a score and a latency. 20 + 3 features make ~490 bytes (the HTTP
 * benchmark's records); 50 + 3 about 1 KB (the client comparison's).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Producer } from '@platformatic/kafka';

const CATEGORIES = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta'];

/** One record as JSON text; `seed` picks its feature values (a cheap linear congruential sequence). */
export function recordJson(id: string, ts: number, seed: number, numeric = 20, categorical = 3): string {
  let state = seed >>> 0 || 1;
  const next = (n: number) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % n;
  };
  const features: string[] = [];
  for (let f = 0; f < numeric; f++) {
    features.push(`"num_${f}":${next(1_000_000) / 1000}`);
  }
  for (let c = 0; c < categorical; c++) {
    features.push(`"cat_${c}":"${CATEGORIES[next(CATEGORIES.length)]}"`);
  }
  return (
    `{"id":"${id}","ts":${ts},"version":"v1","features":{${features.join(',')}},` +
    `"prediction":${next(2)},"score":${next(10_000) / 10_000},"latency_ms":${5 + next(50)}}`
  );
}

/**
 * Produces `count` records with ids `<prefix>-<i>` to `topic` (round robin over the partitions by key), `batch` per
 * request with up to `inFlight` requests under way; resolves with the seconds it took.
 */
export async function produceRecords(
  bootstrap: string,
  topic: string,
  count: number,
  options: { prefix: string; numeric?: number; batch?: number; inFlight?: number }
): Promise<number> {
  const producer = new Producer({ clientId: 'mlmon-bench-producer', bootstrapBrokers: [bootstrap], acks: 1 });
  const batch = options.batch ?? 2000;
  const inFlight = options.inFlight ?? 4;
  const started = Date.now();
  const running = new Set<Promise<unknown>>();
  try {
    for (let first = 0; first < count; first += batch) {
      const ts = Date.now();
      const messages = [];
      for (let i = first; i < Math.min(count, first + batch); i++) {
        const id = `${options.prefix}-${i}`;
        messages.push({ topic, key: Buffer.from(id), value: Buffer.from(recordJson(id, ts, i, options.numeric)) });
      }
      const sent = producer.send({ messages });
      running.add(sent);
      void sent.finally(() => running.delete(sent));
      if (running.size >= inFlight) {
        await Promise.race(running);
      }
    }
    await Promise.all(running);
  } finally {
    await producer.close();
  }
  return (Date.now() - started) / 1000;
}

/** Merges `key: value` into bench/kafka/results.json (the other keys stay). */
export function saveResult(key: string, value: unknown): void {
  const file = path.join(__dirname, 'results.json');
  const current = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  current[key] = value;
  fs.writeFileSync(file, JSON.stringify(current, null, 2) + '\n');
}

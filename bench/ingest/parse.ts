/**
 * Parse benchmark: the collector's fast path for NDJSON predictions (collector/prediction-lines.ts: bytes straight
 * into columns) against the slow path it stands for (JSON.parse of each line, checkPrediction, toPredictionColumns),
 * on the load generator's records (20 numeric + 3 categorical features, batches of 1 000), in one process, rounds
 * alternated. CPU time per record (process.cpuUsage: user + system, so garbage collection on V8's helper threads
 * counts too); the ratio fast / slow is the figure to quote. Results: parse-results.json.
 *
 *   node bench/ingest/parse.js [--rounds 6] [--batches 300]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { decodeBatch } from '../../src/server/collector/body';
import { decodePredictions } from '../../src/server/collector/prediction-lines';
import { checkPrediction } from '../../src/server/collector/validate';
import { toPredictionColumns, type PredictionColumns } from '../../src/server/store/prediction-columns';
import type { PredictionRecord } from '../../src/server/store/types';

const CATEGORIES = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta'];

/** One batch as bench/ingest/loadgen writes it (main.go appendBatch), with a seeded generator. */
function batch(seq: number, random: () => number): Buffer {
  const ts = Date.UTC(2026, 11, 7, 12) + seq;
  const lines: string[] = [];
  for (let j = 0; j < 1000; j++) {
    const numeric = Array.from({ length: 20 }, (_, f) => `"num_${f}":${Math.floor(random() * 1e6) / 1000}`);
    const categorical = Array.from({ length: 3 }, (_, c) => `"cat_${c}":"${CATEGORIES[Math.floor(random() * 7)]}"`);
    lines.push(
      `{"id":"load-1-${seq}-${j}","ts":${ts},"version":"v1","features":{${[...numeric, ...categorical].join(',')}},` +
        `"prediction":${j % 2},"score":${Math.floor(random() * 1e4) / 1e4},"latency_ms":${5 + (j % 50)}}`
    );
  }
  return Buffer.from(lines.join('\n') + '\n');
}

/** A small deterministic generator (mulberry32). */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fastPath(body: Buffer): PredictionColumns {
  const decoded = decodePredictions(body, 'ndjson', 10_000, 1);
  return decoded.rows.take(decoded.items.map((item) => ('row' in item ? item.row : -1)));
}

function slowPath(body: Buffer): PredictionColumns {
  const records: PredictionRecord[] = [];
  for (const item of decodeBatch(body, 'ndjson', 10_000)) {
    const checked = checkPrediction('value' in item ? item.value : undefined, 1);
    if (checked.ok) {
      records.push(checked.record);
    }
  }
  return toPredictionColumns(records);
}

/** CPU microseconds per record of one pass over the bodies. */
function measure(path: (body: Buffer) => PredictionColumns, bodies: Buffer[]): number {
  const before = process.cpuUsage();
  let rows = 0;
  for (const body of bodies) {
    rows += path(body).rowCount;
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / rows;
}

function main(): void {
  const { values } = parseArgs({
    options: { rounds: { type: 'string', default: '6' }, batches: { type: 'string', default: '300' } },
  });
  const random = mulberry32(20261207);
  const bodies = Array.from({ length: Number(values.batches) }, (_, i) => batch(i, random));
  if (
    fastPath(bodies[0]).rowCount !== 1000 ||
    JSON.stringify(fastPath(bodies[1])) !== JSON.stringify(slowPath(bodies[1]))
  ) {
    throw new Error('the fast path does not give the slow path’s columns on the benchmark data');
  }
  const rounds: Array<{ fastMicros: number; slowMicros: number }> = [];
  for (let round = 0; round < Number(values.rounds); round++) {
    rounds.push({ fastMicros: measure(fastPath, bodies), slowMicros: measure(slowPath, bodies) });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const fast = median(rounds.map((r) => r.fastMicros));
  const slow = median(rounds.map((r) => r.slowMicros));
  const result = {
    at: new Date().toISOString(),
    node: process.version,
    records: bodies.length * 1000,
    bytesPerRecord: Math.round(bodies.reduce((sum, b) => sum + b.length, 0) / (bodies.length * 1000)),
    rounds,
    medianMicrosPerRecord: { fast: Number(fast.toFixed(3)), slow: Number(slow.toFixed(3)) },
    fastOverSlow: Number((fast / slow).toFixed(3)),
  };
  fs.writeFileSync(path.join(__dirname, 'parse-results.json'), JSON.stringify(result, null, 2) + '\n');
  console.log(
    `bench ingest/parse: fast ${result.medianMicrosPerRecord.fast} µs, slow ${result.medianMicrosPerRecord.slow} µs ` +
      `CPU per record (median of ${rounds.length} rounds): fast = ${result.fastOverSlow} × slow`
  );
}

main();

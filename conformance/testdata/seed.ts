/**
 * Writes a small, deterministic prediction log into an embedded data directory through the real store,
 * for the conformance suite: model "credit", versions v1 and v2, a numeric and a categorical feature,
 * one prediction per minute over the `hours` hours before `endMs`, and a baseline for v1 computed from a
 * reference sample of the same distribution. With `duel` as the fourth argument it writes model "duel" instead:
 * a binary classifier whose versions v1 (champion) and v2 (challenger) both score every request (shadow traffic),
 * labelled except in the last six hours, with a baseline of v1 calibrated on labelled, scored reference rows (for
 * `performance` with `estimate: true` and `compare`).
 *
 * Usage: tsx conformance/testdata/seed.ts <dataDir> <endMs> <hours> [duel]
 */
import { computeBaseline } from '../../src/server/baseline/compute';
import { EmbeddedStore } from '../../src/server/store/embedded';
import type { LabelRecord, PredictionRecord } from '../../src/server/store/types';

const REGIONS = ['north', 'south', 'east', 'west'];

/** A fixed pseudo-random sequence (mulberry32), so every run writes the same data. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** P(label = 1 | score) of model duel. */
const positiveRate = (score: number) => 0.1 + 0.8 * score;

/** Model duel (module comment): one request a minute, scored by v1 and v2, labelled an hour later. */
async function writeDuel(store: EmbeddedStore, end: number, minutes: number, next: () => number): Promise<void> {
  const records: PredictionRecord[] = [];
  const labels: LabelRecord[] = [];
  for (let i = 0; i < minutes; i++) {
    const ts = end - (minutes - i) * 60_000;
    const id = `duel-${i}`;
    const score = next();
    const scores = { v1: score, v2: Math.sqrt(score) };
    for (const version of ['v1', 'v2'] as const) {
      records.push({
        id,
        ts,
        version,
        features: { income: 30_000 + 40_000 * score },
        prediction: scores[version] >= 0.5 ? 1 : 0,
        score: scores[version],
        latencyMs: (version === 'v1' ? 5 : 8) + 20 * next(),
        error: null,
        samplingRate: 1,
      });
    }
    if (ts < end - 6 * 3_600_000) {
      labels.push({ id, label: next() < positiveRate(score) ? 1 : 0, ts: ts + 3_600_000 });
    }
  }
  const reference = Array.from({ length: 2000 }, () => next());
  await store.writePredictions('duel', records);
  await store.writeLabels('duel', labels);
  await store.saveBaseline(
    computeBaseline({
      model: 'duel',
      version: 'v1',
      source: 'conformance seed',
      createdAt: end - minutes * 60_000,
      predictionColumn: 'prediction',
      scoreColumn: 'score',
      labelColumn: 'label',
      columns: [
        { name: 'income', kind: 'numeric', values: reference.map((s) => 30_000 + 40_000 * s) },
        { name: 'prediction', kind: 'numeric', values: reference.map((s) => (s >= 0.5 ? 1 : 0)) },
        { name: 'score', kind: 'numeric', values: reference },
        { name: 'label', kind: 'numeric', values: reference.map((s) => (next() < positiveRate(s) ? 1 : 0)) },
      ],
    })
  );
}

async function main(): Promise<void> {
  const [dataDir, endArg, hoursArg, model] = process.argv.slice(2);
  if (!dataDir || !endArg || !hoursArg) {
    throw new Error('usage: seed.ts <dataDir> <endMs> <hours> [duel]');
  }
  const end = Number(endArg);
  const minutes = Number(hoursArg) * 60;
  const next = random(42);
  if (model === 'duel') {
    const store = await EmbeddedStore.open(dataDir);
    try {
      await writeDuel(store, end, minutes, next);
    } finally {
      await store.close();
    }
    return;
  }
  const records: PredictionRecord[] = [];
  for (let i = 0; i < minutes; i++) {
    const ts = end - (minutes - i) * 60_000;
    const income = 30_000 + 40_000 * next();
    records.push({
      id: `req-${i}`,
      ts,
      version: i < minutes / 2 ? 'v1' : 'v2',
      features: { income, region: REGIONS[Math.floor(next() * REGIONS.length)] },
      prediction: income > 50_000 ? 1 : 0,
      score: next(),
      latencyMs: 5 + 20 * next(),
      error: null,
      samplingRate: 1,
    });
  }
  const reference = Array.from({ length: 1000 }, () => ({
    income: 30_000 + 40_000 * next(),
    region: REGIONS[Math.floor(next() * REGIONS.length)],
  }));
  const store = await EmbeddedStore.open(dataDir);
  try {
    await store.writePredictions('credit', records);
    await store.saveBaseline(
      computeBaseline({
        model: 'credit',
        version: 'v1',
        source: 'conformance seed',
        createdAt: end - minutes * 60_000,
        predictionColumn: 'prediction',
        columns: [
          { name: 'income', kind: 'numeric', values: reference.map((r) => r.income) },
          { name: 'region', kind: 'categorical', values: reference.map((r) => r.region) },
          { name: 'prediction', kind: 'numeric', values: reference.map((r) => (r.income > 50_000 ? 1 : 0)) },
        ],
      })
    );
  } finally {
    await store.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`seed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

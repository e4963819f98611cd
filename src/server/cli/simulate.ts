/**
 * `mlmon simulate`: writes realistic demo traffic for two models (credit_risk, a binary classifier, and
 * delivery_time, a regressor) with scripted incidents — see docs/SIMULATION.md — and each model's baseline; with
 * `--challenger`, a challenger version beside the champion (shadow, then optionally a split).
 */
import { parseArgs } from 'node:util';
import { computeBaseline, type ReferenceColumn } from '../baseline/compute';
import { ALL_SIMULATED_MODELS, DAY_MS, HOUR_MS, SIMULATED_MODELS, type SimulatedModel } from '../simulate/scenario';
import { referenceRows, simulateTraffic, type ChallengerTraffic, type TrafficItem } from '../simulate/traffic';
import { openStore, STORE_FLAGS, STORE_FLAGS_HELP, storeOptionsFromFlags } from '../store/open';
import type { LabelRecord, PredictionRecord, PredictionStore } from '../store/types';
import { handleErrors, throwIfRejected, UsageError, type Command } from './command';

const HELP = `Usage: mlmon simulate [options]

Writes demo traffic for the models credit_risk (classifier) and delivery_time (regressor): daily and weekly
seasonality, late labels and scripted incidents (docs/SIMULATION.md), plus each model's baseline.

Options:
  --days N               length of the window in days (default 14)
  --end ISO              end of the window (default: the start of the current UTC hour)
  --rate N               mean requests per minute per model (default 10)
  --seed S               random seed; the same seed writes the same data (default 42)
  --models A,B           only these models (default credit_risk,delivery_time; also churn: covariate shift from
                         day 4, then concept drift from day 11, for estimated performance)
  --challenger           also a challenger version for the models that have one (churn: v2, better after the
                         concept drift): it scores a shadow copy of a share of the requests (same ids)
  --shadow-share X       share of the requests the challenger scores in shadow (default 0.25; with --challenger)
  --split-from-day D     from day D on, the challenger serves a share of the requests itself (with --challenger)
  --split-share X        share of the requests the challenger serves from --split-from-day (default 0.5)
  --reference-rows N     rows of reference data for each baseline (default 20000)
  --no-baseline          do not write baselines
  --via-collector URL    send through a running collector (mlmon serve) instead of writing to the store;
                         the token comes from --token T or $MLMON_COLLECTOR_TOKEN (baselines still go to the store)

${STORE_FLAGS_HELP}
`;

const FLAGS = {
  ...STORE_FLAGS,
  days: { type: 'string' },
  end: { type: 'string' },
  rate: { type: 'string' },
  seed: { type: 'string' },
  models: { type: 'string' },
  challenger: { type: 'boolean' },
  'shadow-share': { type: 'string' },
  'split-from-day': { type: 'string' },
  'split-share': { type: 'string' },
  'reference-rows': { type: 'string' },
  'no-baseline': { type: 'boolean' },
  'via-collector': { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const BATCH = 5000;

/** Where records go: the store directly, or a collector over HTTP. */
interface Sink {
  predictions(model: string, records: PredictionRecord[]): Promise<void>;
  labels(model: string, records: LabelRecord[]): Promise<void>;
}

function storeSink(store: PredictionStore): Sink {
  return {
    predictions: async (model, records) => throwIfRejected(await store.writePredictions(model, records), model),
    labels: (model, records) => store.writeLabels(model, records),
  };
}

/** The collector's wire format of a prediction (snake_case latency, no sampling rate: the collector sets it). */
function wirePrediction(record: PredictionRecord): Record<string, unknown> {
  const { latencyMs, samplingRate: _rate, ...rest } = record;
  return { ...rest, latency_ms: latencyMs };
}

function collectorSink(url: string, token: string): Sink {
  const post = async (path: string, records: unknown[]) => {
    for (let attempt = 1; ; attempt++) {
      const response = await fetch(`${url.replace(/\/$/, '')}${path}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(records),
      });
      const text = await response.text();
      if (response.status === 503 && attempt < 10) {
        await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
        continue;
      }
      if (response.status !== 200) {
        throw new Error(`the collector answered ${response.status} to POST ${path}: ${text.slice(0, 500)}`);
      }
      const body = JSON.parse(text) as { rejected: number; errors: unknown[] };
      if (body.rejected) {
        throw new Error(
          `the collector refused ${body.rejected} simulated records: ${JSON.stringify(body.errors.slice(0, 3))}`
        );
      }
      return;
    }
  };
  return {
    predictions: (model, records) => post(`/api/v1/models/${model}/predictions`, records.map(wirePrediction)),
    labels: (model, records) => post(`/api/v1/models/${model}/labels`, records),
  };
}

/** Columns of the reference data, for the baseline builder. */
function referenceColumns(model: SimulatedModel, rows: ReturnType<typeof referenceRows>): ReferenceColumn[] {
  return [
    ...model.features.map((f) => ({ name: f.name, kind: f.kind, values: rows.map((r) => r.features[f.name]) })),
    { name: 'prediction', kind: 'numeric' as const, values: rows.map((r) => r.prediction) },
    { name: 'label', kind: 'numeric' as const, values: rows.map((r) => r.label) },
    ...(model.task === 'classification'
      ? [{ name: 'score', kind: 'numeric' as const, values: rows.map((r) => r.score) }]
      : []),
  ];
}

function writeBaseline(
  store: PredictionStore,
  model: SimulatedModel,
  rows: number,
  seed: number,
  createdAt: number
): Promise<void> {
  const reference = referenceRows(model, rows, seed);
  const baseline = computeBaseline({
    model: model.name,
    version: model.version,
    source: `mlmon simulate --seed ${seed} (reference data without incidents)`,
    columns: referenceColumns(model, reference),
    predictionColumn: 'prediction',
    labelColumn: 'label',
    scoreColumn: model.task === 'classification' ? 'score' : undefined,
    positiveLabel: model.task === 'classification' ? '1' : undefined,
    createdAt,
  });
  return store.saveBaseline(baseline);
}

/** Streams one model's traffic into the sink in batches; reports progress once per simulated day. */
async function sendTraffic(
  sink: Sink,
  model: SimulatedModel,
  items: Iterable<TrafficItem>,
  start: number,
  days: number,
  log: (line: string) => void
) {
  let predictions: PredictionRecord[] = [];
  let labels: LabelRecord[] = [];
  let counts = { predictions: 0, labels: 0 };
  let reportedDay = 0;
  for (const item of items) {
    predictions.push(item.prediction);
    if (item.shadow) {
      predictions.push(item.shadow);
    }
    if (item.label) {
      labels.push(item.label);
    }
    if (predictions.length >= BATCH) {
      await sink.predictions(model.name, predictions);
      counts = { ...counts, predictions: counts.predictions + predictions.length };
      predictions = [];
      const day = Math.floor((item.prediction.ts - start) / DAY_MS) + 1;
      if (day > reportedDay) {
        reportedDay = day;
        log(
          `mlmon simulate: ${model.name}: day ${day}/${days}, ${counts.predictions} predictions, ${counts.labels} labels`
        );
      }
    }
    if (labels.length >= BATCH) {
      await sink.labels(model.name, labels);
      counts = { ...counts, labels: counts.labels + labels.length };
      labels = [];
    }
  }
  await sink.predictions(model.name, predictions);
  await sink.labels(model.name, labels);
  return { predictions: counts.predictions + predictions.length, labels: counts.labels + labels.length };
}

function numberFlag(text: string | undefined, fallback: number, flag: string, check: (n: number) => boolean): number {
  if (text === undefined) {
    return fallback;
  }
  const value = Number(text);
  if (!Number.isFinite(value) || !check(value)) {
    throw new UsageError(`--${flag} ${text} is not valid`);
  }
  return value;
}

/** The challenger's traffic from the flags (undefined without --challenger), checked against the window and models. */
function challengerFromFlags(
  values: { challenger?: boolean; 'shadow-share'?: string; 'split-from-day'?: string; 'split-share'?: string },
  days: number,
  models: readonly SimulatedModel[]
): ChallengerTraffic | undefined {
  const given = ['shadow-share', 'split-from-day', 'split-share'].filter((flag) => values[flag as keyof typeof values]);
  if (!values.challenger) {
    if (given.length > 0) {
      throw new UsageError(`--${given[0]} needs --challenger`);
    }
    return undefined;
  }
  if (!models.some((model) => model.challenger)) {
    const having = ALL_SIMULATED_MODELS.filter((model) => model.challenger).map((model) => model.name);
    throw new UsageError(`--challenger: none of the models has a challenger; use --models ${having.join(',')}`);
  }
  const share = (flag: string, text: string | undefined, fallback: number) =>
    numberFlag(text, fallback, flag, (n) => n >= 0 && n <= 1);
  const shadowShare = share('shadow-share', values['shadow-share'], 0.25);
  if (values['split-from-day'] === undefined) {
    if (values['split-share'] !== undefined) {
      throw new UsageError('--split-share needs --split-from-day');
    }
    return { shadowShare };
  }
  const fromDay = numberFlag(
    values['split-from-day'],
    0,
    'split-from-day',
    (n) => Number.isInteger(n) && n >= 1 && n <= days
  );
  return { shadowShare, split: { fromDay, share: share('split-share', values['split-share'], 0.5) } };
}

async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const log = (line: string) => process.stderr.write(line + '\n');
  const days = numberFlag(values.days, 14, 'days', (n) => n > 0 && n <= 366);
  const rate = numberFlag(values.rate, 10, 'rate', (n) => n > 0 && n <= 100_000);
  const seed = numberFlag(values.seed, 42, 'seed', Number.isInteger);
  const referenceCount = numberFlag(
    values['reference-rows'],
    20_000,
    'reference-rows',
    (n) => Number.isInteger(n) && n >= 100
  );
  const end = values.end === undefined ? Math.floor(Date.now() / HOUR_MS) * HOUR_MS : Date.parse(values.end);
  if (!Number.isFinite(end)) {
    throw new UsageError(`--end ${values.end} is not an ISO 8601 time (e.g. 2026-03-15T00:00:00Z)`);
  }
  const start = end - days * DAY_MS;
  const wanted = values.models?.split(',').map((m) => m.trim()) ?? SIMULATED_MODELS.map((m) => m.name);
  const models = wanted.map((name) => {
    const model = ALL_SIMULATED_MODELS.find((m) => m.name === name);
    if (!model) {
      throw new UsageError(
        `--models: unknown model ${name}; the simulated models are ${ALL_SIMULATED_MODELS.map((m) => m.name).join(', ')}`
      );
    }
    return model;
  });
  const challenger = challengerFromFlags(values, days, models);

  const viaCollector = values['via-collector'];
  const token = values.token ?? process.env.MLMON_COLLECTOR_TOKEN;
  if (viaCollector && !token) {
    throw new UsageError('--via-collector needs a token: --token T or $MLMON_COLLECTOR_TOKEN');
  }
  const needStore = !viaCollector || !values['no-baseline'];
  const store = needStore ? await openStore(storeOptionsFromFlags(values)) : undefined;
  try {
    const sink = viaCollector ? collectorSink(viaCollector, token!) : storeSink(store!);
    log(
      `mlmon simulate: ${new Date(start).toISOString()} to ${new Date(end).toISOString()}, ${rate}/min per model, seed ${seed}`
    );
    for (const model of models) {
      if (!values['no-baseline']) {
        await writeBaseline(store!, model, referenceCount, seed, start);
        log(`mlmon simulate: ${model.name}: baseline ${model.version} from ${referenceCount} reference rows`);
      }
      const written = await sendTraffic(
        sink,
        model,
        simulateTraffic(model, { start, end, ratePerMinute: rate, seed, challenger }),
        start,
        days,
        log
      );
      log(`mlmon simulate: ${model.name}: ${written.predictions} predictions and ${written.labels} labels written`);
      if (store && !viaCollector) {
        await store.compact(model.name);
        log(`mlmon simulate: ${model.name}: store compacted (one file per day)`);
      }
    }
    return 0;
  } finally {
    await store?.close();
  }
}

export const command: Command = {
  summary: 'write realistic demo traffic with scripted incidents (and baselines) for two models',
  run: handleErrors('simulate', run),
};

/**
 * `mlmon baseline`: compute and store a model version's baseline from reference data, list and show baselines.
 *
 *   mlmon baseline --model M --version V --from FILE [--prediction COL] [--label COL] [--score COL]
 *   mlmon baseline --model M --version V --from-store --start ISO --end ISO
 *   mlmon baseline --from-registry models:/NAME@ALIAS|models:/NAME/VERSION --registry-url URL [--model M] [--version V]
 *   mlmon baseline list --model M [--format table|json]
 *   mlmon baseline show --model M --version V [--format table|json]
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { computeBaseline, type BaselineInput, type DeclaredFeature, type ReferenceColumn } from '../baseline/compute';
import { readReferenceFile, readReferenceFromStore } from '../baseline/sources';
import { openStore, STORE_FLAGS, STORE_FLAGS_HELP, storeOptionsFromFlags } from '../store/open';
import { isRecordFieldColumn } from '../store/records-from-rows';
import type {
  Baseline,
  BaselineRegistryOrigin,
  BaselineSummary,
  ColumnReference,
  PredictionStore,
} from '../store/types';
import { handleErrors, InputError, UsageError, type Command } from './command';
import { formatTable } from './text-table';
import { REGISTRY_FLAGS, REGISTRY_FLAGS_HELP, registryFromFlags } from './registry-flags';
import { parseModelsUri } from '../../core/query/registry-refs';
import { MlflowRegistry } from '../registry/mlflow';
import { fetchReferenceData, registryOrigin, resolveReference } from '../registry/reference';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const HELP = `Usage:
  mlmon baseline --model M --version V --from FILE [options]     compute and store a baseline from a CSV/Parquet/NDJSON file
  mlmon baseline --model M --version V --from-store --start ISO --end ISO
                                                                 ... from logged traffic of that version
  mlmon baseline --from-registry models:/NAME@ALIAS --registry-url URL [--model M] [--version V]
                                                                 ... from the reference data the registry version's
                                                                 run logged (models:/NAME/VERSION also works)
  mlmon baseline list --model M [--format table|json]
  mlmon baseline show --model M --version V [--format table|json]

A baseline belongs to one model version and is never replaced silently: storing one for a version that
already has one is refused unless --force is given.

Every column of the file is a feature except the prediction, score and label columns named below, the columns
given to --exclude, and the record's own fields as 'mlmon ingest' reads them (id, request_id, ts, timestamp,
version, prediction, score, latency_ms, error, sampling_rate), which are never features.

With --from-registry the model defaults to the registered name (or the M of --registry-model M=NAME) and the
version to the registry version's log version (its mlmon.version tag, else its number); the baseline records the
registered name, version, run and alias. The run must have logged its reference data as a CSV or Parquet file: a
training dataset input (mlflow.log_input(ds, context="training")) whose source is such a file, or an artifact under
reference/ (mlflow.log_artifact("reference.parquet", artifact_path="reference")).

Options:
  --prediction COL       column holding the model's output: the predicted class of a classifier, the number of a
                         regressor (its distribution is stored too)
  --score COL            column holding a classifier's positive-class score or probability (for AUC)
  --label COL            column holding the true label (stores validation performance; needs --prediction)
  --positive-label L     positive class for precision/recall/F1/AUC (default 1 or true when present, else macro)
  --threshold T          score from which the model predicts the positive class (default 0.5); with --score and
                         --label, the baseline keeps the scores' calibration for estimated performance (CBPE)
  --task classification|regression
                         the model's task (default: classification when labels and predictions are classes)
  --exclude A,B          other columns that are not features
  --categorical A,B      treat these features as categorical whatever their type
  --bins N               numeric bins (default 10, 2-100)
  --declared FILE        JSON of declared ranges and categories, e.g. {"age": {"min": 0, "max": 120}, "plan": {"categories": ["free", "pro"]}}
  --force                replace the version's existing baseline
  --format table|json    output of list/show (default table)

Exit codes: 0 done, 1 a failure of the store or registry, 2 usage or input error (nothing stored).

${STORE_FLAGS_HELP}

${REGISTRY_FLAGS_HELP}
`;

const OPTIONS = {
  ...STORE_FLAGS,
  ...REGISTRY_FLAGS,
  'from-registry': { type: 'string' },
  model: { type: 'string' },
  version: { type: 'string' },
  from: { type: 'string' },
  'from-store': { type: 'boolean' },
  start: { type: 'string' },
  end: { type: 'string' },
  prediction: { type: 'string' },
  label: { type: 'string' },
  score: { type: 'string' },
  'positive-label': { type: 'string' },
  threshold: { type: 'string' },
  exclude: { type: 'string' },
  categorical: { type: 'string' },
  bins: { type: 'string' },
  declared: { type: 'string' },
  format: { type: 'string' },
  task: { type: 'string' },
  force: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function required(values: Values, name: 'model' | 'version'): string {
  const value = values[name];
  if (!value) {
    throw new UsageError(`--${name} is required`);
  }
  return value;
}

function parseTime(text: string | undefined, flag: string): number {
  const ts = text === undefined ? NaN : Date.parse(text);
  if (Number.isNaN(ts)) {
    throw new UsageError(`${flag} needs an ISO time such as 2024-06-01T00:00:00Z, got ${JSON.stringify(text)}`);
  }
  return ts;
}

function parseBins(text: string | undefined): number | undefined {
  if (text === undefined) {
    return undefined;
  }
  const bins = Number(text);
  if (!Number.isInteger(bins) || bins < 2 || bins > 100) {
    throw new UsageError(`--bins must be an integer from 2 to 100, got ${text}`);
  }
  return bins;
}

function parseThreshold(text: string | undefined): number | undefined {
  if (text === undefined) {
    return undefined;
  }
  const threshold = Number(text);
  if (text.trim() === '' || !(threshold >= 0 && threshold <= 1)) {
    throw new UsageError(`--threshold must be a score from 0 to 1, got ${text}`);
  }
  return threshold;
}

function readDeclared(path: string): Record<string, DeclaredFeature> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new InputError(`--declared ${path}: ${(error as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InputError(`--declared ${path}: expected an object of features, e.g. {"age": {"min": 0, "max": 120}}`);
  }
  return parsed as Record<string, DeclaredFeature>;
}

const list = (text: string | undefined) =>
  text
    ? text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;
const progress = (message: string) => process.stderr.write(`mlmon baseline: ${message}\n`);

function parseTask(text: string | undefined): BaselineInput['task'] {
  if (text !== undefined && text !== 'classification' && text !== 'regression') {
    throw new UsageError(`--task must be classification or regression, got ${text}`);
  }
  return text;
}

/** Refuses to replace a stored baseline unless --force: a baseline is what the version's traffic is judged by. */
async function checkNotStored(store: PredictionStore, model: string, version: string, force: boolean): Promise<void> {
  const stored = force ? undefined : await store.getBaseline(model, version);
  if (stored) {
    throw new InputError(
      `model ${model} already has a baseline ${version} (${stored.rows} rows from ${stored.source}, created ` +
        `${new Date(stored.createdAt).toISOString()}); give a new --version, or --force to replace it`
    );
  }
}

/**
 * The file's columns that hold the record's own fields (id, ts, ...) and are not named by a flag: never features.
 * Each comes with the reason kept in the baseline's `skipped`.
 */
function recordFieldColumns(columns: readonly ReferenceColumn[], named: ReadonlySet<string>): Record<string, string> {
  const fields = columns.filter((column) => isRecordFieldColumn(column.name) && !named.has(column.name));
  return Object.fromEntries(
    fields.map(({ name }) => [
      name,
      name === 'prediction' || name === 'score'
        ? `the record's ${name}, not a feature; give --${name} ${name} to use it`
        : `the record's ${name}, not a feature`,
    ])
  );
}

async function create(values: Values, store: PredictionStore): Promise<number> {
  if (values['from-registry']) {
    return fromRegistry(values, store, values['from-registry']);
  }
  return createFrom(values, store);
}

/**
 * `--from-registry`: resolves the registry version, fetches the reference data its run logged (registry/reference.ts)
 * into a temporary directory and builds the baseline from it as from --from FILE, recording the registry version.
 */
async function fromRegistry(values: Values, store: PredictionStore, uri: string): Promise<number> {
  if (values.from || values['from-store']) {
    throw new UsageError('give one reference: --from-registry, --from FILE or --from-store');
  }
  let reference;
  try {
    reference = parseModelsUri(uri);
  } catch (error) {
    throw new UsageError(`--from-registry: ${(error as Error).message}`);
  }
  const registry = registryFromFlags(values);
  if (!registry) {
    throw new UsageError(
      '--from-registry needs the MLflow tracking server: --registry-url URL (or $MLMON_REGISTRY_URL)'
    );
  }
  const client = new MlflowRegistry(registry.client);
  const version = await resolveReference(client, reference);
  const mapped = Object.entries(registry.registeredNames).find(([, name]) => name === version.name)?.[0];
  const downloads = await mkdtemp(join(tmpdir(), 'mlmon-registry-'));
  try {
    const data = await fetchReferenceData(client, version, downloads);
    const origin = registryOrigin(version, reference, data.uri);
    progress(
      `${uri} is version ${origin.version} of ${origin.name} (run ${origin.runId}, logged as "${origin.logVersion}"); ` +
        `reference data ${data.uri}`
    );
    return await createFrom(
      { ...values, model: values.model ?? mapped ?? version.name, version: values.version ?? origin.logVersion },
      store,
      { path: data.path, source: uri, registry: origin }
    );
  } finally {
    await rm(downloads, { recursive: true, force: true });
  }
}

/** Builds and stores the baseline from a file (`--from`, or the registry's reference data) or from the store. */
async function createFrom(
  values: Values,
  store: PredictionStore,
  registryFile?: { path: string; source: string; registry: BaselineRegistryOrigin }
): Promise<number> {
  const model = required(values, 'model');
  const version = required(values, 'version');
  const exclude = list(values.exclude);
  const common: Omit<BaselineInput, 'columns' | 'source'> = {
    model,
    version,
    predictionColumn: values.prediction,
    labelColumn: values.label,
    scoreColumn: values.score,
    positiveLabel: values['positive-label'],
    threshold: parseThreshold(values.threshold),
    task: parseTask(values.task),
    exclude,
    categorical: list(values.categorical),
    bins: parseBins(values.bins),
    declared: values.declared ? readDeclared(values.declared) : undefined,
    onProgress: progress,
  };
  await checkNotStored(store, model, version, Boolean(values.force));
  let baseline: Baseline;
  if (values['from-store']) {
    const range = { from: parseTime(values.start, '--start'), to: parseTime(values.end, '--end') };
    const reference = await readReferenceFromStore(store, model, version, range);
    const hasLabels = reference.columns.find((c) => c.name === 'label')!.values.some((v) => v !== null);
    baseline = computeBaseline({
      ...common,
      ...reference,
      labelColumn: hasLabels ? reference.labelColumn : undefined,
      exclude: [...(common.exclude ?? []), ...(hasLabels ? [] : ['label'])],
      source: `store:${new Date(range.from).toISOString()}/${new Date(range.to).toISOString()}`,
    });
  } else if (values.from || registryFile) {
    const columns = await readReferenceFile(registryFile?.path ?? values.from!, progress);
    const named = new Set(
      [values.prediction, values.score, values.label, ...(exclude ?? [])].filter((c) => c !== undefined)
    );
    baseline = computeBaseline({
      ...common,
      columns,
      notFeatures: recordFieldColumns(columns, named),
      source: registryFile?.source ?? values.from!,
    });
    if (registryFile) {
      baseline.registry = registryFile.registry;
    }
  } else {
    throw new UsageError('give the reference: --from FILE or --from-store --start ISO --end ISO');
  }
  await checkNotStored(store, model, version, Boolean(values.force)); // again: another run may have stored it meanwhile
  await store.saveBaseline(baseline);
  const skipped = Object.entries(baseline.skipped);
  progress(
    `stored baseline ${model} ${version}: ${baseline.rows} rows, ${Object.keys(baseline.features).length} features` +
      (skipped.length ? `; not features: ${skipped.map(([name, why]) => `${name} (${why})`).join(', ')}` : '')
  );
  return 0;
}

/**
 * Prints the model's baselines. An unknown model is an input error naming the models there are (a typo must not
 * look like a model without baselines); a known model without any gets a pointer to `mlmon baseline`.
 */
async function listCommand(store: PredictionStore, model: string, format: 'table' | 'json'): Promise<number> {
  const summaries = await store.listBaselines(model);
  if (summaries.length === 0) {
    const models = await store.listModels();
    if (!models.includes(model)) {
      throw new InputError(
        `no model ${model} in the ${store.description}; ` +
          (models.length ? `the models are ${models.join(', ')}` : 'it holds no model yet')
      );
    }
    process.stderr.write(
      `mlmon baseline: model ${model} has no baseline yet; create one with 'mlmon baseline --model ${model} --version V --from FILE'\n`
    );
  }
  process.stdout.write(format === 'json' ? JSON.stringify(summaries, null, 2) + '\n' : listBaselines(summaries));
  return 0;
}

const fmt = (x: number | null | undefined) =>
  x === null || x === undefined ? '-' : Number.isInteger(x) ? String(x) : x.toPrecision(4);

function describeColumn(name: string, reference: ColumnReference): string[] {
  if (reference.kind === 'numeric') {
    return [
      name,
      'numeric',
      String(reference.count),
      String(reference.missing),
      fmt(reference.mean),
      fmt(reference.std),
      fmt(reference.min),
      fmt(reference.max),
      `${reference.edges.length + 1} bins`,
    ];
  }
  const categories = Object.keys(reference.counts).length;
  return [
    name,
    'categorical',
    String(reference.count),
    String(reference.missing),
    '-',
    '-',
    '-',
    '-',
    `${categories} categories`,
  ];
}

function showBaseline(baseline: Baseline): string {
  const rows = Object.entries(baseline.features).map(([name, r]) => describeColumn(name, r));
  if (baseline.prediction) {
    rows.push(describeColumn('(prediction)', baseline.prediction));
  }
  let text = `Baseline ${baseline.model} ${baseline.version} from ${baseline.source}, ${baseline.rows} rows, created ${new Date(baseline.createdAt).toISOString()}\n`;
  const r = baseline.registry;
  if (r) {
    text += `Registry: ${r.name} version ${r.version}${r.alias ? ` (@${r.alias} when built)` : ''}, run ${r.runId}, reference ${r.reference}\n`;
  }
  text += '\n';
  text += formatTable(['feature', 'kind', 'count', 'missing', 'mean', 'std', 'min', 'max', 'bins'], rows);
  if (baseline.performance) {
    const p = baseline.performance;
    const metrics =
      p.task === 'classification'
        ? `accuracy ${fmt(p.accuracy)}, precision ${fmt(p.precision)}, recall ${fmt(p.recall)}, F1 ${fmt(p.f1)}, AUC ${fmt(p.auc)} (${p.averaging}${p.positiveLabel ? `, positive ${p.positiveLabel}` : ''})`
        : `MAE ${fmt(p.mae)}, RMSE ${fmt(p.rmse)}, MAPE ${fmt(p.mape)}`;
    text += `\nValidation performance (${p.count} labelled rows): ${metrics}\n`;
  }
  const c = baseline.calibration;
  if (c) {
    text += `Score calibration (${c.count} rows, ${c.bins.length} knots, threshold ${c.threshold}, predictions agreeing with it ${fmt(c.predictionAgreement)}): estimated performance available\n`;
  } else if (baseline.performance?.task === 'classification') {
    text += 'No score calibration: estimated performance needs a baseline built with --score and --label\n';
  }
  return text;
}

function listBaselines(summaries: BaselineSummary[]): string {
  return formatTable(
    ['version', 'created', 'rows', 'features', 'source'],
    summaries.map((s) => [s.version, new Date(s.createdAt).toISOString(), String(s.rows), String(s.features), s.source])
  );
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const action = positionals[0] ?? 'create';
  if (!['create', 'list', 'show'].includes(action) || positionals.length > 1) {
    throw new UsageError(`unknown action '${positionals.join(' ')}'; use list, show or none`);
  }
  const format = values.format ?? 'table';
  if (format !== 'table' && format !== 'json') {
    throw new UsageError(`--format must be table or json, got ${format}`);
  }
  const store = await openStore(storeOptionsFromFlags(values));
  try {
    if (action === 'create') {
      return await create(values, store);
    }
    const model = required(values, 'model');
    if (action === 'list') {
      return await listCommand(store, model, format);
    }
    const version = required(values, 'version');
    const baseline = await store.getBaseline(model, version);
    if (!baseline) {
      throw new InputError(
        `no baseline for model ${model} version ${version}; 'mlmon baseline list --model ${model}' shows the stored ones`
      );
    }
    process.stdout.write(format === 'json' ? JSON.stringify(baseline, null, 2) + '\n' : showBaseline(baseline));
    return 0;
  } finally {
    await store.close();
  }
}

export const command: Command = {
  summary: 'compute, store, list and show baselines (reference distributions and validation performance)',
  run: handleErrors('baseline', run),
};

/**
 * `mlmon models`: the models a store holds, and deleting one.
 *
 *   mlmon models [list] [--format table|json]
 *   mlmon models delete NAME --yes
 *
 * A model comes into being with its first prediction (collector or `mlmon ingest`) or baseline, so a mistyped
 * name becomes a model of its own: `list` shows it (with no baseline, a handful of rows) and `delete` removes it.
 */
import { parseArgs } from 'node:util';
import { validateIdentifier } from '../store/identifiers';
import { openStore, STORE_FLAGS, STORE_FLAGS_HELP, storeOptionsFromFlags } from '../store/open';
import type { PredictionStore } from '../store/types';
import { handleErrors, InputError, UsageError, type Command } from './command';
import { formatTable } from './text-table';

const HELP = `Usage:
  mlmon models [list] [--format table|json]    the models in the store: predictions, versions, time span, baselines
  mlmon models delete NAME --yes               delete a model: its predictions, labels, schema and baselines

A model is created by the first prediction sent for it (collector or 'mlmon ingest') or its first baseline, so a
mistyped model name creates a model of its own; 'mlmon models list' shows it and 'mlmon models delete' removes it.
Stop sending traffic for a model before deleting it, or its next prediction creates it again. Records the
collector refused stay in its dead-letter area.

Options:
  --format table|json    output of list (default table)
  --yes                  confirm the deletion (it cannot be undone)

Exit codes: 0 done, 1 a failure of the store, 2 usage or input error (unknown model, no --yes; nothing deleted).

${STORE_FLAGS_HELP}
`;

const OPTIONS = {
  ...STORE_FLAGS,
  format: { type: 'string' },
  yes: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What the store holds of one model. */
export interface ModelSummary {
  model: string;
  predictions: number;
  versions: string[];
  firstTs: number | null;
  lastTs: number | null;
  baselines: string[];
}

/** Summarises one model from its versions and baselines. */
async function summarise(store: PredictionStore, model: string): Promise<ModelSummary> {
  const [versions, baselines] = await Promise.all([store.listVersions(model), store.listBaselines(model)]);
  const firsts = versions.map((v) => v.firstTs);
  const lasts = versions.map((v) => v.lastTs);
  return {
    model,
    predictions: versions.reduce((total, v) => total + v.count, 0),
    versions: versions.map((v) => v.version),
    firstTs: firsts.length ? firsts.reduce((a, b) => Math.min(a, b)) : null,
    lastTs: lasts.length ? lasts.reduce((a, b) => Math.max(a, b)) : null,
    baselines: baselines.map((b) => b.version).sort(),
  };
}

const isoOrDash = (ts: number | null) => (ts === null ? '-' : new Date(ts).toISOString());

function modelsTable(summaries: readonly ModelSummary[]): string {
  return formatTable(
    ['model', 'predictions', 'versions', 'first', 'last', 'baselines'],
    summaries.map((s) => [
      s.model,
      String(s.predictions),
      s.versions.join(',') || '-',
      isoOrDash(s.firstTs),
      isoOrDash(s.lastTs),
      s.baselines.join(',') || 'none: drift is not computed until one is stored',
    ])
  );
}

/** The model named on the command line, which must exist (the error names the ones that do). */
async function existingModel(store: PredictionStore, name: string | undefined): Promise<string> {
  if (!name) {
    throw new UsageError('give the NAME of the model to delete');
  }
  const model = validateIdentifier(name, 'model name');
  const models = await store.listModels();
  if (!models.includes(model) && (await store.listBaselines(model)).length === 0) {
    throw new InputError(
      `no model ${model} in the ${store.description}; ` +
        (models.length ? `the models are ${models.join(', ')}` : 'it holds no model yet')
    );
  }
  return model;
}

async function listModels(store: PredictionStore, format: string): Promise<number> {
  const summaries: ModelSummary[] = [];
  for (const model of (await store.listModels()).sort()) {
    summaries.push(await summarise(store, model));
  }
  if (format === 'json') {
    process.stdout.write(JSON.stringify(summaries, null, 2) + '\n');
  } else if (summaries.length === 0) {
    process.stderr.write(`mlmon models: the ${store.description} holds no model yet\n`);
  } else {
    process.stdout.write(modelsTable(summaries));
  }
  return 0;
}

async function deleteModel(store: PredictionStore, name: string | undefined, confirmed: boolean): Promise<number> {
  const model = await existingModel(store, name);
  const summary = await summarise(store, model);
  const what =
    `model ${model}: ${summary.predictions} prediction${summary.predictions === 1 ? '' : 's'} (versions ${summary.versions.join(', ') || 'none'}), ` +
    `their labels, and baselines ${summary.baselines.join(', ') || 'none'}`;
  if (!confirmed) {
    throw new InputError(`this would delete ${what}, for good; run again with --yes to delete it`);
  }
  await store.deleteModel(model);
  process.stderr.write(`mlmon models: deleted ${what}\n`);
  return 0;
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const [action = 'list', ...names] = positionals;
  const format = values.format ?? 'table';
  if (format !== 'table' && format !== 'json') {
    throw new UsageError(`--format must be table or json, got ${format}`);
  }
  if (!(action === 'list' && names.length === 0) && !(action === 'delete' && names.length <= 1)) {
    throw new UsageError(`unknown action '${positionals.join(' ')}'; use list, or delete NAME`);
  }
  const store = await openStore(storeOptionsFromFlags(values));
  try {
    return action === 'list'
      ? await listModels(store, format)
      : await deleteModel(store, names[0], Boolean(values.yes));
  } finally {
    await store.close();
  }
}

export const command: Command = {
  summary: 'list the models in the store (predictions, versions, baselines) and delete one',
  run: handleErrors('models', run),
};

/**
 * What the datasource says about its models: the metadata queries (`models`, `versions`, `features`,
 * for template variables and editors) and the summaries behind the `models` resource (the app's root page).
 */
import { largest } from '../../core/stats/extremes';
import { FIELDS, readSeverityFrame, severityName, type FrameLike, type SeverityLevel } from '../../core/query/frames';
import type { ModelSummary } from '../../core/query/resources';
import type { QueryOf } from '../../core/query/queryTypes';
import { notFound } from '../grafana/errors';
import type { PredictionStore, VersionSummary } from '../store/types';
import type { DatasourceInstance } from '../backend/instances';
import type { QueryHandlerRegistry, QueryRequest } from '../backend/registry';

/** Throws a 404 naming the known models when `model` is not one of them. */
export async function requireModel(store: PredictionStore, model: string): Promise<void> {
  const models = await store.listModels();
  if (!models.includes(model)) {
    const known = models.length > 0 ? models.join(', ') : 'none yet (ingest predictions with `mlmon ingest`)';
    throw notFound(`model "${model}" has no stored predictions; known models: ${known}`);
  }
}

export interface DriftHealth {
  severity: ModelSummary['severity'];
  driftingFeatures: number;
}

/**
 * Worst drift level of a model's features over a window and how many features are at warning or above,
 * from the registered `severity` handler with one bucket spanning the window. Without that handler
 * (or without a baseline) the answer is "insufficient_data".
 */
export async function driftHealth(
  registry: QueryHandlerRegistry,
  instance: DatasourceInstance,
  model: string,
  range: { from: number; to: number },
  signal: AbortSignal
): Promise<DriftHealth> {
  const severity = registry.get('severity');
  if (!severity) {
    return { severity: 'insufficient_data', driftingFeatures: 0 };
  }
  const span = range.to - range.from;
  const frames = await severity({
    query: {
      refId: 'health',
      queryType: 'severity',
      model,
      metric: 'psi',
      persistence: 1,
      bucket: `${Math.ceil(span / 1000)}s`,
    },
    range,
    intervalMs: span,
    maxDataPoints: 1,
    instance,
    signal,
  }).catch(() => [] as FrameLike[]);
  const levels = frames.flatMap((frame) => readSeverityFrame(frame).cells.map((cell) => cell.level));
  const rated = levels.filter((level): level is Exclude<SeverityLevel, null> => level !== null);
  if (rated.length === 0) {
    return { severity: 'insufficient_data', driftingFeatures: 0 };
  }
  return {
    severity: severityName(largest(rated) as SeverityLevel),
    driftingFeatures: rated.filter((l) => l >= 2).length,
  };
}

/** The summary of one model over a window (the app's root page asks for the last 24 hours). */
export async function summarizeModel(
  registry: QueryHandlerRegistry,
  instance: DatasourceInstance,
  model: string,
  range: { from: number; to: number },
  signal: AbortSignal
): Promise<ModelSummary> {
  const store = await instance.store();
  const [versions, features, counts, health] = await Promise.all([
    store.listVersions(model).then(sortVersions),
    store.getFeatures(model),
    store.countPredictions(model, range),
    driftHealth(registry, instance, model, range, signal),
  ]);
  const lastTs = versions.length > 0 ? largest(versions.map((v) => v.lastTs)) : null;
  return {
    name: model,
    versions: versions.map((v) => v.version),
    features: features.filter((f) => f.active).length,
    predictions24h: counts.estimatedTotal,
    lastPrediction: lastTs === null ? null : new Date(lastTs).toISOString(),
    ...health,
  };
}

/** Summaries of every model of the store. */
export async function summarizeModels(
  registry: QueryHandlerRegistry,
  instance: DatasourceInstance,
  range: { from: number; to: number },
  signal: AbortSignal
): Promise<ModelSummary[]> {
  const models = await (await instance.store()).listModels();
  return Promise.all(models.map((model) => summarizeModel(registry, instance, model, range, signal)));
}

const noConfig = {};

/** Version names in natural order (v2 before v10), for pickers and template variables. */
export function sortVersions(versions: VersionSummary[]): VersionSummary[] {
  return [...versions].sort((a, b) => a.version.localeCompare(b.version, 'en', { numeric: true }));
}

/** `models`: one row per model with its versions, feature count, predictions in the range and drift level. */
export async function modelsQuery(
  request: QueryRequest<'models'>,
  registry: QueryHandlerRegistry
): Promise<FrameLike[]> {
  const rows = await summarizeModels(registry, request.instance, request.range, request.signal);
  return [
    {
      name: 'models',
      length: rows.length,
      fields: [
        { name: FIELDS.name, type: 'string', values: rows.map((r) => r.name), config: noConfig },
        { name: 'versions', type: 'string', values: rows.map((r) => r.versions.join(',')), config: noConfig },
        { name: 'features', type: 'number', values: rows.map((r) => r.features), config: { unit: 'short' } },
        { name: 'predictions', type: 'number', values: rows.map((r) => r.predictions24h), config: { unit: 'short' } },
        {
          name: 'last_seen',
          type: 'number',
          values: rows.map((r) => (r.lastPrediction === null ? null : Date.parse(r.lastPrediction))),
          config: { unit: 'dateTimeAsIso' },
        },
        { name: FIELDS.level, type: 'string', values: rows.map((r) => r.severity), config: noConfig },
      ],
    },
  ];
}

/** The version choices of a model: stored and registered versions, then the registry's `@alias` names. */
export interface VersionChoices {
  /** Each version with its stored rows (0 for a registered version without traffic yet). */
  versions: Array<{ version: string; count: number }>;
  aliases: string[];
  /** Why the registry's versions are missing (it could not be read), for a notice. */
  registryProblem?: string;
}

/**
 * The versions a template variable offers for a model: the store's versions and, with a model registry, its
 * versions (as log versions: registry-refs.ts `logVersionOf`) and aliases. A model unknown to both is a 404; a
 * registry that cannot be read leaves the store's versions with the reason (an `@alias` query says it as an error).
 */
export async function versionChoices(
  instance: DatasourceInstance,
  model: string,
  signal?: AbortSignal
): Promise<VersionChoices> {
  const store = await instance.store();
  const [known, registered] = await Promise.all([
    store.listModels().then((models) => models.includes(model)),
    instance.registry?.versionNames(model, signal).then(
      (names) => ({ ...names, problem: undefined }),
      (error: unknown) => ({ versions: [], aliases: [], problem: (error as Error).message })
    ),
  ]);
  if (!known && !registered?.versions.length) {
    await requireModel(store, model);
  }
  const stored = known ? await store.listVersions(model) : [];
  const storedNames = new Set(stored.map((v) => v.version));
  const onlyRegistered = [...new Set(registered?.versions)].filter((version) => !storedNames.has(version));
  const all = sortVersions([
    ...stored,
    ...onlyRegistered.map((version) => ({ version, count: 0, firstTs: 0, lastTs: 0 })),
  ]);
  return {
    versions: all.map(({ version, count }) => ({ version, count })),
    aliases: registered?.aliases ?? [],
    ...(registered?.problem ? { registryProblem: registered.problem } : {}),
  };
}

/** `versions`: the model's versions with their stored rows, then the registry's `@alias` names (count empty). */
export async function versionsQuery(request: QueryRequest<'versions'>): Promise<FrameLike[]> {
  const choices = await versionChoices(request.instance, request.query.model, request.signal);
  const names = [...choices.versions.map((v) => v.version), ...choices.aliases];
  const counts = [...choices.versions.map((v) => v.count), ...choices.aliases.map(() => null)];
  return [
    {
      name: 'versions',
      length: names.length,
      fields: [
        { name: FIELDS.version, type: 'string', values: names, config: noConfig },
        { name: FIELDS.count, type: 'number', values: counts, config: { unit: 'short' } },
      ],
      ...(choices.registryProblem
        ? {
            meta: { notices: [{ severity: 'warning', text: `registry versions missing: ${choices.registryProblem}` }] },
          }
        : {}),
    },
  ];
}

/** `features`: the model's active features with their kind. */
export async function featuresQuery(request: QueryRequest<'features'>): Promise<FrameLike[]> {
  const features = await listFeatures(request.instance, request.query);
  return [
    {
      name: 'features',
      length: features.length,
      fields: [
        { name: FIELDS.name, type: 'string', values: features.map((f) => f.name), config: noConfig },
        { name: FIELDS.kind, type: 'string', values: features.map((f) => f.kind), config: noConfig },
      ],
    },
  ];
}

/** The active features of a model (a version narrows them to those its baseline knows, when it has one). */
export async function listFeatures(
  instance: DatasourceInstance,
  query: Pick<QueryOf<'features'>, 'model' | 'version'>
) {
  const store = await instance.store();
  await requireModel(store, query.model);
  const features = (await store.getFeatures(query.model)).filter((f) => f.active);
  const baseline = query.version ? await store.getBaseline(query.model, query.version) : undefined;
  const known = baseline ? features.filter((f) => f.name in baseline.features) : features;
  return known.map((f) => ({ name: f.name, kind: f.kind }));
}

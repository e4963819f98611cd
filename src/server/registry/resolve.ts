/**
 * The model registry as a datasource instance sees it: a product model's registered model (same name unless the
 * settings map it), `@alias` version references resolved to the version string of the prediction logs, and the
 * registry's versions and aliases as template-variable values.
 *
 * Alias resolutions are kept ALIAS_TTL_MS: a moved alias is followed by every query started more than that after the
 * move, and a dashboard of many panels asks the registry once per alias, not once per panel.
 */
import type { FrameNotice } from '../../core/query/frames';
import { aliasOf, logVersionOf, VERSION_FIELDS } from '../../core/query/registry-refs';
import { badRequest, downstreamFailure } from '../grafana/errors';
import { RegistryError, type MlflowRegistry, type RegistryVersion } from './mlflow';

/** How long an alias resolution is reused (ms): the longest a query may still read the version an alias left. */
export const ALIAS_TTL_MS = 5000;

export class ModelRegistryView {
  readonly #kept = new Map<string, { readAt: number; version: Promise<string> }>();

  constructor(
    readonly client: MlflowRegistry,
    /** Product model → registered model name, where they differ. */
    private readonly registeredNames: Record<string, string> = {},
    private readonly now: () => number = Date.now
  ) {}

  /** The registered model of a product model: the settings' mapping, else the same name. */
  registeredName(model: string): string {
    return Object.prototype.hasOwnProperty.call(this.registeredNames, model) ? this.registeredNames[model] : model;
  }

  /** The log version an alias of the model points at now (kept ALIAS_TTL_MS); a PluginError (400 / 502) otherwise. */
  resolveAlias(model: string, alias: string, signal?: AbortSignal): Promise<string> {
    const name = this.registeredName(model);
    const key = `${name}\u0000${alias}`;
    const hit = this.#kept.get(key);
    if (hit && this.now() - hit.readAt < ALIAS_TTL_MS) {
      return hit.version;
    }
    const version = this.client
      .getVersionByAlias(name, alias, signal)
      .then(logVersionOf)
      .catch((error: unknown) => this.#aliasError(name, alias, error, signal));
    this.#kept.set(key, { readAt: this.now(), version });
    version.catch(() => this.#kept.get(key)?.version === version && this.#kept.delete(key));
    return version;
  }

  /** Why an alias could not be resolved, as a 400 (no such model or alias: naming the aliases there are) or 502. */
  async #aliasError(name: string, alias: string, error: unknown, signal?: AbortSignal): Promise<never> {
    if (!(error instanceof RegistryError)) {
      throw error;
    }
    if (error.kind !== 'not_found') {
      throw downstreamFailure(`cannot resolve @${alias} of model "${name}": ${error.message}`);
    }
    const model = await this.client.getRegisteredModel(name, signal).catch(() => undefined);
    const where = `the MLflow registry at ${this.client.url}`;
    if (!model) {
      throw badRequest(
        `model "${name}" is not registered in ${where}; register it, or map the model to its registered name in the datasource settings`
      );
    }
    const known = Object.keys(model.aliases).sort();
    throw badRequest(
      `registered model "${name}" has no alias @${alias} in ${where}; ` +
        (known.length ? `its aliases: ${known.map((a) => '@' + a).join(', ')}` : 'it has no aliases yet')
    );
  }

  /** The registry's versions of a model, oldest first; a model not registered has none. */
  async versions(model: string, signal?: AbortSignal): Promise<RegistryVersion[]> {
    return this.client.searchVersions(this.registeredName(model), signal).catch((error: unknown) => {
      throw asPluginError(error);
    });
  }

  /** The log versions and `@alias` names the registry knows for a model (none when it is not registered). */
  async versionNames(model: string, signal?: AbortSignal): Promise<{ versions: string[]; aliases: string[] }> {
    const name = this.registeredName(model);
    const [versions, registered] = await Promise.all([
      this.versions(model, signal),
      this.client.getRegisteredModel(name, signal).catch((error: unknown) => {
        if (error instanceof RegistryError && error.kind === 'not_found') {
          return undefined;
        }
        throw asPluginError(error);
      }),
    ]);
    return {
      versions: versions.map(logVersionOf),
      aliases: Object.keys(registered?.aliases ?? {})
        .sort()
        .map((alias) => '@' + alias),
    };
  }
}

/** A registry failure as the status it has for a query: a missing name 400, anything else 502. */
export function asPluginError(error: unknown): unknown {
  if (!(error instanceof RegistryError)) {
    return error;
  }
  return error.kind === 'not_found' ? badRequest(error.message) : downstreamFailure(error.message);
}

/**
 * The query with every `@alias` in its version-valued fields (VERSION_FIELDS) replaced by the log version the alias
 * points at, through `registry`. A query naming an alias without a registry is a 400 saying what to configure.
 */
export async function resolveVersionAliases<Q extends object>(
  query: Q,
  registry: ModelRegistryView | undefined,
  signal?: AbortSignal
): Promise<Q> {
  const fields = query as Record<string, unknown>;
  const aliased = VERSION_FIELDS.filter((field) => typeof fields[field] === 'string' && aliasOf(fields[field]));
  if (aliased.length === 0) {
    return query;
  }
  const model = typeof fields.model === 'string' ? fields.model : '';
  if (!registry) {
    throw badRequest(
      `${aliased.map((field) => `${field} ${String(fields[field])}`).join(', ')} names a model-registry alias, but this ` +
        'datasource has no model registry; set the MLflow tracking server URL in the datasource settings'
    );
  }
  const resolved = await Promise.all(
    aliased.map(async (field) => [field, await registry.resolveAlias(model, aliasOf(fields[field] as string)!, signal)])
  );
  return { ...query, ...Object.fromEntries(resolved) };
}

/** One info notice per resolved alias ("version @champion is v2 in the MLflow registry"), for the query's frames. */
export function resolvedAliasNotices(asked: object, resolved: object): FrameNotice[] {
  const before = asked as Record<string, unknown>;
  const after = resolved as Record<string, unknown>;
  return VERSION_FIELDS.filter((field) => before[field] !== after[field]).map((field) => ({
    severity: 'info',
    text: `${field} ${String(before[field])} is ${String(after[field])} in the MLflow registry`,
  }));
}

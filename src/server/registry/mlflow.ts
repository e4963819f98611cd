/**
 * A client of an MLflow tracking server's model registry, over its REST API 2.0
 * (https://mlflow.org/docs/latest/api_reference/rest-api.html): registered models and their aliases, model versions,
 * and a version's run (its dataset inputs and artifacts, for `mlmon baseline --from-registry`).
 *
 * Every call is async I/O with a timeout and the caller's abort signal; the token travels only in the
 * `Authorization: Bearer` header and is registered for redaction, so it never reaches an error, log or response.
 * Errors say what to check: RegistryError's `kind` tells a missing name or alias (the request's fault) from an
 * unreachable or refusing server (the registry's).
 */
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RegistryTag } from '../../core/query/registry-refs';
import { redactSecrets, registerSecret } from '../grafana/secrets';

/** How long one registry call may take before it fails (ms): registry calls are small JSON answers. */
export const REGISTRY_TIMEOUT_MS = 10_000;
/** How long an artifact download may take (ms). */
export const ARTIFACT_TIMEOUT_MS = 10 * 60_000;
/** Versions read per page of model-versions/search, and the most versions of one model read at all. */
const PAGE_SIZE = 1000;
const MAX_VERSIONS = 20_000;

export type RegistryErrorKind = 'not_found' | 'unreachable' | 'refused' | 'failed';

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly kind: RegistryErrorKind
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

export interface RegistryOptions {
  /** The tracking server's URL, e.g. http://127.0.0.1:5000 (a path prefix is kept). */
  url: string;
  /** Bearer token; empty for a server without authentication. */
  token?: string;
  timeoutMs?: number;
}

/** A version of a registered model. Timestamps are epoch ms. */
export interface RegistryVersion {
  name: string;
  version: string;
  createdAt: number;
  runId: string;
  source: string;
  tags: RegistryTag[];
}

export interface RegisteredModel {
  name: string;
  createdAt: number;
  /** Alias → version number. */
  aliases: Record<string, string>;
}

/** A dataset a run logged as an input, with the context it was logged in (`training`, `evaluation`, …). */
export interface DatasetInput {
  name: string;
  context?: string;
  sourceType: string;
  /** The dataset source's JSON (for file sources `{"uri": …}`). */
  source: string;
}

export interface RegistryRun {
  runId: string;
  artifactUri: string;
  datasetInputs: DatasetInput[];
}

export interface ArtifactFile {
  path: string;
  isDir: boolean;
  size?: number;
}

type Json = Record<string, unknown>;

const asString = (value: unknown) => (typeof value === 'string' ? value : value === undefined ? '' : String(value));

function toVersion(raw: Json): RegistryVersion {
  return {
    name: asString(raw.name),
    version: asString(raw.version),
    createdAt: Number(raw.creation_timestamp),
    runId: asString(raw.run_id),
    source: asString(raw.source),
    tags: Array.isArray(raw.tags) ? (raw.tags as RegistryTag[]) : [],
  };
}

/** The MLflow client of one tracking server. */
export class MlflowRegistry {
  readonly url: string;
  readonly #token: string;
  readonly #timeoutMs: number;

  constructor(options: RegistryOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.#token = options.token ?? '';
    this.#timeoutMs = options.timeoutMs ?? REGISTRY_TIMEOUT_MS;
    registerSecret(this.#token);
  }

  /** The request's headers: the token as a Bearer credential, when there is one. */
  #headers(): Record<string, string> {
    return this.#token ? { authorization: `Bearer ${this.#token}` } : {};
  }

  /** GET `path` (below the server URL) and its answer; RegistryError with what to do otherwise. */
  async #get(path: string, signal?: AbortSignal, timeoutMs = this.#timeoutMs): Promise<Response> {
    const target = `${this.url}${path}`;
    const signals = [AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])];
    let response: Response;
    try {
      response = await fetch(target, { headers: this.#headers(), signal: AbortSignal.any(signals) });
    } catch (error) {
      if (signal?.aborted) {
        throw signal.reason ?? error;
      }
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const why =
        (error as Error).name === 'TimeoutError'
          ? `no answer within ${timeoutMs} ms`
          : (cause?.code ?? cause?.message ?? (error as Error).message);
      throw new RegistryError(
        `cannot reach the MLflow registry at ${this.url} (${why}); check the registry URL and that the tracking server runs`,
        'unreachable'
      );
    }
    if (response.ok) {
      return response;
    }
    const body = await response.text().catch(() => '');
    if (response.status === 401 || response.status === 403) {
      throw new RegistryError(
        `the MLflow registry at ${this.url} refused the request (HTTP ${response.status}); check the registry token`,
        'refused'
      );
    }
    let parsed: { error_code?: string; message?: string } = {};
    try {
      parsed = JSON.parse(body);
    } catch {
      // not MLflow's JSON error
    }
    // MLflow answers a missing model or version 404 RESOURCE_DOES_NOT_EXIST, a missing alias 400 "… alias … not found.".
    if (
      parsed.error_code === 'RESOURCE_DOES_NOT_EXIST' ||
      (parsed.error_code === 'INVALID_PARAMETER_VALUE' && /\balias\b.*\bnot found\b/i.test(parsed.message ?? ''))
    ) {
      throw new RegistryError(redactSecrets(parsed.message ?? 'not found'), 'not_found');
    }
    // A server or proxy may quote the request, credentials included, in its answer.
    const detail = redactSecrets((parsed.message ?? body).slice(0, 300));
    throw new RegistryError(
      `the MLflow registry at ${this.url} answered HTTP ${response.status} to ${path.split('?')[0]}: ${detail}`,
      'failed'
    );
  }

  async #json(path: string, signal?: AbortSignal): Promise<Json> {
    const response = await this.#get(path, signal);
    try {
      return (await response.json()) as Json;
    } catch {
      throw new RegistryError(
        `the server at ${this.url} did not answer ${path.split('?')[0]} with JSON; is the registry URL that of an MLflow tracking server?`,
        'failed'
      );
    }
  }

  /** Reachability: one registered model listed (also checks the token). */
  async ping(signal?: AbortSignal): Promise<void> {
    await this.#json('/api/2.0/mlflow/registered-models/search?max_results=1', signal);
  }

  /** registered-models/get: the model with its aliases. A missing model is a `not_found` RegistryError. */
  async getRegisteredModel(name: string, signal?: AbortSignal): Promise<RegisteredModel> {
    const answer = await this.#json(`/api/2.0/mlflow/registered-models/get?name=${encodeURIComponent(name)}`, signal);
    const raw = (answer.registered_model ?? {}) as Json;
    const aliases = Array.isArray(raw.aliases) ? (raw.aliases as Array<{ alias: string; version: string }>) : [];
    return {
      name: asString(raw.name),
      createdAt: Number(raw.creation_timestamp),
      aliases: Object.fromEntries(aliases.map((a) => [a.alias, asString(a.version)])),
    };
  }

  /** registered-models/alias: the version an alias points at now. A missing model or alias is `not_found`. */
  async getVersionByAlias(name: string, alias: string, signal?: AbortSignal): Promise<RegistryVersion> {
    const answer = await this.#json(
      `/api/2.0/mlflow/registered-models/alias?name=${encodeURIComponent(name)}&alias=${encodeURIComponent(alias)}`,
      signal
    );
    return toVersion((answer.model_version ?? {}) as Json);
  }

  /** model-versions/get: one version by its number. */
  async getVersion(name: string, version: string, signal?: AbortSignal): Promise<RegistryVersion> {
    const answer = await this.#json(
      `/api/2.0/mlflow/model-versions/get?name=${encodeURIComponent(name)}&version=${encodeURIComponent(version)}`,
      signal
    );
    return toVersion((answer.model_version ?? {}) as Json);
  }

  /** model-versions/search: every version of the model (pages of PAGE_SIZE, at most MAX_VERSIONS), oldest first. */
  async searchVersions(name: string, signal?: AbortSignal): Promise<RegistryVersion[]> {
    const filter = encodeURIComponent(`name='${name.replace(/'/g, "\\'")}'`);
    const versions: RegistryVersion[] = [];
    let pageToken = '';
    do {
      const answer = await this.#json(
        `/api/2.0/mlflow/model-versions/search?filter=${filter}&max_results=${PAGE_SIZE}` +
          (pageToken ? `&page_token=${encodeURIComponent(pageToken)}` : ''),
        signal
      );
      for (const raw of (answer.model_versions ?? []) as Json[]) {
        versions.push(toVersion(raw));
      }
      pageToken = asString(answer.next_page_token);
    } while (pageToken && versions.length < MAX_VERSIONS);
    return versions.sort((a, b) => a.createdAt - b.createdAt || Number(a.version) - Number(b.version));
  }

  /** runs/get: the run's artifact root and dataset inputs. */
  async getRun(runId: string, signal?: AbortSignal): Promise<RegistryRun> {
    const answer = await this.#json(`/api/2.0/mlflow/runs/get?run_id=${encodeURIComponent(runId)}`, signal);
    const run = (answer.run ?? {}) as { info?: Json; inputs?: { dataset_inputs?: Json[] } };
    return {
      runId,
      artifactUri: asString(run.info?.artifact_uri),
      datasetInputs: (run.inputs?.dataset_inputs ?? []).map((input) => {
        const dataset = (input.dataset ?? {}) as Json;
        const tags = (input.tags ?? []) as RegistryTag[];
        return {
          name: asString(dataset.name),
          context: tags.find((tag) => tag.key === 'mlflow.data.context')?.value,
          sourceType: asString(dataset.source_type),
          source: asString(dataset.source),
        };
      }),
    };
  }

  /** artifacts/list: the files and directories of a run's artifact directory (`''` is its root). */
  async listArtifacts(runId: string, path: string, signal?: AbortSignal): Promise<ArtifactFile[]> {
    const answer = await this.#json(
      `/api/2.0/mlflow/artifacts/list?run_id=${encodeURIComponent(runId)}&path=${encodeURIComponent(path)}`,
      signal
    );
    return ((answer.files ?? []) as Json[]).map((file) => ({
      path: asString(file.path),
      isDir: file.is_dir === true,
      size: file.file_size === undefined ? undefined : Number(file.file_size),
    }));
  }

  /**
   * Streams an artifact served by the tracking server (`mlflow-artifacts:/…` URIs, `mlflow server` with artifact
   * serving, its default) into `destination`.
   */
  async downloadArtifact(artifactUri: string, destination: string, signal?: AbortSignal): Promise<void> {
    const match = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.+)$/.exec(artifactUri);
    if (!match) {
      throw new RegistryError(
        `artifact ${artifactUri} is not served by the tracking server (mlflow-artifacts:/…); start it with ` +
          `artifact serving (mlflow server --artifacts-destination …) or give the reference with --from FILE`,
        'failed'
      );
    }
    const path = match[1].split('/').map(encodeURIComponent).join('/');
    const response = await this.#get(`/api/2.0/mlflow-artifacts/artifacts/${path}`, signal, ARTIFACT_TIMEOUT_MS);
    if (!response.body) {
      throw new RegistryError(`the MLflow registry at ${this.url} sent no content for ${artifactUri}`, 'failed');
    }
    await pipeline(
      Readable.fromWeb(response.body as import('node:stream/web').ReadableStream),
      createWriteStream(destination)
    );
  }
}

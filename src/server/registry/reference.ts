/**
 * The reference data of a registry version, for `mlmon baseline --from-registry`: the version is resolved (by alias
 * or number), then the data its run logged is found, in this order:
 * 1. a dataset input of the run logged with context `training` (`mlflow.log_input(ds, context="training")`) whose
 *    source is a CSV or Parquet file: a local path or `file://` URI readable here, a `mlflow-artifacts:/` URI, or a
 *    `runs:/RUN/PATH` URI (downloaded from the tracking server);
 * 2. a CSV or Parquet artifact of the run under `reference/`, else at the artifact root (`mlflow.log_artifact(f,
 *    artifact_path="reference")`), downloaded from the tracking server.
 * Anything else is an InputError saying what to log.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { logVersionOf, type RegistryReference } from '../../core/query/registry-refs';
import { InputError } from '../files/input-error';
import type { BaselineRegistryOrigin } from '../store/types';
import { fileFormat } from '../files/table-file';
import { RegistryError, type MlflowRegistry, type RegistryRun, type RegistryVersion } from './mlflow';

/** The registry version a reference names; a missing model, alias or version is an InputError saying so. */
export async function resolveReference(
  client: MlflowRegistry,
  reference: RegistryReference,
  signal?: AbortSignal
): Promise<RegistryVersion> {
  try {
    return 'alias' in reference
      ? await client.getVersionByAlias(reference.name, reference.alias, signal)
      : await client.getVersion(reference.name, reference.version, signal);
  } catch (error) {
    if (error instanceof RegistryError && error.kind === 'not_found') {
      const what = 'alias' in reference ? `@${reference.alias}` : `version ${reference.version}`;
      throw new InputError(
        `the MLflow registry at ${client.url} has no ${what} of model ${reference.name} (${error.message})`
      );
    }
    throw error;
  }
}

const isTable = (path: string) => {
  try {
    fileFormat(path);
    return true;
  } catch {
    return false;
  }
};

/** The `mlflow-artifacts:/` URI of a run's artifact. */
const artifactUri = (run: RegistryRun, path: string) => `${run.artifactUri.replace(/\/+$/, '')}/${path}`;

/** A training dataset input's file, as a local path or an artifact URI to download; the reason when unusable. */
async function datasetFile(
  client: MlflowRegistry,
  run: RegistryRun,
  source: string,
  signal?: AbortSignal
): Promise<{ local?: string; artifact?: string; problem?: string }> {
  let uri: string | undefined;
  try {
    uri = (JSON.parse(source) as { uri?: string }).uri;
  } catch {
    // not a file source
  }
  if (!uri) {
    return { problem: 'its source names no file' };
  }
  if (!isTable(uri)) {
    return { problem: `its source ${uri} is not a .csv or .parquet file` };
  }
  if (uri.startsWith('mlflow-artifacts:')) {
    return { artifact: uri };
  }
  const runs = /^runs:\/([^/]+)\/(.+)$/.exec(uri);
  if (runs) {
    const owner = runs[1] === run.runId ? run : await client.getRun(runs[1], signal);
    return { artifact: artifactUri(owner, runs[2]) };
  }
  const local = uri.startsWith('file:') ? fileURLToPath(uri) : uri;
  if (/^[a-z][a-z0-9+.-]*:/i.test(local)) {
    return { problem: `its source ${uri} is not readable here (only local files and the tracking server's artifacts)` };
  }
  return existsSync(local) ? { local } : { problem: `its source ${uri} does not exist on this machine` };
}

/** The run's first CSV/Parquet artifact under `reference/`, else at the root. */
async function referenceArtifact(
  client: MlflowRegistry,
  run: RegistryRun,
  signal?: AbortSignal
): Promise<string | undefined> {
  for (const dir of ['reference', '']) {
    const files = await client.listArtifacts(run.runId, dir, signal);
    const table = files.find((file) => !file.isDir && isTable(file.path));
    if (table) {
      return artifactUri(run, table.path);
    }
  }
  return undefined;
}

/**
 * The reference data file of a registry version: a local path (a dataset source readable here, or the artifact
 * downloaded into `downloadDir`) and its URI.
 */
export async function fetchReferenceData(
  client: MlflowRegistry,
  version: RegistryVersion,
  downloadDir: string,
  signal?: AbortSignal
): Promise<{ path: string; uri: string }> {
  const what = `version ${version.version} of ${version.name}`;
  if (!version.runId) {
    throw new InputError(
      `${what} has no run in the MLflow registry, so no logged reference data; register the version from a run ` +
        `that logged its training data, or give the reference with --from FILE`
    );
  }
  const run = await client.getRun(version.runId, signal);
  const problems: string[] = [];
  for (const input of run.datasetInputs.filter((i) => i.context === 'training')) {
    const found = await datasetFile(client, run, input.source, signal);
    if (found.local) {
      return { path: found.local, uri: found.local };
    }
    if (found.artifact) {
      const path = join(downloadDir, basename(found.artifact));
      await client.downloadArtifact(found.artifact, path, signal);
      return { path, uri: found.artifact };
    }
    problems.push(`training dataset "${input.name}": ${found.problem}`);
  }
  const artifact = await referenceArtifact(client, run, signal);
  if (artifact) {
    const path = join(downloadDir, basename(artifact));
    await client.downloadArtifact(artifact, path, signal);
    return { path, uri: artifact };
  }
  throw new InputError(
    `run ${version.runId} of ${what} logged no reference data` +
      (problems.length ? ` mlmon can read (${problems.join('; ')})` : '') +
      `; log it from the run as a Parquet or CSV file: mlflow.log_artifact("reference.parquet", artifact_path="reference"), ` +
      `or mlflow.log_input(mlflow.data.from_pandas(df, source="<that file>"), context="training")`
  );
}

/** The origin recorded in the baseline. */
export function registryOrigin(
  version: RegistryVersion,
  reference: RegistryReference,
  uri: string
): BaselineRegistryOrigin {
  return {
    name: version.name,
    version: version.version,
    logVersion: logVersionOf(version),
    runId: version.runId,
    ...('alias' in reference ? { alias: reference.alias } : {}),
    reference: uri,
  };
}

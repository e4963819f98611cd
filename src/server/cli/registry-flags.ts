/**
 * The model-registry flags shared by `mlmon serve` (it records alias moves) and `mlmon baseline --from-registry`:
 * the MLflow tracking server's URL, its token (from a file or $MLMON_REGISTRY_TOKEN, never a command-line value
 * that other users could read in the process list) and the registered names of product models.
 */
import { readFileSync } from 'node:fs';
import { registryProblems } from '../../core/query/settings';
import type { RegistryOptions } from '../registry/mlflow';
import { UsageError } from './command';

export const REGISTRY_FLAGS = {
  'registry-url': { type: 'string' },
  'registry-token-file': { type: 'string' },
  'registry-model': { type: 'string', multiple: true },
} as const;

export const REGISTRY_FLAGS_HELP = `Model registry (MLflow):
  --registry-url URL           MLflow tracking server, e.g. http://127.0.0.1:5000 (or $MLMON_REGISTRY_URL, else
                               MLflow's own $MLFLOW_TRACKING_URI when it is an http(s) URL)
  --registry-token-file F      file holding its bearer token (or $MLMON_REGISTRY_TOKEN, else $MLFLOW_TRACKING_TOKEN)
  --registry-model M=NAME      product model M is registered as NAME (repeat per model; default: the same name)`;

type FlagValues = { 'registry-url'?: string; 'registry-token-file'?: string; 'registry-model'?: string[] };

export interface RegistryFlags {
  client: RegistryOptions;
  /** Product model → registered model name. */
  registeredNames: Record<string, string>;
}

/** The registry the flags and environment name, or undefined when none is given. */
export function registryFromFlags(values: FlagValues, env: NodeJS.ProcessEnv = process.env): RegistryFlags | undefined {
  const tracking = /^https?:\/\//.test(env.MLFLOW_TRACKING_URI ?? '') ? env.MLFLOW_TRACKING_URI : undefined;
  const url = values['registry-url'] || env.MLMON_REGISTRY_URL || tracking;
  if (!url) {
    if (values['registry-token-file'] || values['registry-model']?.length) {
      throw new UsageError('--registry-token-file and --registry-model need --registry-url');
    }
    return undefined;
  }
  const problems = registryProblems({ registryUrl: url });
  if (problems.length > 0) {
    throw new UsageError(`--registry-url ${url}: ${problems.join(' ')}`);
  }
  let token = env.MLMON_REGISTRY_TOKEN || env.MLFLOW_TRACKING_TOKEN || '';
  const tokenFile = values['registry-token-file'];
  if (tokenFile) {
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch (error) {
      throw new UsageError(`cannot read --registry-token-file ${tokenFile}: ${(error as NodeJS.ErrnoException).code}`);
    }
  }
  const registeredNames: Record<string, string> = {};
  for (const pair of values['registry-model'] ?? []) {
    const match = /^([^=]+)=(.+)$/.exec(pair);
    if (!match) {
      throw new UsageError(`--registry-model ${pair} is not MODEL=REGISTERED_NAME`);
    }
    registeredNames[match[1]] = match[2];
  }
  return { client: { url, token }, registeredNames };
}

/**
 * Store selection shared by every command that opens the store (`serve`, `simulate`, `ingest`, `baseline`, ...).
 *
 *   import { parseArgs } from 'node:util';
 *   const { values } = parseArgs({ args: argv, options: { ...STORE_FLAGS, ...myFlags } });
 *   const store = await openStore(storeOptionsFromFlags(values));
 *
 * Embedded (default): --data-dir DIR, else $MLMON_DATA_DIR, else ./mlmon-data.
 * ClickHouse: --clickhouse URL (or $MLMON_CLICKHOUSE_URL), --clickhouse-database (default "default"),
 * --clickhouse-user (default "default"), password from $MLMON_CLICKHOUSE_PASSWORD or --clickhouse-password-file
 * (never a command-line value, which other users could read in the process list).
 * ClickHouse cluster: --clickhouse-cluster NAME and one --clickhouse-shard URL per shard (clickhouse-cluster.ts).
 */
import { readFileSync } from 'node:fs';
import { shardUrlProblems } from '../../core/query/settings';
import { InputError } from '../files/input-error';
import type { ClickHouseOptions } from './clickhouse';
import type { PredictionStore } from './types';

export type StoreOptions = { kind: 'embedded'; dataDir: string } | ({ kind: 'clickhouse' } & ClickHouseOptions);

/** `node:util` parseArgs option specs of the store flags; spread them into a command's own. */
export const STORE_FLAGS = {
  'data-dir': { type: 'string' },
  clickhouse: { type: 'string' },
  'clickhouse-database': { type: 'string' },
  'clickhouse-user': { type: 'string' },
  'clickhouse-password-file': { type: 'string' },
  'clickhouse-cluster': { type: 'string' },
  'clickhouse-shard': { type: 'string', multiple: true },
} as const;

/** Help text of the store flags, for a command's --help. */
export const STORE_FLAGS_HELP = `Store (default: embedded Parquet directory):
  --data-dir DIR                 embedded store directory (default $MLMON_DATA_DIR or ./mlmon-data)
  --clickhouse URL               use ClickHouse instead, e.g. http://127.0.0.1:8123 (or $MLMON_CLICKHOUSE_URL)
  --clickhouse-database DB       database (default "default")
  --clickhouse-user USER         user (default "default")
  --clickhouse-password-file F   file holding the password (or set $MLMON_CLICKHOUSE_PASSWORD)
  --clickhouse-cluster NAME      a sharded cluster (remote_servers NAME): tables <t>_local on every shard under
                                 Distributed tables <t>, sharded by cityHash64(model, id); needs --clickhouse-shard
  --clickhouse-shard URL         HTTP URL of one server of each shard (repeat per shard; --clickhouse is one of
                                 them): where the tables are created and altered, as there is no ON CLUSTER`;

type FlagValues = Partial<Record<keyof typeof STORE_FLAGS, string | string[] | boolean | undefined>>;

function stringFlag(values: FlagValues, name: keyof typeof STORE_FLAGS): string | undefined {
  const value = values[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Resolves the store to open from parsed flags and the environment (no I/O except a password file). */
export function storeOptionsFromFlags(values: FlagValues, env: NodeJS.ProcessEnv = process.env): StoreOptions {
  const url = stringFlag(values, 'clickhouse') ?? env.MLMON_CLICKHOUSE_URL;
  const dataDir = stringFlag(values, 'data-dir');
  if (url && dataDir) {
    throw new InputError('Choose one store: --data-dir (embedded) or --clickhouse URL, not both.');
  }
  if (!url) {
    return { kind: 'embedded', dataDir: dataDir ?? (env.MLMON_DATA_DIR || './mlmon-data') };
  }
  const passwordFile = stringFlag(values, 'clickhouse-password-file');
  let password = env.MLMON_CLICKHOUSE_PASSWORD ?? '';
  if (passwordFile) {
    try {
      password = readFileSync(passwordFile, 'utf8').trim();
    } catch (error) {
      throw new InputError(
        `Cannot read --clickhouse-password-file ${passwordFile}: ${(error as NodeJS.ErrnoException).code}`
      );
    }
  }
  return {
    kind: 'clickhouse',
    url,
    database: stringFlag(values, 'clickhouse-database') ?? 'default',
    username: stringFlag(values, 'clickhouse-user') ?? 'default',
    password,
    ...clusterFromFlags(values),
  };
}

/** The cluster options of the flags (none without --clickhouse-cluster); a shard list needs a cluster name. */
function clusterFromFlags(values: FlagValues): { cluster?: string; shardUrls?: string[] } {
  const cluster = stringFlag(values, 'clickhouse-cluster');
  const shards = values['clickhouse-shard'];
  const shardUrls = Array.isArray(shards) ? shards : typeof shards === 'string' ? [shards] : [];
  if (!cluster && shardUrls.length > 0) {
    throw new InputError('--clickhouse-shard needs --clickhouse-cluster NAME (the cluster in remote_servers).');
  }
  if (cluster && shardUrls.length === 0) {
    throw new InputError(
      `--clickhouse-cluster ${cluster} needs --clickhouse-shard URL for each shard (where the tables are created).`
    );
  }
  const [problem] = cluster ? shardUrlProblems(cluster, shardUrls) : [];
  if (problem) {
    throw new InputError(`--clickhouse-shard: ${problem}`);
  }
  return cluster ? { cluster, shardUrls } : {};
}

/**
 * Opens the selected store. The caller closes it. Each store's module is loaded here, when it is opened, so that a
 * thread that only reads the flags (`mlmon serve`'s main thread) loads neither DuckDB nor the ClickHouse client:
 * their code and native bindings cost every thread that loads them (bench/ingest/RESULTS.md, round 6).
 */
export async function openStore(options: StoreOptions): Promise<PredictionStore> {
  if (options.kind === 'embedded') {
    const { EmbeddedStore } = require('./embedded') as typeof import('./embedded');
    return EmbeddedStore.open(options.dataDir);
  }
  const { ClickHouseStore } = require('./clickhouse') as typeof import('./clickhouse');
  const { kind: _kind, ...clickhouse } = options;
  return ClickHouseStore.open(clickhouse);
}

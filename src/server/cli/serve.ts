/**
 * `mlmon serve`: runs the collector (in a thread of its own: start-collector-thread.ts) until SIGTERM or SIGINT, then
 * stops accepting, flushes the write-ahead log into the store and exits 0.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_MAX_BACKLOG_BYTES, DEFAULT_MIN_FREE_BYTES } from '../collector/defaults';
import { DEFAULT_MAX_FEATURES_PER_MODEL } from '../store/schema';
import { STORE_FLAGS, STORE_FLAGS_HELP, storeOptionsFromFlags, type StoreOptions } from '../store/open';
import { startCollectorThread } from './start-collector-thread';
import { KAFKA_FLAGS, KAFKA_FLAGS_HELP, kafkaFromFlags } from './kafka-flags';
import { REGISTRY_FLAGS, REGISTRY_FLAGS_HELP, registryFromFlags } from './registry-flags';
import { handleErrors, UsageError, type Command } from './command';
import { logHeapPeriodically } from '../heap-log';
import { reexecWithMallocSettings } from './malloc-settings';

const HELP = `Usage: mlmon serve [options]

Runs the collector: model servers POST prediction logs and late labels to it, and it consumes them from Kafka
topics when --kafka-brokers is given (the same validation, sampling, dead letters and write-ahead log).
  POST /api/v1/models/{model}/predictions   JSON array or NDJSON (Content-Type application/x-ndjson)
  POST /api/v1/models/{model}/labels        records {"id", "label", "ts"?}
  GET  /healthz   ok / degraded / failing with the problems and the backlog (503 when failing)
  GET  /metrics   Prometheus text; needs the bearer token unless --metrics-public (it names every model)

A batch is acknowledged once it is in the write-ahead log on disk. One collector per data directory and state
directory: a second one refuses to start and names the first.

On Linux it runs with MALLOC_MMAP_THRESHOLD_=65536 (glibc) unless the environment sets it: buffers of 64 KiB or
more go back to the system when freed (a peak resident set 20-70 MB lower under full ingest load).

Options:
  --listen HOST:PORT        address to listen on (default 127.0.0.1:8787)
  --token T                 accepted bearer token (visible in the process list: prefer --tokens-file
                            or $MLMON_COLLECTOR_TOKEN)
  --tokens-file F           file with one accepted token per line (# comments allowed)
  --demo                    no authentication (loopback only, for demos)
  --sample-rate R           keep this fraction of requests, chosen by a hash of the request id (default 1)
  --models A,B              accept only these models (others get 404)
  --state-dir DIR           write-ahead log, dead-letter area and the recent ids' bytes for de-duplication
                            (unlinked files, ~35 bytes per id, up to 1 000 000 ids per model; default
                            <data-dir>/collector for the embedded store, ./mlmon-collector for ClickHouse,
                            or $MLMON_STATE_DIR)
  --max-body-bytes N        largest request body (default 16777216)
  --max-batch N             most records per request (default 10000)
  --max-features-per-model N
                            most features a model may have; records that would add more are refused with 422
                            and kept as dead letters (default ${DEFAULT_MAX_FEATURES_PER_MODEL})
  --min-free-bytes N        refuse batches with 507 while the disk of the state directory has less free space
                            (default ${DEFAULT_MIN_FREE_BYTES}); ingestion resumes by itself once space is freed
  --max-backlog-bytes N     refuse batches with 503 and Retry-After while this many write-ahead log bytes are
                            not yet in the store (default ${DEFAULT_MAX_BACKLOG_BYTES}, 128 MiB: about 5 s of
                            writing at 50 000 records/s, so a full backlog drains, and a stop finishes, in seconds;
                            the store writer holds the backlog in memory, about two thirds of these bytes)
  --segment-bytes N         size at which a write-ahead log segment is sealed (default 33554432)
  --metrics-public          serve /metrics without the bearer token
  --flush-interval-ms N     how often the WAL is moved into the store (default 1000)
  --maintenance-interval-ms N
                            how often the store is compacted (one file per day; re-sent ids merged), old days
                            dropped and the default queries' counts prepared (default 300000; see mlmon maintain)
  --retention-days N        keep N whole days of predictions and labels (default: keep everything)
  --registry-interval-ms N  with --registry-url: how often the registry's aliases are polled; every change is
                            recorded as an "alias moved" event, stamped when seen (default 15000)

${STORE_FLAGS_HELP}

${KAFKA_FLAGS_HELP}

${REGISTRY_FLAGS_HELP}
`;

const FLAGS = {
  ...STORE_FLAGS,
  ...REGISTRY_FLAGS,
  ...KAFKA_FLAGS,
  'registry-interval-ms': { type: 'string' },
  listen: { type: 'string' },
  token: { type: 'string', multiple: true },
  'tokens-file': { type: 'string' },
  demo: { type: 'boolean' },
  'sample-rate': { type: 'string' },
  models: { type: 'string' },
  'state-dir': { type: 'string' },
  'max-body-bytes': { type: 'string' },
  'max-batch': { type: 'string' },
  'max-features-per-model': { type: 'string' },
  'min-free-bytes': { type: 'string' },
  'max-backlog-bytes': { type: 'string' },
  'segment-bytes': { type: 'string' },
  'metrics-public': { type: 'boolean' },
  'flush-interval-ms': { type: 'string' },
  'maintenance-interval-ms': { type: 'string' },
  'retention-days': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parses HOST:PORT (IPv6 hosts in brackets). */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new UsageError(`--listen ${JSON.stringify(text)} is not HOST:PORT (e.g. 127.0.0.1:8787)`);
  }
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** Tokens from --token, --tokens-file and $MLMON_COLLECTOR_TOKEN; `null` in demo mode. */
function resolveTokens(
  values: { token?: string[]; 'tokens-file'?: string; demo?: boolean },
  env: NodeJS.ProcessEnv
): string[] | null {
  const tokens = [...(values.token ?? [])];
  if (values['tokens-file']) {
    let text: string;
    try {
      text = readFileSync(values['tokens-file'], 'utf8');
    } catch (err) {
      throw new Error(`cannot read --tokens-file ${values['tokens-file']}: ${(err as NodeJS.ErrnoException).code}`);
    }
    tokens.push(
      ...text
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line && !line.startsWith('#'))
    );
  }
  if (env.MLMON_COLLECTOR_TOKEN) {
    tokens.push(env.MLMON_COLLECTOR_TOKEN);
  }
  if (values.demo) {
    if (tokens.length) {
      throw new UsageError('--demo turns authentication off; do not combine it with tokens');
    }
    return null;
  }
  if (!tokens.length) {
    throw new UsageError(
      'the collector needs a bearer token: give --tokens-file F, --token T or $MLMON_COLLECTOR_TOKEN (or --demo for a local demo without authentication)'
    );
  }
  if (tokens.some((t) => /\s/.test(t) || t.length < 8)) {
    throw new UsageError('bearer tokens must be at least 8 characters without spaces');
  }
  return tokens;
}

function positiveInteger(text: string | undefined, flag: string, minimum = 1): number | undefined {
  if (text === undefined) {
    return undefined;
  }
  const value = Number(text);
  if (!Number.isInteger(value) || value < minimum) {
    throw new UsageError(`--${flag} ${text} is not a whole number >= ${minimum}`);
  }
  return value;
}

function defaultStateDir(store: StoreOptions, env: NodeJS.ProcessEnv): string {
  if (env.MLMON_STATE_DIR) {
    return env.MLMON_STATE_DIR;
  }
  return store.kind === 'embedded' ? path.join(store.dataDir, 'collector') : './mlmon-collector';
}

async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  reexecWithMallocSettings();
  const env = process.env;
  const { host, port } = parseListen(values.listen ?? '127.0.0.1:8787');
  const tokens = resolveTokens(values, env);
  if (tokens === null && !isLoopback(host)) {
    throw new UsageError(
      `--demo (no authentication) only listens on loopback, not on ${host}; configure tokens to listen there`
    );
  }
  const storeOptions = storeOptionsFromFlags(values, env);
  const registry = registryFromFlags(values, env);
  const kafka = kafkaFromFlags(values, env);
  const log = (line: string) => process.stderr.write(line + '\n');
  // Signal handlers first: a SIGTERM that arrives while the WAL is replayed, or just after "listening" is printed,
  // must also end in a clean stop, not in the default "terminate now".
  let signalled: (signal: string) => void = () => undefined;
  const signal = new Promise<string>((resolve) => (signalled = resolve));
  let signals = 0;
  const onSignal = (name: string) => {
    signals += 1;
    if (signals > 1) {
      log(`mlmon serve: ${name} again, exiting without finishing the flush (the WAL is replayed on the next start)`);
      process.exit(1);
    }
    signalled(name);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  logHeapPeriodically('main');
  const thread = startCollectorThread({
    store: storeOptions,
    collector: {
      stateDir: values['state-dir'] ?? defaultStateDir(storeOptions, env),
      host,
      port,
      tokens,
      samplingRate: values['sample-rate'] === undefined ? 1 : Number(values['sample-rate']),
      models: values.models
        ?.split(',')
        .map((m) => m.trim())
        .filter(Boolean),
      dataDir: storeOptions.kind === 'embedded' ? storeOptions.dataDir : undefined,
      maxBodyBytes: positiveInteger(values['max-body-bytes'], 'max-body-bytes'),
      maxBatchRecords: positiveInteger(values['max-batch'], 'max-batch'),
      maxFeaturesPerModel: positiveInteger(values['max-features-per-model'], 'max-features-per-model'),
      minFreeBytes: positiveInteger(values['min-free-bytes'], 'min-free-bytes', 0),
      maxWalBytes: positiveInteger(values['max-backlog-bytes'], 'max-backlog-bytes'),
      segmentBytes: positiveInteger(values['segment-bytes'], 'segment-bytes'),
      metricsPublic: values['metrics-public'],
      flushIntervalMs: positiveInteger(values['flush-interval-ms'], 'flush-interval-ms'),
    },
    maintenance: {
      intervalMs: positiveInteger(values['maintenance-interval-ms'], 'maintenance-interval-ms') ?? 300_000,
      retentionDays: positiveInteger(values['retention-days'], 'retention-days'),
    },
    ...(kafka ? { kafka } : {}),
    ...(registry
      ? {
          registry: {
            ...registry,
            intervalMs: positiveInteger(values['registry-interval-ms'], 'registry-interval-ms') ?? 15_000,
          },
        }
      : {}),
  });
  const { url, description } = await thread.listening;
  if (tokens === null) {
    log('mlmon serve: WARNING: --demo: AUTHENTICATION IS OFF. Anyone who can reach this address can write data.');
  }
  log(`mlmon serve: collector listening on ${url}, writing to the ${description}`);
  if (kafka) {
    log(
      `mlmon serve: consuming Kafka topics ${kafka.routes.map((r) => r.topic).join(', ')} from ${kafka.brokers.join(',')}`
    );
  }
  if (registry) {
    log(`mlmon serve: recording alias moves of the MLflow registry at ${registry.client.url}`);
  }
  const ended = await Promise.race([signal.then((name) => ({ name })), thread.ended.then((why) => ({ why }))]);
  if ('why' in ended) {
    log(`mlmon serve: ${ended.why}; the write-ahead log is replayed on the next start`);
    return 1;
  }
  const code = await thread.stop(ended.name);
  if (code === 0) {
    log('mlmon serve: stopped cleanly');
  }
  return code;
}

export const command: Command = {
  summary: 'run the collector: HTTP and Kafka ingestion of prediction logs and late labels',
  run: handleErrors('serve', run),
};

/**
 * `mlmon retrain-hook`: receives Grafana's webhook notifications for alerts labelled action=retrain (the provisioned
 * "prediction drift for three days" rules) and requests retraining once per alert: a request file, a "Retraining
 * requested" annotation in the store, and the configured command. src/server/retrain/ does the work.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { RETRAIN_PATH, startRetrainHook } from '../retrain/server';
import { openStore, STORE_FLAGS, STORE_FLAGS_HELP, storeOptionsFromFlags, type StoreOptions } from '../store/open';
import { handleErrors, UsageError, type Command } from './command';
import { parseListen } from './serve';

const HELP = `Usage: mlmon retrain-hook [options]

Receives Grafana's webhook notifications (contact point mlmon-retrain of provisioning/alerting/) on
POST ${RETRAIN_PATH} and requests retraining once per firing alert labelled action=retrain: writes the request
(model, version, drifting features, the alert's evidence) to <state-dir>/requests/<id>.json, records a
"Retraining requested" annotation (the dashboards' events), then runs --command with the request on stdin.
Grafana authenticates with the shared secret as a bearer token (the contact point's authorization_credentials).

Options:
  --listen HOST:PORT       address to listen on (default 127.0.0.1:8790; loopback only unless --allow-remote)
  --allow-remote           allow listening on a non-loopback address (put TLS in front of it)
  --secret-file F          file holding the shared secret (or set $MLMON_RETRAIN_HOOK_SECRET); at least 16
                           characters. Never on the command line, which other users can read.
  --command PATH           executable run per request (no shell); it gets the request as JSON on stdin and
                           MLMON_RETRAIN_REQUEST (file), MLMON_RETRAIN_ID, MLMON_MODEL, MLMON_VERSION, MLMON_FEATURES
  --arg A                  an argument of the command (repeat for several)
  --command-timeout-ms N   stop a command after N ms (default 21600000, six hours)
  --state-dir DIR          handled alerts and request files (default <data-dir>/retrain-hook for the embedded
                           store, ./mlmon-retrain-hook for ClickHouse)

${STORE_FLAGS_HELP}
`;

const FLAGS = {
  ...STORE_FLAGS,
  listen: { type: 'string' },
  'allow-remote': { type: 'boolean' },
  'secret-file': { type: 'string' },
  command: { type: 'string' },
  arg: { type: 'string', multiple: true },
  'command-timeout-ms': { type: 'string' },
  'state-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Shorter secrets are refused: the hook can start a retraining job. */
export const MIN_SECRET_LENGTH = 16;

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function readSecret(file: string | undefined, env: NodeJS.ProcessEnv): string {
  let secret = env.MLMON_RETRAIN_HOOK_SECRET ?? '';
  if (file) {
    try {
      secret = readFileSync(file, 'utf8').trim();
    } catch (error) {
      throw new UsageError(`cannot read --secret-file ${file}: ${(error as NodeJS.ErrnoException).code}`);
    }
  }
  if (secret.length < MIN_SECRET_LENGTH || /\s/.test(secret)) {
    throw new UsageError(
      `the hook needs a shared secret of at least ${MIN_SECRET_LENGTH} characters without spaces: give --secret-file F ` +
        'or $MLMON_RETRAIN_HOOK_SECRET (e.g. openssl rand -hex 24), and the same to Grafana as $MLMON_RETRAIN_HOOK_SECRET'
    );
  }
  return secret;
}

function stateDir(given: string | undefined, store: StoreOptions): string {
  return given ?? (store.kind === 'embedded' ? path.join(store.dataDir, 'retrain-hook') : './mlmon-retrain-hook');
}

async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const { host, port } = parseListen(values.listen ?? '127.0.0.1:8790');
  if (!isLoopback(host) && !values['allow-remote']) {
    throw new UsageError(
      `--listen ${host} is not loopback: the hook starts retraining jobs, so it listens on loopback unless --allow-remote is given`
    );
  }
  const secret = readSecret(values['secret-file'], process.env);
  const timeout = values['command-timeout-ms'] === undefined ? 6 * 3600_000 : Number(values['command-timeout-ms']);
  if (!Number.isInteger(timeout) || timeout < 1) {
    throw new UsageError(`--command-timeout-ms ${values['command-timeout-ms']} is not a whole number of milliseconds`);
  }
  if (values.arg && !values.command) {
    throw new UsageError('--arg needs --command');
  }
  const storeOptions = storeOptionsFromFlags(values);
  const store = await openStore(storeOptions);
  const log = (line: string) => process.stderr.write(line + '\n');
  const hook = await startRetrainHook({
    store,
    secret,
    stateDir: stateDir(values['state-dir'], storeOptions),
    command: values.command ? { path: values.command, args: values.arg ?? [], timeoutMs: timeout } : undefined,
    host,
    port,
    log,
  }).catch(async (error) => {
    await store.close();
    throw error;
  });
  log(
    `mlmon retrain-hook: listening on ${hook.url}${RETRAIN_PATH}, ${values.command ? `running ${values.command}` : 'writing request files only (no --command)'}, store: ${store.description}`
  );
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log(`mlmon retrain-hook: ${signal}: stopping (a command still running is stopped and runs again at the next start)`);
  await hook.stop();
  await store.close();
  return 0;
}

export const command: Command = {
  summary: "receive Grafana's webhook for action=retrain alerts and run the retraining command once per alert",
  run: handleErrors('retrain-hook', run),
};

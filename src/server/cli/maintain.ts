/**
 * `mlmon maintain`: one round of store upkeep, for a cron job or after a bulk load: drops days past retention,
 * compacts every model (one file per day, re-sent ids merged), then prepares the counts of the default drift
 * queries (src/server/counting/prepare-counts.ts). `mlmon serve` runs the same every --maintenance-interval-ms.
 */
import { parseArgs } from 'node:util';
import { prepareCounts } from '../counting/prepare-counts';
import { maintenanceRound } from '../store/maintenance';
import { openStore, STORE_FLAGS, STORE_FLAGS_HELP, storeOptionsFromFlags } from '../store/open';
import { handleErrors, UsageError, type Command } from './command';

const HELP = `Usage: mlmon maintain [options]

Compacts the store (one file per day, re-sent ids merged), drops old days and prepares the counts the default
drift, severity and distribution queries read, for every model. Safe while the collector and Grafana run.

Options:
  --retention-days N        keep N whole days of predictions and labels (default: keep everything)
  --no-prepare              only compact and apply retention

${STORE_FLAGS_HELP}
`;

const FLAGS = {
  ...STORE_FLAGS,
  'retention-days': { type: 'string' },
  'no-prepare': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const retention = values['retention-days'];
  const retentionDays = retention === undefined ? undefined : Number(retention);
  if (retentionDays !== undefined && !(Number.isInteger(retentionDays) && retentionDays >= 1)) {
    throw new UsageError(`--retention-days ${retention} is not a whole number of days >= 1`);
  }
  const log = (line: string) => process.stderr.write(`mlmon maintain: ${line}\n`);
  const store = await openStore(storeOptionsFromFlags(values));
  try {
    await maintenanceRound(store, {
      retentionDays,
      log,
      lockWaitMs: 30 * 60_000,
      afterCompaction: values['no-prepare']
        ? undefined
        : async (model) => {
            const started = Date.now();
            const prepared = await prepareCounts(store, model);
            log(
              prepared.baseline === undefined
                ? `${model}: no baseline yet, no counts to prepare (create one with \`mlmon baseline\`)`
                : `${model}: counts of ${prepared.columns} columns on baseline ${prepared.baseline} ready (${Date.now() - started} ms)`
            );
          },
    });
    return 0;
  } finally {
    await store.close();
  }
}

export const command: Command = {
  summary: 'compact the store, apply retention and prepare the counts of the default queries',
  run: handleErrors('maintain', run),
};

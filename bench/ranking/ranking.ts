/**
 * `ranking` over 30 days of `mlmon simulate` traffic on the embedded store, three ways, in one process:
 *
 * - cold: nothing prepared, every row of the 30 day files is read (the unpivot statement sums the output per bin);
 * - maintenance as it was: the counts of the default drift queries prepared (prepare-counts.ts `drift` columns), which
 *   ranking could not use;
 * - maintenance now: prepareCounts, which also prepares ranking's columns.
 *
 *   node --import tsx bench/ranking/ranking.ts <simulated data dir> <work dir>
 *
 * Each way runs on its own copy of the data (prepared counts are kept beside the day files) with a fresh store.
 * Prints one JSON object on stdout.
 */
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseQuery, type QueryOf } from '../../src/core/query/queryTypes';
import { createInstance } from '../../src/server/backend/instances';
import { localInstanceSettings, parseSettings } from '../../src/server/backend/settings';
import { chooseBaseline } from '../../src/server/counting/targets';
import { prepareColumns, prepareCounts, preparedColumns } from '../../src/server/counting/prepare-counts';
import { rankingQuery } from '../../src/server/queries/ranking';
import { EmbeddedStore } from '../../src/server/store/embedded';

const MODEL = 'credit_risk';

const seconds = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e9;

/** Prepares a copy of the data the given way, then times one ranking over every stored day in a fresh store. */
async function measure(source: string, dir: string, prepare: (store: EmbeddedStore) => Promise<unknown>) {
  rmSync(dir, { recursive: true, force: true });
  cpSync(source, dir, { recursive: true });
  const preparing = await EmbeddedStore.open(dir);
  const prepareStarted = process.hrtime.bigint();
  await prepare(preparing);
  const prepareSeconds = seconds(prepareStarted);
  const days = await preparing.predictionDays(MODEL, { from: 0, to: Number.MAX_SAFE_INTEGER });
  await preparing.close();
  const store = await EmbeddedStore.open(dir);
  const instance = createInstance(
    parseSettings(localInstanceSettings({ dataDirectory: dir }, {}, 'r')),
    async () => store
  );
  const range = { from: days[0].start, to: days[days.length - 1].end };
  const started = process.hrtime.bigint();
  const [frame] = await rankingQuery({
    query: parseQuery({ refId: 'R', queryType: 'ranking', model: MODEL }) as QueryOf<'ranking'>,
    range,
    intervalMs: 3_600_000,
    maxDataPoints: 1000,
    instance,
    signal: new AbortController().signal,
  });
  const rankingSeconds = seconds(started);
  await instance.dispose();
  rmSync(dir, { recursive: true, force: true });
  return { days: days.length, prepareSeconds, rankingSeconds, features: frame.length };
}

async function main(source: string, work: string): Promise<void> {
  const cold = await measure(source, join(work, 'cold'), async () => undefined);
  const before = await measure(source, join(work, 'before'), async (store) => {
    const baseline = await chooseBaseline(store, MODEL, undefined, undefined);
    await prepareColumns(store, MODEL, (await preparedColumns(store, MODEL, baseline)).drift);
  });
  const now = await measure(source, join(work, 'now'), (store) => prepareCounts(store, MODEL));
  process.stdout.write(`${JSON.stringify({ cold, before, now })}\n`);
}

main(process.argv[2], process.argv[3]).catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : String(error));
  process.exit(1);
});

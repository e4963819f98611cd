/**
 * The read of prepared cells on ClickHouse (clickhouse-hours.ts preparedCellsSql: each cell's hour looked up in a
 * `transform` hash table of the fresh hours and their preparations) against the former filter, `(prepared_at = p AND
 * has(<hours of p>, hour)) OR …` per preparation, which compared every cell with every fresh hour. Both run in the
 * same process on the same server or cluster, interleaved, over the same fresh hours of every counts key the model
 * has, for the whole range in one bucket and for the last 7 days in 1 h buckets; the answers are compared.
 *
 *   node --import tsx bench/queries/prepared-filter.ts <url> <database> <model> <runs> [<cluster> <shardUrl>...]
 *
 * Prints one JSON object: per case the cells the answer has, the median and p95 milliseconds of each statement and
 * the ratio former / current.
 */
import { ClickHouseStore } from '../../src/server/store/clickhouse';
import { freshHours, HOUR_MS, preparedCellsParams, preparedCellsSql } from '../../src/server/counting/clickhouse-hours';
import {
  bucketStartSql,
  epochGrid,
  gridParams,
  wholeRangeGrid,
  type BucketGrid,
} from '../../src/server/counting/window';
import type { Params } from '../../src/server/store/sql-params';
import { percentile } from './cases';

/** The former statement (before preparedCellsSql's transform), as the baseline: one has() per preparation. */
function formerCellsSql(grid: BucketGrid, keyCount: number, preparations: number): string {
  const keys = Array.from({ length: keyCount }, (_, i) => `{key_${i}}`).join(', ');
  const prepared = Array.from(
    { length: preparations },
    (_, j) => `(prepared_at = {prepared_${j}} AND has({hours_${j}}, hour))`
  ).join(' OR ');
  return (
    `SELECT counts_key, toInt64(${bucketStartSql(grid, 'hour')}) AS bucket, bin, category, sum(n) AS n, sum(s) AS s ` +
    `FROM mlmon_count_cells WHERE model = {model} AND counts_key IN (${keys}) AND hour >= {from} AND hour < {to} ` +
    `AND (${prepared}) GROUP BY counts_key, bucket, bin, category`
  );
}

/** The former statement's parameters: the fresh hours grouped by preparation. */
function formerParams(params: Params): { params: Params; preparations: number } {
  const hours = params.fresh_hours as readonly number[];
  const preparedAt = params.fresh_prepared as readonly number[];
  const byPreparation = new Map<number, number[]>();
  hours.forEach((hour, i) => byPreparation.set(preparedAt[i], [...(byPreparation.get(preparedAt[i]) ?? []), hour]));
  const former: Params = { model: params.model, from: params.from, to: params.to };
  for (const [name, value] of Object.entries(params).filter(([name]) => name.startsWith('key_'))) {
    former[name] = value;
  }
  [...byPreparation].forEach(([at, ofPreparation], j) => {
    former[`prepared_${j}`] = at;
    former[`hours_${j}`] = ofPreparation;
  });
  return { params: former, preparations: byPreparation.size };
}

type Cell = { counts_key: string; bucket: number; bin: number; category: string; n: number; s: number };

/**
 * Whether two answers hold the same cells: the same counts, and sums equal to 1e-9 relative (the shards' partial sums
 * are added in whatever order they arrive, so the last digits of a sum over many hours may differ between runs).
 */
function sameCells(a: Cell[], b: Cell[]): boolean {
  const key = (c: Cell) => `${c.counts_key}|${c.bucket}|${c.bin}|${c.category}`;
  const of = new Map(b.map((c) => [key(c), c]));
  return (
    a.length === b.length &&
    a.every((c) => {
      const other = of.get(key(c));
      const [s, t] = [Number(c.s), Number(other?.s)];
      return Number(c.n) === Number(other?.n) && Math.abs(s - t) <= 1e-9 * Math.max(1, Math.abs(s), Math.abs(t));
    })
  );
}

async function main([url, database, model, runsText, cluster, ...shardUrls]: string[]): Promise<void> {
  const store = await ClickHouseStore.open({ url, database, ...(cluster ? { cluster, shardUrls } : {}) });
  try {
    const keys = (
      await store.query<{ counts_key: string }>(
        'SELECT DISTINCT counts_key FROM mlmon_count_hours WHERE model = {model} ORDER BY counts_key',
        { model }
      )
    ).map((row) => row.counts_key);
    const [{ last }] = await store.query<{ last: number }>(
      'SELECT max(hour) AS last FROM mlmon_count_hours WHERE model = {model}',
      { model }
    );
    const end = Number(last) + HOUR_MS;
    const cases = [
      { name: 'whole range, one bucket', range: { from: 0, to: end }, grid: wholeRangeGrid({ from: 0, to: end }) },
      { name: 'last 7 days, 1 h buckets', range: { from: end - 7 * 24 * HOUR_MS, to: end }, grid: epochGrid(HOUR_MS) },
    ];
    const results = [];
    for (const { name, range, grid } of cases) {
      const hours = await freshHours(store, model, keys, range);
      const params = { ...preparedCellsParams(model, keys, hours), ...gridParams(grid) };
      const former = formerParams(params);
      const statements = {
        current: () => store.query<Cell>(preparedCellsSql(grid, keys.length), params),
        former: () =>
          store.query<Cell>(formerCellsSql(grid, keys.length, former.preparations), {
            ...former.params,
            ...gridParams(grid),
          }),
      };
      const timings: Record<keyof typeof statements, number[]> = { current: [], former: [] };
      const answers: Partial<Record<keyof typeof statements, Cell[]>> = {};
      for (let run = 0; run < Number(runsText); run++) {
        for (const which of ['former', 'current'] as const) {
          const started = performance.now();
          const cells = await statements[which]();
          timings[which].push(performance.now() - started);
          answers[which] ??= cells;
        }
      }
      const median = (ms: number[]) => percentile(ms, 50)!;
      const summary = (ms: number[]) => ({ medianMs: median(ms), p95Ms: percentile(ms, 95)! });
      results.push({
        name,
        keys: keys.length,
        hours: hours.length,
        preparations: former.preparations,
        cells: answers.current!.length,
        sameAnswer: sameCells(answers.current!, answers.former!),
        current: summary(timings.current),
        former: summary(timings.former),
        formerOverCurrent: median(timings.former) / median(timings.current),
      });
    }
    process.stdout.write(
      JSON.stringify({ store: cluster ? `${shardUrls.length}-shard cluster` : 'server', results }) + '\n'
    );
  } finally {
    await store.close();
  }
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error);
  process.exitCode = 1;
});

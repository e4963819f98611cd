/**
 * Where the cold statement's time goes (bench/cold/RESULTS.md, "Where the time goes"): the store's counting statement
 * over the most recent day files of a bench/cold data set, against reading the same columns, and DuckDB's `histogram`
 * with 1, 3 and the baseline's edges per numeric column, each timed as this process's CPU (DuckDB's threads
 * included), median of 3, in a DuckDB configured as the store's (256 MB, 2 threads).
 *
 *   node --import tsx bench/cold/breakdown.ts <dataDir> [days]
 *
 * Prints one JSON object: per variant the CPU ms and the ns per counted value (rows × columns).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { binnedCountsPlan } from '../../src/server/counting/binned-counts';
import { chooseBaseline, countedColumn, featureTargets } from '../../src/server/counting/targets';
import { epochGrid, gridParams } from '../../src/server/counting/window';
import { duckdbStringLiteral, runQuery } from '../../src/server/store/duckdb-sql';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { bindParams, type Params } from '../../src/server/store/sql-params';
import { MODEL, storeDir } from '../queries/generate';

const HOUR_MS = 3_600_000;

/** The Parquet files of the last `days` day directories. */
function lastDayFiles(dataDir: string, days: number): string[] {
  const root = join(storeDir(dataDir), 'models', MODEL, 'predictions');
  return readdirSync(root)
    .sort()
    .slice(-days)
    .flatMap((day) =>
      readdirSync(join(root, day))
        .filter((name) => name.endsWith('.parquet'))
        .map((name) => join(root, day, name))
    );
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main([dataDir, days = '1']: string[]): Promise<void> {
  const store = await EmbeddedStore.open(storeDir(dataDir));
  const files = lastDayFiles(dataDir, Number(days));
  const baseline = await chooseBaseline(store, MODEL, undefined, undefined);
  const columns = (await featureTargets(store, MODEL, baseline, undefined)).map((target) => countedColumn(target));
  const relation = await store.fileRelation(MODEL, files);
  await store.close();
  const grid = epochGrid(HOUR_MS);
  const [statement] = binnedCountsPlan('duckdb', relation, columns, {
    where: { sql: '', params: gridParams(grid) },
    grid,
  }).statements;
  const source = `read_parquet([${files.map(duckdbStringLiteral).join(', ')}])`;
  const numeric = columns.filter((column) => column.kind === 'numeric');
  const histograms = (edgesOf: (edges: number[]) => number[]) =>
    `SELECT ${numeric
      .map((column) => `histogram(${column.column}, [${edgesOf([...new Set(column.edges)]).join(', ')}]::DOUBLE[])`)
      .join(', ')} FROM ${source}`;

  const instance = await DuckDBInstance.create(':memory:', { memory_limit: '256MB', threads: '2' });
  const connection = await instance.connect();
  const [{ rows }] = await runQuery<{ rows: number }>(connection, `SELECT count(*) AS rows FROM ${source}`);
  const cpuMs = async (sql: string, params: Params = {}) => {
    const bound = bindParams(sql, params, 'duckdb');
    const runs: number[] = [];
    for (let run = 0; run < 3; run++) {
      const before = process.cpuUsage();
      await runQuery(connection, bound.sql, bound.values);
      const used = process.cpuUsage(before);
      runs.push((used.user + used.system) / 1000);
    }
    return median(runs);
  };
  const numericColumns = numeric.length;
  const variants: Array<{ variant: string; columns: number; sql: string; params?: Params }> = [
    {
      variant: 'read every numeric column (count)',
      columns: numericColumns,
      sql: `SELECT ${numeric.map((column) => `count(${column.column})`).join(', ')} FROM ${source}`,
    },
    { variant: 'histogram, 1 edge', columns: numericColumns, sql: histograms((edges) => edges.slice(4, 5)) },
    {
      variant: 'histogram, 3 edges',
      columns: numericColumns,
      sql: histograms((edges) => edges.filter((_edge, k) => k % 4 === 0)),
    },
    { variant: "histogram, the baseline's edges", columns: numericColumns, sql: histograms((edges) => edges) },
    {
      variant: 'the floor (sum of every feature column and ts)',
      columns: columns.length + 1,
      sql: `SELECT ${columns
        .map((column) => (column.kind === 'numeric' ? `sum(${column.column})` : `sum(length(${column.column}))`))
        .join(', ')}, sum(ts) FROM ${source}`,
    },
    {
      variant: 'the store statement (every feature, per hour)',
      columns: columns.length,
      sql: statement.sql,
      params: statement.params,
    },
  ];
  const results = [];
  for (const { variant, columns: counted, sql, params } of variants) {
    const ms = await cpuMs(sql, params);
    results.push({ variant, cpuMs: Math.round(ms), nsPerValue: +((ms * 1e6) / (rows * counted)).toFixed(1) });
  }
  connection.closeSync();
  instance.closeSync();
  process.stdout.write(JSON.stringify({ files: files.length, rows, results }) + '\n');
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error instanceof Error ? error.stack : String(error));
  process.exit(1);
});

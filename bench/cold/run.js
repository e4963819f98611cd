#!/usr/bin/env node
// The cold-path benchmark (issue 11, item 5): drift over data nothing has counted yet, against the read floor of
// the same files measured in the same run, and the first query after new data. Writes results.json and RESULTS.md.
//
// Data (bench/queries/generate.ts, 32 numeric + 8 categorical features, generated when missing):
//   one day:   BENCH_COLD_DAY_ROWS (default 1 000 000) predictions in one day file;
//   30 days:   BENCH_COLD_ROWS (default 10 000 000) predictions over 30 day files.
// BENCH_COLD_ROUNDS (default 3) alternations of floor and cold per case; BENCH_DATA_DIR (default the system temp
// dir) holds the data, deleted afterwards unless BENCH_KEEP_DATA=1.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
const DAY_MS = 86_400_000;
const START = Date.UTC(2026, 10, 15); // bench/queries/generate.ts START
const ROUNDS = Number(process.env.BENCH_COLD_ROUNDS ?? 3);
const BASE_DIR = process.env.BENCH_DATA_DIR ?? os.tmpdir();
const FEATURES = { BENCH_NUMERIC: '32', BENCH_CATEGORICAL: '8' };
const DATASETS = {
  day: { days: 1, rows: Number(process.env.BENCH_COLD_DAY_ROWS ?? 1_000_000) },
  month: { days: 30, rows: Number(process.env.BENCH_COLD_ROWS ?? 10_000_000) },
};
const loadStart = os.loadavg();

const dirOf = (name) => path.join(BASE_DIR, `mlmon-bench-cold-${name}-${DATASETS[name].rows}`);
const envOf = (name) => ({ ...process.env, ...FEATURES, BENCH_DAYS: String(DATASETS[name].days) });

/** Runs a TypeScript bench script that prints one JSON object last on stdout; returns it. */
function runJson(name, script, args) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, script), ...args], {
    cwd: ROOT,
    env: envOf(name),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 24,
  });
  if (result.status !== 0) {
    throw new Error(`${script} ${args.join(' ')} failed (exit ${result.status ?? result.signal}); see above`);
  }
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

function ensureData(name) {
  const dir = dirOf(name);
  if (fs.existsSync(path.join(dir, 'store', 'models', 'bench', 'baselines'))) {
    console.log(`data ${name}: reusing ${dir}`);
    return;
  }
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`data ${name}: generating ${DATASETS[name].rows} rows over ${DATASETS[name].days} day(s) in ${dir}`);
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'bench/queries/measure.ts'), 'generate', dir, String(DATASETS[name].rows)],
    { cwd: ROOT, env: envOf(name), stdio: 'inherit' }
  );
  if (result.status !== 0) {
    throw new Error(`generating ${name} failed (exit ${result.status ?? result.signal})`);
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Floor and cold drift over [from, to) of a dataset, alternated ROUNDS times; medians and their ratios. */
function coldCase(label, name, from, to) {
  const floors = [];
  const colds = [];
  for (let round = 0; round < ROUNDS; round++) {
    floors.push(runJson(name, 'bench/cold/measure.ts', ['floor', dirOf(name), String(from), String(to)]));
    colds.push(runJson(name, 'bench/cold/measure.ts', ['cold', dirOf(name), String(from), String(to)]));
    console.log(
      `${label}, round ${round + 1}: floor ${floors[round].ms.toFixed(0)} ms, cold ${colds[round].ms.toFixed(0)} ms`
    );
  }
  const floor = { ms: median(floors.map((f) => f.ms)), cpuMs: median(floors.map((f) => f.cpuMs)) };
  const cold = { ms: median(colds.map((c) => c.ms)), cpuMs: median(colds.map((c) => c.cpuMs)) };
  return { label, floor, cold, ratio: cold.ms / floor.ms, cpuRatio: cold.cpuMs / floor.cpuMs, floors, colds };
}

function main() {
  for (const name of Object.keys(DATASETS)) {
    ensureData(name);
  }
  const monthEnd = START + 30 * DAY_MS;
  const cases = [
    coldCase(`drift, 24 h, ${DATASETS.day.rows} rows × 40 features (one file)`, 'day', START, START + DAY_MS),
    coldCase(`drift, whole range, ${DATASETS.month.rows} rows × 40 features over 30 days`, 'month', START, monthEnd),
  ];
  const lastDay = coldCase('drift, last 24 h of the 30 days (one file)', 'month', monthEnd - DAY_MS, monthEnd);
  const afterNewData = runJson('month', 'bench/cold/measure.ts', ['after-new-data', dirOf('month')]);
  console.log(`after new data: ${JSON.stringify(afterNewData)}`);
  const results = {
    date: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      node: process.versions.node,
      loadAverage: { start: loadStart, end: os.loadavg() },
    },
    rounds: ROUNDS,
    cases: [...cases, lastDay],
    afterNewData,
  };
  fs.writeFileSync(path.join(__dirname, 'results.json'), JSON.stringify(results, null, 1) + '\n');
  const resultsFile = path.join(__dirname, 'RESULTS.md');
  fs.writeFileSync(resultsFile, `${report(results, lastDay)}\n${keptSections(resultsFile)}`);
  if (process.env.BENCH_KEEP_DATA !== '1') {
    for (const name of Object.keys(DATASETS)) {
      fs.rmSync(dirOf(name), { recursive: true, force: true });
    }
  }
}

/** The line after which RESULTS.md holds sections written by hand (comparisons between runs), kept by a new run. */
const KEPT_MARKER =
  '<!-- Written by hand below this line: bench/cold/run.js keeps it when it writes this file again. -->';

/** The hand-written tail of the results file (from KEPT_MARKER on), or the marker alone. */
function keptSections(file) {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const at = text.indexOf(KEPT_MARKER);
  return at === -1 ? `${KEPT_MARKER}\n` : text.slice(at);
}

function report(results, lastDay) {
  const ms = (value) => value.toFixed(0);
  const rows = results.cases.map(
    (c) =>
      `| ${c.label} | ${ms(c.floor.ms)} | ${ms(c.cold.ms)} | **${c.ratio.toFixed(2)}×** | ${ms(c.floor.cpuMs)} | ` +
      `${ms(c.cold.cpuMs)} | **${c.cpuRatio.toFixed(2)}×** |`
  );
  const a = results.afterNewData;
  return `# Cold-path benchmark (issue 11, item 5)

\`npm run bench -- cold\` (bench/cold/run.js), ${results.date}; ${results.machine.cpus} cores, Node ${results.machine.node},
load average ${results.machine.loadAverage.start.map((l) => l.toFixed(1)).join(' ')} at the start and
${results.machine.loadAverage.end.map((l) => l.toFixed(1)).join(' ')} at the end (a shared machine: the CPU-time
ratios are the steadier figure).

- **floor**: a fresh DuckDB reads every feature column (and \`ts\`) of the same files once, summing each so that no
  column is answered from the Parquet statistics.
- **cold**: a datasource instance with its store open answers drift (every feature, one bucket over the range) with
  nothing counted beside the files: the data are cold, not the process.
- Medians of ${results.rounds} alternations; CPU = this process's user + system time, DuckDB's threads included.

| case | floor ms | cold ms | cold / floor | floor CPU ms | cold CPU ms | cold / floor (CPU) |
| --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

## The first query after new data

The 30-day store prepared (\`prepareCounts\`, as \`mlmon maintain\` leaves it), drift over the last 24 h answered,
then a flush of 10 000 records lands in the last day as a new file, and the same query runs again, twice:

| prepared | first after the flush | again | the same day cold (above) |
| --- | --- | --- | --- |
| ${ms(a.prepared.ms)} ms | **${ms(a.firstAfterNewData.ms)} ms** | ${ms(a.again.ms)} ms | ${ms(lastDay.cold.ms)} ms |
`;
}

main();

#!/usr/bin/env node
// The issue-5 query benchmark: the query handlers on the embedded store (in-process and through the built backend
// executable over gRPC), the same queries on ClickHouse, and Evidently's data-drift report on the same rows.
// Writes results.json and RESULTS.md here.
//
// Environment: BENCH_ROWS (default 10000000 predictions over 10 days), BENCH_WARM (warm repetitions of the 24 h
// window, default 20), BENCH_DATA_DIR (default a folder under the system temp dir; generated when it holds no
// baseline yet), BENCH_KEEP_DATA=1 keeps it afterwards (it is deleted otherwise: ~2 GB at 10 M rows),
// BENCH_EVIDENTLY_ALL=1 gives Evidently every row (compared with drift over the whole range) instead of the most
// recent day (compared with drift over the 24 h window),
// BENCH_EXECUTABLE_ALL=0 sends only the 24 h window cases to the backend executable (by default every case goes),
// MLMON_EVIDENTLY_PYTHON (default
// /tmp/mlmon-evidently/bin/python: a venv with evidently, pandas<3 and pyarrow).
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { DATA_DIR, ROWS, WARM, machine } = require('./environment');
const {
  PREDICTIONS_DIR,
  agreement,
  directorySize,
  ensureData,
  runCold,
  runJson,
  runMaintain,
  savedPhase,
  runThenRemoveData,
  tsx,
  writeResults,
} = require('./phases');
const EVIDENTLY_ALL = process.env.BENCH_EVIDENTLY_ALL === '1';
const EXECUTABLE_ALL = process.env.BENCH_EXECUTABLE_ALL !== '0';
const PYTHON = process.env.MLMON_EVIDENTLY_PYTHON ?? '/tmp/mlmon-evidently/bin/python';
const GNU_TIME = '/usr/bin/time';
const TARGETS = {
  driftWholeRangeMs: 1500,
  severity7DaysHourlyMs: 2000,
  window24hWarmP95Ms: 150,
  backendPeakRssMB: 400,
};

/** Evidently on the most recent day's files (or all of them), with its peak memory from GNU time when installed. */
function runEvidently() {
  const days = fs
    .readdirSync(PREDICTIONS_DIR)
    .sort()
    .slice(EVIDENTLY_ALL ? 0 : -1);
  const files = days.flatMap((day) =>
    fs
      .readdirSync(path.join(PREDICTIONS_DIR, day))
      .filter((name) => name.endsWith('.parquet'))
      .map((name) => path.join(PREDICTIONS_DIR, day, name))
  );
  const args = [path.join(__dirname, 'evidently_drift.py'), path.join(DATA_DIR, 'reference.parquet'), ...files];
  if (!fs.existsSync(GNU_TIME)) {
    return { ...runJson(PYTHON, args, `Evidently on ${days.join(', ')}`).value, days };
  }
  const usage = path.join(os.tmpdir(), `mlmon-bench-queries-usage-${process.pid}`);
  const withUsage = () => {
    const measured = runJson(GNU_TIME, ['-f', '%U %S %M', '-o', usage, PYTHON, ...args], `Evidently on ${days}`);
    const [user, system, maxKilobytes] = fs.readFileSync(usage, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    fs.rmSync(usage);
    return { ...measured.value, days, cpuSeconds: user + system, peakRssMB: maxKilobytes / 1024 };
  };
  return savedPhase('evidently', 'Evidently', withUsage);
}

const byName = (measured, prefix) => measured.cases.find((c) => c.name.startsWith(prefix));

/**
 * The aims, on the store as the collector keeps it (compacted, counts prepared): the first run in a fresh process
 * for the whole range and the severity matrix, warm p95 for the 24 h window; each also with nothing prepared (cold).
 */
function verdicts(embedded, executable, cold) {
  const verdict = (value, target) => (value === undefined ? undefined : { value, target, met: value <= target });
  const first = (prefix, target) => ({
    ...verdict(byName(embedded, prefix)?.firstMs, target),
    cold: byName(cold, prefix)?.firstMs,
  });
  const window = byName(embedded, 'drift, 24 h window');
  return {
    driftWholeRange: first('drift, all features, whole range', TARGETS.driftWholeRangeMs),
    severity7DaysHourly: first('severity matrix', TARGETS.severity7DaysHourlyMs),
    window24hWarmP95: {
      query: window?.name,
      ...verdict(window?.warmP95Ms, TARGETS.window24hWarmP95Ms),
      cold: byName(cold, 'drift, 24 h window')?.firstMs,
    },
    backendPeakRss: {
      ...verdict(Math.max(embedded.peakRssMB, executable.peakRssMB), TARGETS.backendPeakRssMB),
      cold: Math.max(...cold.cases.map((c) => c.peakRssMB)),
    },
  };
}

function markdown(results) {
  const m = results.machine;
  const ms = (value) => (value === undefined ? '—' : value.toFixed(0));
  const failed = (c) => `failed after ${ms(c.afterMs)} ms: ${c.error.slice(0, 80)}`;
  const withP95 = (c, warmed) =>
    !c ? 'not run' : c.error ? failed(c) : `${ms(c.firstMs)}${warmed ? ` (p95 ${ms(c.warmP95Ms)})` : ''}`;
  const rows = results.embedded.cases.map((c) => {
    const warmed = (c.warmMs ?? []).length > 0;
    const cold = results.cold.cases.find((e) => e.name === c.name);
    const exe = results.executable.cases.find((e) => e.name === c.name);
    const ch = results.clickhouse.cases.find((e) => e.name === c.name);
    const same = [cold, ch].map((other) => (other?.output && c.output ? agreement(c.output, other.output) : '—'));
    const cells = [
      c.name,
      withP95(cold, false),
      c.error ? failed(c) : ms(c.firstMs),
      warmed ? `${ms(c.warmMedianMs)} / ${ms(c.warmP95Ms)} (${c.warmMs.length} runs)` : '—',
      withP95(exe, warmed),
      withP95(ch, warmed),
      same.join('; '),
    ];
    return `| ${cells.join(' | ')} |`;
  });
  const unavailable = results.embedded.unavailable;
  const v = results.targets;
  const line = (label, verdict, unit) =>
    verdict && verdict.value !== undefined
      ? `| ${label} | ${verdict.value.toFixed(0)} ${unit} | ${ms(verdict.cold)} ${unit} | ≤ ${verdict.target} ${unit} | ${verdict.met ? 'met' : '**missed**'} |`
      : `| ${label} | — | | | not measured |`;
  const e = results.evidently;
  const c = results.comparison;
  return `# Query benchmark (issue 5)

\`npm run bench -- queries\` (bench/queries/run.js), ${results.date}.

- Data: ${results.rows.toLocaleString('en-US')} logged predictions × 20 numeric + 5 categorical features over 10 UTC days
  (bench/queries/generate.ts: DuckDB writes the embedded store's Parquet layout directly, one file per day as the
  collector's compaction leaves it, ${(results.dataBytes / 1e9).toFixed(2)} GB; normal, log-normal, discrete and uniform
  shapes, 1 % missing, half the features drifting from day 7). Baseline \`v1\` from a 200 000-row reference sample
  through src/server/baseline/compute.ts.${results.generateSeconds ? ` Generated in ${results.generateSeconds.toFixed(0)} s.` : ''}
- **cold**: each query alone in a fresh process with nothing prepared: every row of its window is read and counted
  (DuckDB \`histogram\` per column, src/server/counting/histogram-counts.ts).
- **prepared**: after \`mlmon maintain\` (what the collector's maintenance runs after compacting), which counted every
  day file per hour on the baseline's bins and kept the counts beside the files (src/server/counting/window-counts.ts,
  prepare-counts.ts): ${results.maintain.seconds.toFixed(1)} s for the whole store, once. "first" = the first run in a
  fresh process (it reads the prepared counts from disk); warm = up to ${results.warm} further runs within 30 s (at least
  3), only for the 24 h window.
- In-process: the handlers as the backend runs them (registerBuiltInHandlers + a datasource instance), Node ${m.node}.
  Executable: the same queries over gRPC QueryData to dist/datasource/gpx_modelmonitor_linux_amd64 (built ${results.executable.executable.builtAt}), prepared store.
  ClickHouse ${results.clickhouse.store.replace('ClickHouse ', '')}: a private server (test/support/clickhouse.ts, max_threads 2) loaded with the same rows
  (${results.clickhouse.load.rows.toLocaleString('en-US')} rows in ${results.clickhouse.load.seconds.toFixed(0)} s) and the same baseline; it reads the rows at every query.
- "same answer": frame and row counts and the sum of every number in the frames (measure.ts \`digest\`) of the cold
  run and of ClickHouse, each against the prepared run.
- Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGB} GB RAM, ${m.os}. Shared: load average
  ${m.loadAverage.start.map((x) => x.toFixed(1)).join(' ')} at the start, ${m.loadAverage.end.map((x) => x.toFixed(1)).join(' ')} at the end, so wall-clock times are pessimistic.

| query | cold first ms | prepared first ms | prepared warm median / p95 ms | executable (gRPC) ms | ClickHouse first ms | same answer: cold; ClickHouse |
| --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}
${unavailable.length > 0 ? `\nNot measured (no handler registered in src/server/backend/datasource.ts when this ran): ${unavailable.join('; ')}.\n` : ''}
## Targets

| target | measured (prepared) | cold | aim | |
| --- | --- | --- | --- | --- |
${line('drift, all features, whole range', v.driftWholeRange, 'ms')}
${line('severity matrix, 7 days × hourly', v.severity7DaysHourly, 'ms')}
${line(`24 h window warm p95 (${v.window24hWarmP95?.query ?? '—'})`, v.window24hWarmP95, 'ms')}
${line('backend peak RSS (embedded store)', v.backendPeakRss, 'MB')}

"cold" for the 24 h window is its first run with nothing prepared (no warm runs there: the second run would find
the counts the first one kept). Peak RSS (VmHWM): the prepared in-process run (every query above, same handlers and
DuckDB as the backend) ${results.embedded.peakRssMB.toFixed(0)} MB; the largest cold process ${ms(v.backendPeakRss.cold)} MB; the backend
executable serving ${results.executable.cases.length === results.embedded.cases.length ? 'every query above' : results.executable.cases.map((c) => c.name).join(' and ')} over gRPC ${results.executable.peakRssMB.toFixed(0)} MB; the
ClickHouse client process ${results.clickhouse.clientPeakRssMB.toFixed(0)} MB (the server's memory is not counted).

## Evidently

Evidently ${e.evidently} (pandas ${e.pandas}), \`Report([DataDriftPreset()])\` with its default per-column tests (${e.methods.join(', ')}),
on the same reference sample (${e.referenceRows.toLocaleString('en-US')} rows) and the most recent ${e.days.length} day(s) of traffic (${e.rows.toLocaleString('en-US')} rows:
${e.days.join(', ')}) — not the whole ${results.rows.toLocaleString('en-US')} rows: pandas + Evidently hold every row in memory and the
report on 1 day already takes the time below, so both sides are scaled to the same window. bench/queries/evidently_drift.py
times reading the Parquet files into pandas plus the report (imports excluded); it found ${e.driftedColumns?.count ?? '?'} drifted columns.

| on ${e.rows.toLocaleString('en-US')} rows | seconds | peak MB |
| --- | --- | --- |
| Evidently (read + report) | ${e.totalSeconds.toFixed(1)} | ${e.peakRssMB?.toFixed(0) ?? '—'} |
| mlmon ${c.query}, cold (nothing prepared, every row read) | ${(c.mlmonMs / 1000).toFixed(2)} | ${ms(results.cold.cases.find((x) => x.name === c.query)?.peakRssMB)} |

**Ratio Evidently ÷ mlmon: ${c.ratio.toFixed(0)}×** (same rows, same reference; mlmon reads the store's Parquet and pushes the
counting into DuckDB; Evidently's tests are exact two-sample tests on the raw rows, mlmon's are binned against the stored
baseline, so the statistics are related, not identical).
`;
}

function main() {
  const loadStart = os.loadavg();
  const generateSeconds = ensureData();
  const cold = runCold();
  const maintain = runMaintain();
  const embedded = runJson(
    ...tsx('measure.ts', ['embedded', DATA_DIR, String(WARM)]),
    'embedded, in-process',
    'embedded'
  ).value;
  const executable = runJson(
    ...tsx('executable.ts', [DATA_DIR, String(WARM), ...(EXECUTABLE_ALL ? ['all'] : [])]),
    'backend executable over gRPC',
    'executable'
  ).value;
  const evidently = runEvidently();
  const clickhouse = runJson(
    ...tsx('measure.ts', ['clickhouse', DATA_DIR, String(WARM)]),
    'ClickHouse',
    'clickhouse'
  ).value;
  // Evidently reads every row, so it is compared with mlmon reading every row too (nothing prepared).
  const compared = EVIDENTLY_ALL
    ? byName(cold, 'drift, all features, whole range')
    : byName(cold, 'drift, 24 h window');
  const results = {
    date: new Date().toISOString(),
    rows: ROWS,
    warm: WARM,
    dataBytes: directorySize(path.join(DATA_DIR, 'store')),
    generateSeconds,
    machine: machine(loadStart),
    cold,
    maintain,
    embedded,
    executable,
    clickhouse,
    evidently,
    comparison: {
      query: compared.name,
      mlmonMs: compared.firstMs,
      evidentlySeconds: evidently.totalSeconds,
      ratio: (evidently.totalSeconds * 1000) / compared.firstMs,
    },
    targets: verdicts(embedded, executable, cold),
  };
  writeResults('', results, markdown);
  console.log(`Evidently ÷ mlmon ${results.comparison.ratio.toFixed(1)}×`);
}

runThenRemoveData(main);

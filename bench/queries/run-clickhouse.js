#!/usr/bin/env node
// The query benchmark on ClickHouse with prepared counts (issue 11): in ONE run on one private ClickHouse server
// (test/support/clickhouse.ts) loaded with the benchmark's rows, every case from the rows (nothing prepared), then
// prepareCounts (what `mlmon maintain` and the collector's maintenance run) timed, then every case from the prepared
// hours (src/server/counting/clickhouse-hours.ts). Quotes each prepared time as a ratio to the rows path. Then
// (unless BENCH_CLUSTER=0) the same rows on a private two-shard cluster: loaded through the Distributed table,
// `mlmon maintain` with the cluster flags, every case from the prepared hours, compared with the single server's.
// Writes results-clickhouse.json and RESULTS-clickhouse.md here.
//
//   nice -n 19 node bench/queries/run-clickhouse.js
//
// Environment as bench/queries/run.js: BENCH_ROWS (default 10000000 predictions over 10 days), BENCH_WARM (warm
// repetitions of the 24 h windows, default 20), BENCH_DATA_DIR (generated when it holds no baseline yet),
// BENCH_KEEP_DATA=1 keeps it afterwards, BENCH_CLUSTER=0 measures the single server only.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { DATA_DIR, ROOT, ROWS, WARM, machine } = require('./environment');
const { agreement, runThenRemoveData, writeResults } = require('./phases');
const BASELINE_FILE = path.join(DATA_DIR, 'store', 'models', 'bench', 'baselines', 'v1.json');
const MEASURE = path.join(__dirname, 'measure.ts');
/** The two-shard cluster runs after the single server unless BENCH_CLUSTER=0. */
const WITH_CLUSTER = process.env.BENCH_CLUSTER !== '0';

/** The issue-11 aims on ClickHouse with prepared counts: [case name prefix, warm p95 (else first run), ms]. */
const TARGETS = [
  ['drift, all features, whole range', false, 1000],
  ['severity matrix', false, 2000],
  ['drift, 24 h window', true, 150],
  ['drift KS, 24 h window', false, 1000],
];

/** Runs measure.ts with these arguments, its stderr shown; returns its stdout. */
function measure(args, label) {
  console.log(`-- ${label}`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', MEASURE, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 26,
  });
  if (result.status !== 0) {
    throw new Error(`${label} failed (exit ${result.status ?? result.signal}); see the output above`);
  }
  return result.stdout;
}

/** The last line of a measurement's output, as JSON. */
const lastJson = (stdout) => JSON.parse(stdout.trim().split('\n').pop());

const ms = (value) => (value === undefined ? '—' : value.toFixed(0));
/** What a case is judged on: its warm p95 for the warm cases, else its first run. */
const measured = (c, warm) => (warm ? c?.warmP95Ms : c?.firstMs);

/** Same answer (phases.js `agreement`) of two measured cases, — when either has no answer. */
const sameAnswer = (a, b) => (a?.output && b?.output ? agreement(a.output, b.output) : '—');

function markdown(results) {
  const { clickhouse: ch, machine: m } = results;
  const warmCell = (c) =>
    (c?.warmMs ?? []).length > 0 ? `${ms(c.warmMedianMs)} / ${ms(c.warmP95Ms)} (${c.warmMs.length} runs)` : '—';
  const cell = (c) =>
    !c ? 'not run' : c.error ? `failed after ${ms(c.afterMs)} ms: ${c.error.slice(0, 80)}` : ms(c.firstMs);
  const rows = ch.rows.cases.map((fromRows) => {
    const prepared = ch.prepared.cases.find((c) => c.name === fromRows.name);
    const warm = (fromRows.warmMs ?? []).length > 0;
    const ratio = measured(fromRows, warm) / measured(prepared, warm);
    return `| ${[
      fromRows.name,
      cell(fromRows),
      warmCell(fromRows),
      cell(prepared),
      warmCell(prepared),
      Number.isFinite(ratio) ? `${ratio.toFixed(0)}×` : '—',
      sameAnswer(fromRows, prepared),
    ].join(' | ')} |`;
  });
  return `# Query benchmark on ClickHouse with prepared counts (issue 11)

\`node bench/queries/run-clickhouse.js\`, ${results.date}.

- Data: ${results.rows.toLocaleString('en-US')} logged predictions × 20 numeric + 5 categorical features over 10 UTC days,
  the rows of bench/queries (generate.ts), loaded into a private ${ch.store} server (test/support/clickhouse.ts,
  max_threads 2): ${ch.load.rows.toLocaleString('en-US')} rows in ${ch.load.seconds.toFixed(0)} s, one TabSeparated INSERT per day
  (the ingestion ledger's materialized view runs on every insert). Baseline \`v1\` as in RESULTS.md.
- **rows**: every case first with nothing prepared: the rows of the window are read (FINAL) and counted
  (src/server/counting/clickhouse-counts.ts).
- **prepare**: prepareCounts, what \`mlmon maintain\` and the collector's maintenance run: ${ch.prepare.columns} columns
  (the baseline's bins of every feature and the output, ranking's output sums, the KS / Wasserstein grids) counted per
  hour from the de-duplicated rows into mlmon_count_cells (${ch.prepare.cells.toLocaleString('en-US')} cells):
  **${ch.prepare.seconds.toFixed(1)} s**, once (later runs count only hours that ended or changed since).
- **prepared**: the same cases in the same process and server, reading the prepared hours
  (src/server/counting/clickhouse-hours.ts). "first" is each case's first run; warm = up to ${results.warm} further runs
  within 30 s (at least 3), for the 24 h windows. Ratio = rows ÷ prepared (warm p95 for the 24 h windows, else first).
- "same answer": frame and row counts and the sum of every number in the frames (measure.ts \`digest\`), prepared
  against rows. test/queries/clickhouse-prepared.test.ts checks the frames field by field, and against the embedded store.
- Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGB} GB RAM, ${m.os}, Node ${m.node}. Shared: load average
  ${m.loadAverage.start.map((x) => x.toFixed(1)).join(' ')} at the start, ${m.loadAverage.end.map((x) => x.toFixed(1)).join(' ')} at the end, so wall-clock times are pessimistic.

| query | rows first ms | rows warm median / p95 ms | prepared first ms | prepared warm median / p95 ms | rows ÷ prepared | same answer |
| --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

## Targets (issue 11, ClickHouse with prepared counts)

| target | prepared | rows path, same run | aim | |
| --- | --- | --- | --- | --- |
${targetRows(ch.prepared.cases, ch.rows.cases).join('\n')}

ClickHouse client process peak RSS ${ch.clientPeakRssMB.toFixed(0)} MB (the server's memory is not counted).
${results.cluster ? clusterSection(results.cluster, ch) : ''}`;
}

/** The aims (TARGETS) judged on `cases`, each beside the same case of `compared`. */
function targetRows(cases, compared) {
  return TARGETS.map(([prefix, warm, target]) => {
    const c = cases.find((x) => x.name.startsWith(prefix));
    const other = compared.find((x) => x.name.startsWith(prefix));
    const value = measured(c, warm);
    const verdict = value === undefined ? 'not measured' : value <= target ? 'met' : '**missed**';
    return `| ${c?.name ?? prefix}${warm ? ' (warm p95)' : ' (first run)'} | ${ms(value)} ms | ${ms(measured(other, warm))} ms | ≤ ${target} ms | ${verdict} |`;
  });
}

/** A case's first run with the CPU time the handler's process spent in it. */
const firstWithCpu = (c) => (!c ? 'not run' : c.error ? `failed: ${c.error.slice(0, 60)}` : `${ms(c.firstMs)} (${ms(c.firstNodeCpuMs)})`);

/** The two-shard cluster (measure.ts cluster-prepared) beside the single server's prepared run. */
function clusterSection(cluster, single) {
  const prepareLine = cluster.maintain.log.find((line) => /counts of \d+ columns/.test(line)) ?? '';
  const rows = cluster.cases.map((c) => {
    const server = single.prepared.cases.find((x) => x.name === c.name);
    const warm = (c.warmMs ?? []).length > 0;
    const ratio = measured(c, warm) / measured(server, warm);
    const warmCell = (x) => (warm && x ? `${ms(x.warmMedianMs)} / ${ms(x.warmP95Ms)}` : '—');
    return `| ${[
      c.name,
      firstWithCpu(server),
      warmCell(server),
      firstWithCpu(c),
      warmCell(c),
      Number.isFinite(ratio) ? `${ratio.toFixed(1)}×` : '—',
      sameAnswer(server, c),
    ].join(' | ')} |`;
  });
  return `
## Two-shard cluster, same run

- The same rows loaded into a private two-shard ${cluster.store} (test/support/clickhouse.ts, two
  clickhouse-server processes on loopback, max_threads 2 each) through the Distributed table:
  ${cluster.load.rows.toLocaleString('en-US')} rows in ${cluster.load.seconds.toFixed(0)} s; \`mlmon maintain\` with the cluster flags ${cluster.maintain.seconds.toFixed(0)} s
  (${prepareLine.replace(/^mlmon maintain: /, '')}).
- Then every case from the prepared hours, as on the single server above (measure.ts \`cluster-prepared\`). In
  brackets: the CPU time of the benchmark's own process during the first run (the handler: decoding the cells, adding
  them up, the statistic per bucket, the frames); the rest of the wall time is waiting for ClickHouse. Ratio =
  cluster ÷ single server (warm p95 for the 24 h windows, else first). "same answer": the cluster's frames against
  the single server's prepared ones (measure.ts \`digest\`).

| query | single server first (Node CPU) ms | single warm median / p95 ms | cluster first (Node CPU) ms | cluster warm median / p95 ms | cluster ÷ single | same answer |
| --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

| target (two-shard cluster) | prepared | single server, same run | aim | |
| --- | --- | --- | --- | --- |
${targetRows(cluster.cases, single.prepared.cases).join('\n')}
`;
}

function main() {
  const loadStart = os.loadavg();
  if (!fs.existsSync(BASELINE_FILE)) {
    fs.rmSync(DATA_DIR, { recursive: true, force: true });
    measure(['generate', DATA_DIR, String(ROWS)], `generating ${ROWS} rows in ${DATA_DIR}`);
  }
  const clickhouse = lastJson(
    measure(['clickhouse-prepared', DATA_DIR, String(WARM)], 'ClickHouse: rows, prepare, prepared')
  );
  const cluster = WITH_CLUSTER
    ? lastJson(measure(['cluster-prepared', DATA_DIR, String(WARM)], 'two-shard cluster: load, maintain, prepared'))
    : undefined;
  const results = {
    date: new Date().toISOString(),
    rows: ROWS,
    warm: WARM,
    machine: machine(loadStart),
    clickhouse,
    cluster,
  };
  writeResults('-clickhouse', results, markdown);
}

runThenRemoveData(main);

#!/usr/bin/env node
// The 100 M-row benchmark (issue 11, item 6): the cases of bench/queries (cases.ts) over BENCH_ROWS (default
// 100 000 000) predictions × 20 numeric + 5 categorical features spread over BENCH_DAYS (default 30) UTC days, on
// the embedded store and then on a private two-shard ClickHouse cluster loaded with the same rows. Writes
// results-bigdata.json and RESULTS-bigdata.md here.
//
//   nice -n 19 ionice -c3 node bench/queries/run-bigdata.js
//
// Each phase runs in its own process, in this order: generate (generate.ts, one DuckDB COPY per day); `mlmon
// maintain` on the embedded store, timed; the store's size on disk; every case in-process from the prepared counts;
// the backend executable (npm run build:backend) serving every case over gRPC, for its peak RSS; the cluster
// (measure.ts `cluster`: load through the Distributed table, `mlmon maintain` with the cluster flags, system.parts,
// the same cases). The answers of the two stores are compared by digest (measure.ts).
//
// Environment as run.js (BENCH_WARM, BENCH_DATA_DIR, BENCH_KEEP_DATA=1 keeps the ~15 GB of data, BENCH_REUSE_PHASES=1
// reuses the phases a stopped run saved in the data directory), BENCH_CLUSTER_DAYS=N to load only the last N days
// into the cluster (and run only the cases within them), BENCH_START (the first day, YYYY-MM-DD; default the
// day that makes the range end at yesterday's UTC midnight) and BENCH_CLUSTER=0 to measure the embedded store only.
'use strict';
const os = require('node:os');
const path = require('node:path');

const DAY_MS = 86_400_000;
process.env.BENCH_ROWS ??= '100000000';
process.env.BENCH_DAYS ??= '30';
// The days end at yesterday's UTC midnight, so every hour of them has ended (ClickHouse prepares only ended
// hours); the data directory is named after them, so a rerun on another day does not reuse other days' rows.
process.env.BENCH_START ??= new Date((Math.floor(Date.now() / DAY_MS) - 1 - Number(process.env.BENCH_DAYS)) * DAY_MS)
  .toISOString()
  .slice(0, 10);
process.env.BENCH_DATA_DIR ??= path.join(
  os.tmpdir(),
  `mlmon-bench-bigdata-${process.env.BENCH_ROWS}-${process.env.BENCH_START}`
);

const fs = require('node:fs');

const { DATA_DIR, ROWS, WARM, machine } = require('./environment');
const {
  agreement,
  directorySize,
  ensureData,
  runCold,
  runJson,
  runMaintain,
  runThenRemoveData,
  savedPhase,
  tsx,
  writeResults,
} = require('./phases');

const DAYS = Number(process.env.BENCH_DAYS);
const WITH_CLUSTER = process.env.BENCH_CLUSTER !== '0';
const MB = 2 ** 20;
/**
 * The cases (cases.ts CASES) also run cold, nothing prepared, as the same run's baseline: the 24 h drift. The whole
 * range cold reads every row, as `mlmon maintain` does (its time is that baseline; at 10 M rows the two were 5.7 s
 * and 6.6 s, RESULTS.md), and would cost the run that much again.
 */
const COLD_CASES = [4];

/** Bytes per million rows, in MB. */
const perMillionRows = (bytes, rows) => bytes / MB / (rows / 1e6);

const ms = (value) => (value === undefined ? '—' : value.toFixed(0));

/** A case's cell: its first run, and its warm median / p95 when it was repeated. */
function timing(c) {
  if (!c) {
    return 'not run';
  }
  if (c.error) {
    return `failed: ${String(c.error).slice(0, 80)}`;
  }
  return c.warmP95Ms === undefined ? ms(c.firstMs) : `${ms(c.firstMs)} (${ms(c.warmMedianMs)} / ${ms(c.warmP95Ms)})`;
}

/** The seconds a `mlmon maintain` log line gives for preparing the counts, if it has one. */
function prepareSeconds(log) {
  const match = log.map((line) => /counts of \d+ columns .* ready \((\d+) ms\)/.exec(line)).find(Boolean);
  return match ? Number(match[1]) / 1000 : undefined;
}

function clusterSection(results) {
  const cluster = results.cluster;
  if (!cluster) {
    return '## Two-shard ClickHouse cluster\n\nNot run (BENCH_CLUSTER=0).\n';
  }
  const predictions = cluster.disk.find((t) => t.table === `predictions_bench_local`);
  const total = cluster.disk.reduce((sum, t) => sum + t.bytes, 0);
  const tables = cluster.disk
    .filter((t) => t.bytes >= MB)
    .map((t) => `${t.table} ${(t.bytes / MB).toFixed(0)} MB`)
    .join(', ');
  const prepare = prepareSeconds(cluster.maintain.log);
  const loaded = cluster.load.rows;
  const fraction =
    loaded < results.rows
      ? `- **Only a fraction was loaded** (BENCH_CLUSTER_DAYS=${cluster.load.days.length}): the last ${cluster.load.days.length} days of the same data,
  ${cluster.load.days[0]} to ${cluster.load.days[cluster.load.days.length - 1]}, ${loaded.toLocaleString('en-US')} rows (${((100 * loaded) / results.rows).toFixed(0)} %), and only the cases whose range lies within them
  ran. Every figure below is for those rows; none is scaled up to ${results.rows.toLocaleString('en-US')}.
`
      : '';
  return `## Two-shard ClickHouse cluster

${fraction}
- ${cluster.store}: two private \`clickhouse-server\` processes on loopback (test/support/clickhouse.ts
  \`startClickHouseCluster\`, max_threads 2 each, the same 2 cores), the store in cluster mode
  (\`predictions_bench\` a Distributed table over \`predictions_bench_local\`, sharded by \`cityHash64(id)\`).
- **Load, through the store's cluster path**: TabSeparated INSERTs of 6 hours each into the Distributed table with
  \`insert_distributed_sync=1\` (as the store writes; shard 1 forwards each row to its shard), the ingestion ledger's
  materialized view running on each shard: ${loaded.toLocaleString('en-US')} rows in **${cluster.load.seconds.toFixed(0)} s**
  (${(loaded / cluster.load.seconds).toFixed(0)} rows/s, day files exported from Parquet by DuckDB included;
  per day ${Math.min(...cluster.load.daySeconds).toFixed(1)}–${Math.max(...cluster.load.daySeconds).toFixed(1)} s).
- **\`mlmon maintain\`** with the cluster flags (OPTIMIZE … FINAL of each shard's tables, then the prepared counts
  counted on each shard): **${cluster.maintain.seconds.toFixed(0)} s**${prepare === undefined ? '' : `, of which preparing the counts ${prepare.toFixed(0)} s`}.
- **Disk** (system.parts, active parts of both shards): predictions ${(predictions.bytes / MB).toFixed(0)} MB =
  **${perMillionRows(predictions.bytes, loaded).toFixed(0)} MB per million rows**; every table ${(total / MB).toFixed(0)} MB
  (${perMillionRows(total, loaded).toFixed(0)} MB per million rows): ${tables}.
- The client process (handlers, in-process) peaked at ${cluster.clientPeakRssMB.toFixed(0)} MB; the servers' memory is not counted.
`;
}

function markdown(results) {
  const m = results.machine;
  const cluster = results.cluster;
  const rows = results.embedded.cases.map((c) => {
    const exe = results.executable.cases.find((e) => e.name === c.name);
    const cold = results.cold.cases.find((e) => e.name === c.name);
    const onCluster = cluster?.cases.find((e) => e.name === c.name);
    const same = [cold, onCluster].map((other) =>
      other?.output && c.output ? agreement(c.output, other.output) : '—'
    );
    const coldCell = cold
      ? `${ms(cold.firstMs)} (${(cold.firstMs / c.firstMs).toFixed(0)}× the prepared first run)`
      : '—';
    return `| ${[c.name, timing(c), coldCell, timing(exe), timing(onCluster), same.join('; ')].join(' | ')} |`;
  });
  const disk = results.disk;
  const prepare = prepareSeconds(results.maintain.log);
  const wholeRange = results.embedded.cases.find((c) => c.name.startsWith('drift, all features, whole range'));
  return `# The 100 M-row benchmark (issue 11)

\`nice -n 19 ionice -c3 node bench/queries/run-bigdata.js\`, ${results.date}.

- Data: ${results.rows.toLocaleString('en-US')} logged predictions × 20 numeric + 5 categorical features over ${results.days} UTC days
  (${Math.round(results.rows / results.days).toLocaleString('en-US')} a day), the rows of bench/queries (generate.ts, one file per day as the collector's
  compaction leaves it); generated in ${results.generateSeconds === undefined ? '(reused data)' : `${results.generateSeconds.toFixed(0)} s`}. Baseline \`v1\` from a 200 000-row reference
  sample. Nothing is committed: the data are generated by the benchmark and deleted after it.
- Cases (bench/queries/cases.ts): each case's first run in a fresh process ("first"), and for the 24 h windows up to
  ${results.warm} further runs within 30 s (at least 3): "first (warm median / p95)", in ms.
- Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGB} GB RAM, ${m.os}, Node ${m.node}, shared with other work: load
  average ${m.loadAverage.start.map((x) => x.toFixed(1)).join(' ')} at the start, ${m.loadAverage.end.map((x) => x.toFixed(1)).join(' ')} at the end${results.reusedPhases ? ' of the run that wrote this file (it reused the phases earlier runs had saved: BENCH_REUSE_PHASES=1; their load is not recorded here)' : ''}, every phase under
  \`nice -n 19\`, so the times are pessimistic.

## Embedded store

- **\`mlmon maintain\`** (bin/mlmon.js, from nothing prepared): **${results.maintain.seconds.toFixed(1)} s**${prepare === undefined ? '' : ` (preparing the counts ${prepare.toFixed(1)} s)`}
  for ${results.rows.toLocaleString('en-US')} rows. It reads every row once, as a whole-range query with nothing prepared would; the
  whole-range drift from the prepared counts then takes ${ms(wholeRange?.firstMs)} ms in a fresh process: ${((results.maintain.seconds * 1000) / wholeRange?.firstMs).toFixed(0)}× less.
- **Disk**: Parquet ${(disk.parquetBytes / MB).toFixed(0)} MB = **${perMillionRows(disk.parquetBytes, results.rows).toFixed(0)} MB per million rows**; with the prepared counts
  and the rest of the store ${(disk.storeBytes / MB).toFixed(0)} MB (${perMillionRows(disk.storeBytes, results.rows).toFixed(0)} MB per million rows).
- **Peak RSS (VmHWM)**: the backend executable (dist/datasource/gpx_modelmonitor_linux_amd64, built
  ${results.executable.executable.builtAt}) serving every case below over gRPC QueryData: **${results.executable.peakRssMB.toFixed(0)} MB**; the in-process
  run of the same handlers ${results.embedded.peakRssMB.toFixed(0)} MB.

| query | embedded, prepared, in-process | embedded, cold (nothing prepared) | embedded, prepared, executable over gRPC | two-shard cluster, prepared | same answer: cold; cluster |
| --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

"cold": the case alone in a fresh process with no prepared counts (every row of its window read: the rows path, the
same run's baseline; peak RSS of those processes ${results.cold.cases.reduce((peak, c) => Math.max(peak, c.peakRssMB), 0).toFixed(0)} MB). "same answer": frame and row counts and the sum of every number in
the frames (measure.ts \`digest\`), of the cold run and of the cluster, each against the embedded prepared run.

${clusterSection(results)}`;
}

function main() {
  const loadStart = os.loadavg();
  const generateSeconds = ensureData();
  const maintain = runMaintain();
  const disk = savedPhase('disk', 'disk', () => ({
    parquetBytes: directorySize(path.join(DATA_DIR, 'store')),
    storeBytes: directorySize(path.join(DATA_DIR, 'store'), true),
  }));
  const embedded = runJson(...tsx('measure.ts', ['embedded', DATA_DIR, String(WARM)]), 'embedded', 'embedded').value;
  const executable = runJson(
    ...tsx('executable.ts', [DATA_DIR, String(WARM), 'all']),
    'backend executable over gRPC',
    'executable'
  ).value;
  const cold = runCold(COLD_CASES);
  const cluster = WITH_CLUSTER
    ? runJson(...tsx('measure.ts', ['cluster', DATA_DIR, String(WARM)]), 'two-shard cluster', 'cluster').value
    : undefined;
  const results = {
    date: new Date().toISOString(),
    rows: ROWS,
    days: DAYS,
    warm: WARM,
    generateSeconds,
    reusedPhases: process.env.BENCH_REUSE_PHASES === '1',
    machine: machine(loadStart),
    maintain,
    disk,
    embedded,
    executable,
    cold,
    cluster,
  };
  writeResults('-bigdata', results, markdown);
}

runThenRemoveData(main);

#!/usr/bin/env node
// The issue-9 compaction benchmark (`npm run bench -- compaction`): the embedded store's compaction and a drift
// query over uncompacted days, at DuckDB's default memory limit (256 MB), each step in a fresh process
// (measure.ts). Writes results.json and RESULTS.md here.
//
// 1. Days of 5 M rows × 20 features (files spanning the day, and files in time order) and of 1 M rows × 100
//    features: the compaction statement of before issue 9, a plain copy of the same rows (the baseline: read and
//    written once, nothing removed, nothing sorted) and the compaction now.
// 2. A month as `mlmon ingest` of 10 M rows × 40 features leaves it (30 days × 34 files): whole-range drift over
//    the uncompacted days, compaction of every day, the same drift over the compacted days (cold: nothing prepared).
//
// Environment: BENCH_SCALE (default 1: a fraction of every row count, for a quick run), BENCH_DATA_DIR (default a
// folder under the system temp dir, deleted at the end); each case's data is generated there and deleted after it
// (up to ~3 GB at scale 1),
// MLMON_DUCKDB_MEMORY_LIMIT (default 256MB). `node bench/compaction/run.js --report` only writes RESULTS.md again
// from results.json.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const DATA_DIR = process.env.BENCH_DATA_DIR ?? path.join(os.tmpdir(), 'mlmon-bench-compaction');
const DAY_MS = 86_400_000;
const START = Date.UTC(2026, 0, 1);

const rows = (count) => Math.round(count * SCALE);

const DAY_CASES = [
  {
    name: '5 M rows × 20 features, 34 files spanning the day (a bulk load of an unsorted file)',
    spec: { rows: rows(5e6), files: 34, numeric: 15, categorical: 5, resentPercent: 2, layout: 'interleaved' },
  },
  {
    name: '5 M rows × 20 features, 200 files in time order (the collector’s flushes)',
    spec: { rows: rows(5e6), files: 200, numeric: 15, categorical: 5, resentPercent: 2, layout: 'sequential' },
  },
  {
    name: '1 M rows × 100 features, 34 files spanning the day',
    spec: { rows: rows(1e6), files: 34, numeric: 90, categorical: 10, resentPercent: 2, layout: 'interleaved' },
  },
];

const RANGE = {
  start: START,
  days: 30,
  rowsPerDay: rows(1e7 / 30),
  filesPerDay: 34,
  numeric: 32,
  categorical: 8,
  resentPercent: 1,
};

/** Runs a measure.ts command in a fresh process; returns its JSON answer. */
function measure(label, command, ...args) {
  console.log(`-- ${label}`);
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, 'measure.ts'), command, ...args],
    { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 }
  );
  if (result.status !== 0) {
    throw new Error(`${label} failed (exit ${result.status ?? result.signal}); see the output above`);
  }
  const value = JSON.parse(result.stdout.trim().split('\n').pop());
  console.log(`   ${JSON.stringify(value)}`);
  return value;
}

function measureDay(index, { name, spec }) {
  const storeDir = path.join(DATA_DIR, `day-${index}`);
  fs.rmSync(storeDir, { recursive: true, force: true });
  try {
    measure(`${name}: generating`, 'generate-day', storeDir, JSON.stringify({ day: START, ...spec }));
    return {
      name,
      spec,
      previousPlan: measure(`${name}: the previous compaction statement`, 'previous-plan', storeDir),
      copy: measure(`${name}: plain copy (baseline)`, 'copy', storeDir),
      compaction: measure(`${name}: compaction`, 'compact', storeDir),
    };
  } finally {
    fs.rmSync(storeDir, { recursive: true, force: true });
  }
}

function measureRange() {
  const storeDir = path.join(DATA_DIR, 'range');
  fs.rmSync(storeDir, { recursive: true, force: true });
  const [from, to] = [String(RANGE.start), String(RANGE.start + RANGE.days * DAY_MS)];
  try {
    measure('month: generating', 'generate-range', storeDir, JSON.stringify(RANGE));
    return {
      spec: RANGE,
      uncompacted: measure('month: whole-range drift, uncompacted', 'drift', storeDir, from, to),
      compaction: measure('month: compaction of every day', 'compact', storeDir),
      compacted: measure('month: whole-range drift, compacted (cold)', 'drift', storeDir, from, to),
      prepared: measure(
        'month: whole-range drift, compacted, counts kept by the cold run',
        'drift',
        storeDir,
        from,
        to
      ),
    };
  } finally {
    fs.rmSync(storeDir, { recursive: true, force: true });
  }
}

const fixed = (value, digits = 1) => (value === undefined ? '—' : value.toFixed(digits));
const outcome = (step) =>
  step.error ? `**failed** after ${fixed(step.seconds)} s: ${step.error.slice(0, 90)}` : `${fixed(step.seconds)} s`;
const memory = (step) =>
  `${fixed(step.peakRssMB, 0)} / ${fixed(step.duckdbPeakMB, 0)} / ${fixed(step.spilledPeakMB, 0)}`;

function markdown(results) {
  const m = results.machine;
  const dayRows = results.days.map((d) =>
    [
      d.name,
      outcome(d.previousPlan),
      memory(d.previousPlan),
      outcome(d.copy),
      memory(d.copy),
      outcome(d.compaction),
      memory(d.compaction),
      d.compaction.error || d.copy.error ? '—' : `${fixed(d.compaction.seconds / d.copy.seconds, 2)}×`,
      fixed(d.compaction.widestRowGroupMinutes, 0),
    ].join(' | ')
  );
  const r = results.range;
  const ratio = (step) =>
    r.uncompacted.error || step.error ? '—' : `${fixed(r.uncompacted.seconds / step.seconds, 2)}×`;
  return `# Compaction benchmark (issue 9)

\`npm run bench -- compaction\` (bench/compaction/run.js), ${results.date}, DuckDB memory limit ${results.memoryLimit},
scale ${results.scale}. Data generated by test/support/uncompacted-day.ts (ids re-sent in a later file with a later
\`ingested_at\`), deleted afterwards. Each step runs in a fresh process (bench/compaction/measure.ts).
Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGB} GB RAM, Node ${m.node}; shared, load average
${m.loadAverage.start.map((x) => x.toFixed(1)).join(' ')} at the start, ${m.loadAverage.end.map((x) => x.toFixed(1)).join(' ')} at the end.

Memory columns: peak RSS of the process (VmHWM: Node + DuckDB) / peak DuckDB memory (\`duckdb_memory()\`) / peak
spilled to DuckDB's temporary directory, in MB.

## One day

- **previous**: the compaction statement before issue 9 (\`QUALIFY row_number() OVER (PARTITION BY id …)\` over every
  column, sorted by ts, the store's 2 threads).
- **copy** (baseline): the same rows read and written once to one zstd file, one thread, nothing removed or sorted.
- **compaction**: \`EmbeddedStore.compact\` now (src/server/store/day-merge.ts); ratio = compaction ÷ copy; widest row
  group = the widest time span of one row group of the merged file (narrow: a query over part of the day skips the rest).

| day | previous | MB | copy | MB | compaction | MB | ratio | widest row group (min) |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${dayRows.map((row) => `| ${row} |`).join('\n')}

## A month as \`mlmon ingest\` leaves it

${r.spec.days} days × ${r.spec.rowsPerDay.toLocaleString('en-US')} rows × ${r.spec.numeric + r.spec.categorical} features
(${r.spec.numeric} numeric, ${r.spec.categorical} categorical), ${r.spec.filesPerDay} files per day, ${r.spec.resentPercent} % of the ids
re-sent; a baseline from 100 000 rows of the first day. The drift handler over the whole range in one bucket, as the
backend runs it, each run in a fresh process. "Compacted (cold)" has nothing prepared: it reads every row, counting
each day file per hour and keeping those counts beside the file (src/server/counting/window-counts.ts), which the
next run reads instead of the rows — what the collector's maintenance prepares after each compaction.

| step | time | MB | uncompacted ÷ this |
| --- | --- | --- | --- |
| whole-range drift, uncompacted (${r.spec.filesPerDay} files per day) | ${outcome(r.uncompacted)} | ${memory(r.uncompacted)} | |
| compaction of every day | ${outcome(r.compaction)} | ${memory(r.compaction)} | |
| whole-range drift, compacted (cold) | ${outcome(r.compacted)} | ${memory(r.compacted)} | ${ratio(r.compacted)} |
| whole-range drift, compacted, counts kept | ${outcome(r.prepared)} | ${memory(r.prepared)} | ${ratio(r.prepared)} |
`;
}

function main() {
  const loadStart = os.loadavg();
  fs.mkdirSync(DATA_DIR, { recursive: true });
  const days = DAY_CASES.map((benchCase, index) => measureDay(index, benchCase));
  const range = measureRange();
  const results = {
    date: new Date().toISOString(),
    scale: SCALE,
    memoryLimit: process.env.MLMON_DUCKDB_MEMORY_LIMIT || '256MB',
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGB: Math.round(os.totalmem() / 2 ** 30),
      node: process.versions.node,
      loadAverage: { start: loadStart, end: os.loadavg() },
    },
    days,
    range,
  };
  fs.writeFileSync(path.join(__dirname, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  fs.writeFileSync(path.join(__dirname, 'RESULTS.md'), markdown(results));
  console.log('wrote bench/compaction/results.json and RESULTS.md');
}

if (process.argv.includes('--report')) {
  // Only RESULTS.md again, from the recorded results.json.
  const results = JSON.parse(fs.readFileSync(path.join(__dirname, 'results.json'), 'utf8'));
  fs.writeFileSync(path.join(__dirname, 'RESULTS.md'), markdown(results));
} else {
  try {
    main();
  } finally {
    if (process.env.BENCH_DATA_DIR === undefined) {
      fs.rmSync(DATA_DIR, { recursive: true, force: true });
    }
  }
}

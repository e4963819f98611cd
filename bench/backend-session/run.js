#!/usr/bin/env node
// A long session against the built backend executable (session.ts): BENCH_QUERIES mixed queries (default 1000; the
// aim is a resident set of at most 400 MB after them), on a fresh copy of 30 days of `mlmon simulate` traffic at
// BENCH_RATE requests/min (default 30; bench/support/simulate.js, in BENCH_DATA_DIR). With
// BENCH_BASELINE_EXECUTABLE=<path> the same session also runs against that executable (e.g. a build of an earlier
// commit, named by BENCH_BASELINE_LABEL), for a before/after in the same run. Writes results.json and RESULTS.md
// here; `--render` only writes RESULTS.md again from results.json.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { DAYS, END, ensureSimulated } = require('../support/simulate');

const ROOT = path.resolve(__dirname, '../..');
const RATE = Number(process.env.BENCH_RATE ?? 30);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 1000);
const DATA_DIR = process.env.BENCH_DATA_DIR ?? path.join(os.tmpdir(), `mlmon-bench-simulated-${RATE}`);
const EXECUTABLE = path.join(ROOT, 'dist', 'datasource', 'gpx_modelmonitor_linux_amd64');
const AIM_RSS_MB = 400;

/** Runs the session against one executable on a fresh copy of the data. */
function session(executable) {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-bench-session-'));
  fs.cpSync(DATA_DIR, copy, { recursive: true });
  console.log(`-- ${QUERIES} queries against ${executable}`);
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, 'session.ts'), copy, String(Date.parse(END)), String(QUERIES), executable],
    { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 }
  );
  fs.rmSync(copy, { recursive: true, force: true });
  if (result.status !== 0) {
    throw new Error(`the session against ${executable} failed (exit ${result.status ?? result.signal})`);
  }
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

if (!fs.existsSync(EXECUTABLE)) {
  throw new Error(`${EXECUTABLE} is missing: build it with \`npm run build:backend\``);
}
ensureSimulated(DATA_DIR, RATE);
const now = session(EXECUTABLE);
const baseline = process.env.BENCH_BASELINE_EXECUTABLE ? session(process.env.BENCH_BASELINE_EXECUTABLE) : undefined;
const load = os
  .loadavg()
  .map((l) => l.toFixed(1))
  .join(' ');
const results = { date: new Date().toISOString(), rate: RATE, days: DAYS, load, now, baseline };
fs.writeFileSync(path.join(__dirname, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);

const mb = (v) => `${Math.round(v)} MB`;
const columns = (run) => [
  `${run.queries}${run.stoppedEarly ? ` (stopped after ${Math.round(run.wallSeconds)} s)` : ''}`,
  `${Math.round(run.wallSeconds)} s`,
  mb(run.startRssMB),
  mb(run.finalRssMB),
  mb(run.peakRssMB),
  String(
    Object.entries(run.statuses)
      .filter(([key]) => /deadline|grpc error/.test(key))
      .reduce((n, [, c]) => n + c, 0)
  ),
];
const kinds = (run) =>
  Object.entries(run.kinds)
    .map(([name, k]) => {
      const statuses = Object.entries(run.statuses)
        .filter(([key]) => key.startsWith(`${name}: `))
        .map(([key, count]) => `${key.slice(name.length + 2)} ×${count}`)
        .join(', ');
      return `| ${name} | ${k.n} | ${k.p50Ms} | ${k.p95Ms} | ${k.maxMs} | ${statuses} |`;
    })
    .join('\n');
fs.writeFileSync(
  path.join(__dirname, 'RESULTS.md'),
  `# Backend session: memory and latency over ${queries} mixed queries (issue 9)

\`npm run bench -- backend-session\` (bench/backend-session/run.js), ${results.date}.

- Data: \`mlmon simulate\` of credit_risk, ${DAYS} days at ${RATE} requests/min (about ${Math.round((DAYS * 1440 * RATE) / 1e5) / 10} M predictions × 15
  features), embedded store, a fresh copy per executable (nothing prepared, counts kept as the session goes).
- The built executable over gRPC (bench/support/executable.ts), 4 queries at a time, each with Grafana's 30 s
  timeout: dashboards of every query type over 1 h to 30 days (random windows, some filtered by version or segment,
  KS and Wasserstein grids), alert rules with Grafana's defaults (FromAlert, 1 s, 43 200 points), and careless
  queries (1970–9999, from > to, maxDataPoints 0 over 14 days at 1 s, an array as the query).
- Aim: resident set ≤ ${AIM_RSS_MB} MB after ${queries} queries. Machine: ${os.cpus().length} × ${os.cpus()[0].model}, load average at the end ${load}.

| executable | queries | wall | RSS at start | RSS at the end | peak RSS | timed out / failed |
| --- | --- | --- | --- | --- | --- | --- |
| this build | ${columns(now).join(' | ')} |
${baseline ? `| ${baseline.label ?? process.env.BENCH_BASELINE_LABEL ?? path.basename(baseline.executable)} | ${columns(baseline).join(' | ')} |\n` : ''}
**${now.finalRssMB <= AIM_RSS_MB && now.peakRssMB <= AIM_RSS_MB ? 'Aim met' : 'Aim missed'}**: ${mb(now.finalRssMB)} after ${now.queries} queries, peak ${mb(now.peakRssMB)}.

Resident set every 25 queries (this build): ${now.rss.map(([n, v]) => `${n}: ${Math.round(v)}`).join(', ')}.

## Latency per kind of query (this build, ms)

| query | n | p50 | p95 | max | answers |
| --- | --- | --- | --- | --- | --- |
${kinds(now)}
${baseline ? `\n## Latency per kind of query (before, ms)\n\n| query | n | p50 | p95 | max | answers |\n| --- | --- | --- | --- | --- | --- |\n${kinds(baseline)}\n` : ''}`
);
console.log(fs.readFileSync(path.join(__dirname, 'RESULTS.md'), 'utf8'));

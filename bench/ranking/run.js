#!/usr/bin/env node
// `ranking` over 30 days: cold, after maintenance as it was (drift counts only), after maintenance now (ranking's
// counts prepared too). Data: `mlmon simulate` of credit_risk, 30 days at BENCH_RATE requests per minute (default
// 30: 1.3 M predictions × 15 features), in BENCH_DATA_DIR (default under the system temp dir; reused when present).
// Writes results.json and RESULTS.md here.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { DAYS, ensureSimulated } = require('../support/simulate');

const ROOT = path.resolve(__dirname, '../..');
const RATE = Number(process.env.BENCH_RATE ?? 30);
const DATA_DIR = process.env.BENCH_DATA_DIR ?? path.join(os.tmpdir(), `mlmon-bench-simulated-${RATE}`);

function run(args, options = {}) {
  const result = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24, ...options });
  if (result.status !== 0) {
    throw new Error(`${args.join(' ')} failed (exit ${result.status ?? result.signal}):\n${result.stderr}`);
  }
  return result.stdout;
}

if (!fs.existsSync(path.join(DATA_DIR, 'models', 'credit_risk', 'baselines'))) {
  console.log(`-- simulating ${DAYS} days at ${RATE}/min into ${DATA_DIR}`);
  fs.rmSync(DATA_DIR, { recursive: true, force: true });
  run(
    [
      path.join(ROOT, 'bin', 'mlmon.js'),
      'simulate',
      '--models',
      'credit_risk',
      '--days',
      String(DAYS),
      '--rate',
      String(RATE),
      '--end',
      END,
      '--data-dir',
      DATA_DIR,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] }
  );
}
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-bench-ranking-work-'));
console.log('-- measuring (cold, maintenance as it was, maintenance now)');
const lines = run(['--import', 'tsx', path.join(__dirname, 'ranking.ts'), DATA_DIR, work], {
  stdio: ['ignore', 'pipe', 'inherit'],
})
  .trim()
  .split('\n');
fs.rmSync(work, { recursive: true, force: true });
const measured = JSON.parse(lines[lines.length - 1]);
const load = os
  .loadavg()
  .map((l) => l.toFixed(1))
  .join(' ');
const result = {
  date: new Date().toISOString(),
  rate: RATE,
  days: DAYS,
  load,
  machine: `${os.cpus().length} × ${os.cpus()[0].model}`,
  ...measured,
};
fs.writeFileSync(path.join(__dirname, 'results.json'), `${JSON.stringify(result, null, 2)}\n`);
const f = (s) => (s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(1)} s`);
const ratio = (a, b) => `${(a / b).toFixed(0)}×`;
fs.writeFileSync(
  path.join(__dirname, 'RESULTS.md'),
  `# Ranking over 30 days (issue 9)

\`npm run bench -- ranking\` (bench/ranking/run.js), ${result.date}.

- Data: \`mlmon simulate\` of credit_risk, ${DAYS} days at ${RATE} requests/min (${result.now.days} compacted day files,
  15 features), embedded store. Each way on its own copy of the data, with a fresh store, in one process.
- Machine: ${result.machine}; load average at the end ${load} (shared machine).

| | preparation by maintenance | first \`ranking\` over ${DAYS} days |
| --- | --- | --- |
| cold (nothing prepared) | — | ${f(result.cold.rankingSeconds)} |
| maintenance as it was (drift counts only) | ${f(result.before.prepareSeconds)} | ${f(result.before.rankingSeconds)} |
| maintenance now (ranking's counts too) | ${f(result.now.prepareSeconds)} | ${f(result.now.rankingSeconds)} |

The first ranking after maintenance is **${ratio(result.before.rankingSeconds, result.now.rankingSeconds)} faster** than with the
counts maintenance used to prepare (${ratio(result.cold.rankingSeconds, result.now.rankingSeconds)} faster than cold); maintenance spends
${f(result.now.prepareSeconds - result.before.prepareSeconds)} more on the ${result.now.days} day files, once (\`.counts\` beside each, kept until the file changes;
a later round prepares only new files).
`
);
console.log(fs.readFileSync(path.join(__dirname, 'RESULTS.md'), 'utf8'));

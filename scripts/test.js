#!/usr/bin/env node
/**
 * `npm test`: the whole suite, as CI runs it.
 *  1. builds the plugin (frontend bundles and the backend executable), since the conformance suite and the
 *     panel screenshots test what ships;
 *  2. runs jest (the `node` and `browser` projects: statistics against scipy, stores against real DuckDB and
 *     ClickHouse, collector, CLI, backend units, panels in headless Chromium);
 *  3. runs the Go conformance suite, which starts the built executable the way Grafana does.
 * Lists every skipped test (its name says why: e.g. chdb not installed) and ends with one line
 * `tests: N passed, N failed, N skipped`, and a non-zero exit code when anything failed.
 * Set MLMON_SKIP_BUILD=1 to reuse an existing dist/ while iterating.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { goCounts, jestCounts, summaryLine } = require('./test-summary');

const root = path.resolve(__dirname, '..');
const results = path.join(root, 'test-results');
fs.mkdirSync(results, { recursive: true });

/** Runs a command; a command that cannot be started (not installed) resolves with `error` set. */
function run(cmd, args, opts = {}) {
  process.stdout.write(`\n$ ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, {
    cwd: root,
    stdio: opts.capture ? ['inherit', 'pipe', 'inherit'] : 'inherit',
    maxBuffer: 256 * 1024 * 1024,
    ...opts,
  });
  if (opts.capture && r.stdout) {
    process.stdout.write(r.stdout);
  }
  return r;
}

const totals = { passed: 0, failed: 0, skipped: 0 };
const skippedNames = [];

function add(counts) {
  totals.passed += counts.passed;
  totals.failed += counts.failed;
  totals.skipped += counts.skipped;
  for (const name of counts.skippedNames) {
    skippedNames.push(name);
  }
}

if (process.env.MLMON_SKIP_BUILD !== '1') {
  const build = run('npm', ['run', 'build']);
  if (build.status !== 0) {
    console.log('\nbuild failed: fix the build before the tests can run');
    console.log(summaryLine({ ...totals, failed: 1 }));
    process.exit(1);
  }
}

const jestJson = path.join(results, 'jest.json');
fs.rmSync(jestJson, { force: true });
// One jest worker per core (jest's default leaves one core to its parent, i.e. runs in band on 2 cores): many
// suites spend much of their time waiting for the servers they start (ClickHouse, Kafka, MLflow), and in band the
// whole run kept 1.2 of 2 cores busy on average (user + system 1 119 s over 943 s of wall time).
const workers = `--maxWorkers=${os.availableParallelism()}`;
const jest = run('npx', ['jest', '--ci', workers, '--json', `--outputFile=${jestJson}`, ...process.argv.slice(2)]);
if (fs.existsSync(jestJson)) {
  add(jestCounts(JSON.parse(fs.readFileSync(jestJson, 'utf8')), root));
} else {
  add({ passed: 0, failed: 1, skipped: 0, skippedNames: [] });
}
if (jest.status !== 0 && totals.failed === 0) {
  totals.failed += 1;
}

const go = run('go', ['test', '-count=1', '-timeout=25m', '-v', './...'], { cwd: path.join(root, 'conformance'), capture: true });
if (go.error) {
  console.log(
    `\nthe Go conformance suite could not run (${go.error.code === 'ENOENT' ? 'no go on PATH' : go.error.message}): ` +
      'install Go >= 1.26 as README "Setup" says'
  );
  totals.failed += 1;
} else {
  const counts = goCounts(go.stdout.toString());
  add(counts.failed === 0 && go.status !== 0 ? { ...counts, failed: 1 } : counts);
}

if (skippedNames.length > 0) {
  console.log(`\nskipped (${skippedNames.length}):`);
  for (const name of skippedNames) {
    console.log(`  ${name}`);
  }
}
console.log(`\n${summaryLine(totals)}`);
process.exit(totals.failed > 0 ? 1 : 0);

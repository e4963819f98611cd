#!/usr/bin/env node
/**
 * `npm test`: the whole suite, as CI runs it.
 *  1. builds the plugin (frontend bundles and the backend executable), since the conformance suite and the
 *     panel screenshots test what ships;
 *  2. runs jest (the `node` and `browser` projects: statistics against scipy, stores against real DuckDB and
 *     ClickHouse, collector, CLI, backend units, panels in headless Chromium);
 *  3. runs the Go conformance suite, which starts the built executable the way Grafana does.
 * Ends with one line `tests: N passed, N failed` and a non-zero exit code when anything failed.
 * Set MLMON_SKIP_BUILD=1 to reuse an existing dist/ while iterating.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const results = path.join(root, 'test-results');
fs.mkdirSync(results, { recursive: true });

function run(cmd, args, opts = {}) {
  process.stdout.write(`\n$ ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, {
    cwd: root,
    stdio: opts.capture ? ['inherit', 'pipe', 'inherit'] : 'inherit',
    ...opts,
  });
  if (r.error) {
    throw r.error;
  }
  if (opts.capture) {
    process.stdout.write(r.stdout);
  }
  return r;
}

let passed = 0;
let failed = 0;

if (process.env.MLMON_SKIP_BUILD !== '1') {
  const build = run('npm', ['run', 'build']);
  if (build.status !== 0) {
    console.log('\nbuild failed: fix the build before the tests can run');
    console.log(`tests: ${passed} passed, 1 failed`);
    process.exit(1);
  }
}

const jestJson = path.join(results, 'jest.json');
fs.rmSync(jestJson, { force: true });
const jest = run('npx', ['jest', '--ci', '--json', `--outputFile=${jestJson}`, ...process.argv.slice(2)]);
if (fs.existsSync(jestJson)) {
  const report = JSON.parse(fs.readFileSync(jestJson, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests + report.numRuntimeErrorTestSuites;
} else {
  failed += 1;
}
if (jest.status !== 0 && failed === 0) {
  failed += 1;
}

const go = run('go', ['test', '-count=1', '-v', './...'], { cwd: path.join(root, 'conformance'), capture: true });
const goOut = go.stdout.toString();
passed += (goOut.match(/^\s*--- PASS/gm) || []).length;
const goFailures = (goOut.match(/^\s*--- FAIL/gm) || []).length;
failed += goFailures > 0 ? goFailures : go.status !== 0 ? 1 : 0;

console.log(`\ntests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);

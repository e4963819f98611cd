/**
 * Counting the results of `npm test` (scripts/test.js): passed, failed and skipped tests of jest's `--json` report
 * and of `go test -v` output, with the name (which says why, for the suites that skip when a tool is missing) of
 * every skipped test, so that a skip is never mistaken for a pass.
 */
const path = require('node:path');

/** Jest statuses of a test that did not run. */
const NOT_RUN = new Set(['pending', 'skipped', 'todo', 'disabled']);

/**
 * Counts of a jest `--json` report. Failed counts failed tests plus suites that could not run at all; skipped
 * counts skipped and todo tests (jest's numPendingTests + numTodoTests), each named as `file › full name`.
 * @param {any} report the parsed JSON jest wrote with --json --outputFile
 * @param {string} root paths are shown relative to it
 */
function jestCounts(report, root) {
  const skippedNames = [];
  for (const file of report.testResults || []) {
    for (const test of file.assertionResults || []) {
      if (NOT_RUN.has(test.status)) {
        skippedNames.push(`${path.relative(root, file.name)} › ${test.fullName || test.title}`);
      }
    }
  }
  return {
    passed: report.numPassedTests,
    failed: report.numFailedTests + report.numRuntimeErrorTestSuites,
    skipped: report.numPendingTests + (report.numTodoTests || 0),
    skippedNames,
  };
}

/**
 * Counts of `go test -v` output: `--- PASS`, `--- FAIL` and `--- SKIP` lines (subtests included). A skipped test is
 * named with its last log line (what t.Skip printed), found by following `=== RUN/CONT/NAME` lines.
 * @param {string} output stdout of `go test -v`
 */
function goCounts(output) {
  const lastLog = new Map();
  const skippedNames = [];
  let current = '';
  const counts = { passed: 0, failed: 0, skipped: 0, skippedNames };
  for (const line of output.split('\n')) {
    const switched = /^=== (?:RUN|CONT|NAME)\s+(\S+)/.exec(line);
    const log = /^\s+\S+\.go:\d+: (.*)$/.exec(line);
    const result = /^\s*--- (PASS|FAIL|SKIP): (\S+)/.exec(line);
    if (switched) {
      current = switched[1];
    } else if (log && current) {
      lastLog.set(current, log[1]);
    } else if (result) {
      const [, status, name] = result;
      if (status === 'PASS') {
        counts.passed++;
      } else if (status === 'FAIL') {
        counts.failed++;
      } else {
        counts.skipped++;
        skippedNames.push(lastLog.has(name) ? `${name} (${lastLog.get(name)})` : name);
      }
    }
  }
  return counts;
}

/** The last line of `npm test`. */
function summaryLine({ passed, failed, skipped }) {
  return `tests: ${passed} passed, ${failed} failed, ${skipped} skipped`;
}

module.exports = { jestCounts, goCounts, summaryLine };

/**
 * `npm test`'s last line counts skipped tests, from real runs: jest's `--json` report of a suite whose tool (chdb)
 * is missing, and `go test -v` output of a module with skipped tests. A skipped test must say why.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/mlmon';

import { goCounts, jestCounts, summaryLine } from '../../scripts/test-summary';

const JEST = join(REPO_ROOT, 'node_modules/jest/bin/jest.js');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mlmon-test-summary-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('a chdb suite without chdb is counted as skipped, and its name says why', () => {
  const output = join(dir, 'jest.json');
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir }; // no ~/.cache/mlmon-chdb-venv there
  delete env.MLMON_CHDB_PYTHON;
  // Exactly one file, by path, and --selectProjects last: a variadic option there would swallow the path and run
  // every suite, this one included, recursively.
  const jest = (...flags: string[]) =>
    spawnSync(
      process.execPath,
      [JEST, ...flags, '--runTestsByPath', 'test/queries/binned-counts-current.test.ts', '--selectProjects', 'node'],
      { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 300_000 }
    );
  const listed = jest('--listTests');
  const files = listed.stdout.split('\n').filter((line) => line.endsWith('.ts'));
  expect(files).toEqual([join(REPO_ROOT, 'test/queries/binned-counts-current.test.ts')]);
  const run = jest('--ci', '--json', `--outputFile=${output}`);
  expect(run.status).toBe(0);
  const counts = jestCounts(JSON.parse(readFileSync(output, 'utf8')), REPO_ROOT);
  expect(counts).toEqual({
    passed: 0,
    failed: 0,
    skipped: 1,
    skippedNames: [
      expect.stringMatching(
        /^test\/queries\/binned-counts-current\.test\.ts › .+ \(skipped: no Python that can import chdb \(tried .*\); install it as README "Setup" says\)$/
      ),
    ],
  });
  expect(summaryLine(counts)).toBe('tests: 0 passed, 0 failed, 1 skipped');
});

test('go test -v: passes, failures and skips (with their reason), subtests included', () => {
  writeFileSync(join(dir, 'go.mod'), 'module example.com/skips\n\ngo 1.21\n');
  writeFileSync(
    join(dir, 'skips_test.go'),
    `package skips

import "testing"

func TestPasses(t *testing.T) {}

func TestNeedsDocker(t *testing.T) { t.Skip("no Docker engine on this machine") }

func TestGroup(t *testing.T) {
	t.Run("fine", func(t *testing.T) {})
	t.Run("later", func(t *testing.T) { t.Skipf("needs %s", "Grafana 13") })
}
`
  );
  const run = spawnSync('go', ['test', '-count=1', '-v', './...'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
    timeout: 300_000,
  });
  expect(run.status).toBe(0);
  expect(goCounts(run.stdout)).toEqual({
    passed: 3, // TestPasses, TestGroup/fine and TestGroup (a parent passes when its subtests pass or skip)
    failed: 0,
    skipped: 2,
    skippedNames: ['TestNeedsDocker (no Docker engine on this machine)', 'TestGroup/later (needs Grafana 13)'],
  });
});

// The phases of the query benchmarks over one data directory (run.js, run-bigdata.js): generating the data,
// `mlmon maintain`, the measuring processes, the store's size on disk, and comparing two stores' answers.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { DATA_DIR, ROOT, ROWS } = require('./environment');

const PREDICTIONS_DIR = path.join(DATA_DIR, 'store', 'models', 'bench', 'predictions');
const BASELINE_FILE = path.join(DATA_DIR, 'store', 'models', 'bench', 'baselines', 'v1.json');

/** Whether BENCH_REUSE_PHASES=1 asks for this saved phase, and it exists. */
const reusable = (saved) => process.env.BENCH_REUSE_PHASES === '1' && fs.existsSync(saved);

/**
 * Runs a command that prints one JSON object on stdout; returns it with the wall-clock seconds. With `phase`, the
 * object is also saved in the data directory, and reused from there when BENCH_REUSE_PHASES=1 (so a later phase's
 * failure does not cost the earlier phases' minutes).
 */
function runJson(command, args, label, phase) {
  const saved = phase && path.join(DATA_DIR, `phase-${phase}.json`);
  if (saved && reusable(saved)) {
    console.log(`-- ${label}: reusing ${saved}`);
    return JSON.parse(fs.readFileSync(saved, 'utf8'));
  }
  console.log(`-- ${label}`);
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 26,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) {
    throw new Error(`${label} failed (exit ${result.status ?? result.signal}); see the output above`);
  }
  const lines = result.stdout.trim().split('\n');
  const measured = { seconds, value: JSON.parse(lines[lines.length - 1]) };
  if (saved) {
    fs.writeFileSync(saved, JSON.stringify(measured));
  }
  return measured;
}

/** Command and arguments running one of this folder's TypeScript files. */
const tsx = (file, args) => [process.execPath, ['--import', 'tsx', path.join(__dirname, file), ...args]];

/** Generates the data unless the data directory holds its baseline already; returns the seconds it took, if it ran. */
function ensureData() {
  if (fs.existsSync(BASELINE_FILE)) {
    console.log(`data: reusing ${DATA_DIR}`);
    return undefined;
  }
  fs.rmSync(DATA_DIR, { recursive: true, force: true });
  const started = process.hrtime.bigint();
  const [command, args] = tsx('measure.ts', ['generate', DATA_DIR, String(ROWS)]);
  console.log(`-- generating ${ROWS} rows in ${DATA_DIR}`);
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) {
    throw new Error(`generating the data failed (exit ${result.status ?? result.signal})`);
  }
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** Removes every count cached beside the day files (`<file>.counts/`): the store as the collector left it before. */
function removePreparedCounts() {
  for (const day of fs.readdirSync(PREDICTIONS_DIR)) {
    for (const name of fs.readdirSync(path.join(PREDICTIONS_DIR, day)).filter((n) => n.endsWith('.counts'))) {
      fs.rmSync(path.join(PREDICTIONS_DIR, day, name), { recursive: true, force: true });
    }
  }
}

/** `mlmon maintain` on the store from scratch (what the collector's maintenance does after compaction). */
function runMaintain() {
  const saved = path.join(DATA_DIR, 'phase-maintain.json');
  if (reusable(saved)) {
    console.log(`-- mlmon maintain: reusing ${saved}`);
    return JSON.parse(fs.readFileSync(saved, 'utf8'));
  }
  removePreparedCounts();
  const started = process.hrtime.bigint();
  const result = spawnSync(
    process.execPath,
    [path.join(ROOT, 'bin', 'mlmon.js'), 'maintain', '--data-dir', path.join(DATA_DIR, 'store')],
    { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'inherit', 'pipe'] }
  );
  process.stderr.write(result.stderr);
  if (result.status !== 0) {
    throw new Error(`mlmon maintain failed (exit ${result.status ?? result.signal})`);
  }
  const measured = { seconds: Number(process.hrtime.bigint() - started) / 1e9, log: result.stderr.trim().split('\n') };
  fs.writeFileSync(saved, JSON.stringify(measured));
  return measured;
}

/** Bytes of the files under `dir`: only the Parquet files, or with `everyFile` every file (prepared counts too). */
function directorySize(dir, everyFile = false) {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && (everyFile || entry.name.endsWith('.parquet')))
    .reduce((sum, entry) => sum + fs.statSync(path.join(entry.parentPath ?? entry.path, entry.name)).size, 0);
}

/** Whether two answers' digests (measure.ts `digest`) agree: same frames and rows, numeric sums equal to 1e-9. */
function agreement(a, b) {
  const relative = Math.abs(a.numericSum - b.numericSum) / Math.max(1, Math.abs(a.numericSum));
  const same = a.frames === b.frames && a.rows === b.rows && relative < 1e-9;
  return `${same ? 'yes' : '**no**'} (${b.frames} frames, ${b.rows} rows, Δsum ${relative.toExponential(0)})`;
}

module.exports = {
  BASELINE_FILE,
  PREDICTIONS_DIR,
  agreement,
  directorySize,
  ensureData,
  removePreparedCounts,
  reusable,
  runJson,
  runMaintain,
  tsx,
};

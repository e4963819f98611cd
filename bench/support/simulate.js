// The demo traffic the backend benchmarks read: `mlmon simulate` of model credit_risk (15 features, late labels,
// scripted incidents) over the DAYS days before END, at `rate` requests per minute, written once into `dir`.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
const MODEL = 'credit_risk';
const DAYS = 30;
const END = '2026-11-20T00:00:00Z';

/** Writes the traffic into `dir` unless it already holds the model's baseline. */
function ensureSimulated(dir, rate) {
  if (fs.existsSync(path.join(dir, 'models', MODEL, 'baselines'))) {
    console.log(`data: reusing ${dir}`);
    return;
  }
  console.log(`-- simulating ${DAYS} days of ${MODEL} at ${rate}/min into ${dir}`);
  fs.rmSync(dir, { recursive: true, force: true });
  const args = ['simulate', '--models', MODEL, '--days', String(DAYS), '--rate', String(rate), '--end', END];
  const result = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'mlmon.js'), ...args, '--data-dir', dir], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0) {
    throw new Error(`mlmon simulate failed (exit ${result.status ?? result.signal})`);
  }
}

module.exports = { MODEL, DAYS, END, ensureSimulated };

#!/usr/bin/env node
// Runs the benchmarks: every bench/<name>/run.js, in name order, or only those named on the command line
// (`npm run bench -- report`). Each runs in its own process with the terminal's output; the exit code is non-zero
// when any of them fails.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const available = fs
  .readdirSync(__dirname, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && fs.existsSync(path.join(__dirname, entry.name, 'run.js')))
  .map((entry) => entry.name)
  .sort();

const requested = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
const unknown = requested.filter((name) => !available.includes(name));
if (unknown.length > 0) {
  console.error(`bench: no benchmark named ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}

let failed = 0;
for (const name of requested.length > 0 ? requested : available) {
  console.log(`\n== bench/${name} ==`);
  const result = spawnSync(process.execPath, [path.join(__dirname, name, 'run.js')], { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`bench/${name} failed (exit ${result.status ?? result.signal})`);
    failed++;
  }
}
process.exit(failed > 0 ? 1 : 0);

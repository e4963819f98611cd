// Writes the benchmark's reference and current files (CSV and Parquet) with DuckDB.
// Fixed seed: DuckDB's setseed() with one thread makes random() repeatable, so every run reads the same data.
// 20 numeric features of several shapes; about 1 % of cells are empty; half the features drift in `current`.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { DuckDBInstance } = require('@duckdb/node-api');

const FEATURE_COUNT = 20;

/** SQL for a standard normal draw (Box–Muller on two uniforms). */
const normal = 'sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())';

/** The shape of feature j, and its shift in the current file when `drift` is set. */
function featureExpression(j, drift) {
  const shift = drift && j % 2 === 1 ? 0.05 * (1 + (j % 5)) : 0;
  const value = [
    `${shift} + ${normal}`, // normal
    `exp(${shift} + 0.5 * ${normal})`, // log-normal (skewed)
    `round(3 * (${shift} + ${normal}))`, // discrete with many ties
    `random() + ${shift / 4}`, // uniform
  ][j % 4];
  return `CASE WHEN random() < 0.01 THEN NULL ELSE ${value} END AS f${String(j).padStart(2, '0')}`;
}

async function writeFiles(dir, rows, seed, drift, name) {
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const connection = await instance.connect();
  const columns = Array.from({ length: FEATURE_COUNT }, (_, j) => featureExpression(j, drift)).join(',\n  ');
  await connection.run(`SELECT setseed(${seed})`);
  await connection.run(`CREATE TABLE t AS SELECT ${columns} FROM range(${rows})`);
  const base = path.join(dir, name);
  await connection.run(`COPY t TO '${base}.csv' (HEADER, DELIMITER ',')`);
  await connection.run(`COPY t TO '${base}.parquet' (FORMAT parquet)`);
  connection.closeSync();
  instance.closeSync();
}

/** Writes reference.{csv,parquet} and current.{csv,parquet} into `dir` unless they are already there. */
async function generate(dir, rows) {
  fs.mkdirSync(dir, { recursive: true });
  const stamp = path.join(dir, `rows-${rows}.done`);
  if (fs.existsSync(stamp)) {
    return;
  }
  await writeFiles(dir, rows, 0.25, false, 'reference');
  await writeFiles(dir, rows, 0.75, true, 'current');
  fs.writeFileSync(stamp, '');
}

module.exports = { generate, FEATURE_COUNT };

if (require.main === module) {
  const [dir, rows] = process.argv.slice(2);
  generate(dir, Number(rows ?? 1_000_000)).catch((error) => {
    console.error(error.message);
    process.exit(1);
  });
}

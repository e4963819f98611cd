// What bench/queries/run.js and run-clickhouse.js share: the settings read from the environment (BENCH_ROWS,
// BENCH_WARM, BENCH_DATA_DIR; see run.js) and the description of the machine a run measured on.
'use strict';
const os = require('node:os');
const path = require('node:path');

const ROWS = Number(process.env.BENCH_ROWS ?? 10_000_000);

module.exports = {
  ROOT: path.resolve(__dirname, '../..'),
  ROWS,
  WARM: Number(process.env.BENCH_WARM ?? 20),
  DATA_DIR: process.env.BENCH_DATA_DIR ?? path.join(os.tmpdir(), `mlmon-bench-queries-${ROWS}`),

  /** Cores, memory, OS, Node and the load average at the start (given) and now. */
  machine(loadStart) {
    return {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGB: Math.round(os.totalmem() / 2 ** 30),
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.versions.node,
      loadAverage: { start: loadStart, end: os.loadavg() },
    };
  },
};

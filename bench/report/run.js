#!/usr/bin/env node
// Benchmark of `mlmon report` against numpy/scipy doing the same computations (reference_report.py) on the same
// files: 1 000 000 + 1 000 000 rows × 20 numeric features by default. Writes results.json and RESULTS.md here.
//
// Environment: BENCH_ROWS (default 1000000), BENCH_REPEAT (default 3), BENCH_DATA_DIR (default a folder under the
// system temp dir, reused between runs: the files are about 850 MB), MLMON_PYTHON (default /usr/bin/python3).
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { generate, FEATURE_COUNT } = require('./generate');

const ROOT = path.resolve(__dirname, '../..');
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const DATA_DIR = process.env.BENCH_DATA_DIR ?? path.join(os.tmpdir(), `mlmon-bench-report-${ROWS}`);
const PYTHON = process.env.MLMON_PYTHON ?? '/usr/bin/python3';

const GNU_TIME = '/usr/bin/time';

/**
 * Runs a command; returns its wall-clock seconds, stdout, and (when GNU time is installed) its CPU seconds
 * (user + system) and peak memory, which a busy machine disturbs less than the wall clock. Throws when it fails.
 */
function timed(command, args) {
  const usageFile = path.join(os.tmpdir(), `mlmon-bench-usage-${process.pid}`);
  const measured = fs.existsSync(GNU_TIME);
  const [program, argv] = measured
    ? [GNU_TIME, ['-f', '%U %S %M', '-o', usageFile, command, ...args]]
    : [command, args];
  const start = process.hrtime.bigint();
  const result = spawnSync(program, argv, { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26 });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status}): ${result.stderr}`);
  }
  if (!measured) {
    return { seconds, stdout: result.stdout };
  }
  const [user, system, maxKilobytes] = fs
    .readFileSync(usageFile, 'utf8')
    .trim()
    .split('\n')
    .pop()
    .split(' ')
    .map(Number);
  fs.rmSync(usageFile);
  return { seconds, cpuSeconds: user + system, peakMemoryMB: maxKilobytes / 1024, stdout: result.stdout };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function pythonVersions() {
  const script =
    'import sys, numpy, scipy, pandas, importlib.util as u; print(sys.version.split()[0], numpy.__version__, scipy.__version__, pandas.__version__, u.find_spec("pyarrow") is not None)';
  const [python, numpy, scipy, pandas, pyarrow] = execFileSync(PYTHON, ['-c', script], { encoding: 'utf8' })
    .trim()
    .split(' ');
  return { python, numpy, scipy, pandas, pyarrow: pyarrow === 'True' };
}

/** Largest |mlmon − scipy| per metric over all features: evidence that both sides computed the same numbers. */
function agreement(mlmonJson, scipyJson) {
  const report = JSON.parse(mlmonJson);
  const scipy = JSON.parse(scipyJson);
  const worst = { psi: 0, jsDistance: 0, hellinger: 0, lInf: 0, ksStatistic: 0, ksPValue: 0, wassersteinNormalized: 0 };
  for (const feature of report.features) {
    const expected = scipy[feature.name];
    const pairs = {
      psi: [feature.metrics.psi, expected.psi],
      jsDistance: [feature.metrics.jsDistance, expected.jsDistance],
      hellinger: [feature.metrics.hellinger, expected.hellinger],
      lInf: [feature.metrics.lInf, expected.lInf],
      ksStatistic: [feature.metrics.ks.statistic, expected.ks.statistic],
      ksPValue: [feature.metrics.ks.pValue, expected.ks.pValue],
      wassersteinNormalized: [feature.metrics.wasserstein.normalized, expected.wasserstein.normalized],
    };
    for (const [metric, [a, b]] of Object.entries(pairs)) {
      worst[metric] = Math.max(worst[metric], Math.abs(a - b));
    }
  }
  return { features: report.features.length, maxAbsDifference: worst };
}

function fileSizes() {
  return Object.fromEntries(
    ['reference.csv', 'current.csv', 'reference.parquet', 'current.parquet'].map((name) => [
      name,
      fs.statSync(path.join(DATA_DIR, name)).size,
    ])
  );
}

/** Median and best of one measure over the runs (undefined when the measure is missing). */
function summary(values) {
  return values.every((value) => value !== undefined)
    ? { runs: values, median: median(values), best: Math.min(...values) }
    : undefined;
}

function markdown(results) {
  const row = (label, key) => {
    const { wall, cpu, peakMemoryMB } = results.measures[key];
    const cells = [wall.runs.map((s) => s.toFixed(1)).join(', '), wall.median.toFixed(1), wall.best.toFixed(1)];
    if (cpu) {
      cells.push(cpu.median.toFixed(1), peakMemoryMB.median.toFixed(0));
    }
    return `| ${label} | ${cells.join(' | ')} |`;
  };
  const hasCpu = Boolean(results.measures.mlmonCsv.cpu);
  const d = results.agreement.maxAbsDifference;
  const m = results.machine;
  const rows = [
    row('mlmon report, CSV', 'mlmonCsv'),
    row('Python numpy/scipy, CSV', 'pythonCsv'),
    row('mlmon report, Parquet', 'mlmonParquet'),
    ...(results.measures.pythonParquet ? [row('Python numpy/scipy, Parquet', 'pythonParquet')] : []),
  ];
  const ratio = results.ratio;
  return `# mlmon report benchmark

\`npm run bench -- report\` (bench/report/run.js), ${results.date}.

- Data: ${results.rows.toLocaleString('en-US')} reference + ${results.rows.toLocaleString('en-US')} current rows × ${results.features} numeric features
  (bench/report/generate.js: DuckDB, fixed seed; normal, log-normal, discrete-with-ties and uniform shapes; ~1 % empty
  cells; half the features shifted in the current file). CSV ${(results.files['reference.csv'] / 1e6).toFixed(0)} MB per file, Parquet ${(results.files['reference.parquet'] / 1e6).toFixed(0)} MB per file.
- mlmon: \`node bin/mlmon.js report --reference … --current … --format json\` (Node ${m.node}): DuckDB reads the file and
  sorts each column, src/core/stats computes every metric (PSI, JS, Hellinger, L∞, KS, W1, noise floors, severity).
- Python: \`bench/report/reference_report.py\` (Python ${m.python.python}, numpy ${m.python.numpy}, scipy ${m.python.scipy}, pandas ${m.python.pandas}): pandas.read_csv,
  then per column np.quantile edges, the same binned distances, scipy ks_2samp(method='auto') and wasserstein_distance / std
  (no noise floors or severities, so it does less than mlmon). ${m.python.pyarrow ? 'pyarrow is installed, so Python also reads Parquet.' : 'pyarrow is not installed, so Python reads CSV only; the Parquet row is mlmon alone.'}
- Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGB} GB RAM, ${m.os}. It was shared with other work while measuring (load
  average ${m.loadAverage.start.map((x) => x.toFixed(1)).join(' ')} at the start, ${m.loadAverage.end.map((x) => x.toFixed(1)).join(' ')} at the end), so wall-clock times are pessimistic; the tools
  alternate run by run so both see the same load, and the ratio is the figure to quote.

| run (whole process) | wall s per run | wall median | wall best |${hasCpu ? ' CPU s (user+sys) median | peak MB median |' : ''}
| --- | --- | --- | --- |${hasCpu ? ' --- | --- |' : ''}
${rows.join('\n')}

**Ratio Python ÷ mlmon on CSV: ${ratio.wallMedian.toFixed(2)}× (wall-clock medians)**; best runs ${ratio.wallBest.toFixed(2)}×${ratio.cpuMedian ? `; CPU time ${ratio.cpuMedian.toFixed(2)}×` : ''}.

Same numbers on both sides (largest |mlmon − scipy| over the ${results.agreement.features} features): PSI ${d.psi.toExponential(1)},
JS distance ${d.jsDistance.toExponential(1)}, Hellinger ${d.hellinger.toExponential(1)}, L∞ ${d.lInf.toExponential(1)}, KS D ${d.ksStatistic.toExponential(1)},
KS p-value ${d.ksPValue.toExponential(1)}, W1/σ ${d.wassersteinNormalized.toExponential(1)}.
`;
}

async function main() {
  const loadStart = os.loadavg();
  const versions = pythonVersions();
  console.log(`data: ${DATA_DIR} (${ROWS} rows × ${FEATURE_COUNT} features; generated once, then reused)`);
  await generate(DATA_DIR, ROWS);
  const file = (name) => path.join(DATA_DIR, name);
  const reportArgs = (ext) => ['--reference', file(`reference.${ext}`), '--current', file(`current.${ext}`)];
  const tools = {
    mlmonCsv: () =>
      timed(process.execPath, [path.join(ROOT, 'bin/mlmon.js'), 'report', ...reportArgs('csv'), '--format', 'json']),
    pythonCsv: () =>
      timed(PYTHON, [path.join(__dirname, 'reference_report.py'), file('reference.csv'), file('current.csv')]),
    mlmonParquet: () =>
      timed(process.execPath, [
        path.join(ROOT, 'bin/mlmon.js'),
        'report',
        ...reportArgs('parquet'),
        '--format',
        'json',
      ]),
    ...(versions.pyarrow
      ? {
          pythonParquet: () =>
            timed(PYTHON, [
              path.join(__dirname, 'reference_report.py'),
              file('reference.parquet'),
              file('current.parquet'),
            ]),
        }
      : {}),
  };
  const runs = Object.fromEntries(Object.keys(tools).map((key) => [key, []]));
  for (let repetition = 1; repetition <= REPEAT; repetition++) {
    for (const [key, run] of Object.entries(tools)) {
      runs[key].push(run());
    }
    const line = Object.entries(runs).map(([key, values]) => `${key} ${values[repetition - 1].seconds.toFixed(1)} s`);
    console.log(`run ${repetition}/${REPEAT}: ${line.join(', ')}`);
  }
  const measures = Object.fromEntries(
    Object.entries(runs).map(([key, values]) => [
      key,
      {
        wall: summary(values.map((v) => v.seconds)),
        cpu: summary(values.map((v) => v.cpuSeconds)),
        peakMemoryMB: summary(values.map((v) => v.peakMemoryMB)),
      },
    ])
  );
  const results = {
    date: new Date().toISOString(),
    rows: ROWS,
    features: FEATURE_COUNT,
    repeat: REPEAT,
    files: fileSizes(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGB: Math.round(os.totalmem() / 2 ** 30),
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.versions.node,
      python: versions,
      loadAverage: { start: loadStart, end: os.loadavg() },
    },
    measures,
    ratio: {
      wallMedian: measures.pythonCsv.wall.median / measures.mlmonCsv.wall.median,
      wallBest: measures.pythonCsv.wall.best / measures.mlmonCsv.wall.best,
      cpuMedian: measures.mlmonCsv.cpu ? measures.pythonCsv.cpu.median / measures.mlmonCsv.cpu.median : undefined,
    },
    agreement: agreement(runs.mlmonCsv[REPEAT - 1].stdout, runs.pythonCsv[REPEAT - 1].stdout),
  };
  fs.writeFileSync(path.join(__dirname, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  fs.writeFileSync(path.join(__dirname, 'RESULTS.md'), markdown(results));
  console.log(
    `ratio Python / mlmon on CSV (wall-clock medians): ${results.ratio.wallMedian.toFixed(2)}×; wrote bench/report/results.json and RESULTS.md`
  );
}

main().catch((error) => {
  console.error(error.message);
  process.exit(1);
});

/**
 * `npm run demo`: the product end to end on this machine.
 *  1. writes 14 days of demo traffic with scripted incidents for three models into ./mlmon-data (churn with its
 *     challenger v2 scoring in shadow, so that Model overview's champion-vs-challenger row has two versions)
 *     (`mlmon simulate`, docs/SIMULATION.md) when the directory lacks them (`--fresh` rewrites the directory);
 *     other models there (your own, or one a mistyped model name created) are left alone and listed;
 *  2. asks the datasource backend's own query handlers for each demo model's severity matrix (features × days)
 *     against the demo baseline, and prints it, which is what the severity heatmap panel draws in Grafana;
 *  3. unless `--no-serve`: builds the plugin when dist/ lacks it, keeps the collector (`mlmon serve --demo`,
 *     loopback only) running so that more traffic can be sent, and starts Grafana with the plugin and
 *     provisioning through `docker compose` when a Docker engine is there. Ctrl-C stops everything.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { readSeverityFrame, type SeverityGrid, type SeverityLevel } from '../src/core/query/frames';
import { parseQuery } from '../src/core/query/queryTypes';
import { createInstance } from '../src/server/backend/instances';
import { openStore } from '../src/server/backend/openStore';
import { localInstanceSettings, parseSettings } from '../src/server/backend/settings';
import { severityQuery } from '../src/server/queries/severity';
import { ALL_SIMULATED_MODELS as DEMO_MODELS } from '../src/server/simulate/scenario';
import type { PredictionStore } from '../src/server/store/types';

const root = resolve(__dirname, '..');
const dataDir = resolve(root, process.env.MLMON_DATA_DIR ?? 'mlmon-data');
const executable = resolve(root, 'dist/datasource/gpx_modelmonitor_linux_amd64');
const mlmon = resolve(root, 'bin/mlmon.js');
const DAY_MS = 24 * 3600 * 1000;

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

function runOrExit(command: string, args: string[], what: string): void {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    say(`\n${what} failed (exit ${result.status}); fix the error above and run \`npm run demo\` again.`);
    process.exit(1);
  }
}

/** Severity levels as one terminal character each, coloured when stdout is a terminal. */
function cell(level: SeverityLevel): string {
  const [mark, colour] = level === null ? ['·', 90] : [['ok', 'in', 'WA', 'CR'][level], [32, 34, 33, 31][level]];
  const text = mark.padEnd(3);
  return process.stdout.isTTY ? `\u001b[${colour}m${text}\u001b[0m` : text;
}

function printGrid(grid: SeverityGrid): void {
  const days = [...new Set(grid.cells.map((c) => c.time))].sort((a, b) => a - b);
  const features = [...new Set(grid.cells.map((c) => c.feature))];
  const width = Math.max(...features.map((f) => f.length), 8);
  const header = days.map((t) => new Date(t).toISOString().slice(8, 10).padEnd(3)).join('');
  say(
    `\n${grid.meta.model}: ${grid.meta.metric.toUpperCase()} per day (warning ≥ ${grid.meta.thresholds.warning}, critical ≥ ${grid.meta.thresholds.critical}, and above the noise floor)`
  );
  say(`${'day of month'.padEnd(width)}  ${header}`);
  for (const feature of features) {
    const byTime = new Map(grid.cells.filter((c) => c.feature === feature).map((c) => [c.time, c.level]));
    say(`${feature.padEnd(width)}  ${days.map((t) => cell(byTime.has(t) ? byTime.get(t)! : null)).join('')}`);
  }
}

/** The demo models the data directory lacks: no traffic, no challenger traffic, or not the demo's baseline. */
async function missingDemoModels(store: PredictionStore): Promise<string[]> {
  const models = await store.listModels();
  const missing: string[] = [];
  for (const model of DEMO_MODELS) {
    const stored = models.includes(model.name) ? await store.listVersions(model.name) : [];
    const versions = stored.map((summary) => summary.version);
    const wanted = [model.version, model.challenger?.version].filter((v): v is string => v !== undefined);
    if (!wanted.every((v) => versions.includes(v)) || !(await store.getBaseline(model.name, model.version))) {
      missing.push(model.name);
    }
  }
  return missing;
}

/** "a", "a and b", "a, b and c". */
function listed(names: string[]): string {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** Opens the data directory as the datasource backend does (its instance, its store). */
function backendInstance() {
  return createInstance(
    parseSettings(localInstanceSettings({ storeKind: 'embedded', dataDirectory: dataDir }, {}, 'demo')),
    openStore
  );
}

/** Writes the demo models the data directory lacks (all of them after --fresh). */
async function writeDemoData(): Promise<void> {
  const instance = backendInstance();
  const missing = await missingDemoModels(await instance.store()).finally(() => instance.dispose());
  if (missing.length > 0) {
    const challenger = DEMO_MODELS.some((model) => model.challenger && missing.includes(model.name));
    say(`Writing 14 days of demo traffic for ${listed(missing)} into ${dataDir} (mlmon simulate)…`);
    runOrExit(
      process.execPath,
      [
        mlmon,
        'simulate',
        '--models',
        missing.join(','),
        ...(challenger ? ['--challenger'] : []),
        '--data-dir',
        dataDir,
      ],
      'mlmon simulate'
    );
  }
}

/**
 * Prints each demo model's severity matrix against the demo baseline (named, so that other baselines stored for
 * the model since do not change it), then lists the other models of the directory.
 */
async function printSeverity(): Promise<void> {
  const instance = backendInstance();
  const store = await instance.store();
  try {
    const to = Math.ceil(Date.now() / DAY_MS) * DAY_MS;
    for (const model of DEMO_MODELS) {
      const query = parseQuery({
        refId: 'A',
        queryType: 'severity',
        model: model.name,
        baseline: model.version,
        bucket: '1d',
      });
      const frames = await severityQuery({
        query: query as never,
        range: { from: to - 15 * DAY_MS, to },
        intervalMs: DAY_MS,
        maxDataPoints: 100,
        instance,
        signal: new AbortController().signal,
      });
      printGrid(readSeverityFrame(frames[0]));
    }
    say('\nok / in(fo) / WA(rning) / CR(itical); · = too few rows to rate. docs/SIMULATION.md lists the incidents.');
    const demo = new Set(DEMO_MODELS.map((m) => m.name));
    const others = (await store.listModels()).filter((m) => !demo.has(m)).sort();
    if (others.length > 0) {
      say(
        `\nOther models in ${dataDir}, not part of the demo: ${others.join(', ')}. ` +
          '`npx mlmon models list` shows what each holds; `npx mlmon models delete NAME --yes` removes one ' +
          'that a mistyped model name created.'
      );
    }
  } finally {
    await instance.dispose();
  }
}

function dockerEngineRunning(): boolean {
  return spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
}

async function main(): Promise<void> {
  const fresh = process.argv.includes('--fresh');
  const serve = !process.argv.includes('--no-serve');
  if (fresh) {
    rmSync(dataDir, { recursive: true, force: true });
  }
  await writeDemoData();
  await printSeverity();
  if (!serve) {
    return;
  }
  if (!existsSync(executable)) {
    say('\nBuilding the plugin for Grafana (npm run build)…');
    runOrExit('npm', ['run', 'build'], 'The build');
  }

  const children: ChildProcess[] = [];
  const stop = () => {
    children.forEach((child) => child.kill('SIGTERM'));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  say('\nStarting the collector on http://127.0.0.1:8787 (demo mode: no token, loopback only).');
  children.push(
    spawn(process.execPath, [mlmon, 'serve', '--demo', '--data-dir', dataDir], { cwd: root, stdio: 'inherit' })
  );
  say(
    'Send a prediction:\n' +
      `  curl -s -X POST http://127.0.0.1:8787/api/v1/models/credit_risk/predictions -H 'Content-Type: application/json' \\\n` +
      `    -d '[{"id":"demo-1","ts":${Date.now()},"version":"v1","features":{"income":52000},"prediction":0,"score":0.12}]'`
  );
  if (dockerEngineRunning()) {
    say(
      '\nStarting Grafana with the plugin on http://127.0.0.1:3000 (docker compose up): loopback only, and anyone ' +
        'who reaches it is an Admin without a login (docker-compose.yaml).'
    );
    children.push(
      spawn('docker', ['compose', 'up', '--build'], {
        cwd: root,
        stdio: 'inherit',
        env: { ...process.env, MLMON_DATA_DIR: dataDir },
      })
    );
  } else {
    say(
      '\nNo Docker engine here, so Grafana is not started. To see the dashboards, install dist/ into a Grafana 13 ' +
        `(README, "Install into Grafana") and point the Model Monitor datasource at ${dataDir}.`
    );
  }
  say('Ctrl-C stops the demo.');
  await Promise.all(children.map((child) => new Promise((done) => child.on('exit', done))));
}

main().catch((error: unknown) => {
  say(`demo failed: ${(error as Error).message}`);
  process.exit(1);
});

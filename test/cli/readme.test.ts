/**
 * The README's commands, run as a new user runs them: the `curl` lines of "Log predictions" against a real
 * collector, the "Baselines and reports" lines on files of a binary classifier, the install that makes `mlmon` work
 * outside the checkout; plus what the README promises about its links, the compose file and the setup.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { LOAD_TOKEN, spawnCollector, stopCollector } from '../collector/harness';
import { classifierRows, toCsv } from '../support/classifier-data';
import { MLMON_BIN, REPO_ROOT } from '../support/mlmon';
import { MLFLOW_VERSION } from '../support/mlflow';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

/** The text of a `## ` or `### ` section of the README, up to the next heading of any level. */
function section(heading: string): string {
  const start = README.indexOf(`\n${heading}\n`);
  if (start < 0) {
    throw new Error(`README has no section "${heading}"`);
  }
  const rest = README.slice(start + heading.length + 2);
  const next = rest.search(/^#{1,3} /m);
  return next < 0 ? rest : rest.slice(0, next);
}

/** The ```sh blocks of a text. */
function shellBlocks(text: string): string[] {
  return [...text.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

/** The commands of a shell block: continuation lines joined, comments and blank lines dropped. */
function commands(block: string): string[] {
  return block
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

function bash(script: string, cwd: string, env: Record<string, string> = {}) {
  const result = spawnSync('bash', ['-c', script], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
    timeout: 120_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mlmon-readme-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('"Log predictions": the README batch (both ts forms) and the labels curl are accepted by the collector', async () => {
  const block = shellBlocks(section('### Log predictions')).find((b) => b.includes('curl'));
  expect(block).toBeDefined();
  const dataDir = join(dir, 'collector-data');
  const collector = await spawnCollector(['--data-dir', dataDir]);
  try {
    const script = block!.replace(/http:\/\/127\.0\.0\.1:8787/g, collector.url);
    expect(script).not.toBe(block); // the README names the collector's default address
    const run = bash(`set -e\n${script}`, mkdtempSync(join(dir, 'cwd-')), { MLMON_COLLECTOR_TOKEN: LOAD_TOKEN });
    expect(run.code).toBe(0);
    const answers = run.stdout
      .split(/(?<=\})(?=\{)/)
      .map((text) => JSON.parse(text) as { accepted?: number; rejected?: number; error?: string });
    expect(answers).toEqual([
      expect.objectContaining({ accepted: 2, rejected: 0 }),
      expect.objectContaining({ accepted: 1, rejected: 0 }),
    ]);
  } finally {
    expect(await stopCollector(collector)).toBe(0);
  }
  const store = await EmbeddedStore.open(dataDir);
  try {
    const rows = await store.query<{ id: string; ts: number }>(
      `SELECT id, ts FROM ${await store.predictionsRelation('credit_risk')} ORDER BY id`
    );
    // ISO 8601 with a zone and epoch milliseconds, as the README documents them.
    expect(rows.map((r) => [r.id, Number(r.ts)])).toEqual([
      ['req-1', Date.parse('2026-03-01T12:00:00Z')],
      ['req-2', Date.parse('2026-03-01T12:01:00Z')],
    ]);
    const labels = await store.query<{ id: string }>(`SELECT id FROM ${await store.labelsRelation('credit_risk')}`);
    expect(labels.map((l) => l.id)).toEqual(['req-1']);
  } finally {
    await store.close();
  }
});

describe('"Baselines and reports" on the files of a binary classifier', () => {
  let cwd: string;
  const runs: Array<{ command: string; code: number | null; stdout: string; stderr: string }> = [];

  beforeAll(async () => {
    cwd = mkdtempSync(join(dir, 'baselines-'));
    writeFileSync(join(cwd, 'training.csv'), toCsv(classifierRows(600, 11)));
    writeFileSync(join(cwd, 'last_week.csv'), toCsv(classifierRows(500, 12, 1.6, '2026-03-01T00:00:00Z')));
    const served = classifierRows(300, 13, 1, '2026-03-02T00:00:00Z');
    writeFileSync(
      join(cwd, 'predictions.csv'),
      'id,ts,version,income,age,region,prediction,score\n' +
        served.map((r) => [r.id, r.ts, 'v4', r.income, r.age, r.region, r.approved, r.score].join(',')).join('\n') +
        '\n'
    );
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    for (const name of ['training', 'last_week']) {
      await connection.run(
        `COPY (SELECT * FROM read_csv('${join(cwd, `${name}.csv`)}')) TO '${join(cwd, `${name}.parquet`)}' (FORMAT parquet)`
      );
    }
    connection.closeSync();
    instance.closeSync();
    const block = shellBlocks(section('### Baselines and reports'))[0];
    for (const command of commands(block)) {
      expect(command.startsWith('npx mlmon ')).toBe(true);
      const run = bash(command.replace(/^npx mlmon /, `node ${MLMON_BIN} `), cwd, {
        MLMON_DATA_DIR: join(cwd, 'mlmon-data'),
      });
      runs.push({ command, ...run });
    }
  });

  const run = (start: string) => {
    const found = runs.find((r) => r.command.startsWith(start));
    expect(found).toBeDefined();
    return found!;
  };

  it('stores a classifier baseline with AUC, without id or ts as features', async () => {
    expect(run('npx mlmon baseline --model').code).toBe(0);
    const store = await EmbeddedStore.open(join(cwd, 'mlmon-data'));
    try {
      const [summary] = await store.listBaselines('credit_risk');
      const baseline = (await store.getBaseline('credit_risk', summary.version))!;
      expect(Object.keys(baseline.features)).toEqual(['income', 'age', 'region']);
      expect(baseline.performance).toMatchObject({ task: 'classification', averaging: 'binary', count: 600 });
      expect(baseline.performance).toHaveProperty('auc', expect.any(Number));
    } finally {
      await store.close();
    }
  });

  it('lists it, reports the drifted window with the failing feature named, and ingests predictions', () => {
    const listed = run('npx mlmon baseline list');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^v4\s+\S+\s+600\s+3\s+training\.parquet$/m);
    const report = run('npx mlmon report');
    expect(report.code).toBe(1);
    expect(report.stdout).toMatch(/^income\s+numeric\s+critical/m);
    expect(report.stdout).toContain('--fail-on critical: reached by income; exit code 1.');
    expect(report.stdout).toMatch(/^ {2}approved: excluded by --exclude$/m);
    expect(report.stdout).toMatch(/^ {2}id: an id or time column/m);
    const ingest = run('npx mlmon ingest');
    expect(ingest.code).toBe(0);
    expect(ingest.stderr).toContain('done, 300 rows stored');
  });
});

describe('the mlmon command outside the checkout', () => {
  const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

  it('works after the README install line (npm install -g ., here into a private prefix)', () => {
    const install = commands(shellBlocks(section('## Using it'))[0]).find((c) => c.startsWith('npm install -g'));
    expect(install).toBe('npm install -g .');
    const prefix = join(dir, 'prefix');
    const installed = bash(`${install} --prefix ${prefix} --offline --no-audit --no-fund`, REPO_ROOT);
    expect(installed.code).toBe(0);
    const elsewhere = mkdtempSync(join(dir, 'elsewhere-'));
    const env = { PATH: `${join(prefix, 'bin')}:${process.env.PATH}` };
    expect(bash('mlmon --version', elsewhere, env)).toMatchObject({ code: 0, stdout: `${version}\n` });
    const help = bash('mlmon report --help', elsewhere, env);
    expect(help.stdout).toContain('Usage: mlmon report');
  });

  it('works through a symbolic link to bin/mlmon.js, the README alternative', () => {
    const bin = join(dir, 'local-bin');
    mkdirSync(bin);
    symlinkSync(MLMON_BIN, join(bin, 'mlmon'));
    expect(README).toContain('ln -s "$PWD/bin/mlmon.js" ~/.local/bin/mlmon');
    const run = bash('mlmon --version', mkdtempSync(join(dir, 'elsewhere-')), {
      PATH: `${bin}:${process.env.PATH}`,
    });
    expect(run).toMatchObject({ code: 0, stdout: `${version}\n` });
  });
});

describe('what the README says of itself', () => {
  /** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
  const anchor = (heading: string) =>
    heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');

  it('links only to files and headings that exist (README.md and docs/)', () => {
    const documents = [
      'README.md',
      ...readdirSync(join(REPO_ROOT, 'docs'))
        .filter((name) => name.endsWith('.md')) // docs/img holds the screenshots
        .map((name) => `docs/${name}`),
    ];
    let checked = 0;
    for (const document of documents) {
      const text = readFileSync(join(REPO_ROOT, document), 'utf8');
      const headings = new Set([...text.matchAll(/^#+ (.*)$/gm)].map((m) => anchor(m[1])));
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^https?:/.test(target)) {
          continue;
        }
        checked++;
        if (target.startsWith('#')) {
          expect([document, target, headings.has(target.slice(1))]).toEqual([document, target, true]);
        } else {
          const file = join(REPO_ROOT, dirname(document), target.split('#')[0]);
          expect([document, target, existsSync(file)]).toEqual([document, target, true]);
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(5);
    expect(README).toContain('](docs/METRICS.md)');
    expect(README).toContain('](docs/DESIGN.md)');
  });

  it('names the Go version conformance/go.mod needs and the chdb and MLflow versions .ci/run installs', () => {
    const goMod = readFileSync(join(REPO_ROOT, 'conformance/go.mod'), 'utf8');
    const [, goMinor] = /^go (\d+\.\d+)/m.exec(goMod)!;
    expect(section('### Setup')).toContain(`**Go ≥ ${goMinor}**`);
    const ci = readFileSync(join(REPO_ROOT, '.ci/run'), 'utf8');
    const [chdb] = /chdb==[\d.]+/.exec(ci)!;
    expect(section('### Setup')).toContain(`pip install ${chdb}`);
    const [mlflow] = /mlflow==[\d.]+/.exec(ci)!;
    expect(section('### Setup')).toContain(`pip install ${mlflow}`);
    expect(mlflow).toBe(`mlflow==${MLFLOW_VERSION}`);
    expect(section('### Model registry (MLflow)')).toContain(`MLflow ${MLFLOW_VERSION}`);
  });

  it('publishes Grafana on loopback only, and says it lets anyone in as an Admin', () => {
    const compose = readFileSync(join(REPO_ROOT, 'docker-compose.yaml'), 'utf8');
    expect(compose).not.toMatch(/^\s*extends:/m); // no ports from another file
    const ports = [...compose.matchAll(/^\s*ports:\n((?:\s+- .*\n)+)/gm)].flatMap((m) =>
      m[1].split('\n').filter((line) => line.trim().startsWith('-'))
    );
    expect(ports.length).toBeGreaterThan(0);
    for (const port of ports) {
      expect(port).toMatch(/^\s+- '127\.0\.0\.1:\d+:\d+(\/tcp)?'$/);
    }
    expect(compose).toContain('WITHOUT A LOGIN, AS AN ADMIN');
    expect(section('## Install into Grafana')).toContain('it listens on 127.0.0.1:3000 and lets');
    expect(section('## Install into Grafana')).toContain('**as an Admin**');
  });
});

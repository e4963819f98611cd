/**
 * A real MLflow tracking server (from PyPI) on loopback for the model-registry tests: SQLite backend store, artifacts
 * served by the server (`mlflow-artifacts:/`). MLflow is not optional: MLMON_MLFLOW_PYTHON names a Python with
 * `mlflow` (as .ci/run installs it: `python3 -m venv ~/.cache/mlmon-mlflow-venv && …/pip install mlflow==3.18.0`),
 * else ~/.cache/mlmon-mlflow-venv/bin/python is used; without one the tests fail saying how to install it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './clickhouse';

/** The MLflow version the tests run against (and .ci/run installs). */
export const MLFLOW_VERSION = '3.18.0';
const SCRIPT = join(__dirname, 'mlflow_registry.py');

/** The Python with MLflow; throws what to install when there is none. */
export function mlflowPython(): string {
  const python = process.env.MLMON_MLFLOW_PYTHON || join(homedir(), '.cache/mlmon-mlflow-venv/bin/python');
  if (!existsSync(python)) {
    throw new Error(
      `no Python with MLflow at ${python}: python3 -m venv ~/.cache/mlmon-mlflow-venv && ` +
        `~/.cache/mlmon-mlflow-venv/bin/pip install mlflow==${MLFLOW_VERSION} (or set MLMON_MLFLOW_PYTHON), as .ci/run does`
    );
  }
  return python;
}

export interface MlflowServer {
  url: string;
  /** Runs test/support/mlflow_registry.py against the server; resolves with its JSON answer. */
  run(...args: string[]): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

/** Starts `mlflow server` on a free loopback port and waits (up to 120 s) until it answers /health. */
export async function startMlflow(): Promise<MlflowServer> {
  const python = mlflowPython();
  const dir = mkdtempSync(join(tmpdir(), 'mlmon-mlflow-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // A process group of its own: the server runs uvicorn workers, all stopped with the group.
  const child: ChildProcess = spawn(
    python,
    [
      '-m',
      'mlflow',
      'server',
      '--backend-store-uri',
      `sqlite:///${join(dir, 'mlflow.db')}`,
      '--artifacts-destination',
      join(dir, 'artifacts'),
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--workers',
      '1',
    ],
    { cwd: dir, detached: true, stdio: ['ignore', 'ignore', 'pipe'] }
  );
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
  const stop = async () => {
    if (child.exitCode === null && child.pid) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(-child.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      if (child.exitCode === null) {
        process.kill(-child.pid, 'SIGKILL');
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    const up = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false
    );
    if (up) {
      break;
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`mlflow server did not start on ${url}:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const run = async (...args: string[]) => {
    const { stdout } = await promisify(execFile)(python, [SCRIPT, ...args], {
      env: { ...process.env, MLFLOW_TRACKING_URI: url, GIT_PYTHON_REFRESH: 'quiet' },
      timeout: 120_000,
    });
    return JSON.parse(stdout.trim().split('\n').pop()!);
  };
  return { url, run, stop };
}

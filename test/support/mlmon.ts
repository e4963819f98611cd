/**
 * Runs the real `mlmon` command line (node bin/mlmon.js) as a user does, in a child process, and returns its exit
 * code and output. The collector token is cleared so that the caller's environment cannot change the outcome.
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '..', '..');
export const MLMON_BIN = join(REPO_ROOT, 'bin', 'mlmon.js');

export interface MlmonRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `mlmon ...args` in `cwd` (default: the repository), with extra environment variables. */
export function mlmon(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): MlmonRun {
  const result = spawnSync(process.execPath, [MLMON_BIN, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, MLMON_COLLECTOR_TOKEN: '', NO_COLOR: '1', ...options.env },
    timeout: 120_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

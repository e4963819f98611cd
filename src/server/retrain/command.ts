/**
 * Runs the configured retraining command for a request, one at a time (a retraining job is heavy; requests queue):
 * no shell, the request as JSON on stdin, its file and main fields in the environment, a time limit (SIGTERM to its
 * process group, then SIGKILL 10 s later), and its output kept to the last 16 KiB for the log.
 *
 * Environment of the command: PATH and HOME of the hook, plus
 *   MLMON_RETRAIN_REQUEST   path of the request file (JSON)
 *   MLMON_RETRAIN_ID        request id
 *   MLMON_MODEL, MLMON_VERSION, MLMON_FEATURES (comma-separated, most drifted first)
 * Nothing else of the hook's environment (its secret in particular) reaches the command.
 */
import { spawn } from 'node:child_process';
import type { RetrainRequest } from './request';

export interface CommandSpec {
  path: string;
  args: string[];
  timeoutMs: number;
}

export interface CommandResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Stopped because the hook stopped: it runs again when the hook starts next. */
  aborted: boolean;
  durationMs: number;
  /** The end of stdout and stderr together. */
  output: string;
}

const OUTPUT_TAIL = 16 * 1024;
const KILL_GRACE_MS = 10_000;

function runOnce(
  spec: CommandSpec,
  request: RetrainRequest,
  file: string,
  signal: AbortSignal
): Promise<CommandResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve({ exitCode: null, signal: null, timedOut: false, aborted: true, durationMs: 0, output: '' });
      return;
    }
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
    };
    // Its own process group, so that a stop or the time limit reaches what the command started too.
    const child = spawn(spec.path, spec.args, {
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
        MLMON_RETRAIN_REQUEST: file,
        MLMON_RETRAIN_ID: request.id,
        MLMON_MODEL: request.model,
        MLMON_VERSION: request.version ?? '',
        MLMON_FEATURES: request.features.map((f) => f.feature).join(','),
      },
    });
    const killGroup = (name: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, name);
      } catch {
        // the group is gone already
      }
    };
    let timedOut = false;
    let killer: NodeJS.Timeout | undefined;
    const stop = () => {
      killGroup('SIGTERM');
      killer ??= setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, spec.timeoutMs);
    const abort = () => stop();
    signal.addEventListener('abort', abort, { once: true });
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.stdin.on('error', () => undefined); // a command that does not read its stdin closes it early
    child.stdin.end(JSON.stringify(request) + '\n');
    const finish = (exitCode: number | null, killedBy: string | null, failure?: Error) => {
      clearTimeout(timer);
      clearTimeout(killer);
      signal.removeEventListener('abort', abort);
      resolve({
        exitCode,
        signal: killedBy,
        timedOut,
        aborted: signal.aborted,
        durationMs: Date.now() - started,
        output: failure ? `${output}could not start ${spec.path}: ${failure.message}` : output,
      });
    };
    child.once('error', (error) => finish(null, null, error));
    child.once('close', (code, signal) => finish(code, signal));
  });
}

/**
 * Runs commands one after another; `run` resolves when this request's command has finished. `stop` ends the
 * running command (SIGTERM) and skips the queued ones: their results say `aborted`.
 */
export function commandQueue(spec: CommandSpec) {
  let tail: Promise<unknown> = Promise.resolve();
  const stopping = new AbortController();
  return {
    run(request: RetrainRequest, file: string): Promise<CommandResult> {
      const next = tail.then(() => runOnce(spec, request, file, stopping.signal));
      tail = next.catch(() => undefined);
      return next;
    },
    /** Stops the running command and the queued ones; resolves when they are gone. */
    stop: () => {
      stopping.abort();
      return tail.then(() => undefined);
    },
  };
}

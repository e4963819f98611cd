/**
 * The alerts the hook has acted on, so that each is acted on once: Grafana sends a firing alert again after every
 * repeat interval, and again when a notification is retried. An alert is its fingerprint (Grafana's hash of its
 * labels) and the time it started firing: the same labels firing again later, after resolving, are a new alert.
 *
 * Kept in `<state-dir>/handled.ndjson` (one key per line, appended and fsynced before the hook answers), so a restart
 * does not act twice; a line a crash cut short was never answered for, and is skipped.
 */
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface HandledLog {
  /** Claims the alert: true when it was not handled yet (then it is, from now on, in this process). */
  claim(key: string): boolean;
  /** Gives a claim back when acting on it failed, so that Grafana's retry is acted on. */
  release(key: string): void;
  /** Makes a claim durable. */
  persist(key: string): Promise<void>;
}

export function alertKey(fingerprint: string, startsAt: string): string {
  return `${fingerprint}@${new Date(startsAt).toISOString()}`;
}

export async function openHandledLog(stateDir: string): Promise<HandledLog> {
  await mkdir(stateDir, { recursive: true });
  const file = join(stateDir, 'handled.ndjson');
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw error;
    }
  }
  const lines = text.split('\n');
  const complete = text.endsWith('\n') ? lines : lines.slice(0, -1);
  const handled = new Set(complete.filter(Boolean));
  let torn = !text.endsWith('\n') && text !== '';
  return {
    // Synchronous check-and-set: two requests for one alert in the same event-loop turn cannot both claim it.
    claim(key) {
      if (handled.has(key)) {
        return false;
      }
      handled.add(key);
      return true;
    },
    release(key) {
      handled.delete(key);
    },
    async persist(key) {
      const handle = await open(file, 'a');
      try {
        await handle.write(`${torn ? '\n' : ''}${key}\n`);
        await handle.sync();
        torn = false;
      } finally {
        await handle.close();
      }
    },
  };
}

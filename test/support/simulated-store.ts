/**
 * An embedded store written by `mlmon simulate` (run in-process, as a user's command line would), with a datasource
 * instance over it, for tests that read simulated traffic through the handlers.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatasourceInstance } from '../../src/server/backend/instances';
import { command as simulate } from '../../src/server/cli/simulate';
import { instanceFor } from '../queries/traffic-fixture';

export interface SimulatedStore {
  instance: DatasourceInstance;
  /** Disposes of the instance and removes the data directory. */
  remove(): Promise<void>;
}

/** Runs `mlmon simulate <args> --end <end> --data-dir <a new directory>`; fails unless it exits 0. */
export async function simulatedStore(args: readonly string[], end: number): Promise<SimulatedStore> {
  const dir = await mkdtemp(join(tmpdir(), 'mlmon-simulated-'));
  const code = await simulate.run([...args, '--end', new Date(end).toISOString(), '--data-dir', dir]);
  if (code !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`mlmon simulate ${args.join(' ')} exited ${code}`);
  }
  const instance = instanceFor({ dataDirectory: dir });
  return {
    instance,
    remove: async () => {
      await instance.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

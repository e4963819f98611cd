/**
 * Fault injection for the collector's store worker (store-worker.ts `storeWrapper`): wraps the store the worker
 * opens. A test creates a marker file in the directory given as `faults` to make the worker's next prediction writes
 * misbehave, and removes it to let them succeed:
 *   fail-writes        the write throws (a store outage)
 *   die-before-write   the worker thread exits before writing (a crash in a native library, running out of memory)
 *   die-after-write    the worker thread exits after the write succeeded, before it could report it
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PredictionWriter } from '../../src/server/store/types';

export function wrapStore(store: PredictionWriter, options: { faults: string }): PredictionWriter {
  const marker = (name: string) => fs.existsSync(path.join(options.faults, name));
  return {
    writePredictions: async (model, records, options) => {
      if (marker('fail-writes')) {
        throw new Error('injected store failure');
      }
      if (marker('die-before-write')) {
        process.exit(70);
      }
      const result = await store.writePredictions(model, records, options);
      if (marker('die-after-write')) {
        process.exit(71);
      }
      return result;
    },
    writeLabels: (model, records) => store.writeLabels(model, records),
    getFeatures: (model) => store.getFeatures(model),
    recentIds: (model, limit) => store.recentIds(model, limit),
  };
}

/**
 * Starts a worker thread that runs a function exported by one of our modules. When the module is TypeScript (the
 * `mlmon` command runs the sources through tsx), the worker registers tsx first, as the main thread did.
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';

/** The worker's code: loads the module (through tsx when it is TypeScript) and calls the named export. */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
if (workerData.loader) require(workerData.loader);
require(workerData.module)[workerData.entry]();
`;

/** What a module worker is started with; `data` is its own part (read it with moduleWorkerData). */
interface ModuleWorkerData<T> {
  loader: string | undefined;
  module: string;
  entry: string;
  data: T;
}

/** Starts `entry()` of `module` (a file path) in a worker thread; `data` reaches it through moduleWorkerData(). */
export function startModuleWorker<T>(module: string, entry: string, data: T, resourceLimits: ResourceLimits): Worker {
  const workerData: ModuleWorkerData<T> = {
    loader: module.endsWith('.ts') ? require.resolve('tsx/cjs') : undefined,
    module,
    entry,
    data,
  };
  return new Worker(WORKER_SOURCE, { eval: true, workerData, resourceLimits });
}

/** In a module worker: the data it was started with. */
export function moduleWorkerData<T>(workerData: unknown): T {
  return (workerData as ModuleWorkerData<T>).data;
}

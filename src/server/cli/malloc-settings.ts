/**
 * glibc malloc settings for `mlmon serve`, which glibc reads from the environment once, when the process starts.
 *
 * The collector's large short-lived allocations are ArrayBuffer backing stores, which V8 takes from malloc: request
 * bodies (~0.5 MB per 1 000 records), the typed arrays of their columns, the write-ahead log's frames, the
 * de-duplication tables. glibc serves them from its per-thread arenas and keeps what is freed there for reuse;
 * a buffer freed by another thread than the one that made it (a column moved to the store worker) or freed amid
 * live ones is never given back, so the arenas grow to their high-water mark and stay there: measured under the
 * ingest benchmark, ~200 MB of arenas for ~100 MB of live ArrayBuffers (bench/ingest/RESULTS.md, round 8).
 * With `MALLOC_MMAP_THRESHOLD_=65536`, every allocation of 64 KiB or more gets pages of its own (mmap) that go back
 * to the system when it is freed; smaller ones still come from the arenas. A fixed threshold also turns off glibc's
 * "dynamic threshold", which raises it to the largest block freed so far (up to 32 MB) and so sends the same large
 * buffers back into the arenas after the first one is freed.
 */

/** The settings `mlmon serve` runs with unless the environment sets them already. */
export const MALLOC_SETTINGS: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '65536' };

/**
 * The environment to run with: `env` with the settings it lacks, or undefined when nothing is missing (the user's
 * own value wins) or the system's C library is not glibc on Linux (the settings mean nothing elsewhere).
 */
export function environmentWithMallocSettings(
  env: NodeJS.ProcessEnv,
  onGlibc: () => boolean
): NodeJS.ProcessEnv | undefined {
  const missing = Object.entries(MALLOC_SETTINGS).filter(([name]) => env[name] === undefined);
  return missing.length && onGlibc() ? { ...env, ...Object.fromEntries(missing) } : undefined;
}

/** True when this process runs on glibc (what Node's own report says about the C library). */
function runsOnGlibc(): boolean {
  if (process.platform !== 'linux') {
    return false;
  }
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return typeof header?.glibcVersionRuntime === 'string';
}

/**
 * Replaces this process with itself — the same executable, flags, arguments and process id — with MALLOC_SETTINGS
 * added to its environment, when they are missing and Node can (`process.execve`, Node >= 22.15); otherwise
 * returns and the process runs with glibc's defaults. Call it before opening anything: nothing survives but the
 * standard streams.
 */
export function reexecWithMallocSettings(): void {
  const env = process.execve ? environmentWithMallocSettings(process.env, runsOnGlibc) : undefined;
  if (env) {
    process.execve!(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], env);
  }
}

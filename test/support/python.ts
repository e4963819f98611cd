import { execFileSync } from 'node:child_process';

/**
 * Finds a Python interpreter that can import scipy, for the reference-value tests. Tries $MLMON_PYTHON, then
 * `python3` on PATH, then Debian's `/usr/bin/python3`; returns the first that works.
 */
export function findPythonWithScipy(): string {
  const candidates = [process.env.MLMON_PYTHON, 'python3', '/usr/bin/python3'].filter(
    (candidate): candidate is string => Boolean(candidate)
  );
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, ['-c', 'import numpy, scipy.stats, scipy.spatial'], { stdio: 'ignore', timeout: 30000 });
      return candidate;
    } catch {
      // not this one: missing interpreter or missing scipy
    }
  }
  throw new Error(
    `No Python with numpy and scipy found (tried ${candidates.join(', ')}). ` +
      'Install them with `apt-get install python3-scipy` (Debian/Ubuntu) or `pip install scipy`, ' +
      'or point MLMON_PYTHON at an interpreter that has them.'
  );
}

/** Runs a Python script with the interpreter found by findPythonWithScipy; throws with its stderr on failure. */
export function runPython(python: string, script: string, args: string[], timeoutMs = 120000): string {
  try {
    return execFileSync(python, [script, ...args], {
      encoding: 'utf8',
      timeout: timeoutMs,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`${python} ${script} failed: ${stderr || String(error)}`);
  }
}

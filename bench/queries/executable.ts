/**
 * Runs the benchmark's queries through the built backend executable (dist/datasource/gpx_modelmonitor_linux_amd64)
 * over Grafana's gRPC plugin protocol, as Grafana would: start it with the magic cookie, read the go-plugin
 * handshake line, send one QueryData per query, and read the executable's peak resident memory (VmHWM in
 * /proc/<pid>/status) before stopping it.
 *
 *   node --import tsx bench/queries/executable.ts <dataDir> <warmRuns> [all]
 *
 * By default only the 24 h window cases run (their warm p95 over gRPC is a target); `all` runs every case, which
 * repeats the minutes-long whole-range queries of the in-process run at 10 M rows.
 * Prints one JSON object on stdout.
 */
import { existsSync, statSync } from 'node:fs';
import { embeddedPluginContext, EXECUTABLE, memoryMB, startExecutable } from '../support/executable';
import { CASES, HOUR_MS, percentile, warmTimings } from './cases';
import { MODEL, storeDir } from './generate';

async function main(dataDir: string, warmRuns: number, everyCase: boolean): Promise<void> {
  if (!existsSync(EXECUTABLE)) {
    throw new Error(`${EXECUTABLE} is missing: build it with \`npm run build:backend\``);
  }
  const executable = await startExecutable();
  const pluginContext = embeddedPluginContext('bench', storeDir(dataDir));
  const queryData = (request: object) => executable.queryData(request, 3_600_000);
  const cases = [];
  try {
    for (const benchCase of CASES.filter((c) => everyCase || c.warm)) {
      const request = {
        pluginContext,
        queries: [
          {
            refId: 'A',
            queryType: benchCase.queryType,
            maxDataPoints: 1000,
            intervalMS: HOUR_MS,
            timeRange: { fromEpochMS: benchCase.range.from, toEpochMS: benchCase.range.to },
            json: Buffer.from(JSON.stringify({ queryType: benchCase.queryType, model: MODEL, ...benchCase.options })),
          },
        ],
      };
      const run = async () => {
        const started = process.hrtime.bigint();
        const answer = (await queryData(request)).responses.A;
        return { ms: Number(process.hrtime.bigint() - started) / 1e6, answer };
      };
      const first = await run();
      if (first.answer.error) {
        cases.push({ name: benchCase.name, error: first.answer.error });
        console.error(`${benchCase.name}: ${first.answer.error}`);
        continue;
      }
      const warm = await warmTimings(benchCase, warmRuns, async () => (await run()).ms);
      cases.push({
        name: benchCase.name,
        firstMs: first.ms,
        warmMedianMs: percentile(warm, 50),
        warmP95Ms: percentile(warm, 95),
        frames: first.answer.frames.length,
        arrowBytes: first.answer.frames.reduce((sum, frame) => sum + frame.length, 0),
      });
      console.error(`executable, ${benchCase.name}: first ${first.ms.toFixed(0)} ms`);
    }
    const result = {
      executable: { path: 'dist/datasource/gpx_modelmonitor_linux_amd64', builtAt: statSync(EXECUTABLE).mtime },
      cases,
      peakRssMB: memoryMB(executable.child.pid!, 'VmHWM'),
    };
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    executable.stop();
  }
}

main(process.argv[2], Number(process.argv[3] ?? 20), process.argv[4] === 'all').catch((error) => {
  console.error(error instanceof Error ? error.stack : String(error));
  process.exit(1);
});

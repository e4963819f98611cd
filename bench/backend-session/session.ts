/**
 * A long session against the built backend executable over gRPC, as Grafana would hold it: dashboards (every query
 * type over 3 h to 30 days, random windows, some filtered by version or segment, KS and Wasserstein grids), alert
 * rules (FromAlert, Grafana's defaults), and careless clients (1970–9999, from > to, maxDataPoints 0, an array as the
 * query), 4 at a time, with the executable's resident memory sampled as it goes.
 *
 *   node --import tsx bench/backend-session/session.ts <dataDir> <endMs> <queries> [executable]
 *
 * <dataDir> holds `mlmon simulate` traffic of credit_risk over the 30 days before <endMs> (bench/support/simulate.js).
 *
 * Each query has Grafana's 30 s evaluation timeout as its gRPC deadline; the session stops early after
 * BENCH_SESSION_MAX_S seconds (default 1200). Prints one JSON object on stdout.
 */
import { createRandom } from '../../src/core/stats';
import { embeddedPluginContext, EXECUTABLE, memoryMB, startExecutable } from '../support/executable';

const MODEL = 'credit_risk';
/** End of the simulated traffic (argv). */
const SIMULATED_END = Number(process.argv[3]);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WORKERS = 4;
const DEADLINE_MS = 30_000;
const MAX_SECONDS = Number(process.env.BENCH_SESSION_MAX_S ?? 1200);

/** One kind of query of the mix: what it asks for, and the range and Grafana options it comes with. */
interface Kind {
  name: string;
  json: (random: () => number) => unknown;
  window: number;
  intervalMs: number;
  maxDataPoints: number;
  alert?: boolean;
  range?: () => { fromEpochMS: number; toEpochMS: number };
}

const dashboard = (name: string, options: object, window: number, intervalMs = window / 1000): Kind => ({
  name,
  json: (random) => ({
    queryType: name.split(' ')[0],
    model: MODEL,
    ...options,
    ...(random() < 0.2 ? { version: 'v3' } : {}),
    ...(random() < 0.2 ? { segment: [{ column: 'region', operator: '=', value: 'north' }] } : {}),
  }),
  window,
  intervalMs: Math.max(1000, Math.round(intervalMs)),
  maxDataPoints: 1000,
});

const alert = (name: string, options: object, window: number): Kind => ({
  name,
  json: () => ({ queryType: name.split(' ')[0], model: MODEL, ...options }),
  window,
  intervalMs: 1000,
  maxDataPoints: 43_200,
  alert: true,
});

const careless = (name: string, json: unknown, range?: Kind['range'], options: Partial<Kind> = {}): Kind => ({
  name,
  json: () => json,
  window: DAY,
  intervalMs: 1000,
  maxDataPoints: 43_200,
  range,
  ...options,
});

const KINDS: Kind[] = [
  dashboard('drift 24h', {}, DAY),
  dashboard('drift 7d', {}, 7 * DAY),
  dashboard('drift ks 24h', { metric: 'ks' }, DAY),
  dashboard('drift wasserstein 3d', { metric: 'wasserstein' }, 3 * DAY),
  dashboard('severity 7d x 1h', { bucket: '1h' }, 7 * DAY),
  dashboard('distribution 24h', {}, DAY),
  dashboard('quality null_rate 7d', { metric: 'null_rate' }, 7 * DAY),
  dashboard('quality out_of_range_rate 24h', { metric: 'out_of_range_rate' }, DAY),
  dashboard('operational latency_p95 7d', { metric: 'latency_p95' }, 7 * DAY),
  dashboard('operational throughput 24h', { metric: 'throughput' }, DAY),
  dashboard('performance accuracy 7d', { metric: 'accuracy' }, 7 * DAY),
  dashboard('prediction_drift 7d', {}, 7 * DAY),
  dashboard('events 7d', {}, 7 * DAY),
  dashboard('ranking 30d', {}, 30 * DAY),
  dashboard('models', {}, DAY),
  dashboard('versions', {}, DAY),
  dashboard('features', {}, DAY),
  alert('drift alert 24h', {}, DAY),
  alert('drift alert ks 12h', { metric: 'ks' }, 12 * HOUR),
  alert('severity alert 3h', {}, 3 * HOUR),
  alert('operational alert 1h', { metric: 'error_rate' }, HOUR),
  careless('drift 1970-9999', { queryType: 'drift', model: MODEL }, () => ({
    fromEpochMS: 0,
    toEpochMS: Date.UTC(9999, 11, 31),
  })),
  careless('drift from>to', { queryType: 'drift', model: MODEL }, () => ({
    fromEpochMS: SIMULATED_END,
    toEpochMS: SIMULATED_END - DAY,
  })),
  careless('drift maxDataPoints 0, 14 d at 1 s', { queryType: 'drift', model: MODEL }, undefined, {
    window: 14 * DAY,
    maxDataPoints: 0,
  }),
  careless('array as the query', [{ queryType: 'drift', model: MODEL }]),
];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main(dataDir: string, total: number, executablePath: string): Promise<void> {
  const executable = await startExecutable(executablePath, true);
  const pid = executable.child.pid!;
  const random = createRandom(17);
  const pluginContext = embeddedPluginContext('session', dataDir);
  const startRss = memoryMB(pid, 'VmRSS');
  const latencies = new Map<string, number[]>();
  const statuses = new Map<string, number>();
  const rss: Array<[number, number]> = [[0, startRss]];
  const started = Date.now();
  let sent = 0;
  let answered = 0;
  const worker = async () => {
    while (sent < total && (Date.now() - started) / 1000 < MAX_SECONDS) {
      sent += 1;
      const kind = KINDS[Math.floor(random() * KINDS.length)];
      // a window ending on a whole minute somewhere in the last 30 days
      const end = SIMULATED_END - Math.floor((random() * (30 * DAY - kind.window)) / 60_000) * 60_000;
      const timeRange = kind.range?.() ?? { fromEpochMS: end - kind.window, toEpochMS: end };
      const request = {
        pluginContext,
        headers: kind.alert ? { FromAlert: 'true' } : {},
        queries: [
          {
            refId: 'A',
            json: Buffer.from(JSON.stringify(kind.json(random))),
            timeRange,
            intervalMS: kind.intervalMs,
            maxDataPoints: kind.maxDataPoints,
          },
        ],
      };
      const sentAt = Date.now();
      let status: string;
      try {
        status = String((await executable.queryData(request, DEADLINE_MS)).responses.A.status);
      } catch (error) {
        status = /DEADLINE_EXCEEDED/.test(String(error)) ? 'deadline' : 'grpc error';
      }
      const times = latencies.get(kind.name) ?? [];
      times.push(Date.now() - sentAt);
      latencies.set(kind.name, times);
      statuses.set(`${kind.name}: ${status}`, (statuses.get(`${kind.name}: ${status}`) ?? 0) + 1);
      answered += 1;
      if (answered % 25 === 0) {
        rss.push([answered, memoryMB(pid, 'VmRSS')]);
      }
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
  const result = {
    executable: executablePath,
    queries: answered,
    wallSeconds: (Date.now() - started) / 1000,
    stoppedEarly: answered < total,
    startRssMB: startRss,
    finalRssMB: memoryMB(pid, 'VmRSS'),
    peakRssMB: memoryMB(pid, 'VmHWM'),
    rss,
    kinds: Object.fromEntries(
      [...latencies].map(([name, values]) => {
        const sorted = [...values].sort((a, b) => a - b);
        return [
          name,
          {
            n: sorted.length,
            p50Ms: percentile(sorted, 50),
            p95Ms: percentile(sorted, 95),
            maxMs: sorted[sorted.length - 1],
          },
        ];
      })
    ),
    statuses: Object.fromEntries([...statuses].sort()),
  };
  executable.stop();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main(process.argv[2], Number(process.argv[4] ?? 1000), process.argv[5] ?? EXECUTABLE).catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : String(error));
  process.exit(1);
});

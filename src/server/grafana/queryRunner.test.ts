import { tableFromIPC } from 'apache-arrow';
import { badRequest } from './errors';
import { createLogger } from './logger';
import { QueryMetrics } from './metrics';
import { createQueryRunner, Limiter, type QueryExecutor } from './queryRunner';
import type { DataQuery, QueryDataRequest } from './types';

const query = (refId: string, body: string): DataQuery => ({
  refId,
  maxDataPoints: 100,
  intervalMS: 1000,
  timeRange: { fromEpochMS: 0, toEpochMS: 1000 },
  json: Buffer.from(body),
  queryType: '',
});

const request = (...queries: DataQuery[]): QueryDataRequest => ({ pluginContext: null, headers: {}, queries });

function runner(
  execute: QueryExecutor,
  options: { concurrency?: number; timeoutMs?: number; isHeavy?: (query: DataQuery) => boolean } = {}
) {
  const metrics = new QueryMetrics();
  const logs: string[] = [];
  const queryData = createQueryRunner({
    execute,
    concurrency: options.concurrency ?? 4,
    timeoutMs: options.timeoutMs ?? 5000,
    metrics,
    logger: createLogger((line) => logs.push(line)),
    metricLabel: (q) => (q.json.toString().includes('"ok"') ? 'ok' : 'other'),
    isHeavy: options.isHeavy,
  });
  return { queryData, metrics, logs };
}

/** An executor that answers per the query's JSON: ok → one frame, throw → error, bad → 400, hang → never, badframe → invalid frame. */
const execute: QueryExecutor = async ({ query: q, signal }) => {
  const kind = JSON.parse(q.json.toString()).kind;
  switch (kind) {
    case 'ok':
      return [{ name: 'f', fields: [{ name: 'v', type: 'number', values: [1] }] }];
    case 'bad':
      throw badRequest('bad query');
    case 'hang':
      return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
    case 'badframe':
      return [{ name: 'f', fields: [{ name: 'v', type: 'number', values: [null] }] }];
    default:
      throw new Error('kaput');
  }
};

describe('query runner', () => {
  it('isolates each query: one answer per refId with its own status and error source', async () => {
    const { queryData } = runner(execute);
    const { responses } = await queryData(
      request(
        query('A', '{"kind":"ok"}'),
        query('B', '{"kind":"bad"}'),
        query('C', '{"kind":"throw"}'),
        query('D', '{"kind":"badframe"}'),
        query('E', '{not json')
      ),
      new AbortController().signal
    );
    expect(Object.keys(responses).sort()).toEqual(['A', 'B', 'C', 'D', 'E']);
    expect(responses.A).toMatchObject({ status: 200, error: '', errorSource: '' });
    expect(tableFromIPC(responses.A.frames[0]).schema.metadata.get('refId')).toBe('A');
    expect(responses.B).toMatchObject({ status: 400, error: 'bad query', errorSource: 'downstream', frames: [] });
    expect(responses.C).toMatchObject({ status: 500, error: 'internal error: kaput', errorSource: 'plugin' });
    expect(responses.D).toMatchObject({ status: 500, errorSource: 'plugin' });
    expect(responses.D.error).toMatch(/not declared nullable/);
    expect(responses.E).toMatchObject({ status: 500, errorSource: 'plugin' });
  });

  it('stops a query at its time limit with 504 without holding up the others', async () => {
    const { queryData } = runner(execute, { timeoutMs: 200 });
    const started = Date.now();
    const { responses } = await queryData(
      request(query('slow', '{"kind":"hang"}'), query('fast', '{"kind":"ok"}')),
      new AbortController().signal
    );
    expect(Date.now() - started).toBeLessThan(2000);
    expect(responses.slow).toMatchObject({ status: 504, errorSource: 'downstream' });
    expect(responses.slow.error).toMatch(/stopped after 200 ms/);
    expect(responses.fast.status).toBe(200);
  });

  it('stops running queries when the caller cancels', async () => {
    const { queryData } = runner(execute);
    const caller = new AbortController();
    const pending = queryData(request(query('A', '{"kind":"hang"}')), caller.signal);
    setTimeout(() => caller.abort(), 50);
    expect((await pending).responses.A.status).toBe(504);
  });

  it('never runs more queries at once than the concurrency limit', async () => {
    let running = 0;
    let peak = 0;
    const slow: QueryExecutor = async () => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 20));
      running -= 1;
      return [];
    };
    const { queryData } = runner(slow, { concurrency: 3 });
    const queries = Array.from({ length: 12 }, (_, i) => query(`Q${i}`, '{}'));
    const { responses } = await queryData(request(...queries), new AbortController().signal);
    expect(Object.values(responses).every((r) => r.status === 200)).toBe(true);
    expect(peak).toBe(3);
  });

  it('keeps a slot for light queries however many heavy ones wait', async () => {
    let heavyRunning = 0;
    let heavyPeak = 0;
    const started: Record<string, number> = {};
    const t0 = Date.now();
    const execute: QueryExecutor = async ({ query: q }) => {
      started[q.refId] = Date.now() - t0;
      if (q.refId.startsWith('heavy')) {
        heavyRunning += 1;
        heavyPeak = Math.max(heavyPeak, heavyRunning);
        await new Promise((r) => setTimeout(r, 100));
        heavyRunning -= 1;
      }
      return [];
    };
    const { queryData } = runner(execute, { concurrency: 3, isHeavy: (q) => q.refId.startsWith('heavy') });
    const heavy = queryData(
      request(...Array.from({ length: 6 }, (_, i) => query(`heavy${i}`, '{}'))),
      new AbortController().signal
    );
    await new Promise((r) => setTimeout(r, 10));
    const light = await queryData(request(query('light', '{}')), new AbortController().signal);
    expect(light.responses.light.status).toBe(200);
    expect(started.light).toBeLessThan(50);
    await heavy;
    expect(heavyPeak).toBe(2);
  });

  it('answers a query cancelled while it waits for a slot at once', async () => {
    const hang: QueryExecutor = () => new Promise(() => undefined);
    const { queryData } = runner(hang, { concurrency: 1 });
    void queryData(request(query('A', '{}')), new AbortController().signal);
    const caller = new AbortController();
    const waiting = queryData(request(query('B', '{}')), caller.signal);
    setTimeout(() => caller.abort(), 20);
    const t0 = Date.now();
    expect((await waiting).responses.B.status).toBe(504);
    expect(Date.now() - t0).toBeLessThan(500);
  });

  it('counts queries and errors per metric label', async () => {
    const { queryData, metrics } = runner(execute);
    await queryData(request(query('A', '{"kind":"ok"}'), query('B', '{"kind":"bad"}')), new AbortController().signal);
    const text = metrics.render();
    expect(text).toContain('plugin_queries_total{query_type="ok"} 1');
    expect(text).toContain('plugin_query_errors_total{query_type="other",error_source="downstream"} 1');
  });

  it('rejects a limiter without slots', () => {
    expect(() => new Limiter(0)).toThrow(/positive integer/);
  });
});

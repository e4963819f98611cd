/**
 * The `compare` query (champion vs challenger) on both stores — embedded (Parquet + DuckDB) and a private ClickHouse
 * server — against an independent computation of the same rows with numpy and scipy (test/support/
 * compare_reference.py): the distance of the two versions' prediction distributions, the agreement of shadow pairs,
 * realized performance, latency p95 and error rate per version; the estimate against `performance` with
 * `estimate: true` of each version; alertable frames; split traffic; the plan budget; bad queries.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FrameLike } from '../../src/core/query/frames';
import { alertFrames } from '../../src/server/backend/alert-frames';
import type { DatasourceInstance } from '../../src/server/backend/instances';
import { toWireFrame } from '../../src/server/backend/toWireFrame';
import { validateFrame } from '../../src/server/grafana/frames';
import { compareQuery, POINTS_PER_BUCKET } from '../../src/server/queries/compare';
import { performanceQuery } from '../../src/server/queries/performance';
import { MAX_PLAN_POINTS } from '../../src/server/queries/plan';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { parseQuery, QueryError } from '../../src/core/query/queryTypes';
import { startClickHouse } from '../support/clickhouse';
import { findPythonWithScipy, runPython } from '../support/python';
import {
  COMPARE_HOUR,
  COMPARE_HOURS,
  COMPARE_RANGE,
  compareTraffic,
  writeCompareTraffic,
  type CompareTraffic,
} from './compare-traffic';
import { column, instanceFor, runHandler } from './traffic-fixture';

const SCRIPT = join(__dirname, '../support/compare_reference.py');
const traffic = compareTraffic();
let python: string;
let dir: string;

beforeAll(async () => {
  python = findPythonWithScipy();
  dir = await mkdtemp(join(tmpdir(), 'mlmon-compare-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Model = keyof CompareTraffic['predictions'];

interface ReferencePoint {
  js: number | null;
  psi: number | null;
  agreement: number | null;
  pairs: number;
  champion: { latency_p95: number | null; error_rate: number | null; realized: number | null };
  challenger: { latency_p95: number | null; error_rate: number | null; realized: number | null };
}

/** The numpy/scipy values of a model's buckets (compare_reference.py). */
async function reference(
  model: Model,
  edges: number[] | null,
  task: 'classification' | 'regression',
  tolerance: number
): Promise<ReferencePoint[]> {
  const input = join(dir, `${model}-${tolerance}.json`);
  const spec = {
    from: COMPARE_RANGE.from,
    bucketMs: COMPARE_HOUR,
    buckets: COMPARE_HOURS,
    edges,
    task,
    tolerance,
    champion: 'v1',
    challenger: 'v2',
    rows: traffic.predictions[model].map((r) => [r.version, r.id, r.ts, r.prediction, r.latencyMs, r.error ? 1 : 0]),
    labels: Object.fromEntries(traffic.labels[model].map((l) => [l.id, l.label])),
  };
  await writeFile(input, JSON.stringify(spec));
  return JSON.parse(runPython(python, SCRIPT, [input]));
}

/** The frame whose value field carries these labels (a subset match). */
function frameOf(frames: FrameLike[], labels: Record<string, string>): FrameLike {
  const found = frames.filter((frame) => {
    const value = frame.fields.find((f) => f.name === 'value');
    return Object.entries(labels).every(([key, v]) => value?.labels?.[key] === v);
  });
  if (found.length !== 1) {
    throw new Error(`${found.length} frames match ${JSON.stringify(labels)}: ${frames.map((f) => f.name).join(', ')}`);
  }
  return found[0];
}

function expectClose(actual: unknown[], expected: Array<number | null>, digits = 9) {
  expect(actual).toHaveLength(expected.length);
  expected.forEach((value, i) => {
    if (value === null) {
      expect(actual[i]).toBeNull();
    } else {
      expect(actual[i]).toBeCloseTo(value, digits);
    }
  });
}

interface StoreUnderTest {
  instance: DatasourceInstance;
  stop(): Promise<void>;
}

async function embeddedStore(): Promise<StoreUnderTest> {
  const data = join(dir, 'embedded');
  const store = await EmbeddedStore.open(data);
  await writeCompareTraffic(store, traffic);
  await store.close();
  const instance = instanceFor({ dataDirectory: data });
  return { instance, stop: () => instance.dispose() };
}

async function clickhouseStore(): Promise<StoreUnderTest> {
  const clickhouse = await startClickHouse();
  const instance = instanceFor({
    storeKind: 'clickhouse',
    clickhouseUrl: clickhouse.url,
    database: clickhouse.database,
  });
  await writeCompareTraffic(await instance.store(), traffic);
  return {
    instance,
    async stop() {
      await instance.dispose();
      await clickhouse.stop();
    },
  };
}

describe.each([
  ['embedded', embeddedStore],
  ['clickhouse', clickhouseStore],
])('compare query on the %s store', (_name, open) => {
  let under: StoreUnderTest;
  beforeAll(async () => {
    under = await open();
  }, 120_000);
  afterAll(async () => {
    await under?.stop();
  });

  const run = (raw: Record<string, unknown>, options: Parameters<typeof runHandler>[3] = {}) =>
    runHandler(
      compareQuery,
      under.instance,
      { queryType: 'compare', champion: 'v1', challenger: 'v2', ...raw },
      { range: COMPARE_RANGE, ...options }
    );
  const edgesOf = async (model: Model) => {
    const baseline = await (await under.instance.store()).getBaseline(model, 'v1');
    const prediction = baseline!.prediction!;
    return {
      edges: prediction.kind === 'numeric' ? prediction.edges : null,
      std: (prediction as { std?: number }).std,
    };
  };

  it('shadow classifier: distances, agreement, realized, latency and errors equal numpy/scipy per bucket', async () => {
    const frames = await run({ model: 'duel' });
    const { edges } = await edgesOf('duel');
    const expected = await reference('duel', edges, 'classification', 0);
    expectClose(
      column(frameOf(frames, { metric: 'js' }), 'value'),
      expected.map((p) => p.js)
    );
    expectClose(
      column(frameOf(frames, { metric: 'psi' }), 'value'),
      expected.map((p) => p.psi)
    );
    const agreement = frameOf(frames, { metric: 'agreement' });
    expectClose(
      column(agreement, 'value'),
      expected.map((p) => p.agreement)
    );
    expect(column(agreement, 'pairs')).toEqual(expected.map((p) => p.pairs));
    expect(expected.every((p) => p.pairs > 100)).toBe(true);
    for (const role of ['champion', 'challenger'] as const) {
      const version = role === 'champion' ? 'v1' : 'v2';
      const realized = frameOf(frames, { metric: 'accuracy', version });
      expect(realized.fields.find((f) => f.name === 'value')!.labels).toEqual({
        model: 'duel',
        metric: 'accuracy',
        version,
        role,
      });
      expectClose(
        column(realized, 'value'),
        expected.map((p) => p[role].realized)
      );
      expectClose(
        column(frameOf(frames, { metric: 'latency_p95', version }), 'value'),
        expected.map((p) => p[role].latency_p95)
      );
      expectClose(
        column(frameOf(frames, { metric: 'error_rate', version }), 'value'),
        expected.map((p) => p[role].error_rate)
      );
    }
  });

  it('the distance moves when the challenger shifts and the agreement drops', async () => {
    const frames = await run({ model: 'duel' });
    const js = column(frameOf(frames, { metric: 'js' }), 'value') as number[];
    const agreement = column(frameOf(frames, { metric: 'agreement' }), 'value') as number[];
    expect(Math.min(...js.slice(3))).toBeGreaterThan(Math.max(...js.slice(0, 3)));
    expect(Math.max(...agreement.slice(3))).toBeLessThan(Math.min(...agreement.slice(0, 3)));
    const levels = column(frameOf(frames, { metric: 'psi' }), 'level');
    expect(levels.slice(3).every((level) => (level as number) >= 2)).toBe(true);
  });

  it('estimates each version as performance with estimate: true does, with its band', async () => {
    const frames = await run({ model: 'duel' });
    for (const version of ['v1', 'v2']) {
      const estimated = frameOf(frames, { metric: 'accuracy_estimated', version });
      const [alone] = await runHandler(
        performanceQuery,
        under.instance,
        { queryType: 'performance', model: 'duel', version, metric: 'accuracy', estimate: true },
        { range: COMPARE_RANGE }
      );
      const values = column(estimated, 'value') as number[];
      expect(values).toEqual(column(alone, 'value'));
      expect(column(estimated, 'lower')).toEqual(column(alone, 'lower'));
      expect(column(estimated, 'upper')).toEqual(column(alone, 'upper'));
      values.forEach((v, i) => {
        expect(v).not.toBeNull();
        expect(column(estimated, 'lower')[i] as number).toBeLessThanOrEqual(v);
        expect(column(estimated, 'upper')[i] as number).toBeGreaterThanOrEqual(v);
      });
    }
  });

  it('shadow regressor: agreement within the tolerance (default 0.1 baseline σ, or the query’s), MAE', async () => {
    const { edges, std } = await edgesOf('gauge');
    for (const tolerance of [undefined, 5]) {
      const frames = await run({ model: 'gauge', ...(tolerance === undefined ? {} : { tolerance }) });
      const used = tolerance ?? 0.1 * std!;
      expect((frames[0].meta!.custom as { tolerance: number }).tolerance).toBeCloseTo(used, 12);
      const expected = await reference('gauge', edges, 'regression', used);
      expectClose(
        column(frameOf(frames, { metric: 'agreement' }), 'value'),
        expected.map((p) => p.agreement)
      );
      expectClose(
        column(frameOf(frames, { metric: 'js' }), 'value'),
        expected.map((p) => p.js)
      );
      expectClose(
        column(frameOf(frames, { metric: 'mae', version: 'v2' }), 'value'),
        expected.map((p) => p.challenger.realized)
      );
      expect(frames.some((f) => f.fields.some((field) => field.labels?.metric === 'mae_estimated'))).toBe(false);
      expect(frames[0].meta!.notices!.map((n) => n.text).join(' ')).toMatch(/No estimated mae for version v1/);
    }
  });

  it('split traffic: no pairs, a null agreement and a notice; distances and the rest as numpy', async () => {
    const frames = await run({ model: 'split' });
    const { edges } = await edgesOf('split');
    const expected = await reference('split', edges, 'classification', 0);
    const agreement = frameOf(frames, { metric: 'agreement' });
    expect(column(agreement, 'pairs')).toEqual(Array(COMPARE_HOURS).fill(0));
    expect(column(agreement, 'value')).toEqual(Array(COMPARE_HOURS).fill(null));
    expect(frames[0].meta!.notices!.map((n) => n.text).join(' ')).toMatch(/shadow traffic/);
    expectClose(
      column(frameOf(frames, { metric: 'js' }), 'value'),
      expected.map((p) => p.js)
    );
    expectClose(
      column(frameOf(frames, { metric: 'accuracy', version: 'v2' }), 'value'),
      expected.map((p) => p.challenger.realized)
    );
  });

  it('frames are valid data-plane frames and alertable: one number per label set, level first on request', async () => {
    for (const alertOn of ['value', 'level'] as const) {
      const frames = await run({ model: 'duel', alertOn });
      for (const frame of frames) {
        expect(() => validateFrame(toWireFrame(frame))).not.toThrow();
      }
      const query = parseQuery({
        refId: 'A',
        queryType: 'compare',
        model: 'duel',
        champion: 'v1',
        challenger: 'v2',
        alertOn,
      });
      const alerting = alertFrames(frames, query);
      const labelSets = alerting.map((frame) => JSON.stringify(frame.fields.find((f) => f.type === 'number')!.labels));
      expect(new Set(labelSets).size).toBe(alerting.length);
      expect(alerting.length).toBe(POINTS_PER_BUCKET);
      if (alertOn === 'level') {
        const psi = alerting.find((f) => f.name === 'psi')!;
        expect(psi.fields[1].name).toBe('level');
      }
    }
  });

  it('an alert rule (intervalMs 1000, maxDataPoints 43200, FromAlert) gets one bucket over its range', async () => {
    const query = parseQuery({ refId: 'A', queryType: 'compare', model: 'duel', champion: 'v1', challenger: 'v2' });
    const frames = await compareQuery({
      query: query as never,
      range: COMPARE_RANGE,
      intervalMs: 1000,
      maxDataPoints: 43200,
      alert: true,
      instance: under.instance,
      signal: new AbortController().signal,
    });
    expect(frames).toHaveLength(POINTS_PER_BUCKET);
    expect(frames.every((f) => f.length === 1)).toBe(true);
    const duel = traffic.predictions.duel.filter((r) => r.prediction !== null);
    const challenged = new Set(duel.filter((r) => r.version === 'v2').map((r) => r.id));
    const pairs = duel.filter((r) => r.version === 'v1' && challenged.has(r.id)).length;
    expect(column(frameOf(frames, { metric: 'agreement' }), 'pairs')).toEqual([pairs]);
  });

  it('one part (a panel, an alert rule) answers only its series, as the whole comparison does', async () => {
    const whole = await run({ model: 'duel' });
    const expected = { distance: 2, agreement: 1, performance: 4, operational: 4 };
    for (const [part, count] of Object.entries(expected)) {
      const frames = await run({ model: 'duel', part });
      expect(frames).toHaveLength(count);
      for (const frame of frames) {
        const same = whole.find((f) => f.name === frame.name)!;
        expect(frame.fields).toEqual(same.fields);
      }
    }
  });

  it('keeps the plan inside the budget: 1 s buckets over six hours are widened, with a notice', async () => {
    const frames = await run({ model: 'duel', bucket: '1s' }, { maxDataPoints: 1_000_000, intervalMs: 1000 });
    expect(frames[0].length * POINTS_PER_BUCKET).toBeLessThanOrEqual(MAX_PLAN_POINTS);
    expect(frames[0].meta!.notices!.some((n) => /Buckets widened/.test(n.text))).toBe(true);
  });

  it('refuses a version without predictions, naming the versions it has', async () => {
    await expect(run({ model: 'duel', challenger: 'v9' })).rejects.toThrow(
      /no predictions of version\(s\) "v9".*v1, v2/
    );
    await expect(run({ model: 'duel', challenger: '$challenger' })).rejects.toThrow(
      /"\$challenger" is a template variable Grafana did not replace: add a challenger variable/
    );
  });
});

describe('compare query options', () => {
  it('needs two different versions', () => {
    expect(() => parseQuery({ queryType: 'compare', model: 'm', champion: 'v1' })).toThrow(QueryError);
    expect(() => parseQuery({ queryType: 'compare', model: 'm', champion: 'v1', challenger: 'v1' })).toThrow(
      /pick two different versions/
    );
    expect(() =>
      parseQuery({ queryType: 'compare', model: 'm', champion: 'v1', challenger: 'v2', tolerance: -1 })
    ).toThrow(/tolerance/);
    expect(parseQuery({ queryType: 'compare', model: 'm', champion: 'v1', challenger: 'v2', version: 'v1' })).toEqual({
      refId: '',
      queryType: 'compare',
      model: 'm',
      champion: 'v1',
      challenger: 'v2',
    });
  });
});

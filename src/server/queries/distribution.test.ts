/**
 * The distribution query against a real embedded store: a stored baseline (computed by the baseline module from a
 * reference sample) and a current window written through the store. Expected counts are computed here in JS from
 * the same records with the stats core's binning, independently of the SQL the handler pushes down.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDistributionFrame, type DistributionView, type FrameLike } from '../../core/query/frames';
import { parseQuery, type QueryOf } from '../../core/query/queryTypes';
import { binIndex, createRandom, psi } from '../../core/stats';
import { computeBaseline } from '../baseline/compute';
import { EmbeddedStore } from '../store/embedded';
import type { PredictionRecord } from '../store/types';
import { createInstance, type DatasourceInstance } from '../backend/instances';
import { openStore } from '../backend/openStore';
import { localInstanceSettings, parseSettings } from '../backend/settings';
import { distributionQuery } from './distribution';
import { binExpression } from '../counting/unpivot-counts';

const NOW = Date.UTC(2026, 10, 25, 12);
const RANGE = { from: NOW - 10 * 3600_000, to: NOW };
let dir: string;
let instance: DatasourceInstance;
let records: PredictionRecord[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlmon-distribution-'));
  const random = createRandom(7);
  const reference = Array.from({ length: 2000 }, () => ({
    amount: 100 * random(),
    region: ['a', 'b', 'c', 'd'][Math.floor(4 * random())],
  }));
  // Current traffic: amounts shifted up by 20, region "d" gone, "e" new, every 25th amount missing.
  records = Array.from({ length: 400 }, (_, i) => ({
    id: `r${i}`,
    ts: RANGE.from + i * 90_000,
    version: i < 200 ? 'v1' : 'v2',
    features: {
      amount: i % 25 === 0 ? null : 20 + 100 * random(),
      region: ['a', 'b', 'c', 'e'][Math.floor(4 * random())],
    },
    prediction: 1,
    samplingRate: 1,
  }));
  const store = await EmbeddedStore.open(dir);
  await store.writePredictions('loan', records);
  await store.writePredictions('nobaseline', records.slice(0, 5));
  await store.saveBaseline(
    computeBaseline({
      model: 'loan',
      version: 'v1',
      source: 'test',
      createdAt: NOW - 86_400_000,
      columns: [
        { name: 'amount', kind: 'numeric', values: reference.map((r) => r.amount) },
        { name: 'region', kind: 'categorical', values: reference.map((r) => r.region) },
      ],
    })
  );
  await store.close();
  instance = createInstance(parseSettings(localInstanceSettings({ dataDirectory: dir }, {}, 'd')), openStore);
});

afterAll(async () => {
  await instance.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function run(raw: object): Promise<FrameLike[]> {
  const query = parseQuery({ refId: 'A', queryType: 'distribution', model: 'loan', ...raw }) as QueryOf<'distribution'>;
  return distributionQuery({
    query,
    range: RANGE,
    intervalMs: 60_000,
    maxDataPoints: 100,
    instance,
    signal: new AbortController().signal,
  });
}

const view = (frames: FrameLike[], feature: string): DistributionView =>
  readDistributionFrame(frames.find((f) => f.name === feature)!);

describe('distribution query', () => {
  it('counts the current window per stored bin, as the stats core bins the same records', async () => {
    const frames = await run({});
    expect(frames.map((f) => f.name)).toEqual(['amount', 'region']);
    const amount = view(frames, 'amount');
    const store = await instance.store();
    const baseline = (await store.getBaseline('loan', 'v1'))!;
    const edges = baseline.features.amount.kind === 'numeric' ? baseline.features.amount.edges : [];
    const values = records.map((r) => r.features.amount).filter((v): v is number => typeof v === 'number');
    const expected = new Array(edges.length + 1).fill(0);
    values.forEach((v) => (expected[binIndex(edges, v)] += 1));
    expect(amount.bins.map((b) => Math.round(b.current * values.length))).toEqual(expected);
    expect(amount.readouts.counts).toEqual({ baseline: 2000, current: values.length, currentMissing: 16 });
    expect(amount.bins[0].lower).toBeNull();
    expect(amount.bins[amount.bins.length - 1].upper).toBeNull();
    expect(amount.bins[amount.bins.length - 1].currentCdf).toBeCloseTo(1, 12);
    expect(amount.readouts.psi).toBeCloseTo(
      psi(
        amount.bins.map((b) => b.baseline),
        amount.bins.map((b) => b.current)
      ),
      12
    );
    // a shift of a fifth of the range with 384 rows is well above PSI's noise floor
    expect(amount.readouts.psi).toBeGreaterThan(amount.readouts.noiseFloor.psi!);
    expect(amount.readouts.severity).toBe('critical');
  });

  it('aligns categories over both sides, with the chi-square test', async () => {
    const region = view(await run({ features: ['region'] }), 'region');
    expect(region.bins.map((b) => b.label)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(region.bins.find((b) => b.label === 'd')!.current).toBe(0);
    expect(region.bins.find((b) => b.label === 'e')!.baseline).toBe(0);
    const eShare = records.filter((r) => r.features.region === 'e').length / records.length;
    expect(region.bins.find((b) => b.label === 'e')!.current).toBeCloseTo(eShare, 12);
    expect(region.readouts.chiSquare!.dof).toBe(4);
    expect(region.readouts.kind).toBe('categorical');
  });

  it('applies the version and segment filters as bound values', async () => {
    const v2 = view(await run({ version: 'v2', features: ['region'] }), 'region');
    expect(v2.readouts.counts.current).toBe(200);
    const north = view(
      await run({ features: ['amount'], segment: [{ column: 'region', operator: '=', value: "a' OR 1=1 --" }] }),
      'amount'
    );
    expect(north.readouts.counts.current).toBe(0);
    const a = view(
      await run({ features: ['amount'], segment: [{ column: 'region', operator: '=', value: 'a' }] }),
      'amount'
    );
    const expectedA = records.filter((r) => r.features.region === 'a' && typeof r.features.amount === 'number').length;
    expect(a.readouts.counts.current).toBe(expectedA);
  });

  it('says what is missing: baseline, feature, safe column names', async () => {
    await expect(run({ model: 'nobaseline' })).rejects.toThrow(/model "nobaseline" has no baseline yet/);
    await expect(run({ features: ['salary'] })).rejects.toThrow(/feature\(s\) salary/);
    await expect(run({ baseline: 'v9' })).rejects.toThrow(/no baseline "v9"/);
    await expect(run({ segment: [{ column: 'x; DROP', operator: '=', value: 1 }] })).rejects.toThrow(
      /segment column|identifier|feature/i
    );
  });

  it('writes right-closed bins with bound edges', () => {
    expect(binExpression('"f_x"', 2, 'c0')).toBe(
      'CASE WHEN "f_x" IS NULL THEN -1 WHEN "f_x" <= {c0_0} THEN 0 WHEN "f_x" <= {c0_1} THEN 1 ELSE 2 END'
    );
  });

  it('says when it read a sample of the rows', async () => {
    const [amount] = await run({ features: ['amount'], sampleFraction: 0.25 });
    expect(amount.meta?.notices?.[0].text).toMatch(/25% sample/);
    expect(view([amount], 'amount').readouts.counts.current).toBeLessThan(200);
  });
});

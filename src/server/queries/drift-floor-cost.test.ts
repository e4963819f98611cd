/**
 * The drift family computes the noise floor of the metric it rates, and no other: the L∞ floor
 * (noise.ts lInfNoiseFloor) is a root search through special.ts inverseSurvival, a millisecond or so a point, that a
 * PSI severity matrix of 25 features × 168 buckets used to pay for every point without reading it (drift.ts pointOf
 * built a record of every binned metric's value and floor, reading the lazy `lInf` getter). The calls are counted
 * by wrapping inverseSurvival; the L∞ query checks the wrapper sees the calls when the floor is needed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInstance, type DatasourceInstance } from '../backend/instances';
import { openStore } from '../backend/openStore';
import { localInstanceSettings, parseSettings } from '../backend/settings';
import { EmbeddedStore } from '../store/embedded';
import { driftFixture, MODEL, numbers, runQuery } from '../../../test/support/drift-family';
import * as special from '../../core/stats/special';

jest.mock('../../core/stats/special', () => {
  const actual = jest.requireActual('../../core/stats/special');
  return { ...actual, inverseSurvival: jest.fn(actual.inverseSurvival) };
});

const inverseSurvival = special.inverseSurvival as jest.MockedFunction<typeof special.inverseSurvival>;

let dir: string;
let instance: DatasourceInstance;

beforeAll(async () => {
  const fixture = driftFixture();
  dir = await mkdtemp(join(tmpdir(), 'mlmon-drift-floor-'));
  const store = await EmbeddedStore.open(dir);
  await store.writePredictions(MODEL, fixture.records);
  await store.saveBaseline(fixture.baseline);
  await store.close();
  instance = createInstance(parseSettings(localInstanceSettings({ dataDirectory: dir }, {}, 'f')), openStore);
});

afterAll(async () => {
  await instance?.dispose();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => inverseSurvival.mockClear());

test.each([
  ['severity', { bucket: '1h' }],
  ['severity', { bucket: '1h', metric: 'js' }],
  ['drift', { bucket: '1h' }],
  ['drift', { bucket: '1h', metric: 'chi_square', features: ['region'] }],
] as const)('%s %j rates every bucket without computing the L∞ noise floor', async (type, options) => {
  const frames = await runQuery(instance, type, options);
  const floors = frames.flatMap((frame) => numbers(frame, 'noise_floor')).filter((v) => typeof v === 'number');
  expect(floors.length).toBeGreaterThan(0);
  expect(inverseSurvival).not.toHaveBeenCalled();
});

test('severity on L∞ computes its floor for every bucket with rows', async () => {
  const [frame] = await runQuery(instance, 'severity', { bucket: '1h', metric: 'linf' });
  const floors = numbers(frame, 'noise_floor').filter((v) => typeof v === 'number');
  expect(floors.length).toBeGreaterThan(0);
  expect(inverseSurvival.mock.calls.length).toBeGreaterThanOrEqual(floors.length);
});

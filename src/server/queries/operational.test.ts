/** The `operational` query on the embedded store (Parquet files read by DuckDB); cases in test/queries/operational.cases.ts. */
import { embeddedTraffic, type TrafficStore } from '../../../test/queries/traffic-fixture';
import { operationalCases } from '../../../test/queries/operational.cases';
import { DEFAULT_THRESHOLDS } from '../../core/query/settings';
import { localInstanceSettings, parseSettings, thresholdsFor } from '../backend/settings';

let store: TrafficStore;
beforeAll(async () => {
  store = await embeddedTraffic();
});
afterAll(async () => {
  await store?.cleanup();
});

describe('operational query on the embedded store', () => {
  operationalCases(() => store);
});

describe('thresholds per model', () => {
  it('takes a model’s overrides over the datasource’s thresholds, which stay in force for other models', () => {
    const settings = parseSettings(
      localInstanceSettings(
        {
          dataDirectory: '/data',
          thresholds: { latencyP95Ms: 300 },
          modelThresholds: { shop: { errorRate: 0.05, latencyP95Ms: -1 }, other: null },
        },
        {},
        'x'
      )
    );
    expect(thresholdsFor(settings, 'shop')).toEqual({ ...DEFAULT_THRESHOLDS, latencyP95Ms: 300, errorRate: 0.05 });
    expect(thresholdsFor(settings, 'other')).toEqual({ ...DEFAULT_THRESHOLDS, latencyP95Ms: 300 });
    expect(thresholdsFor(settings, 'price')).toEqual({ ...DEFAULT_THRESHOLDS, latencyP95Ms: 300 });
    expect(thresholdsFor(settings, 'constructor')).toEqual(settings.thresholds);
  });
});

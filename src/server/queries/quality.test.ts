/** The `quality` query on the embedded store (Parquet files read by DuckDB); cases in test/queries/quality.cases.ts. */
import { embeddedTraffic, type TrafficStore } from '../../../test/queries/traffic-fixture';
import { qualityCases } from '../../../test/queries/quality.cases';

let store: TrafficStore;
beforeAll(async () => {
  store = await embeddedTraffic();
});
afterAll(async () => {
  await store?.cleanup();
});

describe('quality query on the embedded store', () => {
  qualityCases(() => store);
});

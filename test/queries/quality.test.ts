/** The `quality` query on ClickHouse (a private server, test/support/clickhouse.ts); cases in quality.cases.ts. */
import { clickhouseTraffic, type TrafficStore } from './traffic-fixture';
import { qualityCases } from './quality.cases';

let store: TrafficStore;
beforeAll(async () => {
  store = await clickhouseTraffic();
});
afterAll(async () => {
  await store?.cleanup();
});

describe('quality query on ClickHouse', () => {
  qualityCases(() => store);
});

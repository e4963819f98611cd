/** The `performance` query on ClickHouse (a private server, test/support/clickhouse.ts); cases in performance.cases.ts. */
import { clickhouseTraffic, type TrafficStore } from './traffic-fixture';
import { performanceCases } from './performance.cases';

let store: TrafficStore;
beforeAll(async () => {
  store = await clickhouseTraffic();
});
afterAll(async () => {
  await store?.cleanup();
});

describe('performance query on ClickHouse', () => {
  performanceCases(() => store);
});

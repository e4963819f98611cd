/** The `operational` query on ClickHouse (a private server, test/support/clickhouse.ts); cases in operational.cases.ts. */
import { clickhouseTraffic, type TrafficStore } from './traffic-fixture';
import { operationalCases } from './operational.cases';

let store: TrafficStore;
beforeAll(async () => {
  store = await clickhouseTraffic();
});
afterAll(async () => {
  await store?.cleanup();
});

describe('operational query on ClickHouse', () => {
  operationalCases(() => store);
});

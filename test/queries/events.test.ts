/** The `events` query on ClickHouse (a private server, test/support/clickhouse.ts); cases in events.cases.ts. */
import { clickhouseTraffic, type TrafficStore } from './traffic-fixture';
import { eventsCases, withLoan } from './events.cases';

let store: TrafficStore;
beforeAll(async () => {
  store = await withLoan(await clickhouseTraffic());
}, 60_000);
afterAll(async () => {
  await store?.cleanup();
});

describe('events query on ClickHouse', () => {
  eventsCases(() => store);
});

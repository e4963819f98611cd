/**
 * The store contract, run for real against both stores: the embedded Parquet directory (DuckDB) and a private
 * ClickHouse 18.16 server started on loopback by the test harness.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseStore, MIGRATIONS } from '../../src/server/store/clickhouse';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { runMaintenance } from '../../src/server/store/maintenance';
import type { Baseline, PredictionRecord, PredictionStore } from '../../src/server/store/types';
import { startClickHouse, type ClickHouseHandle } from '../support/clickhouse';

const DAY = 86_400_000;
const T0 = Date.parse('2024-06-01T00:00:00Z');

function record(i: number, overrides: Partial<PredictionRecord> = {}): PredictionRecord {
  return {
    id: `req-${i}`,
    ts: T0 + i * 60_000,
    version: 'v1',
    features: { age: 20 + (i % 50), city: ['paris', 'oslo', 'rome'][i % 3], member: i % 2 === 0 },
    prediction: i % 4 === 0 ? 1 : 0,
    score: (i % 10) / 10,
    latencyMs: 5 + (i % 7),
    error: null,
    samplingRate: 1,
    ...overrides,
  };
}

const range = (from: number, to: number) => ({ from, to });
const ALL = range(0, Date.parse('2100-01-01T00:00:00Z'));

interface Fixture {
  name: string;
  open(): Promise<PredictionStore>;
}

let clickhouse: ClickHouseHandle;
let dataDir: string;
const opened: PredictionStore[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mlmon-store-'));
  clickhouse = await startClickHouse();
});

afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await clickhouse?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const fixtures: Fixture[] = [
  { name: 'embedded', open: () => EmbeddedStore.open(dataDir) },
  { name: 'clickhouse', open: () => ClickHouseStore.open({ url: clickhouse.url, database: clickhouse.database }) },
];

describe.each(fixtures)('$name store', (fixture) => {
  let store: PredictionStore;
  beforeAll(async () => {
    store = await fixture.open();
    opened.push(store);
  });

  test('writes predictions and reads them back through the relation, versions and counts', async () => {
    const records = Array.from({ length: 40 }, (_, i) => record(i, { version: i < 30 ? 'v1' : 'v2' }));
    records[5] = record(5, { error: 'timeout', prediction: null, samplingRate: 0.5 });
    await store.writePredictions('roundtrip', records);

    expect(await store.listModels()).toContain('roundtrip');
    const versions = await store.listVersions('roundtrip');
    expect(versions).toEqual([
      { version: 'v1', count: 30, firstTs: T0, lastTs: T0 + 29 * 60_000 },
      { version: 'v2', count: 10, firstTs: T0 + 30 * 60_000, lastTs: T0 + 39 * 60_000 },
    ]);
    const counts = await store.countPredictions('roundtrip', range(T0, T0 + 10 * 60_000));
    expect(counts).toEqual({ rows: 10, estimatedTotal: 11, errors: 1 });
    expect((await store.countPredictions('roundtrip', ALL, 'v2')).rows).toBe(10);

    const features = await store.getFeatures('roundtrip');
    expect(features.map((f) => [f.name, f.kind, f.active])).toEqual(
      expect.arrayContaining([
        ['age', 'numeric', true],
        ['city', 'categorical', true],
        ['member', 'categorical', true],
      ])
    );

    const relation = await store.predictionsRelation('roundtrip', ALL);
    const rows = await store.query<Record<string, unknown>>(
      `SELECT id, f_age, f_city, f_member, prediction_num, is_error, error_message, sampling_rate FROM ${relation} WHERE id IN ({a}, {b}) ORDER BY id`,
      { a: 'req-4', b: 'req-5' }
    );
    expect(rows).toEqual([
      {
        id: 'req-4',
        f_age: 24,
        f_city: 'oslo',
        f_member: 'true',
        prediction_num: 1,
        is_error: 0,
        error_message: null,
        sampling_rate: 1,
      },
      {
        id: 'req-5',
        f_age: 25,
        f_city: 'rome',
        f_member: 'false',
        prediction_num: null,
        is_error: 1,
        error_message: 'timeout',
        sampling_rate: 0.5,
      },
    ]);
  });

  test('a value of the wrong type is stored NULL and named in type_errors', async () => {
    await store.writePredictions('typed', [
      record(1),
      record(2, { features: { age: 'forty', city: 7, member: true } }),
    ]);
    const relation = await store.predictionsRelation('typed');
    const [row] = await store.query<{ f_age: unknown; f_city: unknown; type_errors: string }>(
      `SELECT f_age, f_city, type_errors FROM ${relation} WHERE id = {id}`,
      { id: 'req-2' }
    );
    expect(row).toEqual({ f_age: null, f_city: null, type_errors: 'age,city' });
  });

  test('re-sent ids are counted once, and compaction keeps every id once', async () => {
    const batch = Array.from({ length: 25 }, (_, i) => record(i));
    await store.writePredictions('dedup', batch);
    await store.writePredictions('dedup', batch.slice(0, 10));
    await store.writePredictions('dedup', [...batch.slice(20), record(25)]);
    expect((await store.countPredictions('dedup', ALL)).rows).toBe(26);
    expect(await store.compact('dedup')).toEqual({ rowsKept: 26 });
    expect((await store.countPredictions('dedup', ALL)).rows).toBe(26);
    const [{ n }] = await store.query<{ n: number }>(
      `SELECT count(DISTINCT id) AS n FROM ${await store.predictionsRelation('dedup')}`
    );
    expect(Number(n)).toBe(26);
  });

  test('records a schema change when a feature appears or disappears', async () => {
    await store.writePredictions('schema', [record(1, { features: { a: 1, b: 'x' } })]);
    await store.writePredictions('schema', [record(2, { features: { a: 2, c: 3.5 } })]);
    await store.writePredictions('schema', [record(3, { features: { a: 3, b: 'y', c: 1 } })]);
    const changes = await store.getSchemaChanges('schema');
    expect(changes).toEqual([
      { ts: record(1).ts, feature: 'a', change: 'added', kind: 'numeric' },
      { ts: record(1).ts, feature: 'b', change: 'added', kind: 'categorical' },
      { ts: record(2).ts, feature: 'b', change: 'removed', kind: 'categorical' },
      { ts: record(2).ts, feature: 'c', change: 'added', kind: 'numeric' },
      { ts: record(3).ts, feature: 'b', change: 'added', kind: 'categorical' },
    ]);
    expect(await store.getSchemaChanges('schema', range(record(2).ts, record(3).ts))).toHaveLength(2);
    const rows = await store.query<{ id: string; f_c: number | null }>(
      `SELECT id, f_c FROM ${await store.predictionsRelation('schema')} ORDER BY id`
    );
    expect(rows).toEqual([
      { id: 'req-1', f_c: null },
      { id: 'req-2', f_c: 3.5 },
      { id: 'req-3', f_c: 1 },
    ]);
  });

  test('retention drops whole old days and keeps the rest', async () => {
    const records = [0, 1, 2].flatMap((day) =>
      Array.from({ length: 5 }, (_, i) => record(day * 100 + i, { ts: T0 + day * DAY + i * 1000 }))
    );
    await store.writePredictions('retention', records);
    await store.writeLabels('retention', [{ id: 'req-0', label: 1, ts: T0 + 1000 }]);
    const result = await store.applyRetention('retention', T0 + 2 * DAY);
    expect(result.daysDropped.sort()).toEqual(['2024-06-01', '2024-06-02']);
    expect((await store.countPredictions('retention', ALL)).rows).toBe(5);
    expect(await store.query(`SELECT * FROM ${await store.labelsRelation('retention')}`)).toEqual([]);
  });

  test('late labels join by id and the latest label wins', async () => {
    await store.writePredictions('labels', [record(1), record(2)]);
    await store.writeLabels('labels', [
      { id: 'req-1', label: 1, ts: T0 + 5 * DAY },
      { id: 'req-2', label: 'cat', ts: T0 + 6 * DAY },
    ]);
    await store.writeLabels('labels', [{ id: 'req-1', label: 0, ts: T0 + 7 * DAY }]);
    const rows = await store.query<{ id: string; label_num: number | null; label_cat: string | null }>(
      `SELECT p.id AS id, l.label_num AS label_num, l.label_cat AS label_cat FROM ${await store.predictionsRelation('labels')} AS p ` +
        `INNER JOIN ${await store.labelsRelation('labels')} AS l ON p.id = l.id ORDER BY id`
    );
    expect(rows).toEqual([
      { id: 'req-1', label_num: 0, label_cat: null },
      { id: 'req-2', label_num: null, label_cat: 'cat' },
    ]);
  });

  test('reads only the labels recorded since a time when asked, the latest among them winning', async () => {
    await store.writePredictions('since', [record(1), record(2), record(3)]);
    await store.writeLabels('since', [
      { id: 'req-1', label: 1, ts: T0 - 3 * DAY },
      { id: 'req-2', label: 1, ts: T0 - 3 * DAY },
      { id: 'req-3', label: 1, ts: T0 + 2 * DAY },
    ]);
    await store.writeLabels('since', [{ id: 'req-2', label: 0, ts: T0 + DAY }]);
    const labelled = async (since?: number) =>
      store.query<{ id: string; label_num: number }>(
        `SELECT p.id AS id, l.label_num AS label_num FROM ${await store.predictionsRelation('since')} AS p ` +
          `INNER JOIN ${await store.labelsRelation('since', since)} AS l ON p.id = l.id ORDER BY id`
      );
    expect(await labelled(T0 - DAY)).toEqual([
      { id: 'req-2', label_num: 0 },
      { id: 'req-3', label_num: 1 },
    ]);
    expect(await labelled()).toHaveLength(3);
  });

  test('rejects SQL-looking model and feature names with an error naming them', async () => {
    for (const bad of ['x; DROP TABLE y', "it's", 'back`tick', 'a"b', '', '1abc']) {
      await expect(store.writePredictions(bad, [record(1)])).rejects.toThrow(
        `Invalid model name ${JSON.stringify(bad)}`
      );
    }
    await expect(
      store.writePredictions('okmodel', [record(1, { features: { 'x; DROP TABLE y': 1 } })])
    ).rejects.toThrow('Invalid feature name "x; DROP TABLE y"');
    await expect(store.predictionsRelation("m'; DROP TABLE t; --")).rejects.toThrow('Invalid model name');
  });

  test('binds hostile values verbatim', async () => {
    const hostile = 'o\'reilly \\ "q" `b` ; DROP TABLE x; -- \n\t\0 é 日本';
    const [row] = await store.query<{ v: string; n: number }>('SELECT {v} AS v, {n} AS n', { v: hostile, n: -1.5e-7 });
    expect(row).toEqual({ v: hostile, n: -1.5e-7 });
    await store.writePredictions('hostile', [record(1, { id: hostile, features: { city: hostile } })]);
    const rows = await store.query<{ id: string; f_city: string }>(
      `SELECT id, f_city FROM ${await store.predictionsRelation('hostile')} WHERE id = {id}`,
      { id: hostile }
    );
    expect(rows).toEqual([{ id: hostile, f_city: hostile }]);
  });

  test('baselines are stored, listed and read back', async () => {
    const baseline: Baseline = {
      model: 'based',
      version: 'v1.2',
      createdAt: 1_700_000_000_000,
      source: 'ref.csv',
      rows: 3,
      features: {
        city: {
          kind: 'categorical',
          count: 3,
          missing: 0,
          counts: { a: 2, b: 1 },
          proportions: { a: 2 / 3, b: 1 / 3 },
        },
      },
      skipped: {},
      conventions: { binning: 'reference-deciles' },
    };
    await store.saveBaseline(baseline);
    await store.saveBaseline({ ...baseline, version: 'v2', createdAt: baseline.createdAt + 1 });
    expect(await store.getBaseline('based', 'v1.2')).toEqual(baseline);
    expect(await store.getBaseline('based', 'v9')).toBeUndefined();
    expect((await store.listBaselines('based')).map((b) => [b.version, b.features])).toEqual([
      ['v1.2', 1],
      ['v2', 1],
    ]);
    await expect(store.getBaseline('based', '../../etc/passwd')).rejects.toThrow('Invalid model version');
  });

  test('feature kinds come from the baseline when one exists', async () => {
    await store.saveBaseline({
      model: 'hinted',
      version: 'v1',
      createdAt: 1,
      source: 'ref.csv',
      rows: 1,
      features: {
        zip: { kind: 'categorical', count: 1, missing: 0, counts: { '75001': 1 }, proportions: { '75001': 1 } },
      },
      skipped: {},
      conventions: {},
    });
    await store.writePredictions('hinted', [record(1, { features: { zip: '75001', amount: 3 } })]);
    const kinds = Object.fromEntries((await store.getFeatures('hinted')).map((f) => [f.name, f.kind]));
    expect(kinds).toEqual({ zip: 'categorical', amount: 'numeric' });
  });

  // Last in the block: it drops old days of every model of this store.
  test('maintenance drops days past retention, then compacts, for every model', async () => {
    const records = [0, 1, 2, 3].flatMap((day) =>
      [0, 1].map((k) => record(day * 10 + k, { ts: T0 + 400 * DAY + day * DAY + k }))
    );
    await store.writePredictions('maint', records);
    await store.writePredictions('maint', records.slice(-2));
    const results = await runMaintenance(store, { retentionDays: 2, now: T0 + 404 * DAY });
    expect(results.map((r) => r.model).sort()).toEqual((await store.listModels()).sort());
    expect(results.find((r) => r.model === 'maint')).toEqual({
      model: 'maint',
      daysDropped: ['2025-07-06', '2025-07-07'],
      rowsKept: 4,
    });
    expect((await store.countPredictions('maint', ALL)).rows).toBe(4);
    await expect(runMaintenance(store, { retentionDays: 0 })).rejects.toThrow(
      'retentionDays must be a whole number of days >= 1'
    );
  });
});

describe.each(fixtures)('$name store: change marker (live panels)', (fixture) => {
  test('changes when predictions of the range arrive, from another store instance, and only then', async () => {
    const [reader, writer] = [await fixture.open(), await fixture.open()];
    opened.push(reader, writer);
    const day = range(T0 + 10 * DAY, T0 + 11 * DAY);
    await writer.writePredictions('marked', [record(1, { ts: day.from + 1000 })]);
    const before = await reader.changeMarker!('marked', day);
    expect(await reader.changeMarker!('marked', day)).toBe(before);
    await writer.writePredictions('marked', [record(2, { ts: day.from + 60_000 })]);
    const after = await reader.changeMarker!('marked', day);
    expect(after).not.toBe(before);
    await writer.writePredictions('marked', [record(3, { ts: day.from - 5 * DAY })]);
    expect(await reader.changeMarker!('marked', day)).toBe(after); // outside the range
  });
});

describe.each(fixtures)('$name store: model events', (fixture) => {
  let store: PredictionStore;
  beforeAll(async () => {
    store = await fixture.open();
    opened.push(store);
  });

  test('records events durably and reads them back by time range, oldest first', async () => {
    await store.writePredictions('evented', [record(1)]);
    const later = {
      ts: T0 + 2 * DAY,
      kind: 'retrain_requested',
      title: 'Retraining requested',
      text: 'b',
      tags: ['retrain'],
    };
    const earlier = { ...later, ts: T0 + DAY, text: 'a', tags: ['retrain', 'model:evented'] };
    await store.recordEvent('evented', later);
    await store.recordEvent('evented', earlier);
    expect(await store.getEvents('evented')).toEqual([earlier, later]);
    expect(await store.getEvents('evented', range(T0 + DAY, T0 + 2 * DAY))).toEqual([earlier]);
    expect(await store.getEvents('quiet')).toEqual([]);
  });

  test('cuts an event to the limits, refuses a time that is not epoch ms, and deletes events with the model', async () => {
    await store.writePredictions('bounded', [record(1)]);
    const tags = Array.from({ length: 30 }, (_, i) => `tag-${i}-${'x'.repeat(200)}`);
    await store.recordEvent('bounded', {
      ts: T0,
      kind: 'k',
      title: 't'.repeat(500),
      text: '"; DROP TABLE x; --',
      tags,
    });
    const [event] = await store.getEvents('bounded');
    expect(event.title).toHaveLength(200);
    expect(event.text).toBe('"; DROP TABLE x; --');
    expect(event.tags).toHaveLength(20);
    expect(event.tags.every((tag) => tag.length <= 100)).toBe(true);
    await expect(store.recordEvent('bounded', { ...event, ts: 1.5 })).rejects.toThrow('not epoch milliseconds');
    await expect(store.recordEvent('bad name', event)).rejects.toThrow(/model name/);
    expect(await store.deleteModel('bounded')).toBe(true);
    expect(await store.getEvents('bounded')).toEqual([]);
  });
});

describe('ClickHouse specifics', () => {
  test('migrations are recorded once and re-opening applies nothing new', async () => {
    const first = await ClickHouseStore.open({ url: clickhouse.url, database: clickhouse.database });
    opened.push(first);
    expect(first.bindMode).toBe('clickhouse-literals');
    const versions = MIGRATIONS.map((migration) => migration.version);
    expect(await first.migrate()).toBe(versions[versions.length - 1]);
    const rows = await first.query<{ version: number }>('SELECT version FROM mlmon_schema_version ORDER BY version');
    expect(rows.map((r) => Number(r.version))).toEqual(versions);
  });

  test('reports an unreachable server with what to check', async () => {
    await expect(ClickHouseStore.open({ url: 'http://127.0.0.1:1', database: 'default' })).rejects.toThrow(
      'Check --clickhouse-url'
    );
  });
});

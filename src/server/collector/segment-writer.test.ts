import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  predictionColumnsOf,
  predictionRecordAt,
  toPredictionColumns,
  type PredictionBatch,
  type PredictionColumns,
} from '../store/prediction-columns';
import type { LabelRecord, PredictionRecord, PredictionWriter, WriteResult } from '../store/types';
import { decodeBatch } from './body';
import { DeadLetterArea } from './deadletter';
import { SegmentWriter, type FlushRequest } from './segment-writer';
import { checkPrediction } from './validate';
import { WriteAheadLog } from './wal';
import { decodeBatchEntry, encodeRequestEntry } from './wal-entry';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-segment-writer-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A store that keeps what it is given, as records. */
function capturingStore(): PredictionWriter & { written: PredictionRecord[] } {
  const written: PredictionRecord[] = [];
  return {
    written,
    async writePredictions(_model: string, batch: PredictionBatch): Promise<WriteResult> {
      const columns = predictionColumnsOf(batch);
      for (let i = 0; i < columns.rowCount; i++) {
        written.push(predictionRecordAt(columns, i));
      }
      return { rejected: [] };
    },
    async writeLabels(_model: string, _records: LabelRecord[]): Promise<void> {},
    async getFeatures() {
      return [];
    },
    async recentIds() {
      return [];
    },
  };
}

/** An NDJSON body of n predictions with mixed feature values (numbers, text, booleans, nulls, a missing one). */
function body(prefix: string, n: number): Buffer {
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      id: `${prefix}-${i}`,
      ts: Date.UTC(2026, 2, 1, 12) + i,
      version: 'v1',
      features: i % 3 === 0 ? { x: i / 4, c: 'red', b: true } : { x: null, c: 'blue', n: -i },
      prediction: i % 2 ? 'yes' : 0.25,
      score: i % 4 ? 0.5 : null,
    })
  );
  return Buffer.from(lines.join('\n'));
}

/** Appends n-record entries to a log as the collector does; returns each entry's place and its delivered columns. */
async function appendEntries(wal: WriteAheadLog, sizes: number[]) {
  const entries: Array<{ file: string; entry: number; columns: PredictionColumns; bytes: number }> = [];
  for (const [k, n] of sizes.entries()) {
    const bytes = body(`e${k}`, n);
    const records = decodeBatch(bytes, 'ndjson', n).map((item) => {
      const checked = checkPrediction('value' in item ? item.value : undefined, 1);
      if (!checked.ok) {
        throw new Error('fixture must validate');
      }
      return checked.record;
    });
    const accepted = records.map((_, i) => i);
    const entry = {
      model: 'm',
      kind: 'predictions' as const,
      format: 'ndjson' as const,
      accepted,
      samplingRate: 1,
      now: 1,
    };
    const where = await wal.append(encodeRequestEntry(entry, bytes), n);
    entries.push({ ...where, columns: toPredictionColumns(records), bytes: bytes.length });
  }
  await wal.seal();
  return entries;
}

const request = (wal: WriteAheadLog): FlushRequest => ({
  segments: wal.sealedSegments().map((file) => ({ file, done: [], entries: wal.entriesOf(file) })),
  skip: [],
});

test('a segment whose every entry was delivered is written from memory, with the records read from disk', async () => {
  const wal = WriteAheadLog.open(path.join(dir, 'wal'));
  const entries = await appendEntries(wal, [7, 5, 9]);
  const fromDisk = capturingStore();
  const diskReport = await new SegmentWriter(fromDisk, new DeadLetterArea(path.join(dir, 'dl'))).write(request(wal));
  expect(diskReport).toMatchObject({ fromMemory: 0, fromDisk: 1, written: ['predictions/m'] });

  const fromMemory = capturingStore();
  const writer = new SegmentWriter(fromMemory, new DeadLetterArea(path.join(dir, 'dl')));
  entries.forEach((e) =>
    writer.deliver(e.file, e.entry, { model: 'm', kind: 'predictions', columns: e.columns }, e.bytes)
  );
  const memoryReport = await writer.write(request(wal));
  expect(memoryReport).toMatchObject({ fromMemory: 1, fromDisk: 0, written: ['predictions/m'] });
  expect(memoryReport.segments).toEqual(diskReport.segments);
  expect(fromMemory.written).toHaveLength(21);
  expect(fromMemory.written).toEqual(fromDisk.written);
  await wal.close();
});

test('a segment delivered in part (its start, a middle or its end missed) or past the memory budget is read from disk', async () => {
  const wal = WriteAheadLog.open(path.join(dir, 'wal'));
  const entries = await appendEntries(wal, [4, 4, 4]);
  const deliver = (writer: SegmentWriter, which: number[]) =>
    which.forEach((k) => {
      const e = entries[k];
      writer.deliver(e.file, e.entry, { model: 'm', kind: 'predictions', columns: e.columns }, e.bytes);
    });
  const cases: Array<{ delivered: number[]; budget?: number }> = [
    { delivered: [1, 2] }, // a worker started after the first entry
    { delivered: [0, 2] }, // an entry missed in the middle
    { delivered: [0, 1] }, // the last entry missed
    { delivered: [0, 1, 2], budget: entries[0].bytes + entries[1].bytes }, // the third is over the budget
  ];
  for (const { delivered, budget } of cases) {
    const store = capturingStore();
    const writer = new SegmentWriter(store, new DeadLetterArea(path.join(dir, 'dl')), { maxMemoryBytes: budget });
    deliver(writer, delivered);
    expect(await writer.write(request(wal))).toMatchObject({ fromMemory: 0, fromDisk: 1 });
    expect(store.written.map((r) => r.id)).toEqual(entries.flatMap((e, k) => [0, 1, 2, 3].map((i) => `e${k}-${i}`)));
  }
  await wal.close();
});

test('a request entry read from disk: fast and slow lines, out of order, one no longer valid — as decodeBatchEntry', async () => {
  const lines = [
    '{"id":"a","ts":1772366400000,"version":"v1","features":{"x":1.5,"c":"red"},"prediction":1}',
    '{"id":"b\\u0041","ts":"2026-03-01T12:00:00Z","version":"v1","features":{"x":2,"c":"blue"},"prediction":"yes"}',
    '{"id":"c","ts":1772366400001,"version":"v1","features":{"c":"red","x":-0},"prediction":null,"extra":[1]}',
    '{"id":"d","ts":1,"version":"v1","features":{"x":3},"prediction":0}',
    '{"id":"e","ts":1772366400002,"version":"v1","features":{"x":4,"c":"red"},"prediction":1,"score":0.25}',
  ];
  const body = Buffer.from(lines.join('\n') + '\n');
  const entry = { model: 'm', kind: 'predictions' as const, format: 'ndjson' as const, accepted: [4, 1, 3, 0, 2] };
  const payload = encodeRequestEntry({ ...entry, samplingRate: 0.5, now: 1 }, body);
  const wal = WriteAheadLog.open(path.join(dir, 'wal'));
  await wal.append(payload, 5);
  await wal.seal();
  const written: PredictionColumns[] = [];
  const store: PredictionWriter = {
    ...capturingStore(),
    async writePredictions(_model, batch) {
      written.push(predictionColumnsOf(batch));
      return { rejected: [] };
    },
  };
  const deadLetters = new DeadLetterArea(path.join(dir, 'dl'));
  const report = await new SegmentWriter(store, deadLetters).write(request(wal));
  const expected = decodeBatchEntry(Buffer.concat(payload));
  expect(report).toMatchObject({ fromDisk: 1, rejected: [{ code: 'invalid_value', count: 1 }] });
  expect(written).toEqual([toPredictionColumns(expected.batch.records as PredictionRecord[])]);
  expect(written[0].id).toEqual(['e', 'bA', 'a', 'c']);
  expect(expected.letters).toHaveLength(1);
  await wal.close();
});

import { decodeBatch } from './body';
import { decodeBatchEntry, encodeBatch, encodeRequestEntry } from './wal-entry';
import { checkLabel, checkPrediction } from './validate';

const prediction = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  ts: '2026-11-25T10:00:00Z',
  version: 'v1',
  prediction: 0.7,
  features: { age: 41, plan: 'pro', note: 'line\nbreak "quoted"' },
  ...extra,
});

describe('write-ahead log entries', () => {
  it('replays a request entry to the same records the collector accepted, skipping refused items', () => {
    const body = Buffer.from(JSON.stringify([prediction('a'), { id: 'no-ts' }, prediction('b'), prediction('c')]));
    const accepted = [3, 0];
    const expected = accepted.map((i) => {
      const item = decodeBatch(body, 'json', 10)[i];
      const checked = checkPrediction('value' in item ? item.value : undefined, 0.5);
      if (!checked.ok) {
        throw new Error('fixture must validate');
      }
      return checked.record;
    });
    const entry = {
      model: 'm',
      kind: 'predictions' as const,
      format: 'json' as const,
      accepted,
      samplingRate: 0.5,
      now: 1,
    };
    const decoded = decodeBatchEntry(Buffer.concat(encodeRequestEntry(entry, body)));
    expect(decoded).toEqual({ batch: { model: 'm', kind: 'predictions', records: expected }, letters: [] });
    expect(decoded.batch.records.map((r) => r.id)).toEqual(['c', 'a']);
  });

  it('gives a label without ts the clock of its acceptance, also from NDJSON with an invalid line', () => {
    const body = Buffer.from('{"id":"x","label":1}\nnot json\n{"id":"y","label":"cat","ts":"2026-11-25T09:00:00Z"}\n');
    const now = Date.parse('2026-11-25T12:00:00Z');
    const entry = {
      model: 'm',
      kind: 'labels' as const,
      format: 'ndjson' as const,
      accepted: [0, 2],
      samplingRate: 1,
      now,
    };
    const { records } = decodeBatchEntry(Buffer.concat(encodeRequestEntry(entry, body))).batch;
    expect(records).toEqual([
      (checkLabel({ id: 'x', label: 1 }, now) as { record: unknown }).record,
      (checkLabel({ id: 'y', label: 'cat', ts: '2026-11-25T09:00:00Z' }, now) as { record: unknown }).record,
    ]);
    expect(records[0].ts).toBe(now);
  });

  it('replays the items that still validate and turns the others into dead letters, never stopping the replay', () => {
    const body = Buffer.from(JSON.stringify([{ id: 'broken' }, prediction('ok')]));
    const entry = {
      model: 'm',
      kind: 'predictions' as const,
      format: 'json' as const,
      accepted: [0, 1],
      samplingRate: 1,
      now: 1,
    };
    const { batch, letters } = decodeBatchEntry(Buffer.concat(encodeRequestEntry(entry, body)));
    expect(batch.records.map((r) => r.id)).toEqual(['ok']);
    expect(letters).toEqual([
      expect.objectContaining({ model: 'm', index: 0, code: 'missing_field', raw: { id: 'broken' } }),
    ]);
    expect(letters[0].reason).toMatch(/no longer valid when replayed/);
  });

  it('throws for an entry that cannot be decoded at all (the flusher quarantines it)', () => {
    expect(() => decodeBatchEntry(Buffer.from('{"model":"m","kind":"predict'))).toThrow();
  });

  it('still reads the records form written by earlier versions', () => {
    const batch = { model: 'm', kind: 'labels' as const, records: [{ id: 'x', label: 1, ts: 5 }] };
    expect(decodeBatchEntry(encodeBatch(batch))).toEqual({ batch, letters: [] });
  });
});

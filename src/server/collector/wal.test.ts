import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WriteAheadLog, frameEntry, parseSegment } from './wal';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-wal-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const payloads = (n: number, prefix = 'entry') => Array.from({ length: n }, (_, i) => Buffer.from(`${prefix}-${i}`));

test('entries round-trip through frames; a torn tail and a corrupt entry end the readable part', () => {
  const bytes = Buffer.concat(payloads(3).flatMap(frameEntry));
  expect(parseSegment(bytes).entries.map(String)).toEqual(['entry-0', 'entry-1', 'entry-2']);
  const torn = parseSegment(bytes.subarray(0, bytes.length - 3));
  expect(torn.entries.map(String)).toEqual(['entry-0', 'entry-1']);
  expect(torn.tornBytes).toBe(8 + 'entry-2'.length - 3);
  const corrupt = Buffer.from(bytes);
  corrupt[8 + 1] ^= 0xff; // flips a byte of the first payload: its CRC no longer matches
  expect(parseSegment(corrupt).entries).toEqual([]);
});

test('concurrent appends share fsyncs (group commit) and all land in order of acceptance', async () => {
  const wal = WriteAheadLog.open(dir);
  await Promise.all(payloads(500).map((p) => wal.append(p)));
  // 500 appends issued in one tick: the first cycle writes one, the next cycle the other 499.
  expect(wal.syncs).toBeGreaterThanOrEqual(1);
  expect(wal.syncs).toBeLessThanOrEqual(2);
  await wal.seal();
  const segments = wal.sealedSegments();
  expect(segments).toHaveLength(1);
  expect(wal.readSegment(segments[0]).entries.map(String)).toEqual(payloads(500).map(String));
  await wal.close();
});

test('segments rotate by size, survive a reopen (replay) and are removed once flushed', async () => {
  const wal = WriteAheadLog.open(dir, { segmentBytes: 100 });
  for (const p of payloads(20)) {
    await wal.append(p);
  }
  const sealed = wal.sealedSegments();
  expect(sealed.length).toBeGreaterThan(1);
  // No close: the process "crashes" here. A new log sees every segment as sealed, the open one included.
  const reopened = WriteAheadLog.open(dir, { segmentBytes: 100 });
  const replayed = reopened.sealedSegments().flatMap((file) => reopened.readSegment(file).entries.map(String));
  expect(replayed).toEqual(payloads(20).map(String));
  expect(reopened.bytes).toBeGreaterThan(0);
  reopened.sealedSegments().forEach((file) => reopened.removeSegment(file));
  expect(reopened.bytes).toBe(0);
  await reopened.close();
  expect(WriteAheadLog.listSegments(dir)).toEqual([]);
});

test('appending after close fails with a message that says why', async () => {
  const wal = WriteAheadLog.open(dir);
  await wal.close();
  await expect(wal.append(Buffer.from('x'))).rejects.toThrow(/closed/);
});

test('memos of entries this process wrote are kept per segment; a reopened log has none; the budget is respected', async () => {
  const wal = WriteAheadLog.open<string>(dir, { segmentBytes: 40, memoBytes: 1000 });
  for (const p of payloads(10)) {
    await wal.append(p, String(p).toUpperCase());
  }
  await wal.seal();
  const segments = wal.sealedSegments();
  expect(segments.flatMap((file) => wal.memosOf(file)!)).toEqual(payloads(10).map((p) => String(p).toUpperCase()));
  segments.forEach((file) =>
    expect(wal.memosOf(file)).toEqual(wal.readSegment(file).entries.map((e) => String(e).toUpperCase()))
  );
  const reopened = WriteAheadLog.open<string>(dir);
  expect(reopened.sealedSegments().map((file) => reopened.memosOf(file))).toEqual(segments.map(() => undefined));
  await reopened.close();

  const small = WriteAheadLog.open<string>(fs.mkdtempSync(path.join(dir, 'small-')), { memoBytes: 20 });
  await small.append(Buffer.from('0123456789'), 'a');
  await small.append(Buffer.from('0123456789'), 'b');
  await small.append(Buffer.from('0123456789'), 'c'); // over budget: the segment's memos are given up
  await small.seal();
  expect(small.memosOf(small.sealedSegments()[0])).toBeUndefined();
  await small.close();
  await wal.close();
});

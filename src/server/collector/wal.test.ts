import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { FILE_IO, WriteAheadLog, frameEntry, parseSegment, type WalIo } from './wal';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-wal-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const payloads = (n: number, prefix = 'entry') => Array.from({ length: n }, (_, i) => Buffer.from(`${prefix}-${i}`));

test('entries round-trip through frames (whole or in parts); a torn tail and a corrupt entry end the readable part', () => {
  const bytes = Buffer.concat(payloads(3).flatMap(frameEntry));
  expect(parseSegment(bytes).entries.map(String)).toEqual(['entry-0', 'entry-1', 'entry-2']);
  const torn = parseSegment(bytes.subarray(0, bytes.length - 3));
  expect(torn.entries.map(String)).toEqual(['entry-0', 'entry-1']);
  expect(torn.tornBytes).toBe(8 + 'entry-2'.length - 3);
  const corrupt = Buffer.from(bytes);
  corrupt[8 + 1] ^= 0xff; // flips a byte of the first payload: its CRC no longer matches
  expect(parseSegment(corrupt).entries).toEqual([]);
  const parts = [Buffer.from('head\n'), Buffer.from('body')];
  expect(parseSegment(Buffer.concat(frameEntry(parts))).entries.map(String)).toEqual(['head\nbody']);
  expect(Buffer.concat(frameEntry(parts))).toEqual(Buffer.concat(frameEntry(Buffer.concat(parts))));
  expect(() => frameEntry([Buffer.alloc(0), Buffer.alloc(0)])).toThrow(/cannot be empty/);
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

test('each segment counts its bytes and records for the backlog; a reopened log knows the bytes of those left', async () => {
  const wal = WriteAheadLog.open(dir, { segmentBytes: 40 });
  const places = [];
  for (const p of payloads(10)) {
    places.push(await wal.append(p, 3));
  }
  await wal.seal();
  const segments = wal.sealedSegments();
  // Each append says where its entry is: segment file and position, as a reader of the segment finds it.
  for (const { file, entry } of places) {
    expect(String(wal.readSegment(file).entries[entry])).toBe(
      String(payloads(10)[places.findIndex((p) => p.file === file && p.entry === entry)])
    );
  }
  expect(segments.map((file) => wal.entriesOf(file))).toEqual(
    segments.map((file) => wal.readSegment(file).entries.length)
  );
  const sizes = segments.map((file) => fs.statSync(file).size);
  expect(segments.map((file) => wal.bytesOf(file))).toEqual(sizes);
  expect(wal.backlog()).toMatchObject({
    bytes: sizes.reduce((a, b) => a + b, 0),
    records: 30,
    segments: segments.length,
  });
  await wal.close();
  const reopened = WriteAheadLog.open(dir);
  expect(reopened.sealedSegments().map((file) => reopened.bytesOf(file))).toEqual(sizes);
  expect(reopened.backlog().records).toBe(0); // unknown until the flusher has read them (noteRecords)
  expect(reopened.entriesOf(segments[0])).toBeUndefined(); // written by an earlier process
  reopened.noteRecords(segments[0], 7);
  expect(reopened.backlog().records).toBe(7);
  expect(reopened.bytesOf(path.join(dir, 'not-a-segment.wal'))).toBe(0);
  await reopened.close();
});

/**
 * File operations that fail on demand: `plan` is consumed one step per call of writev / fdatasync / ftruncate; a
 * step 'short' writes part of the buffers then succeeds with the short count, 'enospc'/'eio' write part then throw.
 */
type Step = 'ok' | 'short' | 'enospc' | 'eio';
function faultyIo(steps: { writev?: Step[]; fdatasync?: Step[]; ftruncate?: Step[] }): WalIo {
  const plan = {
    writev: steps.writev?.slice(),
    fdatasync: steps.fdatasync?.slice(),
    ftruncate: steps.ftruncate?.slice(),
  };
  const next = (steps: Step[] | undefined): Step => steps?.shift() ?? 'ok';
  const fail = (code: string) => Object.assign(new Error(`${code}: injected`), { code });
  return {
    async writev(fd, buffers, position) {
      const step = next(plan.writev);
      const bytes = Buffer.concat(buffers);
      if (step === 'ok') {
        return FILE_IO.writev(fd, buffers, position);
      }
      const part = bytes.subarray(0, Math.max(1, Math.floor(bytes.length / 2)));
      await FILE_IO.writev(fd, [part], position);
      if (step === 'short') {
        return part.length;
      }
      throw fail(step === 'enospc' ? 'ENOSPC' : 'EIO');
    },
    async fdatasync(fd) {
      const step = next(plan.fdatasync);
      if (step !== 'ok') {
        throw fail('EIO');
      }
      return FILE_IO.fdatasync(fd);
    },
    async ftruncate(fd, length) {
      const step = next(plan.ftruncate);
      if (step !== 'ok') {
        throw fail('EIO');
      }
      return FILE_IO.ftruncate(fd, length);
    },
  };
}

/** What a restarted collector would replay: every entry of every segment, in order. */
function replay(walDir: string): string[] {
  return WriteAheadLog.listSegments(walDir).flatMap((file) => parseSegment(fs.readFileSync(file)).entries.map(String));
}

test('a write that fails part-way in a fresh segment leaves no gap: later entries replay, the failed one does not', async () => {
  const wal = WriteAheadLog.open(dir, { io: faultyIo({ writev: ['enospc', 'enospc', 'ok', 'ok'] }) });
  await expect(wal.append(Buffer.from('lost-1'))).rejects.toMatchObject({ code: 'ENOSPC', noSpace: true });
  await expect(wal.append(Buffer.from('lost-2'))).rejects.toThrow(/ENOSPC/);
  await wal.append(Buffer.from('kept-1'));
  await wal.append(Buffer.from('kept-2'));
  expect(replay(dir)).toEqual(['kept-1', 'kept-2']);
  expect(wal.lastError).toBeUndefined();
  await wal.close();
});

test('a failed fdatasync rejects its batch and the bytes it wrote are cut away before the next write', async () => {
  const wal = WriteAheadLog.open(dir, { io: faultyIo({ fdatasync: ['ok', 'eio'] }) });
  await wal.append(Buffer.from('first'));
  await expect(wal.append(Buffer.from('unsynced'))).rejects.toThrow(/EIO/);
  expect(wal.lastError?.code).toBe('EIO');
  await wal.append(Buffer.from('second'));
  expect(replay(dir)).toEqual(['first', 'second']);
  await wal.close();
});

test('while the cut-back fails, appends are refused without writing; they resume once it succeeds', async () => {
  const io = faultyIo({ writev: ['ok', 'eio'], ftruncate: ['eio', 'eio'] });
  const wal = WriteAheadLog.open(dir, { io });
  await wal.append(Buffer.from('acknowledged'));
  await expect(wal.append(Buffer.from('failed'))).rejects.toThrow(/EIO/); // its cut-back fails too
  await expect(wal.append(Buffer.from('refused'))).rejects.toThrow(/could not be cut back/); // second cut-back fails
  await wal.append(Buffer.from('after')); // third cut-back succeeds, then the write
  expect(replay(dir)).toEqual(['acknowledged', 'after']);
  await wal.close();
});

test('short writes are completed at the right position', async () => {
  const wal = WriteAheadLog.open(dir, { io: faultyIo({ writev: ['short', 'short', 'ok', 'short'] }) });
  for (const p of payloads(6, 'short')) {
    await wal.append(p);
  }
  expect(replay(dir)).toEqual(payloads(6, 'short').map(String));
  await wal.close();
});

test('zeros left in a segment are never read as entries', () => {
  const bytes = Buffer.concat([...frameEntry(Buffer.from('real')), Buffer.alloc(64)]);
  const read = parseSegment(bytes);
  expect(read.entries.map(String)).toEqual(['real']);
  expect(read.tornBytes).toBe(64);
  expect(parseSegment(Buffer.alloc(32)).entries).toEqual([]);
});

test('property: whatever fails when, a reopened log replays every acknowledged entry in order, and nothing else once healthy', async () => {
  const step = fc.constantFrom<Step>('ok', 'ok', 'ok', 'short', 'enospc', 'eio');
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        writev: fc.array(step, { maxLength: 30 }),
        fdatasync: fc.array(fc.constantFrom<Step>('ok', 'ok', 'ok', 'eio'), { maxLength: 30 }),
        ftruncate: fc.array(fc.constantFrom<Step>('ok', 'ok', 'eio'), { maxLength: 10 }),
        appends: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 25 }),
        segmentBytes: fc.constantFrom(64, 256, 1 << 20),
      }),
      async ({ writev, fdatasync, ftruncate, appends, segmentBytes }) => {
        const walDir = fs.mkdtempSync(path.join(dir, 'prop-'));
        const wal = WriteAheadLog.open(walDir, { segmentBytes, io: faultyIo({ writev, fdatasync, ftruncate }) });
        const acknowledged: string[] = [];
        const refused = new Set<string>();
        let n = 0;
        for (const concurrent of appends) {
          // Several appends at once share a write cycle (group commit), so failures hit whole groups.
          const group = Array.from({ length: concurrent }, () => `entry-${n++}-${'x'.repeat(n % 37)}`);
          const results = await Promise.allSettled(group.map((text) => wal.append(Buffer.from(text))));
          results.forEach((r, i) => (r.status === 'fulfilled' ? acknowledged.push(group[i]) : refused.add(group[i])));
        }
        // No close: a crash. A restart replays every acknowledged entry, in order...
        const replayed = replay(walDir);
        expect(replayed.filter((entry) => !refused.has(entry))).toEqual(acknowledged);
        // ...and a refused one only while its bytes could not be cut away (the log then refuses every append).
        if (wal.lastError === undefined) {
          expect(replayed).toEqual(acknowledged);
        }
      }
    ),
    { numRuns: 150 }
  );
});

/**
 * The collector's maintenance schedule (src/server/store/maintenance.ts scheduleMaintenance) on the embedded store:
 * days written in several flushes end as one file each, with every id once, and old days are dropped.
 */
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { maintenanceRound, scheduleMaintenance } from '../../src/server/store/maintenance';
import type { PredictionRecord } from '../../src/server/store/types';

const DAY = 86_400_000;

function records(from: number, count: number, day: number): PredictionRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `r${from + i}`,
    ts: day + (from + i) * 1000,
    version: 'v1',
    features: { x: from + i },
    prediction: 0.5,
    samplingRate: 1,
  }));
}

test('scheduled maintenance compacts each day into one file, keeps ids once, and applies retention', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mlmon-maintenance-'));
  const store = await EmbeddedStore.open(dir);
  const today = Math.floor(Date.now() / DAY) * DAY;
  const old = today - 10 * DAY;
  const lines: string[] = [];
  try {
    await store.writePredictions('m', records(0, 50, today));
    await store.writePredictions('m', records(40, 50, today)); // 10 ids re-sent in a second flush
    await store.writePredictions('m', records(0, 5, old));
    const before = await store.predictionDays('m', { from: old, to: today + DAY });
    expect(before.map((d) => d.files.length)).toEqual([1, 2]);

    const schedule = scheduleMaintenance(store, { intervalMs: 50, retentionDays: 3, log: (l) => lines.push(l) });
    const deadline = Date.now() + 20_000;
    while (!lines.some((l) => l.includes('compacted')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await schedule.stop();

    expect(lines.find((l) => l.includes('compacted'))).toMatch(/m: compacted, 90 prediction rows kept, dropped /);
    const after = await store.predictionDays('m', { from: old, to: today + DAY });
    expect(after).toHaveLength(1);
    expect(after[0].files).toHaveLength(1);
    const dayDir = join(dir, 'models', 'm', 'predictions', `day=${new Date(today).toISOString().slice(0, 10)}`);
    expect((await readdir(dayDir)).filter((f) => f.endsWith('.parquet'))).toHaveLength(1);
    const [row] = await store.query<{ n: number; ids: number }>(
      `SELECT count(*) AS n, count(DISTINCT id) AS ids FROM ${await store.predictionsRelation('m')}`
    );
    expect([Number(row.n), Number(row.ids)]).toEqual([90, 90]);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('compaction removes .part files that a killed writer left an hour ago, and keeps ones still being written', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mlmon-parts-'));
  const store = await EmbeddedStore.open(dir);
  try {
    const day = Math.floor(Date.now() / DAY) * DAY;
    await store.writePredictions('m', records(0, 5, day));
    const dayDir = join(dir, 'models', 'm', 'predictions', `day=${new Date(day).toISOString().slice(0, 10)}`);
    const stale = join(dayDir, '.dead-writer.parquet.part');
    const fresh = join(dayDir, '.live-writer.parquet.part');
    await writeFile(stale, 'half a file');
    await writeFile(fresh, 'half a file');
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    await utimes(stale, twoHoursAgo, twoHoursAgo);
    await store.compact('m');
    const names = await readdir(dayDir);
    expect(names).not.toContain('.dead-writer.parquet.part');
    expect(names).toContain('.live-writer.parquet.part');
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a day that cannot be compacted stops neither the other days nor the other models, and the round says which', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mlmon-maintenance-'));
  const store = await EmbeddedStore.open(dir);
  const today = Math.floor(Date.now() / DAY) * DAY;
  const lines: string[] = [];
  try {
    for (const model of ['a', 'b']) {
      await store.writePredictions(model, records(0, 20, today));
      await store.writePredictions(model, records(10, 20, today));
      await store.writePredictions(model, records(0, 5, today - DAY));
      await store.writePredictions(model, records(5, 5, today - DAY));
    }
    const broken = join(dir, 'models', 'a', 'predictions', `day=${new Date(today - DAY).toISOString().slice(0, 10)}`);
    await writeFile(join(broken, 'damaged.parquet'), 'not parquet');

    await expect(maintenanceRound(store, { log: (line) => lines.push(line) })).rejects.toThrow(
      /maintenance failed for a/
    );
    expect(lines).toEqual([
      expect.stringMatching(/^a: maintenance failed: Compaction of a failed for 1 day\(s\).*predictions day=.*damaged/),
      'b: compacted, 40 prediction rows kept',
    ]);
    const days = await store.predictionDays('a', { from: today - DAY, to: today + DAY });
    expect(days.map((d) => d.files.length)).toEqual([3, 1]); // its two flushes and the damaged file stay
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

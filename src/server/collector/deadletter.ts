/**
 * The dead-letter area: every record the collector refuses is kept, with its reason and time, so nothing is
 * silently dropped. Files are NDJSON, one per model and UTC day: `<dir>/<model>/<YYYY-MM-DD>.ndjson`, each line
 * `{"time", "model", "kind", "index", "code", "reason", "raw"}`. Bodies that could not be read as records at all
 * (bad JSON, invalid UTF-8) are kept the same way with index -1 and the body text (truncated) as `raw`.
 * Only validated model names become directory names; a request for an invalid model is refused as a whole (400)
 * before its body is read, so it has no records to keep.
 *
 * Write-ahead log entries that cannot be decoded at all (damaged, or written by an incompatible version) are kept
 * whole in `<dir>/wal-quarantine/` (a name no model can have): `<segment>-<entry>.bin` with a line per entry in
 * `quarantine.ndjson` saying why, so the flusher moves on without losing them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface DeadLetter {
  model: string;
  kind: 'predictions' | 'labels';
  index: number;
  code: string;
  reason: string;
  raw: unknown;
}

/** Largest body text kept for a body that could not be parsed at all. */
export const MAX_RAW_BODY_CHARS = 64 * 1024;

export class DeadLetterArea {
  private chain: Promise<void> = Promise.resolve();

  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
  }

  /**
   * Appends the letters; `model` must be a validated model name. Appends are serialised, so lines never interleave.
   */
  write(model: string, letters: DeadLetter[], now = Date.now()): Promise<void> {
    if (!letters.length) {
      return Promise.resolve();
    }
    const time = new Date(now).toISOString();
    const text = letters.map((letter) => JSON.stringify({ time, ...letter }) + '\n').join('');
    const file = path.join(this.dir, model, `${time.slice(0, 10)}.ndjson`);
    const next = this.chain.then(async () => {
      await fs.promises.mkdir(path.dirname(file), { recursive: true });
      await fs.promises.appendFile(file, text);
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Keeps an undecodable write-ahead log entry (`segment` is the segment's file name, `entry` its position). */
  quarantine(segment: string, entry: number, payload: Buffer, reason: string, now = Date.now()): Promise<void> {
    const dir = path.join(this.dir, 'wal-quarantine');
    const name = `${path.basename(segment, '.wal')}-${entry}.bin`;
    const line =
      JSON.stringify({ time: new Date(now).toISOString(), file: name, bytes: payload.length, reason }) + '\n';
    const next = this.chain.then(async () => {
      await fs.promises.mkdir(dir, { recursive: true });
      await fs.promises.writeFile(path.join(dir, name), payload);
      await fs.promises.appendFile(path.join(dir, 'quarantine.ndjson'), line);
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}

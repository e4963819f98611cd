/**
 * `mlmon ingest FILE --model M [--version V] [store flags]`: bulk-loads prediction records (or, with --labels,
 * late labels) from a CSV, Parquet or NDJSON file into the store, through the same writer as the collector.
 * Progress (rows, rows/s) goes to stderr; rows that cannot be stored are counted and the first reasons shown.
 */
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { JSDuckDBValueConverter } from '@duckdb/node-api';
import { noDataRowsError, unreadableFileError } from '../files/input-error';
import { openMemoryDuckDB } from '../store/duckdb-sql';
import { fileSourceSql } from '../store/file-source';
import { validateIdentifier } from '../store/identifiers';
import { openStore, STORE_FLAGS, STORE_FLAGS_HELP, storeOptionsFromFlags } from '../store/open';
import { recordFromRow, toEpochMs } from '../store/records-from-rows';
import type { LabelRecord, PredictionRecord, PredictionStore } from '../store/types';
import { handleErrors, InputError, throwIfRejected, UsageError, type Command } from './command';

const HELP = `Usage: mlmon ingest FILE --model M [--version V] [options]

Loads a CSV, Parquet or NDJSON file of prediction records into the store. Columns: id, ts, version,
prediction, score, latency_ms, error, sampling_rate; every other column (or the fields of a nested "features"
object) is a feature. Rows without an id get "<file>:<row>", so loading the same file twice stores each row once.

ts is epoch milliseconds (a number), a timestamp column, or an ISO 8601 time (UTC when it has no zone).
A model that does not exist yet is created by its first rows ('mlmon models list' shows the models).

Options:
  --model M            model name (required)
  --version V          model version for rows without a version column
  --labels             the file holds late labels: id, label and optionally ts (the label's time; when absent
                       or empty, the time of loading, as the collector does)
  --exclude A,B        columns to ignore
  --batch-size N       rows per store write (default 10000)

Exit codes: 0 every row stored, 1 some rows rejected (the others stored; the first reasons are shown) or a store
failure, 2 usage or input error (missing, unreadable or empty file, no row storable; nothing stored).

${STORE_FLAGS_HELP}
`;

const OPTIONS = {
  ...STORE_FLAGS,
  model: { type: 'string' },
  version: { type: 'string' },
  labels: { type: 'boolean' },
  exclude: { type: 'string' },
  'batch-size': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const MAX_REASONS_SHOWN = 5;

interface IngestStats {
  rows: number;
  stored: number;
  rejected: number;
  reasons: string[];
}

const isBlank = (value: unknown) => value === null || value === undefined || value === '';

/**
 * A label row: id, label (number or text), ts; or the reason it cannot be stored. As in the collector, ts is
 * optional: a row without one (no column, or an empty cell) gets `now`, the time of loading.
 */
function labelFromRow(
  row: Record<string, unknown>,
  rowNumber: number,
  now: number
): LabelRecord | { rejected: string } {
  const cell = row.ts ?? row.timestamp;
  const ts = isBlank(cell) ? now : toEpochMs(cell);
  const label = typeof row.label === 'bigint' ? Number(row.label) : row.label;
  if (row.id === null || row.id === undefined || row.id === '') {
    return { rejected: `row ${rowNumber}: no id` };
  }
  if (ts === undefined) {
    return {
      rejected: `row ${rowNumber}: ts ${JSON.stringify(String(cell))} is neither epoch milliseconds nor an ISO 8601 time`,
    };
  }
  if (typeof label !== 'number' && typeof label !== 'string' && typeof label !== 'boolean') {
    return { rejected: `row ${rowNumber}: no label` };
  }
  return { id: String(row.id), label: typeof label === 'boolean' ? String(label) : label, ts };
}

/** Streams the file through DuckDB in chunks and writes batches to the store. */
async function ingestFile(
  store: PredictionStore,
  file: string,
  model: string,
  options: { version?: string; labels: boolean; exclude: Set<string>; batchSize: number }
): Promise<IngestStats> {
  const stats: IngestStats = { rows: 0, stored: 0, rejected: 0, reasons: [] };
  const { instance, connection } = await openMemoryDuckDB();
  const started = Date.now();
  let lastReport = started;
  const report = (final: boolean) => {
    const seconds = (Date.now() - started) / 1000;
    const rate = Math.round(stats.stored / Math.max(seconds, 1e-3));
    process.stderr.write(
      `mlmon ingest: ${final ? 'done, ' : ''}${stats.stored} rows stored` +
        (stats.rejected ? `, ${stats.rejected} rejected` : '') +
        ` in ${seconds.toFixed(1)} s (${rate} rows/s)\n`
    );
  };
  let pending: Array<PredictionRecord | LabelRecord> = [];
  const flush = async () => {
    if (pending.length === 0) {
      return;
    }
    if (options.labels) {
      await store.writeLabels(model, pending as LabelRecord[]);
    } else {
      throwIfRejected(await store.writePredictions(model, pending as PredictionRecord[]), model);
    }
    stats.stored += pending.length;
    pending = [];
    if (Date.now() - lastReport >= 1000) {
      lastReport = Date.now();
      report(false);
    }
  };
  const reading = <T>(work: Promise<T>) =>
    work.catch((error: unknown) => {
      throw unreadableFileError(file, error);
    });
  const now = Date.now();
  try {
    const source = fileSourceSql(file);
    const result = await reading(connection.stream(`SELECT * FROM ${source}`));
    const names = result.columnNames();
    const mapping = { version: options.version, idPrefix: basename(file), exclude: options.exclude };
    const nextChunk = () => reading(result.fetchChunk());
    for (let chunk = await nextChunk(); chunk && chunk.rowCount > 0; chunk = await nextChunk()) {
      for (const cells of chunk.convertRows(JSDuckDBValueConverter)) {
        stats.rows++;
        const row: Record<string, unknown> = {};
        for (let j = 0; j < names.length; j++) {
          row[names[j]] = cells[j];
        }
        const mapped = options.labels ? labelFromRow(row, stats.rows, now) : recordFromRow(row, stats.rows, mapping);
        if ('rejected' in mapped) {
          stats.rejected++;
          if (stats.reasons.length < MAX_REASONS_SHOWN) {
            stats.reasons.push(mapped.rejected);
          }
          continue;
        }
        pending.push(mapped);
        if (pending.length >= options.batchSize) {
          await flush();
        }
      }
    }
    await flush();
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  if (stats.rows === 0) {
    throw noDataRowsError(file);
  }
  report(true);
  return stats;
}

/** Prints the first reasons rows were rejected, and how many more there were. */
function printRejections(stats: IngestStats): void {
  for (const reason of stats.reasons) {
    process.stderr.write(`mlmon ingest: rejected ${reason}\n`);
  }
  if (stats.rejected > stats.reasons.length) {
    process.stderr.write(`mlmon ingest: ... and ${stats.rejected - stats.reasons.length} more rejected rows\n`);
  }
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length ? `one FILE at a time, got ${positionals.join(' ')}` : 'give the FILE to ingest'
    );
  }
  if (!values.model) {
    throw new UsageError('--model is required');
  }
  const model = validateIdentifier(values.model, 'model name');
  const batchSize = Number(values['batch-size'] ?? 10_000);
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new UsageError(`--batch-size must be a positive integer, got ${values['batch-size']}`);
  }
  const store = await openStore(storeOptionsFromFlags(values));
  try {
    const stats = await ingestFile(store, positionals[0], model, {
      version: values.version,
      labels: Boolean(values.labels),
      exclude: new Set(
        (values.exclude ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      ),
      batchSize,
    });
    printRejections(stats);
    if (stats.stored === 0) {
      throw new InputError(`${positionals[0]}: none of its ${stats.rows} rows could be stored (reasons above)`);
    }
    process.stderr.write(`mlmon ingest: compacting ${model} (one file per day, re-sent ids merged)\n`);
    await store.compact(model);
    return stats.rejected > 0 ? 1 : 0;
  } finally {
    await store.close();
  }
}

export const command: Command = {
  summary: 'bulk-load prediction records or late labels from CSV, Parquet or NDJSON into the store',
  run: handleErrors('ingest', run),
};

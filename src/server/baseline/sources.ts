/**
 * Where baseline reference data comes from: a CSV/Parquet/NDJSON file (read by an in-memory DuckDB), or a time
 * range of logged traffic in the store.
 */
import { InputError, noDataRowsError, unreadableFileError } from '../files/input-error';
import { describeFile, fileSourceSql, kindOfDuckDBType } from '../store/file-source';
import { openMemoryDuckDB } from '../store/duckdb-sql';
import { featureColumn, quoteIdentifier } from '../store/identifiers';
import type { PredictionStore, TimeRange } from '../store/types';
import type { ReferenceColumn, ReferenceValue } from './compute';

function plain(value: unknown): ReferenceValue {
  if (typeof value === 'bigint') {
    return Number(value);
  }
  return typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean' ? value : null;
}

/**
 * Reads every column of a reference file, with its kind from the column type. A missing, unreadable or
 * header-only file is an InputError naming it.
 */
export async function readReferenceFile(
  path: string,
  onProgress: (message: string) => void = () => undefined
): Promise<ReferenceColumn[]> {
  const { instance, connection } = await openMemoryDuckDB();
  try {
    const started = Date.now();
    onProgress(`reading ${path}`);
    const source = fileSourceSql(path);
    const read = async () => {
      const described = await describeFile(connection, path);
      return { described, reader: await connection.runAndReadAll(`SELECT * FROM ${source}`) };
    };
    const { described, reader } = await read().catch((error: unknown) => {
      throw error instanceof InputError ? error : unreadableFileError(path, error);
    });
    if (reader.currentRowCount === 0) {
      throw noDataRowsError(path);
    }
    const columns = reader.getColumnsJS();
    onProgress(
      `read ${reader.currentRowCount} rows x ${described.length} columns in ${((Date.now() - started) / 1000).toFixed(1)} s`
    );
    return described.map((column, j) => ({
      name: column.name,
      kind: kindOfDuckDBType(column.type),
      values: columns[j].map(plain),
    }));
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/**
 * Reference columns from logged traffic of one model version in a time range: every known feature, the
 * prediction (`prediction`) and, where labels arrived, the label (`label`) and the score (`score`).
 */
export async function readReferenceFromStore(
  store: PredictionStore,
  model: string,
  version: string,
  range: TimeRange
): Promise<{ columns: ReferenceColumn[]; predictionColumn: string; labelColumn: string; scoreColumn: string }> {
  const features = await store.getFeatures(model);
  const q = (name: string) => quoteIdentifier(name, store.dialect);
  const featureList = features.map((f) => `p.${q(featureColumn(f.name))} AS ${q(featureColumn(f.name))}`);
  const sql =
    `SELECT ${[...featureList, 'p.prediction_num AS prediction_num', 'p.prediction_cat AS prediction_cat', 'p.score AS score', 'l.label_num AS label_num', 'l.label_cat AS label_cat'].join(', ')} ` +
    `FROM ${await store.predictionsRelation(model, range)} AS p LEFT JOIN ${await store.labelsRelation(model)} AS l ON p.id = l.id ` +
    'WHERE p.version = {version} ORDER BY p.ts, p.id';
  const rows = await store.query<Record<string, unknown>>(sql, { version });
  if (rows.length === 0) {
    throw new InputError(
      `No ${model} ${version} predictions between ${new Date(range.from).toISOString()} and ${new Date(range.to).toISOString()}; ` +
        'check --model, --version, --start and --end.'
    );
  }
  const pick = (row: Record<string, unknown>, num: string, cat: string) => plain(row[num] ?? row[cat]);
  const predictionIsText = rows.some((r) => r.prediction_cat !== null && r.prediction_cat !== undefined);
  const labelIsText = rows.some((r) => r.label_cat !== null && r.label_cat !== undefined);
  return {
    columns: [
      ...features.map((f) => ({
        name: f.name,
        kind: f.kind,
        values: rows.map((r) => plain(r[featureColumn(f.name)])),
      })),
      {
        name: 'prediction',
        kind: predictionIsText ? 'categorical' : 'numeric',
        values: rows.map((r) => pick(r, 'prediction_num', 'prediction_cat')),
      },
      {
        name: 'label',
        kind: labelIsText ? 'categorical' : 'numeric',
        values: rows.map((r) => pick(r, 'label_num', 'label_cat')),
      },
      { name: 'score', kind: 'numeric', values: rows.map((r) => plain(r.score)) },
    ],
    predictionColumn: 'prediction',
    labelColumn: 'label',
    scoreColumn: 'score',
  };
}

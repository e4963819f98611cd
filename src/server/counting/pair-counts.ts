/**
 * The counting plan of shadow pairs (the `compare` query, src/server/queries/compare.ts): the requests both versions
 * of a model scored, paired by request id inside the store, counted per bucket of the champion's time — pairs, pairs
 * predicting the same class, pairs within a tolerance of each other. Only one row per bucket leaves the store.
 *
 * Each side reads the window's relation with the window's filters (segment, sample: window.ts windowWhere, without a
 * version) and its own version, bound as `{champion}` / `{challenger}`; rows without a prediction (errors) are not
 * paired. The same class: both text classes equal, or both without a text class and equal numbers (as
 * performance.ts classKey reads a class). Within the tolerance: |champion − challenger| ≤ `{pair_tolerance}` on the
 * numeric predictions. ClickHouse pairs with `ANY INNER JOIN` (one challenger row per id, as the deduplicated
 * relation holds); DuckDB with an inner join on the deduplicated relation.
 */
import { quoteIdentifier, type SqlDialect } from '../store/identifiers';
import type { Params } from '../store/sql-params';
import type { PredictionStore } from '../store/types';
import type { WindowClause } from './window';

/** Per bucket: pairs, and pairs that agree as a classifier's or a regressor's predictions agree. */
export interface PairCounts {
  pairs: number;
  sameClass: number;
  withinTolerance: number;
}

const PREDICTED = '(prediction_cat IS NOT NULL OR prediction_num IS NOT NULL)';

/** One side of the pairing: id, the bucket (champion's side) and the prediction columns renamed after the side. */
function sideSql(dialect: SqlDialect, relation: string, window: WindowClause, side: 'champion' | 'challenger') {
  const conditions = `${quoteIdentifier('version', dialect)} = {${side}} AND ${PREDICTED}`;
  const where = window.sql ? `${window.sql} AND ${conditions}` : `WHERE ${conditions}`;
  return (
    `SELECT id, ${side === 'champion' ? `${window.bucket} AS bucket, ` : ''}prediction_cat AS ${side}_cat, ` +
    `prediction_num AS ${side}_num FROM ${relation} AS ${side}_rows ${where}`
  );
}

/** The SQL of the pair counts (module comment). */
export function pairCountsSql(dialect: SqlDialect, relation: string, window: WindowClause): string {
  const join = dialect === 'clickhouse' ? 'ANY INNER JOIN' : 'INNER JOIN';
  const sameClass =
    '(champion_cat IS NOT NULL AND challenger_cat IS NOT NULL AND champion_cat = challenger_cat) OR ' +
    '(champion_cat IS NULL AND challenger_cat IS NULL AND champion_num = challenger_num)';
  const within =
    'champion_num IS NOT NULL AND challenger_num IS NOT NULL AND ' +
    'abs(champion_num - challenger_num) <= {pair_tolerance}';
  return (
    `SELECT bucket, count(*) AS pairs, sum(CASE WHEN ${sameClass} THEN 1 ELSE 0 END) AS same_class, ` +
    `sum(CASE WHEN ${within} THEN 1 ELSE 0 END) AS within_tolerance ` +
    `FROM (${sideSql(dialect, relation, window, 'champion')}) AS champion_side ${join} ` +
    `(${sideSql(dialect, relation, window, 'challenger')}) AS challenger_side USING (id) ` +
    'GROUP BY bucket'
  );
}

/** The bound values of pairCountsSql besides the window's. */
export function pairParams(window: WindowClause, champion: string, challenger: string, tolerance: number): Params {
  return { ...window.params, champion, challenger, pair_tolerance: tolerance };
}

/** Runs the pair counts: bucket start → counts (buckets without pairs are absent). */
export async function countPairs(
  store: Pick<PredictionStore, 'query' | 'dialect'>,
  relation: string,
  window: WindowClause,
  versions: { champion: string; challenger: string; tolerance: number },
  signal?: AbortSignal
): Promise<Map<number, PairCounts>> {
  const rows = await store.query<Record<string, unknown>>(
    pairCountsSql(store.dialect, relation, window),
    pairParams(window, versions.champion, versions.challenger, versions.tolerance),
    { signal }
  );
  return new Map(
    rows.map((row) => [
      Number(row.bucket),
      { pairs: Number(row.pairs), sameClass: Number(row.same_class), withinTolerance: Number(row.within_tolerance) },
    ])
  );
}

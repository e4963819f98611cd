/**
 * Entry point of the backend executable (gpx_modelmonitor_<os>_<arch>) that Grafana starts.
 *
 * Memory budget (aim: 400 MB resident after any session, bench/backend-session): the executable's own pages
 * (~85 MB), a V8 heap bounded at 128 MB with 16 MB semi-spaces (scripts/build-backend.js), counts kept in memory up to
 * MLMON_COUNT_CACHE_MB (32 MB here unless set; window-counts.ts) and DuckDB's working memory up to
 * MLMON_DUCKDB_MEMORY_LIMIT (128 MB here unless set; what does not fit spills to disk). Every query is planned within
 * a budget (queries/plan.ts), so none needs more.
 */
import { runPlugin } from '../grafana/server';
import { createDatasource, registerBuiltInHandlers } from './datasource';
import { openStore } from './openStore';
import { queryHandlers } from './registry';

/** DuckDB's working memory and the kept counts in the backend, unless the environment sets them. */
const BACKEND_DUCKDB_MEMORY_LIMIT = '128MB';
const BACKEND_COUNT_CACHE_MB = '32';
process.env.MLMON_DUCKDB_MEMORY_LIMIT ||= BACKEND_DUCKDB_MEMORY_LIMIT;
process.env.MLMON_COUNT_CACHE_MB ||= BACKEND_COUNT_CACHE_MB;

registerBuiltInHandlers(queryHandlers);

runPlugin((logger) => createDatasource({ registry: queryHandlers, openStore, logger })).catch((error: unknown) => {
  process.stderr.write(
    `${JSON.stringify({ '@level': 'error', '@message': 'plugin failed to start', error: String(error) })}\n`
  );
  process.exit(1);
});

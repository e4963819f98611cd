/**
 * Entry point of the backend executable (gpx_modelmonitor_<os>_<arch>) that Grafana starts.
 */
import { runPlugin } from '../grafana/server';
import { createDatasource, registerBuiltInHandlers } from './datasource';
import { openStore } from './openStore';
import { queryHandlers } from './registry';

registerBuiltInHandlers(queryHandlers);

runPlugin((logger) => createDatasource({ registry: queryHandlers, openStore, logger })).catch((error: unknown) => {
  process.stderr.write(
    `${JSON.stringify({ '@level': 'error', '@message': 'plugin failed to start', error: String(error) })}\n`
  );
  process.exit(1);
});

/**
 * `npm run dashboards:generate`: writes the bundled dashboards (src/dashboards/<file>.json) from
 * src/server/dashboards/build.ts; src/server/dashboards/dashboards.test.ts checks that the committed files are what
 * it writes.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bundledDashboards, dashboardJson } from '../src/server/dashboards/build';

const dir = resolve(__dirname, '..', 'src', 'dashboards');
for (const [file, dashboard] of Object.entries(bundledDashboards())) {
  writeFileSync(join(dir, file), dashboardJson(dashboard));
  process.stdout.write(`wrote src/dashboards/${file}\n`);
}

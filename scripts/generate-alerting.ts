/**
 * `npm run alerting:generate`: writes provisioning/alerting/ from src/server/alerting (the one source of the alert
 * rules, contact points and notification policy); src/server/alerting/provisioning.test.ts checks that the committed
 * files are what it writes.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { provisioningFiles } from '../src/server/alerting/provisioning';

const dir = resolve(__dirname, '..', 'provisioning', 'alerting');
mkdirSync(dir, { recursive: true });
const files = provisioningFiles();
for (const stale of readdirSync(dir).filter((name) => name.endsWith('.yaml') && !(name in files))) {
  rmSync(join(dir, stale));
}
for (const [name, text] of Object.entries(files)) {
  writeFileSync(join(dir, name), text);
  process.stdout.write(`wrote provisioning/alerting/${name}\n`);
}

#!/usr/bin/env node
// The `mlmon` command: runs the TypeScript sources through tsx, so the CLI is always the code in src/.
require('tsx/cjs');
require('../src/server/cli/main.ts')
  .main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((err) => {
    process.stderr.write(`mlmon: ${err && err.message ? err.message : String(err)}\n`);
    process.exit(2);
  });

#!/usr/bin/env node
// The `mlmon` command: runs the TypeScript sources through tsx, so the CLI is always the code in src/.
// Commands report their own errors (src/server/cli/command.ts); what reaches the catch below is a failure: exit 1.
require('tsx/cjs');
require('../src/server/cli/main.ts')
  .main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((err) => {
    process.stderr.write(`mlmon: ${err && err.message ? err.message : String(err)}\n`);
    process.exit(1);
  });

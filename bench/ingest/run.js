#!/usr/bin/env node
// Ingest benchmark entry point (see ingest.ts): runs the TypeScript through tsx.
require('tsx/cjs');
require('./ingest.ts');

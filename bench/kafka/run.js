#!/usr/bin/env node
// Kafka ingestion benchmark entry point (see kafka.ts): runs the TypeScript through tsx.
require('tsx/cjs');
require('./kafka.ts');

#!/usr/bin/env node
// Kafka client comparison entry point (see clients.ts): runs the TypeScript through tsx.
require('tsx/cjs');
require('./clients.ts');

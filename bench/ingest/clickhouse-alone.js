#!/usr/bin/env node
// ClickHouse write-path benchmark entry point (see clickhouse-alone.ts): runs the TypeScript through tsx.
require('tsx/cjs');
require('./clickhouse-alone.ts');

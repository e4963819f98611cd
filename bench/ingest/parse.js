#!/usr/bin/env node
// Parse benchmark entry point (see parse.ts): runs the TypeScript through tsx.
require('tsx/cjs');
require('./parse.ts');

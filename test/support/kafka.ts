/**
 * A real Apache Kafka broker (4.x, KRaft: one process that is broker and controller, no ZooKeeper) on loopback for
 * the streaming tests and benchmarks, run from Maven Central's jars with the machine's Java 17 — no Docker.
 *
 *   const kafka = await startKafka();
 *   // kafka.bootstrap = '127.0.0.1:<port>'
 *   await kafka.createTopic('predictions', 4);
 *   await kafka.kill();     // SIGKILL, the log directory stays
 *   await kafka.restart();  // the same node, ports and log directory
 *   await kafka.stop();     // SIGTERM, then removes the directory
 *
 *   const tls = await startKafka({ tls: true });
 *   // tls.tls = { bootstrap, mutualBootstrap, ca, client }: TLS listeners (server certificate only; client
 *   // certificate required) with certificates made for this broker (test/support/kafka-tls.ts)
 *
 * The jars come from `scripts/fetch-kafka.sh` (as .ci/run runs it) into ~/.cache/mlmon-kafka-<version>/libs, or
 * MLMON_KAFKA_LIBS; without them the tests fail saying what to run. The broker's log is `server.log` in its directory.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './clickhouse';
import { issueCertificate, makeCertificateAuthority, type Certificate } from './kafka-tls';

/** The Kafka version the tests run against (test/support/kafka/pom.xml). */
export const KAFKA_VERSION = /<kafka\.version>(.+)<\/kafka\.version>/.exec(
  readFileSync(join(__dirname, 'kafka', 'pom.xml'), 'utf8')
)![1];

/** The directory of the broker's jars; throws what to run when they are missing. */
export function kafkaLibs(): string {
  const libs = process.env.MLMON_KAFKA_LIBS || join(homedir(), `.cache/mlmon-kafka-${KAFKA_VERSION}/libs`);
  if (!existsSync(join(libs, `kafka_2.13-${KAFKA_VERSION}.jar`))) {
    throw new Error(
      `no Kafka ${KAFKA_VERSION} jars in ${libs}: run scripts/fetch-kafka.sh (Maven Central, as .ci/run does) ` +
        'or set MLMON_KAFKA_LIBS to a directory holding them'
    );
  }
  return libs;
}

/** Runs a Kafka command-line class (a fresh JVM, ~1–2 s) with the broker's jars; resolves with its output. */
export async function runKafkaTool(mainClass: string, args: string[]): Promise<string> {
  const { stdout, stderr } = await promisify(execFile)(
    'java',
    ['-Xmx256m', '-cp', `${kafkaLibs()}/*`, `-Dlog4j2.level=warn`, mainClass, ...args],
    { timeout: 120_000 }
  );
  return stdout + stderr;
}

/**
 * Commits, for consumer group `group`, the earliest offset of every partition of `topic` (kafka-consumer-groups
 * --reset-offsets --to-earliest --execute; the group must have no running member, and need not exist yet). A consumer
 * of the group then starts at the beginning whatever its `auto.offset.reset` — ClickHouse 18.16's Kafka engine
 * leaves that at librdkafka's default, the end of the partition.
 */
export async function commitEarliestOffsets(bootstrap: string, group: string, topic: string): Promise<void> {
  await runKafkaTool('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', [
    ...['--bootstrap-server', bootstrap, '--group', group, '--topic', topic],
    ...['--reset-offsets', '--to-earliest', '--execute'],
  ]);
}

/**
 * Produces one message per line to `topic` with Kafka's console producer (acks=all; a fresh JVM, ~2 s). A line may be
 * anything but a line break: the tests send malformed messages this way too.
 */
export async function produceLines(bootstrap: string, topic: string, lines: readonly string[]): Promise<void> {
  if (lines.some((line) => /[\r\n]/.test(line))) {
    throw new Error('produceLines: a message may not hold a line break (one line is one message)');
  }
  await new Promise<void>((resolve, reject) => {
    const child = execFile(
      'java',
      ['-Xmx256m', '-cp', `${kafkaLibs()}/*`, 'org.apache.kafka.tools.ConsoleProducer'].concat([
        '--bootstrap-server',
        bootstrap,
        '--topic',
        topic,
        '--producer-property',
        'acks=all',
      ]),
      { timeout: 120_000 },
      (error, _stdout, stderr) =>
        error ? reject(new Error(`console producer failed: ${error.message} ${stderr}`)) : resolve()
    );
    child.stdin!.end(lines.map((line) => `${line}\n`).join(''));
  });
}

export interface KafkaBroker {
  /** `host:port` of the PLAINTEXT listener. */
  bootstrap: string;
  /** `host:port` of the SASL_PLAINTEXT listener (mechanism PLAIN), when started with `saslUsers`. */
  saslBootstrap?: string;
  /** The TLS listeners and their certificates, when started with `tls`. */
  tls?: BrokerTls;
  /** The broker's directory: config, log directory, `server.log`. */
  dir: string;
  /** Creates a topic (replication factor 1) and waits until it is there. */
  createTopic(name: string, partitions: number, config?: Record<string, string>): Promise<void>;
  /** SIGKILL: the log directory stays, as after a crash. */
  kill(): Promise<void>;
  /** Starts the broker again on the same directory and ports (after kill or stop({ keep: true })). */
  restart(): Promise<void>;
  /** SIGTERM (SIGKILL after 20 s), then removes the directory unless `keep`. Safe to call twice. */
  stop(options?: { keep?: boolean }): Promise<void>;
  /**
   * With `tls`: stops the broker, gives its TLS listeners a certificate signed by a new authority (as a botched
   * certificate renewal would; the mutual listener still takes client certificates of the first) and starts it
   * again; resolves with the new authority.
   */
  renewTlsAuthority(): Promise<Certificate>;
}

/** Resolves once `port` on loopback accepts connections; rejects when `deadline` passes or `failed()` says so. */
async function waitForPort(port: number, deadline: number, failed: () => string | undefined): Promise<void> {
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) {
      return;
    }
    const why = failed() ?? (Date.now() > deadline ? 'no answer within the deadline' : undefined);
    if (why) {
      throw new Error(`Kafka broker on port ${port} did not start: ${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export interface BrokerTls {
  /** `host:port` of a TLS listener that asks for no client certificate. */
  bootstrap: string;
  /** `host:port` of a TLS listener that requires a client certificate signed by `ca` (mutual TLS). */
  mutualBootstrap: string;
  /** The certificate authority that signed the broker's certificate (for 127.0.0.1 and localhost) and `client`'s. */
  ca: Certificate;
  /** A client certificate for the mutual TLS listener. */
  client: Certificate;
}

/** A client listener besides PLAINTEXT (the admin tools' and inter-broker one): its name, protocol and settings. */
interface Listener {
  name: string;
  protocol: 'SASL_PLAINTEXT' | 'SSL';
  port: number;
  /** `listener.name.<name>.…` settings, without that prefix. */
  settings: Record<string, string>;
}

/** A value of a Java properties file: backslashes and line breaks escaped (PEM texts span lines). */
function propertyValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\r?\n/g, '\\n');
}

/** A JAAS option value in double quotes (backslash and quote escaped). */
function jaasQuoted(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A listener that takes SASL PLAIN logins of these users (name → password). */
function saslListener(port: number, users: Record<string, string>): Listener {
  const logins = Object.entries(users).map(([user, password]) => `user_${user}=${jaasQuoted(password)}`);
  return {
    name: 'SASL_PLAINTEXT',
    protocol: 'SASL_PLAINTEXT',
    port,
    settings: {
      'plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required ${logins.join(' ')};`,
    },
  };
}

/**
 * A TLS listener presenting `certificate` (a PEM key store given inline: Kafka 4 takes an unencrypted PKCS#8 key
 * that way, while a PEM key store file needs an encrypted key); with `clientsSignedBy`, one that requires a client
 * certificate signed by that authority.
 */
function tlsListener(name: string, port: number, certificate: Certificate, clientsSignedBy?: Certificate): Listener {
  const settings: Record<string, string> = {
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.key': certificate.keyPem,
    'ssl.keystore.certificate.chain': certificate.certPem,
  };
  if (clientsSignedBy) {
    Object.assign(settings, {
      'ssl.client.auth': 'required',
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.certificates': clientsSignedBy.certPem,
    });
  }
  return { name, protocol: 'SSL', port, settings };
}

/**
 * The KRaft configuration of a single node that is broker and controller, on loopback only, with a PLAINTEXT client
 * listener (also the admin tools' and the inter-broker one) and the `extra` ones.
 */
function serverProperties(dir: string, port: number, controllerPort: number, extra: Listener[]): string {
  const addresses = extra.map((l) => `,${l.name}://127.0.0.1:${l.port}`).join('');
  const protocols = extra.map((l) => `,${l.name}:${l.protocol}`).join('');
  const settings = extra.flatMap((l) =>
    Object.entries(l.settings).map(
      ([key, value]) => `listener.name.${l.name.toLowerCase()}.${key}=${propertyValue(value)}`
    )
  );
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port}${addresses},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}${addresses}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT${protocols}`,
    ...(extra.some((l) => l.protocol === 'SASL_PLAINTEXT') ? ['sasl.enabled.mechanisms=PLAIN'] : []),
    ...settings,
    `log.dirs=${join(dir, 'data')}`,
    'num.partitions=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=4',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    '',
  ].join('\n');
}

function log4jProperties(dir: string): string {
  return [
    'status = warn',
    'appender.file.type = File',
    'appender.file.name = file',
    `appender.file.fileName = ${join(dir, 'server.log')}`,
    'appender.file.layout.type = PatternLayout',
    'appender.file.layout.pattern = [%d] %p %m (%c)%n',
    'rootLogger.level = info',
    'rootLogger.appenderRef.file.ref = file',
    '',
  ].join('\n');
}

export interface StartKafkaOptions {
  /** Users (name → password) of a SASL PLAIN listener (`saslBootstrap`) besides the PLAINTEXT one. */
  saslUsers?: Record<string, string>;
  /** Two TLS listeners besides the PLAINTEXT one, with certificates made for this broker (`tls`). */
  tls?: boolean;
}

/** Certificates for a broker's TLS listeners in `dir`: an authority, the broker's (loopback names), a client's. */
async function brokerCertificates(dir: string): Promise<{ ca: Certificate; broker: Certificate; client: Certificate }> {
  const ca = await makeCertificateAuthority(dir, 'test-ca');
  return {
    ca,
    broker: await issueCertificate(ca, dir, 'broker', { serverNames: ['127.0.0.1', 'localhost'] }),
    client: await issueCertificate(ca, dir, 'client'),
  };
}

/** Formats a fresh log directory and starts a broker on free loopback ports (about 3–10 s). */
export async function startKafka(options: StartKafkaOptions = {}): Promise<KafkaBroker> {
  const libs = kafkaLibs();
  const dir = await mkdtemp(join(tmpdir(), 'mlmon-kafka-'));
  const [port, controllerPort] = [await freePort(), await freePort()];
  const extra: Listener[] = [];
  const saslPort = options.saslUsers ? await freePort() : undefined;
  if (saslPort) {
    extra.push(saslListener(saslPort, options.saslUsers!));
  }
  let tls: BrokerTls | undefined;
  /** The TLS listeners presenting `certificate`, and their ports. */
  let tlsListeners = (_certificate: Certificate): Listener[] => [];
  if (options.tls) {
    const { ca, broker, client } = await brokerCertificates(dir);
    const [tlsPort, mutualPort] = [await freePort(), await freePort()];
    tlsListeners = (certificate) => [
      tlsListener('SSL', tlsPort, certificate),
      tlsListener('MTLS', mutualPort, certificate, ca),
    ];
    extra.push(...tlsListeners(broker));
    tls = { bootstrap: `127.0.0.1:${tlsPort}`, mutualBootstrap: `127.0.0.1:${mutualPort}`, ca, client };
  }
  const config = join(dir, 'server.properties');
  const writeConfig = (listeners: Listener[]) =>
    writeFile(config, serverProperties(dir, port, controllerPort, listeners), { mode: 0o600 });
  await writeConfig(extra);
  await writeFile(join(dir, 'log4j2.properties'), log4jProperties(dir));
  await formatStorage(config, clusterId());

  let child: ChildProcess | undefined;
  let output = '';
  const launch = async () => {
    output = '';
    child = spawn(
      'java',
      [
        '-Xmx512m',
        '-XX:+UseG1GC',
        `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`,
        '-cp',
        `${libs}/*`,
      ].concat(['kafka.Kafka', config]),
      { stdio: ['ignore', 'pipe', 'pipe'] }
    );
    const started = child;
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
    started.stdout!.on('data', keep);
    started.stderr!.on('data', keep);
    await waitForPort(port, Date.now() + 90_000, () =>
      started.exitCode !== null ? `exited with ${started.exitCode}: ${output}` : undefined
    );
  };
  const signal = async (name: NodeJS.Signals, graceMs: number) => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) {
      return;
    }
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill(name);
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, graceMs))]);
    if (running.exitCode === null && running.signalCode === null) {
      running.kill('SIGKILL');
      await exited;
    }
  };
  await launch();
  const bootstrap = `127.0.0.1:${port}`;
  return {
    bootstrap,
    ...(saslPort ? { saslBootstrap: `127.0.0.1:${saslPort}` } : {}),
    ...(tls ? { tls } : {}),
    dir,
    async createTopic(name, partitions, topicConfig = {}) {
      const configArgs = Object.entries(topicConfig).flatMap(([key, value]) => ['--config', `${key}=${value}`]);
      await runKafkaTool('org.apache.kafka.tools.TopicCommand', [
        '--bootstrap-server',
        bootstrap,
        '--create',
        '--topic',
        name,
        '--partitions',
        String(partitions),
        '--replication-factor',
        '1',
        ...configArgs,
      ]);
    },
    kill: () => signal('SIGKILL', 10_000),
    restart: launch,
    async stop({ keep = false } = {}) {
      await signal('SIGTERM', 20_000);
      if (!keep) {
        await rm(dir, { recursive: true, force: true });
      }
    },
    async renewTlsAuthority() {
      if (!tls) {
        throw new Error('renewTlsAuthority: the broker was started without tls');
      }
      const ca = await makeCertificateAuthority(dir, 'renewed-ca');
      const certificate = await issueCertificate(ca, dir, 'renewed-broker', {
        serverNames: ['127.0.0.1', 'localhost'],
      });
      await writeConfig([...extra.filter((l) => l.protocol !== 'SSL'), ...tlsListeners(certificate)]);
      await signal('SIGTERM', 20_000);
      await launch();
      return ca;
    },
  };
}

/** Formats the log directory of a broker configuration for a cluster id (`kafka-storage format`); the id is given as `--cluster-id=ID`, since one may start with "-". */
export async function formatStorage(config: string, cluster: string): Promise<void> {
  await runKafkaTool('kafka.tools.StorageTool', ['format', `--cluster-id=${cluster}`, '--config', config]);
}

/** A KRaft cluster id: 16 random bytes in URL-safe base64 without padding (what `StorageTool random-uuid` prints). */
function clusterId(): string {
  return Buffer.from(randomUUID().replace(/-/g, ''), 'hex').toString('base64url');
}

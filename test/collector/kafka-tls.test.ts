/**
 * `mlmon serve --kafka-tls-…` against a real broker's TLS listeners (test/support/kafka.ts `tls`: certificates made
 * with openssl for this run): the collector consumes over TLS trusting the broker's authority; over mutual TLS with a
 * client certificate (and is refused without one); a wrong authority fails the start with an error saying which flag
 * to fix, and once the right one is given every record is stored once; brokers renewing their certificate from
 * another authority under a running collector make /healthz and the log say the same; an encrypted key is read with
 * the password in --kafka-tls-key-password-file, and without it (or with a wrong one) the start fails saying so. The client's private key never reaches the
 * collector's log, /healthz, /metrics, its errors or its command line (it is read from a file).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { makeCertificateAuthority } from '../support/kafka-tls';
import { spawnCollector, stopCollector } from './harness';
import {
  committedOn,
  expectEachStoredOnce,
  healthz,
  predictions,
  produce,
  spawnKafkaCollector,
  stopShowingExposed,
  useKafka,
  waitFor,
} from './kafka-support';

const RECORDS = 200;
const KEY_PASSWORD = 'key-Secret-5c1e77d0';
const TOPIC = 'tls-preds';
const fixture = useKafka('tls', { tls: true });

beforeAll(async () => {
  await fixture.kafka().createTopic(TOPIC, 1);
  await produce(fixture.kafka().bootstrap, TOPIC, predictions('tls', RECORDS));
}, 180_000);

/** Store and state directories of one test's collector, and the model its records go to. */
function storeOf(name: string) {
  const data = path.join(fixture.dir(), `${name}-data`);
  return { data, args: ['--data-dir', data, '--state-dir', path.join(fixture.dir(), `${name}-state`)] };
}

/** Flags consuming the topic from `bootstrap` in group `group` into model `<group>_model`, with `tlsArgs`. */
const kafkaArgs = (bootstrap: string, group: string, tlsArgs: string[]) => [
  '--kafka-brokers',
  bootstrap,
  '--kafka-topic',
  `${TOPIC}=${group}_model`,
  '--kafka-group',
  group,
  ...tlsArgs,
];

/** The message of a collector that failed to start (it must not start). */
async function startFailure(storeArgs: string[], args: string[]): Promise<string> {
  return spawnCollector(storeArgs, args).then(
    async (collector) => {
      await stopCollector(collector);
      throw new Error('the collector started');
    },
    (err: Error) => err.message
  );
}

test('over TLS with --kafka-tls-ca-file: every record stored once', async () => {
  const { tls } = fixture.kafka();
  const store = storeOf('tls');
  const collector = await spawnKafkaCollector(
    store.args,
    kafkaArgs(tls!.bootstrap, 'tls', ['--kafka-tls-ca-file', tls!.ca.certFile])
  );
  await waitFor('the records committed', async () => (await committedOn(collector.url, TOPIC)) >= RECORDS);
  expect((await healthz(collector.url)).kafka?.connected).toBe(true);
  expect(await stopCollector(collector)).toBe(0);
  await expectEachStoredOnce(() => EmbeddedStore.open(store.data), 'tls_model', 'tls', RECORDS);
}, 300_000);

test('mutual TLS: refused without a client certificate; with one every record stored, its key in no log, health, metrics or command line', async () => {
  const { tls } = fixture.kafka();
  const { ca, client } = tls!;
  const failed = await startFailure(
    storeOf('mtls-without').args,
    kafkaArgs(tls!.mutualBootstrap, 'mtls_without', ['--kafka-tls-ca-file', ca.certFile])
  );
  expect(failed).toMatch(/cannot consume from Kafka/);
  expect(failed).toContain('--kafka-tls-cert-file');

  const store = storeOf('mtls');
  const collector = await spawnKafkaCollector(
    store.args,
    kafkaArgs(tls!.mutualBootstrap, 'mtls', [
      ...['--kafka-tls-ca-file', ca.certFile],
      ...['--kafka-tls-cert-file', client.certFile, '--kafka-tls-key-file', client.keyFile],
    ])
  );
  await waitFor('the records committed', async () => (await committedOn(collector.url, TOPIC)) >= RECORDS);
  const { code, texts: seen } = await stopShowingExposed(collector);
  expect(code).toBe(0);
  expect(seen[0]).toContain('"connected":true');
  expect(seen.filter((text) => keyLines(client.keyPem).some((line) => text.includes(line)))).toEqual([]);
  await expectEachStoredOnce(() => EmbeddedStore.open(store.data), 'mtls_model', 'tls', RECORDS);
}, 300_000);

test('a wrong certificate authority fails the start saying which flag to fix; with the right one no record is lost', async () => {
  const { tls } = fixture.kafka();
  const { ca, client } = tls!;
  const wrong = await makeCertificateAuthority(fixture.dir(), 'wrong-ca');
  const store = storeOf('wrong-ca');
  const clientArgs = ['--kafka-tls-cert-file', client.certFile, '--kafka-tls-key-file', client.keyFile];
  const failed = await startFailure(
    store.args,
    kafkaArgs(tls!.mutualBootstrap, 'wrong_ca', ['--kafka-tls-ca-file', wrong.certFile, ...clientArgs])
  );
  expect(failed).toMatch(/cannot consume from Kafka/);
  expect(failed).toMatch(/certificate/i);
  expect(failed).toContain('--kafka-tls-ca-file');
  expect(keyLines(client.keyPem).filter((line) => failed.includes(line))).toEqual([]);

  const collector = await spawnKafkaCollector(
    store.args,
    kafkaArgs(tls!.mutualBootstrap, 'wrong_ca', ['--kafka-tls-ca-file', ca.certFile, ...clientArgs])
  );
  await waitFor('the records committed', async () => (await committedOn(collector.url, TOPIC)) >= RECORDS);
  expect(await stopCollector(collector)).toBe(0);
  await expectEachStoredOnce(() => EmbeddedStore.open(store.data), 'wrong_ca_model', 'tls', RECORDS);
}, 300_000);

test('an encrypted client key: without its password the start fails saying which flag gives it; with it every record stored once, the password in no output', async () => {
  const { tls } = fixture.kafka();
  const encrypted = path.join(fixture.dir(), 'client-encrypted.key');
  await promisify(execFile)('openssl', [
    ...['pkey', '-in', tls!.client.keyFile, '-aes-256-cbc', '-passout', `pass:${KEY_PASSWORD}`, '-out', encrypted],
  ]);
  const passwordFile = (name: string, password: string) => {
    const file = path.join(fixture.dir(), name);
    fs.writeFileSync(file, `${password}\n`, { mode: 0o600 });
    return file;
  };
  const args = (group: string, passwordArgs: string[]) =>
    kafkaArgs(tls!.mutualBootstrap, group, [
      ...['--kafka-tls-ca-file', tls!.ca.certFile],
      ...['--kafka-tls-cert-file', tls!.client.certFile, '--kafka-tls-key-file', encrypted, ...passwordArgs],
    ]);
  const secrets = [KEY_PASSWORD, ...keyLines(fs.readFileSync(encrypted, 'utf8')), ...keyLines(tls!.client.keyPem)];

  // Refused before connecting (exit 2, a usage error), saying which flag to give or fix.
  const withoutPassword = await startFailure(storeOf('encrypted').args, args('encrypted', []));
  expect(withoutPassword).toMatch(/--kafka-tls-key-file cannot be read: it is encrypted/);
  expect(withoutPassword).toContain('--kafka-tls-key-password-file');
  const wrongPassword = await startFailure(
    storeOf('encrypted').args,
    args('encrypted', ['--kafka-tls-key-password-file', passwordFile('wrong-password', 'not-the-password')])
  );
  expect(wrongPassword).toMatch(/does not decrypt the key in --kafka-tls-key-file/);
  expect(secrets.filter((secret) => `${withoutPassword}${wrongPassword}`.includes(secret))).toEqual([]);

  const store = storeOf('encrypted');
  const collector = await spawnKafkaCollector(
    store.args,
    args('encrypted', ['--kafka-tls-key-password-file', passwordFile('key-password', KEY_PASSWORD)])
  );
  await waitFor('the records committed', async () => (await committedOn(collector.url, TOPIC)) >= RECORDS);
  const { code, texts: seen } = await stopShowingExposed(collector);
  expect(code).toBe(0);
  expect(seen.filter((text) => secrets.some((secret) => text.includes(secret)))).toEqual([]);
  await expectEachStoredOnce(() => EmbeddedStore.open(store.data), 'encrypted_model', 'tls', RECORDS);
}, 300_000);

// Last: the broker's TLS listeners present another certificate afterwards.
test('the brokers renew their certificate from another authority: /healthz and the log say which flag to fix; with that authority no record is lost', async () => {
  const kafka = fixture.kafka();
  const { tls } = kafka;
  const store = storeOf('renewed');
  const args = (caFile: string) => kafkaArgs(tls!.bootstrap, 'renewed', ['--kafka-tls-ca-file', caFile]);
  const first = await spawnKafkaCollector(store.args, args(tls!.ca.certFile));
  await waitFor('the records committed', async () => (await committedOn(first.url, TOPIC)) >= RECORDS);

  const renewed = await kafka.renewTlsAuthority();
  await produce(kafka.bootstrap, TOPIC, predictions('tls', RECORDS, RECORDS));
  let health = await healthz(first.url);
  await waitFor('the certificate problem in /healthz', async () => {
    health = await healthz(first.url);
    return health.problems.some((problem) => problem.includes('--kafka-tls-ca-file'));
  });
  expect(health.status).toBe('degraded');
  expect(health.problems.join('\n')).toMatch(/not signed by an authority this collector trusts/);
  expect(first.stderr()).toMatch(/kafka: could not reconnect: .*give --kafka-tls-ca-file/);
  expect(await stopCollector(first)).toBe(0);

  const second = await spawnKafkaCollector(store.args, args(renewed.certFile));
  await waitFor('every record committed', async () => (await committedOn(second.url, TOPIC)) >= 2 * RECORDS);
  expect(await stopCollector(second)).toBe(0);
  await expectEachStoredOnce(() => EmbeddedStore.open(store.data), 'renewed_model', 'tls', 2 * RECORDS);
}, 300_000);

/** The base64 lines of a PEM key: any of them in a text is a leak of the key. */
function keyLines(pem: string): string[] {
  return pem.split('\n').filter((line) => line.length >= 16 && !line.startsWith('-----'));
}

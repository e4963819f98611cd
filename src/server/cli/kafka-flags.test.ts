import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaFromFlags } from './kafka-flags';
import { secretRedactor } from '../collector/kafka/config';

test('topics map to models, or leave the model to the record; labels topics are their own kind', () => {
  const config = kafkaFromFlags({
    'kafka-brokers': '127.0.0.1:9092,broker2:9093',
    'kafka-topic': ['preds.churn=churn,shared'],
    'kafka-labels-topic': ['labels.churn=churn'],
  });
  expect(config).toMatchObject({
    brokers: ['127.0.0.1:9092', 'broker2:9093'],
    groupId: 'mlmon-collector',
    modelField: 'model',
    routes: [
      { topic: 'preds.churn', kind: 'predictions', model: 'churn' },
      { topic: 'shared', kind: 'predictions' },
      { topic: 'labels.churn', kind: 'labels', model: 'churn' },
    ],
  });
});

test('bad flags are refused with what to do', () => {
  expect(kafkaFromFlags({})).toBeUndefined();
  expect(() => kafkaFromFlags({ 'kafka-topic': ['t'] })).toThrow(/need --kafka-brokers/);
  expect(() => kafkaFromFlags({ 'kafka-brokers': 'nohost', 'kafka-topic': ['t'] })).toThrow(/HOST:PORT/);
  expect(() => kafkaFromFlags({ 'kafka-brokers': 'h:1' })).toThrow(/at least one --kafka-topic/);
  expect(() => kafkaFromFlags({ 'kafka-brokers': 'h:1', 'kafka-topic': ['t=bad-model'] })).toThrow(
    /kafka-topic t=bad-model/
  );
  expect(() => kafkaFromFlags({ 'kafka-brokers': 'h:1', 'kafka-topic': ['t', 't=m'] })).toThrow(/given twice/);
  expect(() =>
    kafkaFromFlags({ 'kafka-brokers': 'h:1', 'kafka-topic': ['t'], 'kafka-dead-letter-topic': 't' })
  ).toThrow(/must not be one of the consumed topics/);
  expect(() =>
    kafkaFromFlags({ 'kafka-brokers': 'h:1', 'kafka-topic': ['t'], 'kafka-sasl-mechanism': 'GSSAPI' })
  ).toThrow(/not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512/);
});

test('the SASL password comes from its file or the environment, and no error quotes it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlmon-kafka-flags-'));
  try {
    writeFileSync(join(dir, 'password'), 'file-Secret-123\n');
    const base = { 'kafka-brokers': 'h:1', 'kafka-topic': ['t=m'], 'kafka-sasl-mechanism': 'scram-sha-512' };
    expect(
      kafkaFromFlags({ ...base, 'kafka-sasl-username': 'u', 'kafka-sasl-password-file': join(dir, 'password') })?.sasl
    ).toEqual({ mechanism: 'SCRAM-SHA-512', username: 'u', password: 'file-Secret-123' });
    expect(
      kafkaFromFlags(base, { MLMON_KAFKA_SASL_USERNAME: 'u', MLMON_KAFKA_SASL_PASSWORD: 'env-Secret-456' })?.sasl
    ).toEqual({ mechanism: 'SCRAM-SHA-512', username: 'u', password: 'env-Secret-456' });
    expect(() => kafkaFromFlags(base, {})).toThrow(/needs a user .* and a password/);
    expect(() =>
      kafkaFromFlags({ ...base, 'kafka-sasl-username': 'u', 'kafka-sasl-password-file': join(dir, 'missing') })
    ).toThrow(/cannot read --kafka-sasl-password-file .*ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the TLS key password comes from its file or the environment, only with a key, and is redacted like the others', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlmon-kafka-flags-'));
  try {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const encrypted = privateKey.export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'key-Secret-789',
    });
    writeFileSync(join(dir, 'cert.pem'), 'CERT PEM\n');
    writeFileSync(join(dir, 'key.pem'), encrypted);
    writeFileSync(join(dir, 'plain.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'garbage.pem'), 'not a key\n');
    writeFileSync(join(dir, 'key-password'), 'key-Secret-789\n');
    writeFileSync(join(dir, 'wrong-password'), 'wrong-Secret-345\n');
    const base = { 'kafka-brokers': 'h:1', 'kafka-topic': ['t=m'], 'kafka-tls-cert-file': join(dir, 'cert.pem') };
    const withKey = (file: string) => ({ ...base, 'kafka-tls-key-file': join(dir, file) });
    const fromFile = kafkaFromFlags({
      ...withKey('key.pem'),
      'kafka-tls-key-password-file': join(dir, 'key-password'),
    });
    expect(fromFile?.tls?.passphrase).toBe('key-Secret-789');
    expect(
      kafkaFromFlags(withKey('key.pem'), { MLMON_KAFKA_TLS_KEY_PASSWORD: 'key-Secret-789' })?.tls?.passphrase
    ).toBe('key-Secret-789');
    expect(kafkaFromFlags(withKey('plain.pem'), {})?.tls).not.toHaveProperty('passphrase');
    expect(secretRedactor(fromFile!)('failed with key-Secret-789 in it')).toBe('failed with [redacted] in it');

    // Refused before any connection, naming the flags and quoting neither key nor password.
    const refusals: Array<[Parameters<typeof kafkaFromFlags>[0], RegExp]> = [
      [withKey('key.pem'), /it is encrypted; give its password in --kafka-tls-key-password-file/],
      [
        { ...withKey('key.pem'), 'kafka-tls-key-password-file': join(dir, 'wrong-password') },
        /the password in --kafka-tls-key-password-file does not decrypt the key in --kafka-tls-key-file/,
      ],
      [withKey('garbage.pem'), /--kafka-tls-key-file holds no PEM private key that can be read/],
      [
        { 'kafka-brokers': 'h:1', 'kafka-topic': ['t=m'], 'kafka-tls-key-password-file': join(dir, 'key-password') },
        /--kafka-tls-key-password-file is the password of --kafka-tls-key-file/,
      ],
    ];
    for (const [flags, message] of refusals) {
      let thrown = '';
      try {
        kafkaFromFlags(flags, {});
      } catch (error) {
        thrown = (error as Error).message;
      }
      expect(thrown).toMatch(message);
      expect(['Secret', 'PRIVATE KEY'].filter((secret) => thrown.includes(secret))).toEqual([]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

import { inspect } from 'node:util';
import { DEFAULT_THRESHOLDS } from '../../core/query/settings';
import type { DataSourceInstanceSettings } from '../grafana/types';
import { redactSecrets } from '../grafana/secrets';
import { describeStore, localInstanceSettings, parseJsonData, parseSettings } from './settings';

const PASSWORD = 'hunter2-Secret!';

function instance(jsonData: unknown, secure: Record<string, string> = {}): DataSourceInstanceSettings {
  return {
    id: 1,
    uid: 'ds1',
    name: 'Monitor',
    url: '',
    user: '',
    database: '',
    basicAuthEnabled: false,
    basicAuthUser: '',
    jsonData: Buffer.from(typeof jsonData === 'string' ? jsonData : JSON.stringify(jsonData)),
    decryptedSecureJsonData: secure,
    lastUpdatedMS: 42,
    apiVersion: '',
  };
}

describe('parseSettings', () => {
  it('reads an embedded store with default thresholds', () => {
    const settings = parseSettings(instance({ dataDirectory: '/var/lib/mlmon' }));
    expect(settings.store).toEqual({ kind: 'embedded', dataDirectory: '/var/lib/mlmon' });
    expect(settings.thresholds).toEqual(DEFAULT_THRESHOLDS);
    expect(settings).toMatchObject({ uid: 'ds1', lastUpdatedMS: 42 });
  });

  it('reads ClickHouse settings, the password from secureJsonData, and threshold overrides', () => {
    const settings = parseSettings(
      instance(
        {
          storeKind: 'clickhouse',
          clickhouseUrl: 'http://ch:8123/',
          database: 'mlmon',
          user: 'monitor',
          thresholds: { psiWarning: 0.15, psiCritical: -1 },
        },
        { password: PASSWORD }
      )
    );
    expect(settings.store).toMatchObject({
      kind: 'clickhouse',
      url: 'http://ch:8123',
      database: 'mlmon',
      user: 'monitor',
    });
    expect(settings.store.kind === 'clickhouse' && settings.store.password.reveal()).toBe(PASSWORD);
    expect(settings.thresholds.psiWarning).toBe(0.15);
    expect(settings.thresholds.psiCritical).toBe(DEFAULT_THRESHOLDS.psiCritical);
  });

  it('reads a cluster with its shard URLs, and describes it', () => {
    const settings = parseSettings(
      instance({
        storeKind: 'clickhouse',
        clickhouseUrl: 'http://ch1:8123',
        database: 'mlmon',
        cluster: 'shards',
        shardUrls: ['http://ch1:8123/', 'http://ch2:8123'],
      })
    );
    expect(settings.store).toMatchObject({
      cluster: { name: 'shards', shardUrls: ['http://ch1:8123', 'http://ch2:8123'] },
    });
    expect(describeStore(settings.store)).toBe(
      'ClickHouse at http://ch1:8123 (database mlmon, user default, cluster shards of 2 shards)'
    );
    expect(() =>
      parseSettings(
        instance({ storeKind: 'clickhouse', clickhouseUrl: 'http://ch1:8123', database: 'm', cluster: 's' })
      )
    ).toThrow(/Set the shard URLs of cluster "s"/);
  });

  it('says what to fix when settings are incomplete or malformed', () => {
    expect(() => parseSettings(instance({}))).toThrow(/not fully configured: Set the data directory/);
    expect(() => parseSettings(instance({ storeKind: 'clickhouse', user: 'u' }))).toThrow(
      /ClickHouse URL.*database.*password of ClickHouse user "u"/
    );
    expect(() => parseSettings(instance({ storeKind: 'sqlite' }))).toThrow(/choose "embedded" or "clickhouse"/);
    expect(() => parseJsonData(Buffer.from('{oops'))).toThrow(/not valid JSON; open the datasource and save it again/);
    expect(() => parseJsonData(Buffer.from('[1]'))).toThrow(/must be a JSON object/);
    expect(parseJsonData(Buffer.alloc(0))).toEqual({});
  });

  it('never prints the password: JSON, string, template or inspect', () => {
    const settings = parseSettings(
      instance(
        { storeKind: 'clickhouse', clickhouseUrl: 'http://ch:8123', database: 'd', user: 'u' },
        { password: PASSWORD }
      )
    );
    const renderings = [
      JSON.stringify(settings),
      String(settings.store.kind === 'clickhouse' && settings.store.password),
      `${settings.store.kind === 'clickhouse' ? settings.store.password : ''}`,
      inspect(settings, { depth: 10 }),
    ];
    for (const text of renderings) {
      expect(text).not.toContain(PASSWORD);
    }
    expect(JSON.stringify(settings)).toContain('[redacted]');
  });
});

describe('credentials of the settings', () => {
  it('registers the password with the redaction of every exit', () => {
    const secret = 'only-in-these-settings-1';
    parseSettings(
      localInstanceSettings(
        { storeKind: 'clickhouse', clickhouseUrl: 'http://ch:8123', database: 'db', user: 'u' },
        { password: secret }
      )
    );
    expect(redactSecrets(`ch refused ${secret} (${Buffer.from(`u:${secret}`).toString('base64')})`)).toBe(
      'ch refused [redacted] ([redacted])'
    );
  });

  it('takes user and password out of a URL that carries them', () => {
    const secret = 'p@ss:w/rd-in-url';
    const settings = parseSettings(
      localInstanceSettings({
        storeKind: 'clickhouse',
        clickhouseUrl: `https://monitor:${encodeURIComponent(secret)}@ch.example:8443/`,
        database: 'db',
      })
    );
    expect(settings.store).toMatchObject({ url: 'https://ch.example:8443', user: 'monitor' });
    expect(settings.store.kind === 'clickhouse' && settings.store.password.reveal()).toBe(secret);
    expect(redactSecrets(`bad ${encodeURIComponent(secret)}`)).toBe('bad [redacted]');
  });
});

describe('model registry settings', () => {
  it('reads the registry URL, names and token (a Secret, registered for redaction)', () => {
    const settings = parseSettings(
      localInstanceSettings(
        { dataDirectory: '/d', registryUrl: 'http://127.0.0.1:5000/', registryModels: { loans: 'credit' } },
        { registryToken: 'mlflow-tok-4711' }
      )
    );
    expect(settings.registry?.url).toBe('http://127.0.0.1:5000');
    expect(settings.registry?.registeredNames).toEqual({ loans: 'credit' });
    expect(settings.registry?.token.reveal()).toBe('mlflow-tok-4711');
    expect(JSON.stringify(settings)).not.toContain('mlflow-tok-4711');
    expect(redactSecrets('refused mlflow-tok-4711')).not.toContain('mlflow-tok-4711');
  });

  it('has no registry without a URL, and refuses a URL that is not http(s) or carries credentials', () => {
    expect(parseSettings(localInstanceSettings({ dataDirectory: '/d' })).registry).toBeUndefined();
    for (const registryUrl of ['mlflow:5000', 'http://user:pw@mlflow:5000']) {
      expect(() => parseSettings(localInstanceSettings({ dataDirectory: '/d', registryUrl }))).toThrow(
        /Set the MLflow registry URL as http\(s\):\/\/host:port/
      );
    }
  });
});

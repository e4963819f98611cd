/**
 * The model registry against a real MLflow tracking server (test/support/mlflow.ts, MLflow from PyPI on loopback):
 * the REST client, `@alias` resolution and how queries follow a moved alias, the registry's versions and aliases as
 * template-variable values, alias moves recorded as events, and `mlmon baseline --from-registry`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logVersionOf } from '../../src/core/query/registry-refs';
import { PluginError } from '../../src/server/grafana/errors';
import { MlflowRegistry, RegistryError } from '../../src/server/registry/mlflow';
import { ALIAS_TTL_MS, ModelRegistryView, resolveVersionAliases } from '../../src/server/registry/resolve';
import { ALIAS_EVENT_KIND, recordAliasChanges, registeredVersionEvents } from '../../src/server/registry/events';
import { fetchReferenceData } from '../../src/server/registry/reference';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { freePort } from '../support/clickhouse';
import { startMlflow, type MlflowServer } from '../support/mlflow';
import { mlmon } from '../support/mlmon';

let mlflow: MlflowServer;
let dir: string;
let client: MlflowRegistry;
/** Versions of "credit": 1 (logged as v1, reference as an artifact), 2 (v2, a training dataset), 3 (no data). */
const versions: Record<string, Record<string, string>> = {};

const REFERENCE_CSV = ['income,region,prediction,label', '30000,north,0,0', '52000,south,1,1', '61000,east,1,0'].join(
  '\n'
);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mlmon-registry-test-'));
  writeFileSync(join(dir, 'reference.csv'), REFERENCE_CSV + '\n');
  mlflow = await startMlflow();
  client = new MlflowRegistry({ url: mlflow.url });
  const reference = join(dir, 'reference.csv');
  versions.v1 = await mlflow.run('register', 'credit', '--log-version', 'v1', '--reference', reference);
  versions.v2 = await mlflow.run(
    'register',
    'credit',
    '--log-version',
    'v2',
    '--reference',
    reference,
    '--as',
    'dataset'
  );
  versions.v3 = await mlflow.run('register', 'credit', '--as', 'none');
  await mlflow.run('alias', 'credit', 'champion', versions.v1.version);
  await mlflow.run('alias', 'credit', 'challenger', versions.v2.version);
}, 300_000);

afterAll(async () => {
  await mlflow?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('MLflow REST client', () => {
  test('reads a registered model with its aliases, its versions with their tags, and a version by alias', async () => {
    const model = await client.getRegisteredModel('credit');
    expect(model.aliases).toEqual({ champion: '1', challenger: '2' });
    const all = await client.searchVersions('credit');
    expect(all.map((v) => [v.version, logVersionOf(v)])).toEqual([
      ['1', 'v1'],
      ['2', 'v2'],
      ['3', '3'],
    ]);
    expect(all[0].runId).toBe(versions.v1.run_id);
    expect(all[0].createdAt).toBe(Number(versions.v1.created));
    expect((await client.getVersionByAlias('credit', 'challenger')).version).toBe('2');
  });

  test('a missing model or alias is not_found; a closed port is unreachable and says what to check', async () => {
    await expect(client.getRegisteredModel('no_such_model')).rejects.toMatchObject({ kind: 'not_found' });
    await expect(client.getVersionByAlias('credit', 'nobody')).rejects.toMatchObject({ kind: 'not_found' });
    const closed = new MlflowRegistry({ url: `http://127.0.0.1:${await freePort()}` });
    const error = await closed.ping().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ kind: 'unreachable' });
    expect((error as Error).message).toMatch(/cannot reach the MLflow registry .*ECONNREFUSED.*check the registry URL/);
  });

  test('a server that accepts but never answers fails after the timeout, saying so', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      const started = Date.now();
      const error = await new MlflowRegistry({ url: `http://127.0.0.1:${port}`, timeoutMs: 300 })
        .ping()
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ kind: 'unreachable' });
      expect((error as Error).message).toMatch(/no answer within 300 ms/);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      silent.closeAllConnections?.();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test('an aborted call stops at once with the abort reason', async () => {
    const controller = new AbortController();
    controller.abort(new Error('query cancelled'));
    await expect(client.searchVersions('credit', controller.signal)).rejects.toThrow('query cancelled');
  });
});

describe('@alias resolution', () => {
  test('every version-valued field with an @alias is resolved to the log version; other fields are kept', async () => {
    const view = new ModelRegistryView(client);
    const query = { refId: 'A', queryType: 'drift', model: 'credit', version: '@challenger', bucket: '1h' };
    expect(await resolveVersionAliases(query, view)).toEqual({ ...query, version: 'v2' });
    const plain = { ...query, version: 'v1' };
    expect(await resolveVersionAliases(plain, view)).toBe(plain);
    // compare names two versions: both fields are resolved
    const compare = {
      refId: 'B',
      queryType: 'compare',
      model: 'credit',
      champion: '@champion',
      challenger: '@challenger',
    };
    expect(await resolveVersionAliases(compare, view)).toEqual({ ...compare, champion: 'v1', challenger: 'v2' });
  });

  test('a moved alias is followed once the resolution is older than ALIAS_TTL_MS, not before', async () => {
    let now = 1_000_000;
    const view = new ModelRegistryView(client, {}, () => now);
    const query = { model: 'credit', version: '@champion' };
    expect((await resolveVersionAliases(query, view)).version).toBe('v1');
    await mlflow.run('alias', 'credit', 'champion', versions.v2.version);
    try {
      now += ALIAS_TTL_MS - 1;
      expect((await resolveVersionAliases(query, view)).version).toBe('v1');
      now += 1;
      expect((await resolveVersionAliases(query, view)).version).toBe('v2');
    } finally {
      await mlflow.run('alias', 'credit', 'champion', versions.v1.version);
    }
  });

  test('an unknown alias is a 400 naming the aliases there are; an unregistered model a 400; no registry a 400', async () => {
    const view = new ModelRegistryView(client);
    const unknown = await resolveVersionAliases({ model: 'credit', version: '@staging' }, view).catch((e) => e);
    expect(unknown).toBeInstanceOf(PluginError);
    expect(unknown).toMatchObject({ status: 400 });
    expect(unknown.message).toMatch(/no alias @staging .* its aliases: @challenger, @champion/);
    const unregistered = await resolveVersionAliases({ model: 'churn', version: '@champion' }, view).catch((e) => e);
    expect(unregistered).toMatchObject({ status: 400 });
    expect(unregistered.message).toMatch(/model "churn" is not registered/);
    const none = await resolveVersionAliases({ model: 'credit', version: '@champion' }, undefined).catch((e) => e);
    expect(none).toMatchObject({ status: 400 });
    expect(none.message).toMatch(/no model registry; set the MLflow tracking server URL/);
  });

  test('an unreachable registry is a 502 for the query', async () => {
    const view = new ModelRegistryView(new MlflowRegistry({ url: `http://127.0.0.1:${await freePort()}` }));
    const error = await resolveVersionAliases({ model: 'credit', version: '@champion' }, view).catch((e) => e);
    expect(error).toBeInstanceOf(PluginError);
    expect(error).toMatchObject({ status: 502 });
    expect(error.message).toMatch(/cannot resolve @champion of model "credit": cannot reach the MLflow registry/);
  });

  test('a product model maps to its registered name', async () => {
    const view = new ModelRegistryView(client, { loans: 'credit' });
    expect((await resolveVersionAliases({ model: 'loans', version: '@challenger' }, view)).version).toBe('v2');
  });

  test('versions and aliases as template-variable values', async () => {
    const view = new ModelRegistryView(client);
    expect(await view.versionNames('credit')).toEqual({
      versions: ['v1', 'v2', '3'],
      aliases: ['@challenger', '@champion'],
    });
    expect(await view.versionNames('churn')).toEqual({ versions: [], aliases: [] });
  });
});

describe('registry events', () => {
  test('version registered at the registry creation time', async () => {
    const view = new ModelRegistryView(client);
    const created = Number(versions.v2.created);
    const events = await registeredVersionEvents(view, 'credit', { from: created, to: created + 1 });
    expect(events).toEqual([
      expect.objectContaining({
        time: created,
        title: `Registered: credit version ${versions.v2.version}`,
        tags: ['registry', 'version_registered', 'v2'],
      }),
    ]);
  });

  test('alias moves are recorded once each, durably, and followed across a reopened store', async () => {
    const view = new ModelRegistryView(client);
    const dataDir = join(dir, 'events-store');
    let store = await EmbeddedStore.open(dataDir);
    try {
      const first = await recordAliasChanges(store, view, 'credit', 1000);
      expect(first.map((e) => e.title)).toEqual(['@challenger → credit version 2', '@champion → credit version 1']);
      expect(first[1].text).toMatch(/first seen by the collector/);
      expect(await recordAliasChanges(store, view, 'credit', 2000)).toEqual([]);
      await store.close();
      store = await EmbeddedStore.open(dataDir);
      await mlflow.run('alias', 'credit', 'champion', versions.v2.version);
      await mlflow.run('delete-alias', 'credit', 'challenger');
      const moved = await recordAliasChanges(store, view, 'credit', 3000);
      expect(moved.map((e) => [e.ts, e.title])).toEqual([
        [3000, '@challenger → removed'],
        [3000, '@champion → credit version 2'],
      ]);
      expect(moved[1].text).toMatch(/now points at version 2 \(logged as "v2"\); was version 1/);
      expect(moved[1].tags).toEqual(expect.arrayContaining(['alias_moved', '@champion', 'v2']));
      expect(await recordAliasChanges(store, view, 'credit', 4000)).toEqual([]);
      const recorded = await store.getEvents('credit');
      expect(recorded.filter((e) => e.kind === ALIAS_EVENT_KIND)).toHaveLength(4);
    } finally {
      await store.close();
      await mlflow.run('alias', 'credit', 'champion', versions.v1.version);
      await mlflow.run('alias', 'credit', 'challenger', versions.v2.version);
    }
  });

  test('a poll whose event write fails records the rest on the next poll, none twice (injected write error)', async () => {
    const view = new ModelRegistryView(client);
    const store = await EmbeddedStore.open(join(dir, 'failing-store'));
    let failures = 1;
    const failing = new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'recordEvent') {
          return async (...args: Parameters<EmbeddedStore['recordEvent']>) => {
            if (args[1].title.startsWith('@champion') && failures-- > 0) {
              throw new Error('injected: disk full');
            }
            return target.recordEvent(...args);
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    try {
      await expect(recordAliasChanges(failing, view, 'credit', 1000)).rejects.toThrow('injected: disk full');
      expect((await store.getEvents('credit')).map((e) => e.title)).toEqual(['@challenger → credit version 2']);
      const retried = await recordAliasChanges(failing, view, 'credit', 2000);
      expect(retried.map((e) => [e.ts, e.title])).toEqual([[2000, '@champion → credit version 1']]);
      expect(await recordAliasChanges(failing, view, 'credit', 3000)).toEqual([]);
      expect(await store.getEvents('credit')).toHaveLength(2);
    } finally {
      await store.close();
    }
  });
});

describe('reference data of a registry version', () => {
  test('an artifact under reference/ and a training dataset are found; a run without either says what to log', async () => {
    const downloads = mkdtempSync(join(dir, 'downloads-'));
    const [v1, v2, v3] = await client.searchVersions('credit');
    const artifact = await fetchReferenceData(client, v1, downloads);
    expect(artifact.uri).toMatch(/^mlflow-artifacts:\/.*\/reference\/reference\.csv$/);
    expect(require('node:fs').readFileSync(artifact.path, 'utf8')).toBe(REFERENCE_CSV + '\n');
    expect(await fetchReferenceData(client, v2, downloads)).toEqual({
      path: join(dir, 'reference.csv'),
      uri: join(dir, 'reference.csv'),
    });
    await expect(fetchReferenceData(client, v3, downloads)).rejects.toThrow(
      /logged no reference data; log it from the run as a Parquet or CSV file: mlflow.log_artifact/
    );
  });

  test('mlmon baseline --from-registry models:/credit@champion stores the baseline with its registry version', () => {
    const dataDir = join(dir, 'baseline-store');
    const made = mlmon(
      [
        'baseline',
        '--from-registry',
        'models:/credit@champion',
        '--registry-url',
        mlflow.url,
        '--data-dir',
        dataDir,
        '--prediction',
        'prediction',
        '--label',
        'label',
      ],
      { env: { MLMON_REGISTRY_TOKEN: '' } }
    );
    expect(made.stderr).toMatch(/models:\/credit@champion is version 1 of credit/);
    expect(made.code).toBe(0);
    const shown = mlmon([
      'baseline',
      'show',
      '--model',
      'credit',
      '--version',
      'v1',
      '--data-dir',
      dataDir,
      '--format',
      'json',
    ]);
    const baseline = JSON.parse(shown.stdout);
    expect(baseline.rows).toBe(3);
    expect(Object.keys(baseline.features).sort()).toEqual(['income', 'region']);
    expect(baseline.source).toBe('models:/credit@champion');
    expect(baseline.registry).toEqual({
      name: 'credit',
      version: '1',
      logVersion: 'v1',
      runId: versions.v1.run_id,
      alias: 'champion',
      reference: expect.stringMatching(/^mlflow-artifacts:\/.*reference\.csv$/),
    });
    const v3 = mlmon([
      'baseline',
      '--from-registry',
      'models:/credit/3',
      '--registry-url',
      mlflow.url,
      '--data-dir',
      dataDir,
    ]);
    expect(v3.code).toBe(2);
    expect(v3.stderr).toMatch(/logged no reference data/);
    const unknown = mlmon([
      'baseline',
      '--from-registry',
      'models:/credit@staging',
      '--registry-url',
      mlflow.url,
      '--data-dir',
      dataDir,
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/has no @staging of model credit/);
  });
});

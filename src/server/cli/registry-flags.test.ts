import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './command';
import { registryFromFlags } from './registry-flags';

describe('registry flags', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'mlmon-registry-flags-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('no URL, no registry; the other flags alone are a usage error', () => {
    expect(registryFromFlags({}, {})).toBeUndefined();
    expect(() => registryFromFlags({ 'registry-model': ['a=b'] }, {})).toThrow(UsageError);
  });

  test('URL from the flag or $MLMON_REGISTRY_URL, token from a file (trimmed) over $MLMON_REGISTRY_TOKEN, names', () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'from-file-token\n');
    expect(
      registryFromFlags(
        {
          'registry-url': 'http://127.0.0.1:5000',
          'registry-token-file': tokenFile,
          'registry-model': ['loans=credit'],
        },
        { MLMON_REGISTRY_TOKEN: 'from-env' }
      )
    ).toEqual({
      client: { url: 'http://127.0.0.1:5000', token: 'from-file-token' },
      registeredNames: { loans: 'credit' },
    });
    expect(
      registryFromFlags({}, { MLMON_REGISTRY_URL: 'http://mlflow:5000', MLMON_REGISTRY_TOKEN: 'from-env' })
    ).toEqual({ client: { url: 'http://mlflow:5000', token: 'from-env' }, registeredNames: {} });
  });

  test("MLflow's own environment: an http(s) MLFLOW_TRACKING_URI and MLFLOW_TRACKING_TOKEN, when ours are not set", () => {
    expect(
      registryFromFlags({}, { MLFLOW_TRACKING_URI: 'http://mlflow:5000', MLFLOW_TRACKING_TOKEN: 'mlflow-env' })
    ).toEqual({ client: { url: 'http://mlflow:5000', token: 'mlflow-env' }, registeredNames: {} });
    expect(registryFromFlags({}, { MLFLOW_TRACKING_URI: 'sqlite:///mlflow.db' })).toBeUndefined();
    expect(
      registryFromFlags({}, { MLFLOW_TRACKING_URI: 'http://a:5000', MLMON_REGISTRY_URL: 'http://b:5000' })?.client.url
    ).toBe('http://b:5000');
  });

  test('a URL with credentials, a missing token file or a malformed name is a usage error saying what to give', () => {
    expect(() => registryFromFlags({ 'registry-url': 'http://u:p@mlflow:5000' }, {})).toThrow(
      /without user or password/
    );
    expect(() =>
      registryFromFlags({ 'registry-url': 'http://mlflow:5000', 'registry-token-file': join(dir, 'none') }, {})
    ).toThrow(/cannot read --registry-token-file .*ENOENT/);
    expect(() => registryFromFlags({ 'registry-url': 'http://mlflow:5000', 'registry-model': ['credit'] }, {})).toThrow(
      /--registry-model credit is not MODEL=REGISTERED_NAME/
    );
  });
});

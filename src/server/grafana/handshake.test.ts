import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkMagicCookie, handshakeLine, negotiateVersion } from './handshake';

describe('handshake', () => {
  it('accepts only the Grafana magic cookie', () => {
    expect(checkMagicCookie({ grafana_plugin_type: 'datasource' })).toBeUndefined();
    expect(checkMagicCookie({})).toMatch(/grafana_plugin_type=datasource/);
    expect(checkMagicCookie({ grafana_plugin_type: 'app' })).toMatch(/not meant to be executed directly/);
  });

  it('negotiates protocol version 2 from PLUGIN_PROTOCOL_VERSIONS', () => {
    expect(negotiateVersion({ PLUGIN_PROTOCOL_VERSIONS: '1, 2' })).toBe(2);
    expect(negotiateVersion({ PLUGIN_PROTOCOL_VERSIONS: '2,3' }, [2, 3])).toBe(3);
    expect(negotiateVersion({ PLUGIN_PROTOCOL_VERSIONS: '1' })).toBe(2);
    expect(negotiateVersion({})).toBe(2);
  });

  it('formats the go-plugin line', () => {
    expect(handshakeLine('127.0.0.1', 40123)).toBe('1|2|tcp|127.0.0.1:40123|grpc\n');
    expect(() => handshakeLine('127.0.0.1', 0)).toThrow(/not listening/);
  });
});

/** Runs the backend entry point under tsx with the given environment; resolves stdout after the first line or exit. */
function runEntry(env: Record<string, string>): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const root = resolve(__dirname, '../../..');
  const cwd = mkdtempSync(join(tmpdir(), 'mlmon-handshake-'));
  // tsx's loader in this process (not its CLI, which would leave the server as a grandchild when killed)
  const loader = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;
  const child = spawn(process.execPath, ['--import', loader, join(root, 'src/server/backend/main.ts')], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  let stdout = '';
  let stderr = '';
  return new Promise((done) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (stdout.includes('\n')) {
        setTimeout(() => child.kill('SIGKILL'), 300); // give a stray write the chance to show up
      }
    });
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (code) => {
      rmSync(cwd, { recursive: true, force: true });
      done({ stdout, stderr, code });
    });
  });
}

describe('backend process', () => {
  it('prints exactly the handshake line on stdout, on loopback, and logs JSON on stderr', async () => {
    const { stdout, stderr } = await runEntry({ grafana_plugin_type: 'datasource', PLUGIN_PROTOCOL_VERSIONS: '2' });
    expect(stdout).toMatch(/^1\|2\|tcp\|127\.0\.0\.1:\d+\|grpc\n$/);
    const lines = stderr.split('\n').filter((line) => line.startsWith('{'));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      const entry = JSON.parse(line);
      expect(entry['@level']).toMatch(/^(trace|debug|info|warn|error)$/);
      expect(entry).not.toHaveProperty('@timestamp');
    }
  });

  it('refuses to start without the magic cookie: exit 1, reason on stderr, nothing on stdout', async () => {
    const { stdout, stderr, code } = await runEntry({});
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/grafana_plugin_type=datasource/);
  });
});

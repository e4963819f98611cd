/**
 * The test broker's storage is formatted for any cluster id: a random one starts with "-" once in 64 (URL-safe
 * base64), which the storage tool's argument parser took for an option ("argument --cluster-id/-t: expected one
 * argument"), failing a test file's broker start at random.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatStorage } from './kafka';

test('a cluster id starting with "-" formats the storage', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlmon-kafka-format-'));
  try {
    const config = join(dir, 'server.properties');
    writeFileSync(
      config,
      [
        'process.roles=broker,controller',
        'node.id=1',
        'controller.quorum.voters=1@127.0.0.1:9093',
        'listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093',
        'controller.listener.names=CONTROLLER',
        `log.dirs=${join(dir, 'data')}`,
        '',
      ].join('\n')
    );
    await formatStorage(config, '-RTMYuDKRvuM_ODr8kCfug');
    expect(readdirSync(join(dir, 'data'))).toContain('meta.properties');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

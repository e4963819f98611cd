import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandQueue } from './command';
import type { RetrainRequest } from './request';

const request = { id: 'r1', model: 'loan', version: 'v2', features: [{ feature: 'amount' }] } as RetrainRequest;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlmon-command-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function script(name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

describe('retraining command', () => {
  it('gets the request on stdin and in its environment, and nothing else of the hook', async () => {
    process.env.MLMON_RETRAIN_HOOK_SECRET = 'must-not-leak-0123456789';
    try {
      const path = await script(
        'echo.sh',
        'cat; echo; echo "$MLMON_MODEL|$MLMON_VERSION|$MLMON_FEATURES|$MLMON_RETRAIN_REQUEST|$MLMON_RETRAIN_HOOK_SECRET|$1"'
      );
      const result = await commandQueue({ path, args: ['arg'], timeoutMs: 10_000 }).run(request, '/requests/r1.json');
      expect(result).toMatchObject({ exitCode: 0, timedOut: false, aborted: false });
      const [stdin, env] = result.output.trim().split('\n').filter(Boolean);
      expect(JSON.parse(stdin)).toEqual(request);
      expect(env).toBe('loan|v2|amount|/requests/r1.json||arg');
    } finally {
      delete process.env.MLMON_RETRAIN_HOOK_SECRET;
    }
  });

  it('stops a command past its time limit, with what it started, and keeps the end of its output', async () => {
    const path = await script('slow.sh', 'echo started; sleep 30 & wait');
    const started = Date.now();
    const result = await commandQueue({ path, args: [], timeoutMs: 300 }).run(request, 'f');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(result).toMatchObject({ timedOut: true, exitCode: null, signal: 'SIGTERM' });
    expect(result.output).toContain('started');
  });

  it('runs commands one at a time, and says when one could not start', async () => {
    const path = await script('stamp.sh', 'date +%s%N; sleep 0.2; date +%s%N');
    const queue = commandQueue({ path, args: [], timeoutMs: 10_000 });
    const [a, b] = await Promise.all([queue.run(request, 'a'), queue.run(request, 'b')]);
    const endA = Number(a.output.trim().split('\n')[1]);
    const startB = Number(b.output.trim().split('\n')[0]);
    expect(startB).toBeGreaterThanOrEqual(endA);
    const missing = await commandQueue({ path: join(dir, 'nope'), args: [], timeoutMs: 1000 }).run(request, 'f');
    expect(missing.exitCode).toBeNull();
    expect(missing.output).toContain('could not start');
  });
});

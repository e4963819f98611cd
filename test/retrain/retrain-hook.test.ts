/**
 * `mlmon retrain-hook` started for real (node bin/mlmon.js retrain-hook), receiving Grafana-shaped webhook
 * notifications (the payload of Grafana's webhook notifier docs) over HTTP: one retraining request per alert, with
 * the store's evidence, a request file, a "Retraining requested" event the events query shows, and the command run
 * once; and every refusal explained, for hostile and broken requests alike.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EmbeddedStore } from '../../src/server/store/embedded';
import { driftFixture, MODEL, NOW } from '../support/drift-family';

jest.setTimeout(120_000);

const ROOT = resolve(__dirname, '..', '..');
const SECRET = 'retrain-secret-3f9c1a7e2b6d';

let dir: string;
let dataDir: string;
let out: string;
let secretFile: string;

interface Hook {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<number | string>;
}

/** Starts the hook; resolves once it listens. */
async function startHook(extra: string[] = []): Promise<Hook> {
  const child = spawn(
    process.execPath,
    [
      join(ROOT, 'bin', 'mlmon.js'),
      'retrain-hook',
      '--listen',
      '127.0.0.1:0',
      '--secret-file',
      secretFile,
      '--data-dir',
      dataDir,
      '--command',
      join(dir, 'retrain.sh'),
      '--arg',
      'nightly',
      ...extra,
    ],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MLMON_RETRAIN_HOOK_SECRET: '' } }
  );
  let text = '';
  const exited = new Promise<number | string>((done) =>
    child.on('exit', (code, signal) => done(code ?? signal ?? '?'))
  );
  const url = await new Promise<string>((done, fail) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /listening on (http:\/\/\S+?)\/api/.exec(text);
      if (match) {
        done(match[1]);
      }
    });
    void exited.then((code) => fail(new Error(`the hook exited (${code}) before listening:\n${text}`)));
  });
  return { child, url, stderr: () => text, exited };
}

async function stopHook(hook: Hook) {
  hook.child.kill('SIGTERM');
  return hook.exited;
}

/** One alert as Grafana's webhook sends it. */
function alert(fingerprint: string, overrides: Record<string, unknown> = {}) {
  return {
    status: 'firing',
    labels: {
      alertname: 'loan: prediction drift for three days, retrain',
      monitor: 'mlmon',
      model: MODEL,
      kind: 'retrain',
      severity: 'warning',
      action: 'retrain',
      feature: 'prediction',
      metric: 'psi',
    },
    annotations: {
      summary: 'loan: predictions drifted for three days (today psi 0.31, noise floor 0.02); retraining requested',
      description: 'The output distribution of model loan has been at warning or above ...',
      runbook_url: '/a/mlmon-modelmonitor-app/runbook#retrain',
    },
    startsAt: new Date(NOW).toISOString(),
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://grafana.example/alerting/grafana/mlmon-retrain-loan/view',
    fingerprint,
    silenceURL: 'http://grafana.example/alerting/silence/new',
    dashboardURL: '',
    panelURL: 'http://grafana.example/d/mlmon-model-health?viewPanel=9',
    values: { level_now: 2, value_now: 0.31, floor_now: 0.02, firing: 1 },
    ...overrides,
  };
}

function notification(alerts: unknown[]) {
  return {
    receiver: 'mlmon-retrain',
    status: 'firing',
    orgId: 1,
    alerts,
    groupLabels: { model: MODEL, alertname: 'loan: prediction drift for three days, retrain' },
    commonLabels: { model: MODEL },
    commonAnnotations: {},
    externalURL: 'http://grafana.example/',
    version: '1',
    groupKey: '{}/{monitor="mlmon"}/{action="retrain"}:{model="loan"}',
    truncatedAlerts: 0,
    title: '[FIRING:1]',
    state: 'alerting',
    message: '**Firing**',
  };
}

async function post(
  hook: Hook,
  body: unknown,
  headers: Record<string, string> = {},
  path = '/api/v1/retrain',
  method = 'POST'
) {
  const response = await fetch(hook.url + path, {
    method,
    headers: { Authorization: `Bearer ${SECRET}`, 'Content-Type': 'application/json', ...headers },
    body: method === 'GET' ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

async function runs(): Promise<string[]> {
  try {
    return (await readFile(join(out, 'runs.log'), 'utf8')).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** Waits until the command has run `count` times (it runs after the answer). */
async function ranTimes(count: number): Promise<string[]> {
  for (let i = 0; i < 200; i++) {
    const lines = await runs();
    if (lines.length >= count) {
      return lines;
    }
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`the command ran ${(await runs()).length} times, expected ${count}`);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlmon-retrain-'));
  dataDir = join(dir, 'data');
  out = join(dir, 'out');
  await mkdir(out);
  secretFile = join(dir, 'secret');
  await writeFile(secretFile, SECRET + '\n', { mode: 0o600 });
  // The retraining command: records its argument, environment and stdin.
  await writeFile(
    join(dir, 'retrain.sh'),
    [
      '#!/bin/sh',
      `OUT=${out}`,
      'cat > "$OUT/stdin-$MLMON_RETRAIN_ID.json"',
      'env > "$OUT/env-$MLMON_RETRAIN_ID.txt"',
      'echo "$1 $MLMON_MODEL $MLMON_VERSION $MLMON_FEATURES $MLMON_RETRAIN_REQUEST" >> "$OUT/runs.log"',
      '',
    ].join('\n')
  );
  await chmod(join(dir, 'retrain.sh'), 0o755);
  await writeFile(join(dir, 'hang.sh'), '#!/bin/sh\nsleep 5\n'); // a command that is still running when stopped
  await chmod(join(dir, 'hang.sh'), 0o755);
  const fixture = driftFixture();
  const store = await EmbeddedStore.open(dataDir);
  await store.writePredictions(MODEL, fixture.records);
  await store.saveBaseline(fixture.baseline);
  await store.close();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('mlmon retrain-hook refuses to start without what it needs', () => {
  const start = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [join(ROOT, 'bin', 'mlmon.js'), 'retrain-hook', '--data-dir', dataDir, ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, MLMON_RETRAIN_HOOK_SECRET: '', ...env },
    });

  it('no secret, a short one, or a non-loopback address without --allow-remote: exit 2 saying what to do', () => {
    const none = start([]);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('needs a shared secret of at least 16 characters');
    expect(start([], { MLMON_RETRAIN_HOOK_SECRET: 'short' }).status).toBe(2);
    const remote = start(['--listen', '0.0.0.0:8790'], { MLMON_RETRAIN_HOOK_SECRET: SECRET });
    expect(remote.status).toBe(2);
    expect(remote.stderr).toContain('is not loopback');
    expect(remote.stderr).not.toContain(SECRET);
    expect(start(['--secret-file', join(dir, 'missing')]).stderr).toContain('cannot read --secret-file');
  });
});

describe('mlmon retrain-hook', () => {
  let hook: Hook;
  beforeAll(async () => {
    hook = await startHook();
  });
  afterAll(async () => {
    await stopHook(hook);
  });

  it('requests retraining once per alert: evidence, request file, annotation, the command run once', async () => {
    const first = await post(hook, notification([alert('c6eadffa33fcdf37')]));
    expect(first.status).toBe(202);
    expect(first.body.accepted).toHaveLength(1);
    const [accepted] = first.body.accepted;
    expect(accepted).toMatchObject({ fingerprint: 'c6eadffa33fcdf37', model: MODEL, features: ['amount'] });

    const request = JSON.parse(await readFile(accepted.file, 'utf8'));
    expect(request).toMatchObject({
      model: MODEL,
      version: 'v2',
      evidence: {
        severity: 'warning',
        fingerprint: 'c6eadffa33fcdf37',
        values: { value_now: 0.31, floor_now: 0.02 },
        window: { from: new Date(NOW - 3 * 86_400_000).toISOString(), to: new Date(NOW).toISOString() },
      },
    });
    expect(request.features[0]).toMatchObject({ feature: 'amount', metric: 'psi' });
    expect(request.features[0].level).toBeGreaterThanOrEqual(2);
    expect(request.features[0].value).toBeGreaterThan(request.features[0].noiseFloor);

    const [line] = await ranTimes(1);
    expect(line).toBe(`nightly ${MODEL} v2 amount ${accepted.file}`);
    expect(JSON.parse(await readFile(join(out, `stdin-${accepted.request}.json`), 'utf8'))).toEqual(request);
    const env = await readFile(join(out, `env-${accepted.request}.txt`), 'utf8');
    expect(env).not.toContain(SECRET);

    const store = await EmbeddedStore.open(dataDir);
    const events = await store.getEvents(MODEL);
    await store.close();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      kind: 'retrain_requested',
      title: 'Retraining requested',
      tags: ['retrain', 'warning', MODEL],
    });
    expect(events[0].text).toContain('drifting features: amount');

    // Grafana sends the firing alert again after each repeat interval: acted on once.
    const again = await post(hook, notification([alert('c6eadffa33fcdf37')]));
    expect(again.status).toBe(200);
    expect(again.body.duplicates).toEqual([{ fingerprint: 'c6eadffa33fcdf37', model: MODEL }]);
    await new Promise((done) => setTimeout(done, 300));
    expect(await runs()).toHaveLength(1);
  });

  it('acts once on one alert posted many times at once, and again on the same labels firing anew later', async () => {
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => post(hook, notification([alert('0123456789abcdef')])))
    );
    expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(5);
    await ranTimes(2);
    const later = await post(
      hook,
      notification([alert('0123456789abcdef', { startsAt: new Date(NOW + 86_400_000).toISOString() })])
    );
    expect(later.status).toBe(202);
    await ranTimes(3);
    await new Promise((done) => setTimeout(done, 300));
    expect(await runs()).toHaveLength(3);
  });

  it('ignores resolved alerts and alerts not labelled action=retrain, and says why', async () => {
    const labels = { ...alert('aaaaaaaaaaaaaaaa').labels, action: 'page' };
    const { status, body } = await post(
      hook,
      notification([alert('bbbbbbbbbbbbbbbb', { status: 'resolved' }), alert('aaaaaaaaaaaaaaaa', { labels })])
    );
    expect(status).toBe(200);
    expect(body.ignored.map((i: { reason: string }) => i.reason)).toEqual([
      expect.stringContaining('resolved'),
      expect.stringContaining('not labelled action=retrain'),
    ]);
  });

  it('rejects alerts naming no known model or a hostile model or version, without acting on them', async () => {
    const labels = (extra: Record<string, string>) => ({ ...alert('cccccccccccccccc').labels, ...extra });
    const { status, body } = await post(
      hook,
      notification([
        alert('c000000000000001', { labels: labels({ model: '../../etc/passwd' }) }),
        alert('c000000000000002', { labels: labels({ model: 'churn' }) }),
        alert('c000000000000003', { labels: labels({ version: 'v1; rm -rf /' }) }),
      ])
    );
    expect(status).toBe(200);
    expect(body.accepted).toEqual([]);
    expect(body.rejected.map((r: { reason: string }) => r.reason)).toEqual([
      expect.stringContaining('is not a model name'),
      expect.stringContaining('model churn is not in the hook'),
      expect.stringContaining('version'),
    ]);
  });

  it.each([
    ['no secret', { Authorization: '' }, 401, 'no_secret'],
    ['a wrong secret', { Authorization: 'Bearer retrain-secret-3f9c1a7e2b6X' }, 401, 'wrong_secret'],
    [
      'the secret as Basic credentials',
      { Authorization: `Basic ${Buffer.from(`grafana:${SECRET}`).toString('base64')}` },
      401,
      'wrong_secret',
    ],
    ['the secret with a suffix', { Authorization: `Bearer ${SECRET}x` }, 401, 'wrong_secret'],
    ['text/plain', { 'Content-Type': 'text/plain' }, 415, 'unsupported_media_type'],
  ])('refuses %s with a JSON error', async (_, headers, status, error) => {
    const answer = await post(hook, notification([alert('dddddddddddddddd')]), headers);
    expect(answer.status).toBe(status);
    expect(answer.body.error).toBe(error);
    expect(answer.body.message.length).toBeGreaterThan(20);
    expect(JSON.stringify(answer.body)).not.toContain(SECRET);
    if (status === 401) {
      expect(answer.headers.get('www-authenticate')).toContain('Bearer');
    }
  });

  it.each([
    ['not JSON', '{"alerts": [', 400, 'invalid_json', 'not JSON'],
    ['a JSON array', '[]', 422, 'not_a_grafana_notification', 'must be a JSON object'],
    [
      'alerts that is not a list',
      { status: 'firing', alerts: {} },
      422,
      'not_a_grafana_notification',
      'alerts must be a list',
    ],
    [
      'a path in the fingerprint',
      notification([alert('../../../tmp/x')]),
      422,
      'not_a_grafana_notification',
      'alerts[0].fingerprint',
    ],
    [
      'a number as a label',
      notification([alert('eeeeeeeeeeeeeeee', { labels: { model: 7 } })]),
      422,
      'not_a_grafana_notification',
      'alerts[0].labels.model must be a string',
    ],
    [
      'a start that is not a time',
      notification([alert('eeeeeeeeeeeeeeee', { startsAt: 'yesterday' })]),
      422,
      'not_a_grafana_notification',
      'RFC 3339',
    ],
    [
      'an unknown status',
      notification([alert('eeeeeeeeeeeeeeee', { status: 'exploded' })]),
      422,
      'not_a_grafana_notification',
      'alerts[0].status',
    ],
    [
      '501 alerts',
      notification(Array.from({ length: 501 }, (_, i) => alert(`f${String(i).padStart(15, '0')}`))),
      422,
      'not_a_grafana_notification',
      'at most 500',
    ],
    [
      'a deeply nested body',
      '{"status":"firing","alerts":' + '['.repeat(5000) + ']'.repeat(5000) + '}',
      422,
      'not_a_grafana_notification',
      'alerts[0] must be an object',
    ],
  ])('refuses %s, naming what is wrong', async (_, body, status, error, says) => {
    const answer = await post(hook, body);
    expect(answer.status).toBe(status);
    expect(answer.body.error).toBe(error);
    expect(answer.body.message).toContain(says);
  });

  it('refuses a body over 1 MiB, a wrong method and an unknown path', async () => {
    const huge = await post(hook, JSON.stringify({ alerts: [], padding: 'x'.repeat(2 * 1024 * 1024) }));
    expect(huge.status).toBe(413);
    expect(huge.body.error).toBe('body_too_large');
    const get = await post(hook, undefined, {}, '/api/v1/retrain', 'GET');
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect((await post(hook, {}, {}, '/api/v1/predictions')).status).toBe(404);
    const health = await post(hook, undefined, {}, '/healthz', 'GET');
    expect(health).toMatchObject({ status: 200, body: { status: 'ok', accepted: 3 } });
  });

  it('answers 503 when the event cannot be recorded, and acts on the retry once the store is back', async () => {
    const events = join(dataDir, 'models', MODEL, 'events.ndjson');
    const kept = await readFile(events, 'utf8');
    await rm(events);
    await mkdir(events); // appending to a directory fails: the store is broken for this write
    const broken = await post(hook, notification([alert('9999999999999999')]));
    expect(broken.status).toBe(503);
    expect(broken.body.message).toContain("Grafana's retry will be acted on");
    const files = await readdir(join(dataDir, 'retrain-hook', 'requests'));
    expect(files.filter((name) => name.includes('9999999999999999'))).toEqual([]); // no request left half-made
    await rm(events, { recursive: true });
    await writeFile(events, kept);
    const retried = await post(hook, notification([alert('9999999999999999')]));
    expect(retried.status).toBe(202);
    await ranTimes(4);
  });

  it('never writes the secret to its log', () => {
    expect(hook.stderr()).not.toContain(SECRET);
    expect(hook.stderr()).toContain('retraining requested for loan');
  });
});

test('a hook killed (-9) while its command runs does not act on the alert again, and runs the command on restart', async () => {
  // The first hook's command hangs (hang.sh): the kill comes before it finishes.
  const first = await startHook(['--command', join(dir, 'hang.sh')]);
  const accepted = await post(first, notification([alert('7777777777777777')]));
  expect(accepted.status).toBe(202);
  const before = (await runs()).length;
  first.child.kill('SIGKILL');
  await first.exited;
  const second = await startHook();
  try {
    const lines = await ranTimes(before + 1);
    expect(lines[lines.length - 1]).toContain(accepted.body.accepted[0].file);
    for (const fingerprint of ['7777777777777777', 'c6eadffa33fcdf37']) {
      const again = await post(second, notification([alert(fingerprint)]));
      expect(again.status).toBe(200);
      expect(again.body.duplicates).toEqual([{ fingerprint, model: MODEL }]);
    }
    expect(second.stderr()).toContain('accepted before a restart');
    const requests = await readdir(join(dataDir, 'retrain-hook', 'requests'));
    expect(requests.filter((name) => name.endsWith('.json'))).toHaveLength(5);
    expect(requests.filter((name) => name.endsWith('.json.done'))).toHaveLength(5);
  } finally {
    expect(await stopHook(second)).toBe(0);
  }
});

test('SIGTERM stops a hook whose command still runs at once; the next start runs that command again', async () => {
  const hang = await startHook(['--command', join(dir, 'hang.sh')]);
  const accepted = await post(hang, notification([alert('6666666666666666')]));
  expect(accepted.status).toBe(202);
  await new Promise((done) => setTimeout(done, 200)); // the command has started
  const before = (await runs()).length;
  const stopped = Date.now();
  expect(await stopHook(hang)).toBe(0);
  expect(Date.now() - stopped).toBeLessThan(3000); // not the command's 5 s
  expect(hang.stderr()).toContain('runs again at the next start');
  const next = await startHook();
  try {
    const lines = await ranTimes(before + 1);
    expect(lines[lines.length - 1]).toContain(accepted.body.accepted[0].file);
  } finally {
    expect(await stopHook(next)).toBe(0);
  }
});

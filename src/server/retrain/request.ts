/**
 * A retraining request: what the hook hands to the retraining command and writes to its request file, built from
 * one firing alert labelled action=retrain and the store's evidence (evidence.ts), and the "Retraining requested"
 * event the `events` query shows on the dashboards.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelEvent } from '../store/types';
import type { DriftingFeature } from './evidence';
import type { WebhookAlert } from './payload';

export interface RetrainRequest {
  /** `<UTC time>-<model>-<fingerprint>`: also the name of the request file. */
  id: string;
  requestedAt: string;
  model: string;
  /** The version that served the drifting traffic (the alert's `version` label, else the newest). */
  version: string | null;
  /** Features at warning or above over the evidence window, most drifted first. */
  features: DriftingFeature[];
  evidence: {
    alertname: string;
    severity: string;
    summary: string;
    description: string;
    /** The rule's reduced numbers (e.g. value_now, floor_now). */
    values: Record<string, number>;
    startsAt: string;
    fingerprint: string;
    window: { from: string; to: string };
    generatorURL: string;
    panelURL: string;
  };
}

export function retrainRequest(
  alert: WebhookAlert,
  model: string,
  version: string | null,
  features: DriftingFeature[],
  window: { from: number; to: number },
  now: number
): RetrainRequest {
  const requestedAt = new Date(now).toISOString();
  return {
    id: `${requestedAt.replace(/[:.]/g, '')}-${model}-${alert.fingerprint}`,
    requestedAt,
    model,
    version,
    features,
    evidence: {
      alertname: alert.labels.alertname ?? '',
      severity: alert.labels.severity ?? '',
      summary: alert.annotations.summary ?? '',
      description: alert.annotations.description ?? '',
      values: alert.values,
      startsAt: alert.startsAt,
      fingerprint: alert.fingerprint,
      window: { from: new Date(window.from).toISOString(), to: new Date(window.to).toISOString() },
      generatorURL: alert.generatorURL,
      panelURL: alert.panelURL,
    },
  };
}

/** Writes the request to `<dir>/<id>.json` atomically (temporary file, fsync, rename); returns its path. */
export async function writeRequestFile(dir: string, request: RetrainRequest): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${request.id}.json`);
  const temporary = join(dir, `.${randomUUID()}.part`);
  await writeFile(temporary, JSON.stringify(request, null, 2) + '\n');
  const handle = await open(temporary, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
  return path;
}

/** The "Retraining requested" annotation of a request. */
export function requestedEvent(request: RetrainRequest, now: number): ModelEvent {
  const features = request.features.map((f) => f.feature);
  return {
    ts: now,
    kind: 'retrain_requested',
    title: 'Retraining requested',
    text:
      `${request.model}${request.version ? ` ${request.version}` : ''}: ${request.evidence.summary || request.evidence.alertname}` +
      `; drifting features: ${features.length ? features.join(', ') : 'none at warning'}; request ${request.id}`,
    tags: ['retrain', request.evidence.severity || 'warning', request.model],
  };
}

/** Records that a request's command finished, with how (`<file>.done`). */
export async function markDone(file: string, result: object): Promise<void> {
  await writeFile(`${file}.done`, JSON.stringify(result) + '\n');
}

/** The requests of `dir` whose command has not finished, oldest first. */
export async function pendingRequests(dir: string): Promise<Array<{ request: RetrainRequest; file: string }>> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return [];
    }
    throw error;
  }
  const done = new Set(names.filter((name) => name.endsWith('.json.done')).map((name) => name.slice(0, -5)));
  const pending = names.filter((name) => name.endsWith('.json') && !name.startsWith('.') && !done.has(name)).sort();
  return Promise.all(
    pending.map(async (name) => ({
      request: JSON.parse(await readFile(join(dir, name), 'utf8')) as RetrainRequest,
      file: join(dir, name),
    }))
  );
}

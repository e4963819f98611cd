/**
 * Grafana's webhook notification (contact point type `webhook`; Grafana docs "Configure the webhook notifier for
 * Alerting", payload version 1): what `mlmon retrain-hook` reads of it, validated field by field so that a refusal
 * names the field. Only what the hook uses is checked; other fields Grafana adds are ignored.
 *
 *   { receiver, status: "firing" | "resolved", orgId, groupKey, version: "1", externalURL, groupLabels,
 *     commonLabels, commonAnnotations, truncatedAlerts,
 *     alerts: [{ status, labels, annotations, startsAt, endsAt, generatorURL, fingerprint, silenceURL,
 *                dashboardURL, panelURL, values: { <refId>: number } }] }
 */

/** Most alerts one notification may carry (Grafana's webhook sends every alert of a group unless maxAlerts is set). */
export const MAX_ALERTS = 500;
/** Longest label or annotation value kept; longer ones are refused (a label is an identifier, not a document). */
const MAX_TEXT = 8192;
const MAX_ENTRIES = 64;

export interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** RFC 3339. */
  startsAt: string;
  fingerprint: string;
  generatorURL: string;
  panelURL: string;
  /** The rule's reduced numbers by refId (Grafana 9+); empty when absent. */
  values: Record<string, number>;
}

export interface WebhookNotification {
  receiver: string;
  status: 'firing' | 'resolved';
  alerts: WebhookAlert[];
}

/** A payload the hook cannot read; `field` names where (e.g. `alerts[3].labels.model`). */
export class PayloadError extends Error {
  constructor(
    readonly field: string,
    problem: string
  ) {
    super(`${field} ${problem}`);
    this.name = 'PayloadError';
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function status(value: unknown, field: string): 'firing' | 'resolved' {
  if (value !== 'firing' && value !== 'resolved') {
    throw new PayloadError(field, `is ${JSON.stringify(value)}; Grafana sends "firing" or "resolved"`);
  }
  return value;
}

function text(value: unknown, field: string, optional = false): string {
  if ((value === undefined || value === null) && optional) {
    return '';
  }
  if (typeof value !== 'string') {
    throw new PayloadError(field, `must be a string, got ${value === null ? 'null' : typeof value}`);
  }
  if (value.length > MAX_TEXT) {
    throw new PayloadError(field, `is ${value.length} characters long; at most ${MAX_TEXT} are read`);
  }
  return value;
}

/** A map of strings (labels, annotations). */
function strings(value: unknown, field: string, optional = false): Record<string, string> {
  if ((value === undefined || value === null) && optional) {
    return {};
  }
  if (!isObject(value)) {
    throw new PayloadError(field, 'must be an object of strings');
  }
  const entries = Object.entries(value);
  if (entries.length > MAX_ENTRIES) {
    throw new PayloadError(field, `has ${entries.length} entries; at most ${MAX_ENTRIES} are read`);
  }
  return Object.fromEntries(entries.map(([key, item]) => [key, text(item, `${field}.${key}`)]));
}

function numbers(value: unknown, field: string): Record<string, number> {
  if (value === undefined || value === null) {
    return {};
  }
  if (!isObject(value)) {
    throw new PayloadError(field, 'must be an object of numbers');
  }
  return Object.fromEntries(
    Object.entries(value)
      .slice(0, MAX_ENTRIES)
      .filter((entry): entry is [string, number] => typeof entry[1] === 'number' && Number.isFinite(entry[1]))
  );
}

/** Grafana's alert fingerprints are the hex of a 64-bit label hash; the hook also uses it in file names. */
const FINGERPRINT = /^[0-9a-f]{8,64}$/;

function alert(value: unknown, field: string): WebhookAlert {
  if (!isObject(value)) {
    throw new PayloadError(field, 'must be an object');
  }
  const fingerprint = text(value.fingerprint, `${field}.fingerprint`);
  if (!FINGERPRINT.test(fingerprint)) {
    throw new PayloadError(
      `${field}.fingerprint`,
      `is ${JSON.stringify(fingerprint.slice(0, 80))}, not Grafana's hex fingerprint`
    );
  }
  const startsAt = text(value.startsAt, `${field}.startsAt`);
  if (Number.isNaN(Date.parse(startsAt))) {
    throw new PayloadError(`${field}.startsAt`, `is ${JSON.stringify(startsAt.slice(0, 80))}, not an RFC 3339 time`);
  }
  return {
    status: status(value.status, `${field}.status`),
    labels: strings(value.labels, `${field}.labels`),
    annotations: strings(value.annotations, `${field}.annotations`, true),
    startsAt,
    fingerprint,
    generatorURL: text(value.generatorURL, `${field}.generatorURL`, true),
    panelURL: text(value.panelURL, `${field}.panelURL`, true),
    values: numbers(value.values, `${field}.values`),
  };
}

/** Reads a decoded JSON body as a Grafana webhook notification; throws PayloadError naming the wrong field. */
export function parseNotification(body: unknown): WebhookNotification {
  if (!isObject(body)) {
    throw new PayloadError('the body', "must be a JSON object (Grafana's webhook notification)");
  }
  if (!Array.isArray(body.alerts)) {
    throw new PayloadError('alerts', 'must be a list of alerts');
  }
  if (body.alerts.length > MAX_ALERTS) {
    throw new PayloadError(
      'alerts',
      `holds ${body.alerts.length} alerts; at most ${MAX_ALERTS} are read per request (set the contact point's maxAlerts)`
    );
  }
  return {
    receiver: text(body.receiver, 'receiver', true),
    status: status(body.status, 'status'),
    alerts: body.alerts.map((item, i) => alert(item, `alerts[${i}]`)),
  };
}

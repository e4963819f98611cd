/**
 * Where the rules' alerts go, in Grafana's file-provisioning format: contact points, the notification policy tree,
 * a mute timing and the chat message template.
 *
 * - every rule carries `monitor=mlmon`; under the route that matches it, alerts are grouped by model;
 * - `action=retrain` goes to the retraining webhook (`mlmon retrain-hook`, Authorization: Bearer <secret>) and
 *   continues to the severity routes;
 * - DatasourceError / DatasourceNoData (a query that failed) go to chat, whatever the rule's severity;
 * - critical pages (pager webhook), warning goes to chat, info is routed to chat under a mute timing that is always
 *   on, so it is visible in Grafana but sends nothing.
 *
 * Addresses and the webhook secret come from environment variables, which Grafana substitutes in provisioning files
 * ($NAME); docker-compose.yaml sets them, with defaults (SAFE_DEFAULTS) that send nothing anywhere and leave the
 * retraining webhook without a secret, so that it refuses everything until one is set.
 */

export const CONTACT_POINTS = { pager: 'mlmon-pager', chat: 'mlmon-chat', retrain: 'mlmon-retrain' } as const;

/** The environment variables of the contact points. */
export const CONTACT_ENV = {
  pager: 'MLMON_PAGER_WEBHOOK_URL',
  chat: 'MLMON_CHAT_WEBHOOK_URL',
  retrainUrl: 'MLMON_RETRAIN_HOOK_URL',
  retrainSecret: 'MLMON_RETRAIN_HOOK_SECRET',
} as const;

/**
 * Defaults that send nothing: port 9 (discard) on loopback for pager and chat, the retrain hook's own default
 * address, and no secret (the hook refuses requests without its secret).
 */
export const SAFE_DEFAULTS: Record<keyof typeof CONTACT_ENV, string> = {
  pager: 'http://127.0.0.1:9/mlmon-pager-not-configured',
  chat: 'http://127.0.0.1:9/mlmon-chat-not-configured',
  retrainUrl: 'http://127.0.0.1:8790/api/v1/retrain',
  retrainSecret: '',
};

/** The mute timing that is always on: info alerts are routed under it. */
export const ALWAYS_MUTED = 'mlmon-always-muted';
export const TEMPLATE_NAME = 'mlmon';

/** Receiver uids (Grafana: 1–40 letters, digits, `-`, `_`). */
const RECEIVER_UIDS = { pager: 'mlmon-pager-webhook', chat: 'mlmon-chat-slack', retrain: 'mlmon-retrain-webhook' };

/**
 * The chat message: one line per alert with its summary and the panel it belongs to. No `$` in it: Grafana
 * substitutes environment variables in provisioning files.
 */
export const CHAT_TEMPLATE = [
  '{{ define "mlmon.chat.title" }}[{{ .Status | toUpper }}] {{ .CommonLabels.model }}: ' +
    '{{ len .Alerts.Firing }} firing, {{ len .Alerts.Resolved }} resolved{{ end }}',
  '{{ define "mlmon.chat.text" }}{{ range .Alerts }}' +
    '{{ if eq .Status "firing" }}[{{ .Labels.severity }}] {{ else }}[resolved] {{ end }}' +
    '{{ .Annotations.summary }}{{ if .PanelURL }} - {{ .PanelURL }}{{ end }}\n' +
    '{{ end }}{{ end }}',
].join('\n');

type Env = Record<keyof typeof CONTACT_ENV, string>;

/** `$NAME` of each variable: what the provisioning files hold. */
export const ENV_REFERENCES = Object.fromEntries(
  Object.entries(CONTACT_ENV).map(([key, name]) => [key, `$${name}`])
) as Env;

/** The contact points with their settings from `env` (ENV_REFERENCES in files, SAFE_DEFAULTS in the API export). */
export function contactPoints(env: Env) {
  return [
    {
      orgId: 1,
      name: CONTACT_POINTS.pager,
      receivers: [{ uid: RECEIVER_UIDS.pager, type: 'webhook', settings: { url: env.pager, httpMethod: 'POST' } }],
    },
    {
      orgId: 1,
      name: CONTACT_POINTS.chat,
      receivers: [
        {
          uid: RECEIVER_UIDS.chat,
          type: 'slack',
          settings: {
            url: env.chat,
            title: '{{ template "mlmon.chat.title" . }}',
            text: '{{ template "mlmon.chat.text" . }}',
          },
        },
      ],
    },
    {
      orgId: 1,
      name: CONTACT_POINTS.retrain,
      receivers: [
        {
          uid: RECEIVER_UIDS.retrain,
          type: 'webhook',
          disableResolveMessage: true,
          settings: {
            url: env.retrainUrl,
            httpMethod: 'POST',
            authorization_scheme: 'Bearer',
            authorization_credentials: env.retrainSecret,
          },
        },
      ],
    },
  ];
}

/** A route of the policy tree (Grafana's provisioning field names). */
export interface RouteV1 {
  receiver?: string;
  group_by?: string[];
  object_matchers?: Array<[string, '=' | '!=' | '=~' | '!~', string]>;
  continue?: boolean;
  group_wait?: string;
  group_interval?: string;
  repeat_interval?: string;
  mute_time_intervals?: string[];
  routes?: RouteV1[];
}

/** The Model Monitor route: every alert of a rule labelled monitor=mlmon (module comment). */
export function monitorRoute(): RouteV1 {
  return {
    receiver: CONTACT_POINTS.chat,
    object_matchers: [['monitor', '=', 'mlmon']],
    group_by: ['model'],
    group_wait: '30s',
    group_interval: '5m',
    repeat_interval: '4h',
    routes: [
      {
        receiver: CONTACT_POINTS.retrain,
        object_matchers: [['action', '=', 'retrain']],
        group_by: ['model', 'alertname'],
        // Grafana sends a firing alert again after each repeat interval; the hook acts once per alert.
        repeat_interval: '24h',
        continue: true,
      },
      {
        receiver: CONTACT_POINTS.chat,
        object_matchers: [['alertname', '=~', 'DatasourceError|DatasourceNoData']],
      },
      { receiver: CONTACT_POINTS.pager, object_matchers: [['severity', '=', 'critical']] },
      { receiver: CONTACT_POINTS.chat, object_matchers: [['severity', '=', 'warning']] },
      {
        receiver: CONTACT_POINTS.chat,
        object_matchers: [['severity', '=', 'info']],
        mute_time_intervals: [ALWAYS_MUTED],
      },
    ],
  };
}

/** The org's policy tree: Grafana's defaults at the root, the Model Monitor route under it. */
export function policyTree(): RouteV1 & { orgId: number } {
  return {
    orgId: 1,
    receiver: CONTACT_POINTS.chat,
    group_by: ['grafana_folder', 'alertname'],
    routes: [monitorRoute()],
  };
}

export function muteTimings() {
  return [{ orgId: 1, name: ALWAYS_MUTED, time_intervals: [{ times: [{ start_time: '00:00', end_time: '24:00' }] }] }];
}

export function templates() {
  return [{ orgId: 1, name: TEMPLATE_NAME, template: CHAT_TEMPLATE }];
}

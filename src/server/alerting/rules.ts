/**
 * The alert rules of a model, in Grafana's file-provisioning format (apiVersion 1, `groups`: Grafana docs
 * "Use configuration files to provision alerting resources"; the expression models as in Grafana's server-side
 * expressions: reduce, threshold, math).
 *
 * Every rule runs datasource queries without a bucket, which an alert evaluation reads as ONE bucket over the rule's
 * relative time range (the backend's alert semantics), and reduces them with Reduce (last). What fires:
 *
 * | group (interval)       | rule                                   | severity           | window               | for |
 * | ---------------------- | -------------------------------------- | ------------------ | -------------------- | --- |
 * | drift (1h)             | feature drift: level 2 / level 3       | warning / critical | 24 h                 | 1h  |
 * | drift (1h)             | prediction drift ≥ warning 3 days      | warning, retrain   | 3 daily buckets      | 0s  |
 * | data quality (1h)      | null, out-of-range, unseen, type-error | warning            | 1 h                  | 0s  |
 * | operations (30m)       | latency p95: level 2 / 3               | warning / critical | 1 h                  | 30m |
 * | operations (30m)       | error rate: level 2 / 3                | warning / critical | 24 h                 | 30m |
 * | operations (30m)       | throughput below the SLA               | critical           | 1 h                  | 30m |
 * | performance (6h)       | score worse than baseline: level 2 / 3 | warning / critical | the last labelled day | 0s  |
 * | performance (6h)       | label coverage below 50 %              | info               | the last labelled day | 6h  |
 *
 * Levels are the backend's (src/server/queries: drift levels clear the noise floor; rated metrics against the
 * datasource thresholds, critical at twice the warning distance), so the thresholds live in one place, the
 * datasource settings. `for` is one more evaluation where a window is short next to what it watches (drift,
 * latency, errors, throughput); none where the rule already asks for persistence (three daily buckets) or a window
 * is a day of labels. A query that fails puts the rule in Error (Grafana sends a DatasourceError alert, routed to
 * chat); no data is OK except for throughput, where no traffic is the breach.
 */
import type { QualityMetric } from '../../core/query/queryTypes';
import { DASHBOARDS, type DashboardKey } from '../../core/alerting/dashboards';
import { runbookUrl, type RuleKind } from '../../core/alerting/runbook';
import type { ModelProfile } from './profiles';

/** The provisioned datasource (provisioning/datasources/mlmon.yaml). */
export const DATASOURCE = { type: 'mlmon-modelmonitor-datasource', uid: 'mlmon' } as const;
/** Grafana's datasource of server-side expressions. */
export const EXPRESSION_DATASOURCE = { type: '__expr__', uid: '__expr__' } as const;
/** The folder of every rule group. */
export const FOLDER = { title: 'Model Monitor', uid: 'mlmon' } as const;
/** Grafana's defaults for an alert query's model (ngalert AlertQuery): written out so that a reader sees them. */
const ALERT_QUERY_DEFAULTS = { intervalMs: 1000, maxDataPoints: 43200 } as const;

export type Severity = 'info' | 'warning' | 'critical';

/** A query or expression of a rule (`data[]`). */
export interface AlertQueryV1 {
  refId: string;
  queryType?: string;
  relativeTimeRange?: { from: number; to: number };
  datasourceUid: string;
  model: Record<string, unknown>;
}

export interface AlertRuleV1 {
  uid: string;
  title: string;
  condition: string;
  data: AlertQueryV1[];
  dashboardUid: string;
  panelId: number;
  noDataState: 'NoData' | 'Alerting' | 'OK' | 'KeepLast';
  execErrState: 'Error' | 'Alerting' | 'OK' | 'KeepLast';
  for: string;
  annotations: Record<string, string>;
  labels: Record<string, string>;
  isPaused: boolean;
}

export interface RuleGroupV1 {
  orgId: number;
  name: string;
  folder: string;
  interval: string;
  rules: AlertRuleV1[];
}

const HOUR_S = 3600;
const DAY_S = 24 * HOUR_S;

/** A datasource query of the rule over the window ending `endsAgo` seconds before the evaluation. */
function datasourceQuery(
  refId: string,
  query: Record<string, unknown>,
  windowSeconds: number,
  endsAgo = 0
): AlertQueryV1 {
  return {
    refId,
    queryType: String(query.queryType),
    relativeTimeRange: { from: endsAgo + windowSeconds, to: endsAgo },
    datasourceUid: DATASOURCE.uid,
    model: { refId, datasource: DATASOURCE, ...query, ...ALERT_QUERY_DEFAULTS },
  };
}

function expression(refId: string, model: Record<string, unknown>): AlertQueryV1 {
  return {
    refId,
    datasourceUid: EXPRESSION_DATASOURCE.uid,
    model: { refId, datasource: EXPRESSION_DATASOURCE, ...model, ...ALERT_QUERY_DEFAULTS },
  };
}

/** Reduce (last) of a query's series; non-numbers (an unrated bucket) are dropped first. */
function reduceLast(refId: string, input: string): AlertQueryV1 {
  return expression(refId, { type: 'reduce', expression: input, reducer: 'last', settings: { mode: 'dropNN' } });
}

type Evaluator = { type: 'gt' | 'lt' | 'within_range' | 'outside_range'; params: number[] };

function threshold(refId: string, input: string, evaluator: Evaluator): AlertQueryV1 {
  return expression(refId, { type: 'threshold', expression: input, conditions: [{ evaluator }] });
}

function math(refId: string, formula: string): AlertQueryV1 {
  return expression(refId, { type: 'math', expression: formula });
}

/** A query and its Reduce (last): `<name>` and `<name>_now`. */
function reduced(name: string, query: Record<string, unknown>, windowSeconds: number, endsAgo = 0) {
  return [datasourceQuery(name, query, windowSeconds, endsAgo), reduceLast(`${name}_now`, name)];
}

/** A level exactly at `severity` (warning: 2, critical: 3): the rules of the two severities never fire together. */
function levelIs(severity: 'warning' | 'critical'): Evaluator {
  return severity === 'warning' ? { type: 'within_range', params: [1.5, 2.5] } : { type: 'gt', params: [2.5] };
}

/** Rule uids: 1–40 letters, digits, `-`, `_`; a long model name is cut and made unique by its hash. */
export function ruleUid(code: string, model: string): string {
  const uid = `mlmon-${code}-${model}`;
  if (uid.length <= 40) {
    return uid;
  }
  let hash = 0x811c9dc5;
  for (const char of model) {
    hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  }
  const suffix = hash.toString(16).padStart(8, '0');
  return `${uid.slice(0, 40 - suffix.length - 1)}-${suffix}`;
}

interface RuleDraft {
  code: string;
  kind: RuleKind;
  title: string;
  severity: Severity;
  data: AlertQueryV1[];
  condition: string;
  for: string;
  panel: [DashboardKey, string];
  summary: string;
  description: string;
  noData?: AlertRuleV1['noDataState'];
  labels?: Record<string, string>;
}

function rule(profile: ModelProfile, draft: RuleDraft): AlertRuleV1 {
  const [dashboard, panel] = draft.panel;
  const { uid, panels } = DASHBOARDS[dashboard];
  return {
    uid: ruleUid(draft.code, profile.model),
    title: `${profile.model}: ${draft.title}`,
    condition: draft.condition,
    data: draft.data,
    dashboardUid: uid,
    panelId: (panels as Record<string, number>)[panel],
    noDataState: draft.noData ?? 'OK',
    execErrState: 'Error',
    for: draft.for,
    annotations: { summary: draft.summary, description: draft.description, runbook_url: runbookUrl(draft.kind) },
    labels: { monitor: 'mlmon', model: profile.model, kind: draft.kind, severity: draft.severity, ...draft.labels },
    isPaused: false,
  };
}

/**
 * A rule on the backend's level of `query` over the window: `level` (alertOn level) reduced and tested by
 * `evaluator` as the condition, `value` (the metric) reduced for the templates, then `extra` queries.
 */
function levelRule(
  profile: ModelProfile,
  query: Record<string, unknown>,
  windowSeconds: number,
  evaluator: Evaluator,
  draft: Omit<RuleDraft, 'data' | 'condition'>,
  extra: AlertQueryV1[] = []
): AlertRuleV1 {
  return rule(profile, {
    ...draft,
    data: [
      ...reduced('level', { ...query, alertOn: 'level' }, windowSeconds),
      threshold('firing', 'level_now', evaluator),
      ...reduced('value', query, windowSeconds),
      ...extra,
    ],
    condition: 'firing',
  });
}

/** `{{ printf "%.3g" $values.<ref>.Value }}`: a reduced number of the rule in a summary. */
const number = (ref: string, format = '%.3g') => `{{ printf "${format}" $values.${ref}.Value }}`;
const percent = (ref: string) => `{{ humanizePercentage $values.${ref}.Value }}`;
const pct = (fraction: number) => `${Number((fraction * 100).toPrecision(3))} %`;

function featureDrift(profile: ModelProfile, severity: 'warning' | 'critical'): AlertRuleV1 {
  const drift = { queryType: 'drift', model: profile.model, metric: 'psi' };
  const limit = severity === 'warning' ? profile.thresholds.psiWarning : profile.thresholds.psiCritical;
  return levelRule(
    profile,
    drift,
    DAY_S,
    levelIs(severity),
    {
      code: `drift-${severity.slice(0, 4)}`,
      kind: 'feature_drift',
      title: `feature drift ${severity}`,
      severity,
      for: '1h',
      panel: ['featureDrift', 'driftOverTime'],
      summary:
        `{{ $labels.model }}: feature {{ $labels.feature }} drifted, {{ $labels.metric }} ${number('value_now')} ` +
        `(noise floor ${number('floor_now')})`,
      description:
        `Over the last 24 hours, {{ $labels.feature }} of model {{ $labels.model }} is at {{ $labels.metric }} ` +
        `${number('value_now', '%.4g')} against the baseline: at or above the ${severity} threshold ${limit} and ` +
        `above the noise floor ${number('floor_now', '%.4g')} for the rows compared.`,
    },
    reduced('floor', { ...drift, alertOn: 'noise_floor' }, DAY_S)
  );
}

function retrain(profile: ModelProfile): AlertRuleV1 {
  const daily = { queryType: 'prediction_drift', model: profile.model, metric: 'psi', bucket: '1d' };
  return rule(profile, {
    code: 'retrain',
    kind: 'retrain',
    title: 'prediction drift for three days, retrain',
    severity: 'warning',
    data: [
      ...reduced('level', { ...daily, persistence: 3, alertOn: 'level' }, 3 * DAY_S),
      threshold('firing', 'level_now', { type: 'gt', params: [1.5] }),
      ...reduced('value', daily, 3 * DAY_S),
      ...reduced('floor', { ...daily, alertOn: 'noise_floor' }, 3 * DAY_S),
    ],
    condition: 'firing',
    for: '0s',
    panel: ['modelHealth', 'predictionDrift'],
    labels: { action: 'retrain' },
    summary:
      `{{ $labels.model }}: predictions drifted for three days (today {{ $labels.metric }} ${number('value_now')}, ` +
      `noise floor ${number('floor_now')}); retraining requested`,
    description:
      'The output distribution of model {{ $labels.model }} has been at warning or above (and above its noise floor) ' +
      `in each of the last three daily buckets; the last day's {{ $labels.metric }} is ${number('value_now', '%.4g')} ` +
      `against a noise floor of ${number('floor_now', '%.4g')}. The retraining webhook receives this alert.`,
  });
}

const QUALITY_RULES: Array<{ metric: QualityMetric; code: string; what: string; panel: string }> = [
  { metric: 'null_rate', code: 'nulls', what: 'null values', panel: 'nullRate' },
  { metric: 'out_of_range_rate', code: 'range', what: "values outside the baseline's range", panel: 'outOfRange' },
  {
    metric: 'unseen_category_rate',
    code: 'unseen',
    what: 'categories the baseline never saw',
    panel: 'unseenCategory',
  },
  { metric: 'type_error_rate', code: 'types', what: 'values of the wrong type', panel: 'typeErrors' },
];

function dataQuality(profile: ModelProfile, spec: (typeof QUALITY_RULES)[number]): AlertRuleV1 {
  const quality = { queryType: 'quality', model: profile.model, metric: spec.metric };
  return levelRule(
    profile,
    quality,
    HOUR_S,
    { type: 'gt', params: [1.5] },
    {
      code: spec.code,
      kind: 'data_quality',
      title: `data quality, ${spec.metric.replace(/_/g, ' ')}`,
      severity: 'warning',
      for: '0s',
      panel: ['dataQualityOps', spec.panel],
      summary: `{{ $labels.model }}: {{ $labels.feature }} has ${percent('value_now')} ${spec.what} in the last hour`,
      description:
        `${percent('value_now')} of the values of feature {{ $labels.feature }} of model {{ $labels.model }} in the ` +
        `last hour were ${spec.what} ({{ $labels.metric }}); the limit is ${pct(profile.thresholds.qualityRate)}.`,
    }
  );
}

function latency(profile: ModelProfile, severity: 'warning' | 'critical'): AlertRuleV1 {
  const limit = profile.thresholds.latencyP95Ms * (severity === 'critical' ? 2 : 1);
  const p95 = { queryType: 'operational', model: profile.model, metric: 'latency_p95' };
  return levelRule(profile, p95, HOUR_S, levelIs(severity), {
    code: `p95-${severity.slice(0, 4)}`,
    kind: 'latency',
    title: `latency p95 ${severity}`,
    severity,
    for: '30m',
    panel: ['dataQualityOps', 'latency'],
    summary: `{{ $labels.model }}: latency p95 ${number('value_now', '%.0f')} ms over the last hour`,
    description:
      `The 95th percentile of the prediction latency of model {{ $labels.model }} over the last hour is ` +
      `${number('value_now', '%.1f')} ms, above ${limit} ms.`,
  });
}

function errorRate(profile: ModelProfile, severity: 'warning' | 'critical'): AlertRuleV1 {
  const limit = profile.thresholds.errorRate * (severity === 'critical' ? 2 : 1);
  const errors = { queryType: 'operational', model: profile.model, metric: 'error_rate' };
  return levelRule(profile, errors, DAY_S, levelIs(severity), {
    code: `errors-${severity.slice(0, 4)}`,
    kind: 'error_rate',
    title: `error rate ${severity}`,
    severity,
    for: '30m',
    panel: ['dataQualityOps', 'errorRate'],
    summary: `{{ $labels.model }}: ${percent('value_now')} of the requests failed in the last 24 hours`,
    description:
      `${percent('value_now')} of the requests of model {{ $labels.model }} in the last 24 hours failed, above ` +
      `${pct(limit)}.`,
  });
}

function throughput(profile: ModelProfile): AlertRuleV1 {
  const sla = profile.minThroughputPerSecond;
  // No data fires the rule too, and then there is no value to print.
  const served = '{{ with $values.value_now }}{{ printf "%.3g" .Value }} requests/s{{ else }}no requests{{ end }}';
  return rule(profile, {
    code: 'sla',
    kind: 'throughput',
    title: 'throughput below SLA',
    severity: 'critical',
    data: [
      ...reduced('value', { queryType: 'operational', model: profile.model, metric: 'throughput' }, HOUR_S),
      threshold('firing', 'value_now', { type: 'lt', params: [sla] }),
    ],
    condition: 'firing',
    for: '30m',
    noData: 'Alerting',
    panel: ['dataQualityOps', 'throughput'],
    summary: `{{ $labels.model }}: throughput below the SLA (${served}) over the last hour`,
    description:
      `Model {{ $labels.model }} served ${served} over the last hour; its ` +
      `SLA is at least ${Number(sla.toPrecision(4))} per second (${Number((sla * 60).toPrecision(4))} a minute). ` +
      'No data at all counts as a breach.',
  });
}

/** The performance window: the 24 hours that ended when the labels of their last prediction had surely arrived. */
function labelledDay(profile: ModelProfile): [number, number] {
  return [DAY_S, profile.labelDelaySeconds];
}

/** Share of a day's predictions that must have labels before its score counts. */
export const MIN_LABEL_COVERAGE = 0.5;

function performance(profile: ModelProfile, severity: 'warning' | 'critical'): AlertRuleV1 {
  const score = { queryType: 'performance', model: profile.model };
  const [window, endsAgo] = labelledDay(profile);
  const drop = profile.thresholds.accuracyDrop * (severity === 'critical' ? 2 : 1);
  const level = severity === 'warning' ? '$level_now > 1.5 && $level_now < 2.5' : '$level_now > 2.5';
  return rule(profile, {
    code: `perf-${severity.slice(0, 4)}`,
    kind: 'performance',
    title: `performance below baseline ${severity}`,
    severity,
    data: [
      ...reduced('level', { ...score, alertOn: 'level' }, window, endsAgo),
      ...reduced('coverage', { ...score, metric: 'label_coverage' }, window, endsAgo),
      math('firing', `${level} && $coverage_now >= ${MIN_LABEL_COVERAGE}`),
      ...reduced('value', score, window, endsAgo),
    ],
    condition: 'firing',
    for: '0s',
    panel: ['modelHealth', 'performance'],
    summary: `{{ $labels.model }}: {{ $labels.metric }} ${number('value_now', '%.4g')} is worse than the baseline`,
    description:
      `On the last fully labelled day, model {{ $labels.model }} scored {{ $labels.metric }} ` +
      `${number('value_now', '%.4g')}, more than ${pct(drop)} worse than its baseline's validation score, with at ` +
      `least ${pct(MIN_LABEL_COVERAGE)} of the predictions labelled.`,
  });
}

function labelCoverage(profile: ModelProfile): AlertRuleV1 {
  const [window, endsAgo] = labelledDay(profile);
  return rule(profile, {
    code: 'labels',
    kind: 'label_coverage',
    title: 'labels missing',
    severity: 'info',
    data: [
      ...reduced(
        'coverage',
        { queryType: 'performance', model: profile.model, metric: 'label_coverage' },
        window,
        endsAgo
      ),
      threshold('firing', 'coverage_now', { type: 'lt', params: [MIN_LABEL_COVERAGE] }),
    ],
    condition: 'firing',
    for: '6h',
    panel: ['modelHealth', 'coverage'],
    summary: `{{ $labels.model }}: only ${percent('coverage_now')} of the predictions have labels`,
    description:
      `Only ${percent('coverage_now')} of the predictions of model {{ $labels.model }} on the day the performance ` +
      `rules score have a label (${pct(MIN_LABEL_COVERAGE)} needed): performance cannot be judged.`,
  });
}

/** The rule groups of one model: drift, data quality, operations, performance (module comment). */
export function modelRuleGroups(profile: ModelProfile): RuleGroupV1[] {
  const group = (name: string, interval: string, rules: AlertRuleV1[]): RuleGroupV1 => ({
    orgId: 1,
    name: `${profile.model} ${name}`,
    folder: FOLDER.title,
    interval,
    rules,
  });
  return [
    group('drift', '1h', [featureDrift(profile, 'warning'), featureDrift(profile, 'critical'), retrain(profile)]),
    group(
      'data quality',
      '1h',
      QUALITY_RULES.map((spec) => dataQuality(profile, spec))
    ),
    group('operations', '30m', [
      latency(profile, 'warning'),
      latency(profile, 'critical'),
      errorRate(profile, 'warning'),
      errorRate(profile, 'critical'),
      throughput(profile),
    ]),
    group('performance', '6h', [
      performance(profile, 'warning'),
      performance(profile, 'critical'),
      labelCoverage(profile),
    ]),
  ];
}

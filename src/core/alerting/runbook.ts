/**
 * What each kind of provisioned alert rule means and what to do about it: the app's Runbook page shows these entries,
 * and every rule's `runbook_url` points at its entry (`/a/mlmon-modelmonitor-app/runbook#<kind>`).
 *
 * Isomorphic: no Node, React or Grafana imports.
 */

export const RULE_KINDS = [
  'feature_drift',
  'retrain',
  'data_quality',
  'latency',
  'error_rate',
  'performance',
  'label_coverage',
  'throughput',
] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

export interface RunbookEntry {
  title: string;
  /** What fired. */
  meaning: string;
  /** Where to look first. */
  check: string[];
  /** What to do. */
  act: string[];
}

export const RUNBOOK: Record<RuleKind, RunbookEntry> = {
  feature_drift: {
    title: 'Feature drift',
    meaning:
      "A feature's distribution over the last 24 hours differs from the model's baseline by more than the warning " +
      '(or critical) threshold of its drift metric, and by more than the noise floor for the rows at hand, for two ' +
      'evaluations in a row.',
    check: [
      'Feature drift dashboard: the heatmap cell and the distribution overlay of the feature show where the mass moved.',
      'Data quality and operations dashboard: nulls, out-of-range values or a schema change often cause "drift".',
      'Model health: whether prediction drift or accuracy moved with it.',
    ],
    act: [
      'A pipeline bug: fix the producer; the alert resolves once a clean day is in the window.',
      'A real change of the population: plan retraining on recent data; once a new model version is live, store its baseline with `mlmon baseline --version`.',
      'An expected, harmless change: record a new baseline for the version so that it is the new reference.',
    ],
  },
  retrain: {
    title: 'Persistent prediction drift: retraining requested',
    meaning:
      "The model's output distribution has been at warning or above in three consecutive daily buckets. The rule is " +
      'labelled action=retrain, so the notification policy also sends it to the retraining webhook, which runs the ' +
      'configured retraining command once per alert and records a "Retraining requested" annotation.',
    check: [
      'The "Retraining requested" annotation on the dashboards, and the retrain hook\'s log and request file.',
      'Feature drift dashboard: the drift ranking names the features behind the shift.',
    ],
    act: [
      'Review the retraining job the hook started (or start it from the request file).',
      "After deploying the retrained version, store its baseline (`mlmon baseline --version <new>`); the rule resolves when the new version's outputs match it.",
    ],
  },
  data_quality: {
    title: 'Data quality',
    meaning:
      "More than the configured share (default 2 %) of one feature's values in the last hour were null, outside the " +
      "baseline's range, an unseen category, or of the wrong type.",
    check: [
      'Data quality and operations dashboard: which rate, since when, and whether a schema change happened.',
      'The producer of the feature (feature store, upstream service) for failures or a release at that time.',
    ],
    act: [
      'Fix the producer; rows already logged keep their values, so drift of that period is distorted too.',
      'A new category that is legitimate: retrain, or record a baseline that includes it.',
    ],
  },
  latency: {
    title: 'Latency',
    meaning:
      'The 95th percentile of prediction latency over the last hour is above the configured limit (default 200 ms; ' +
      'critical at twice that), with at least 30 requests in the hour.',
    check: ['Data quality and operations dashboard: latency percentiles, throughput and errors at the same time.'],
    act: ['Scale the model server or roll back a slow release; check the feature store and other dependencies.'],
  },
  error_rate: {
    title: 'Error rate',
    meaning:
      'More than the configured share (default 0.5 %; critical at twice that) of the requests of the last 24 hours ' +
      'failed.',
    check: ['Data quality and operations dashboard: when the errors started; the error messages in the log.'],
    act: ['Fix the failing dependency or roll back; errors are not scored, so they also thin out drift and accuracy.'],
  },
  performance: {
    title: 'Model performance below the baseline',
    meaning:
      "Accuracy (classifiers) or MAE (regressors) over the last fully labelled day is worse than the baseline's " +
      'validation score by more than the configured share (default 5 %; critical at twice that), and at least half ' +
      "of that day's predictions have their labels.",
    check: [
      'Model health dashboard: the score against the baseline and the label coverage.',
      'Feature drift dashboard: drifting features that the model extrapolates on.',
    ],
    act: ['Retrain on recent labelled data; until then consider a fallback model or a tighter decision threshold.'],
  },
  label_coverage: {
    title: 'Labels missing',
    meaning:
      'Fewer than half of the predictions of the day the performance rules score have a label: performance cannot be ' +
      'judged. Informational: not sent anywhere.',
    check: ['The label pipeline (`POST /api/v1/models/<model>/labels` or `mlmon ingest --labels`).'],
    act: ['Restore the label feed; the performance rules pick up the day once its labels arrive.'],
  },
  throughput: {
    title: 'Throughput below the SLA',
    meaning:
      'The model served fewer requests per second over the last hour than the service level set for it (or none at ' +
      'all: no data counts as a breach).',
    check: [
      'Whether clients still reach the model (load balancer, client errors), and whether the collector receives logs (its /healthz).',
    ],
    act: ['Restore the traffic path or the logging path; a broken logging path also blinds every other rule.'],
  },
};

/** The app page of the runbook, and the anchor of a kind on it. */
export const RUNBOOK_PATH = '/a/mlmon-modelmonitor-app/runbook';
export function runbookUrl(kind: RuleKind): string {
  return `${RUNBOOK_PATH}#${kind}`;
}

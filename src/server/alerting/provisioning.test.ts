/**
 * The alerting setup: the committed provisioning/alerting/ files are what the generator makes, the rules are
 * well-formed for Grafana (uids, titles, expressions wired to existing refIds, queries the backend's own parser
 * accepts, the panel each rule links to runs the same query), and the routing sends each severity where the
 * README says. Conformance (conformance/rules_test.go) parses the files with Grafana's YAML library against the
 * documented schema and evaluates every rule against the real backend.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DASHBOARDS } from '../../core/alerting/dashboards';
import { RULE_KINDS, RUNBOOK, runbookUrl } from '../../core/alerting/runbook';
import { parseQuery } from '../../core/query/queryTypes';
import { demoProfiles } from './profiles';
import { provisioningFiles } from './provisioning';
import {
  ALWAYS_MUTED,
  CONTACT_POINTS,
  contactPoints,
  ENV_REFERENCES,
  muteTimings,
  policyTree,
  type RouteV1,
} from './routing';
import { modelRuleGroups, ruleUid, type AlertQueryV1, type AlertRuleV1 } from './rules';
import { toYaml } from './yaml';

const ROOT = join(__dirname, '..', '..', '..');
const rules = demoProfiles().flatMap((profile) => modelRuleGroups(profile).flatMap((group) => group.rules));

/** The refIds an expression reads. */
function inputs(query: AlertQueryV1): string[] {
  const model = query.model as { type: string; expression: string };
  return model.type === 'math' ? [...model.expression.matchAll(/\$(\w+)/g)].map((m) => m[1]) : [model.expression];
}

describe('provisioning/alerting', () => {
  it('holds exactly the files the generator writes (run `npm run alerting:generate` after a change)', () => {
    const files = provisioningFiles();
    const dir = join(ROOT, 'provisioning', 'alerting');
    expect(readdirSync(dir).sort()).toEqual(Object.keys(files).sort());
    for (const [name, text] of Object.entries(files)) {
      expect(readFileSync(join(dir, name), 'utf8')).toBe(text);
    }
  });
});

describe('alert rules', () => {
  it('have unique uids Grafana accepts and unique titles', () => {
    const uids = rules.map((rule) => rule.uid);
    expect(new Set(uids).size).toBe(uids.length);
    uids.forEach((uid) => expect(uid).toMatch(/^[A-Za-z0-9_-]{1,40}$/));
    const titles = rules.map((rule) => rule.title);
    expect(new Set(titles).size).toBe(titles.length);
    titles.forEach((title) => expect(title.length).toBeLessThanOrEqual(190));
  });

  it('cut a long model name into a 40-character uid that still tells models apart', () => {
    const long = 'm'.repeat(60);
    expect(ruleUid('drift-warn', long)).toHaveLength(40);
    expect(ruleUid('drift-warn', long)).not.toBe(ruleUid('drift-warn', long + 'x'));
  });

  it.each(rules.map((rule) => [rule.title, rule] as const))('%s: queries and expressions are wired', (_, rule) => {
    const refIds = rule.data.map((query) => query.refId);
    expect(new Set(refIds).size).toBe(refIds.length);
    expect(refIds).toContain(rule.condition);
    for (const query of rule.data) {
      expect(query.model.refId).toBe(query.refId);
      if (query.datasourceUid === '__expr__') {
        expect(['reduce', 'threshold', 'math']).toContain(query.model.type);
        inputs(query).forEach((input) => expect(refIds.slice(0, refIds.indexOf(query.refId))).toContain(input));
      } else {
        // What the backend will parse: the model Grafana sends, minus its own keys.
        expect(() => parseQuery(query.model)).not.toThrow();
        expect(query.model).toMatchObject({ intervalMs: 1000, maxDataPoints: 43200 });
        // No bucket: ONE bucket over the rule's range; only the retrain rule asks for daily buckets.
        expect(query.model.bucket === undefined || rule.labels.kind === 'retrain').toBe(true);
        const { from, to } = query.relativeTimeRange!;
        expect(from).toBeGreaterThan(to);
      }
    }
  });

  it('carry a severity, the model, a summary and description naming model and value, and their runbook', () => {
    for (const rule of rules) {
      expect(['info', 'warning', 'critical']).toContain(rule.labels.severity);
      expect(rule.labels.monitor).toBe('mlmon');
      expect(RULE_KINDS).toContain(rule.labels.kind);
      expect(rule.annotations.runbook_url).toBe(runbookUrl(rule.labels.kind as (typeof RULE_KINDS)[number]));
      expect(rule.annotations.summary).toContain('{{ $labels.model }}');
      expect(rule.annotations.description).toMatch(/\$labels\.model|Model \{\{/);
      expect(`${rule.annotations.summary} ${rule.annotations.description}`).toMatch(/\$values\.\w+_now/);
      // Annotations are not read for environment variables except ${NAME}: none may hold one.
      expect(JSON.stringify(rule.annotations)).not.toContain('${');
      // Labels are: no $ at all.
      expect(JSON.stringify(rule.labels)).not.toContain('$');
      expect(rule.for).toMatch(/^\d+[smh]$/);
      expect(['OK', 'Alerting']).toContain(rule.noDataState);
      expect(rule.execErrState).toBe('Error');
    }
    for (const rule of rules.filter((r) => r.labels.kind === 'feature_drift')) {
      expect(rule.annotations.summary).toContain('{{ $labels.feature }}');
      expect(rule.annotations.summary).toContain('noise floor');
    }
    expect(rules.filter((rule) => rule.labels.action === 'retrain').map((rule) => rule.uid)).toEqual([
      'mlmon-retrain-credit_risk',
      'mlmon-retrain-delivery_time',
    ]);
  });

  it('belong to a panel of a bundled dashboard that runs the same query', () => {
    for (const rule of rules) {
      const bundled = Object.values(DASHBOARDS).find((d) => d.uid === rule.dashboardUid)!;
      const dashboard = JSON.parse(readFileSync(join(ROOT, 'src', 'dashboards', bundled.file), 'utf8'));
      const panel = dashboard.panels.find((p: { id: number }) => p.id === rule.panelId);
      expect(panel).toBeDefined();
      const conditionQuery = rule.data.find((q) => q.datasourceUid !== '__expr__')!.model;
      const runs = panel.targets.some(
        (t: { queryType: string; metric?: string }) =>
          t.queryType === conditionQuery.queryType &&
          (conditionQuery.metric === undefined || t.metric === conditionQuery.metric || t.metric === undefined)
      );
      expect(runs).toBe(true);
    }
  });

  it('have a runbook entry for every kind', () => {
    for (const kind of RULE_KINDS) {
      expect(RUNBOOK[kind].check.length + RUNBOOK[kind].act.length).toBeGreaterThan(1);
      expect(rules.some((rule) => rule.labels.kind === kind)).toBe(true);
    }
  });
});

/** The receiver of the first route under `route` whose matchers all hold (Alertmanager's walk, without continue). */
function receiverOf(route: RouteV1, labels: Record<string, string>): { receiver: string; muted: boolean } {
  for (const child of route.routes ?? []) {
    const matches = (child.object_matchers ?? []).every(([name, op, value]) => {
      const actual = labels[name] ?? '';
      const regex = new RegExp(`^(?:${value})$`);
      return op === '='
        ? actual === value
        : op === '!='
          ? actual !== value
          : op === '=~'
            ? regex.test(actual)
            : !regex.test(actual);
    });
    if (matches) {
      const inner = receiverOf(child, labels);
      return {
        receiver: inner.receiver || child.receiver!,
        muted: inner.muted || (child.mute_time_intervals ?? []).length > 0,
      };
    }
  }
  return { receiver: '', muted: false };
}

describe('notification policy', () => {
  const tree = policyTree();
  const route = (labels: Record<string, string>) =>
    receiverOf(tree, { monitor: 'mlmon', model: 'credit_risk', ...labels });

  it('pages on critical only, sends warnings to chat and keeps info silent', () => {
    expect(route({ severity: 'critical' })).toEqual({ receiver: CONTACT_POINTS.pager, muted: false });
    expect(route({ severity: 'warning' })).toEqual({ receiver: CONTACT_POINTS.chat, muted: false });
    expect(route({ severity: 'info' })).toEqual({ receiver: CONTACT_POINTS.chat, muted: true });
    expect(route({ severity: 'critical', alertname: 'DatasourceError' })).toEqual({
      receiver: CONTACT_POINTS.chat,
      muted: false,
    });
    expect(muteTimings()[0].name).toBe(ALWAYS_MUTED);
  });

  it('sends action=retrain to the retraining webhook and on to the severity routes, grouped by model', () => {
    const monitor = tree.routes![0];
    expect(monitor.group_by).toEqual(['model']);
    const retrain = monitor.routes![0];
    expect(retrain).toMatchObject({
      receiver: CONTACT_POINTS.retrain,
      object_matchers: [['action', '=', 'retrain']],
      continue: true,
    });
    expect(route({ severity: 'warning', action: 'retrain' }).receiver).toBe(CONTACT_POINTS.retrain);
  });

  it('routes only to contact points it provisions, whose settings come from the environment', () => {
    const names = contactPoints(ENV_REFERENCES).map((point) => point.name);
    const receivers = (r: RouteV1): string[] =>
      [r.receiver ?? '', ...(r.routes ?? []).flatMap(receivers)].filter(Boolean);
    receivers(tree).forEach((receiver) => expect(names).toContain(receiver));
    const retrain = contactPoints(ENV_REFERENCES).find((point) => point.name === CONTACT_POINTS.retrain)!.receivers[0];
    expect(retrain.settings).toMatchObject({
      url: '$MLMON_RETRAIN_HOOK_URL',
      authorization_scheme: 'Bearer',
      authorization_credentials: '$MLMON_RETRAIN_HOOK_SECRET',
    });
  });
});

describe('YAML writer', () => {
  it('quotes what would read as another type, keeps templates intact and writes flow lists of scalars', () => {
    const text = toYaml({
      a: { yes: 'no', n: '1.5', t: 'true', d: '2024-01-01', hash: 'a #b', colon: 'a: b', plain: 'credit_risk drift' },
      list: ['=', '=~', 'x,y'],
      template: '{{ $labels.model }}: "quoted"',
      block: 'line one\nline two\n',
      empty: [],
      nested: [{ k: 1 }, [1, 2]],
    });
    expect(text).toBe(
      [
        'a:',
        '  "yes": "no"',
        '  "n": "1.5"',
        '  t: "true"',
        '  d: "2024-01-01"',
        '  hash: "a #b"',
        '  colon: "a: b"',
        '  plain: credit_risk drift',
        '',
        'list: ["=", "=~", "x,y"]',
        '',
        'template: "{{ $labels.model }}: \\"quoted\\""',
        '',
        'block: |',
        '  line one',
        '  line two',
        '',
        'empty: []',
        '',
        'nested:',
        '  - k: 1',
        '  - [1, 2]',
        '',
      ].join('\n')
    );
  });

  it('refuses numbers YAML cannot hold', () => {
    expect(() => toYaml({ x: Number.NaN })).toThrow('cannot be written');
  });

  it('writes every rule of the demo as text that keeps its templates (no raw line breaks in quoted strings)', () => {
    const rule: AlertRuleV1 = rules[0];
    const text = toYaml({ rule: rule as never });
    expect(text).toContain(JSON.stringify(rule.annotations.summary));
  });
});

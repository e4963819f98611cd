/**
 * The bundled dashboards for each audience, built from typed definitions (Grafana's own dashboard types from
 * @grafana/schema, so that a field Grafana does not know fails the typecheck). `npm run dashboards:generate` writes
 * them to src/dashboards/ (the app's plugin.json includes them; Grafana imports them when the app is enabled), and
 * src/server/dashboards/dashboards.test.ts checks that the committed files are what this module builds.
 *
 * - Model health (stakeholders): drift status, the score against the baseline with label coverage, latency,
 *   throughput against the SLA, error rate, top drifting features, the model's firing alerts, prediction drift.
 * - Feature drift (analysts): variables model, version, baseline, feature, segment; the severity heatmap (a cell
 *   opens this dashboard on that feature and bucket); distribution overlay; drift over time with threshold bands and
 *   the noise floor; prediction drift; ranking.
 * - Data quality and operations (platform engineers): the four quality rates, schema changes, latency percentiles,
 *   error rate, throughput.
 *
 * Panel ids are the ones of DASHBOARDS (src/core/alerting/dashboards.ts), which the alert rules link to. Live panels
 * (src/core/query/live.ts): the service panels, the quality rates and drift over `$bucket` stream while the range ends
 * now (`live: true`); the stakeholders' prediction drift per day does not (`live: false`: a day's value moving every
 * second is no news to them).
 */
import {
  FieldColorModeId,
  MappingType,
  ThresholdsMode,
  type Dashboard,
  type Panel,
  type VariableModel,
} from '@grafana/schema';
import { DASHBOARDS, type DashboardKey } from '../../core/alerting/dashboards';

const DATASOURCE = { type: 'mlmon-modelmonitor-datasource', uid: '${datasource}' };
/** The throughput SLA line of the dashboards: the demo models' (one request a minute), in requests per second. */
export const SLA_LINE = 1 / 60;

type Target = Record<string, unknown>;
/** Grid position `[x, y, w, h]` on Grafana's 24 columns. */
type At = [number, number, number, number];

/** A query of the panel: the datasource reference and the query model. */
function target(refId: string, query: Target): Target {
  return { refId, datasource: DATASOURCE, model: '$model', ...query };
}

/** A panel at `[x, y, w, h]` (24 columns) with queries on the Model Monitor datasource. */
function panel(
  key: DashboardKey,
  name: string,
  type: string,
  title: string,
  [x, y, w, h]: At,
  targets: Target[],
  rest: Partial<Panel> = {}
): Panel {
  return {
    id: (DASHBOARDS[key].panels as Record<string, number>)[name],
    type,
    title,
    gridPos: { x, y, w, h },
    ...(targets.length
      ? { datasource: DATASOURCE, targets: targets.map((t, i) => target(String.fromCharCode(65 + i), t)) }
      : {}),
    ...rest,
  };
}

/** Time series with the thresholds the backend puts in the frames (or `steps`) drawn as `style`. */
function timeseries(
  unit: string,
  style: 'dashed' | 'line+area' = 'dashed',
  steps?: Array<[number | null, string]>
): Partial<Panel> {
  return {
    fieldConfig: {
      defaults: {
        unit,
        custom: { drawStyle: 'line', lineWidth: 2, fillOpacity: 6, spanNulls: false, thresholdsStyle: { mode: style } },
        ...(steps
          ? { thresholds: { mode: ThresholdsMode.Absolute, steps: steps.map(([value, color]) => ({ value, color })) } }
          : {}),
      },
      overrides: [],
    },
    options: {
      legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
  };
}

/**
 * A performance series estimated before labels arrive (`estimate: true`): the estimate as a line, its 95 % band
 * filled between `upper` and `lower`, the realized value as points where labels arrived; the other numbers hidden.
 */
export function estimatedPerformance(description: string): Partial<Panel> {
  const band = (name: string) => ({
    matcher: { id: 'byName', options: name },
    properties: [
      { id: 'custom.lineWidth', value: 0 },
      { id: 'custom.hideFrom', value: { viz: false, legend: true, tooltip: false } },
      ...(name === 'upper'
        ? [
            { id: 'custom.fillBelowTo', value: 'lower' },
            { id: 'custom.fillOpacity', value: 20 },
          ]
        : []),
    ],
  });
  return {
    description,
    fieldConfig: {
      defaults: {
        unit: 'percentunit',
        custom: {
          drawStyle: 'line',
          lineWidth: 2,
          fillOpacity: 0,
          spanNulls: false,
          thresholdsStyle: { mode: 'dashed' },
        },
      },
      overrides: [
        { matcher: { id: 'byName', options: 'value' }, properties: [{ id: 'displayName', value: 'estimated' }] },
        band('upper'),
        band('lower'),
        {
          matcher: { id: 'byName', options: 'realized' },
          properties: [
            { id: 'displayName', value: 'realized' },
            { id: 'custom.drawStyle', value: 'points' },
            { id: 'custom.pointSize', value: 7 },
          ],
        },
        ...hide(['level', 'change', 'coverage', 'labelled']),
      ],
    },
    options: {
      legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
      tooltip: { mode: 'multi', sort: 'none' },
    },
  };
}

/** What the estimated-performance panels say. */
export const ESTIMATED_DESCRIPTION =
  'Accuracy estimated from the calibrated scores before labels arrive (CBPE), with its 95 % band; dots: the ' +
  'realized accuracy where labels have arrived. Binary classifiers whose baseline was built with --score and ' +
  '--label (a regressor gets an error saying so); a notice says when the realized values leave the band.';

/** Hides the named number fields of a series from the graph, axes included (they stay in the tooltip's data). */
function hide(names: string[]) {
  return names.map((name) => ({
    matcher: { id: 'byName', options: name },
    properties: [
      { id: 'custom.hideFrom', value: { viz: true, legend: true, tooltip: false } },
      { id: 'custom.axisPlacement', value: 'hidden' },
    ],
  }));
}

const LEVEL_MAPPINGS = [
  {
    type: MappingType.ValueToText as const,
    options: {
      '0': { text: 'OK', color: 'green', index: 0 },
      '1': { text: 'Info', color: 'blue', index: 1 },
      '2': { text: 'Warning', color: 'orange', index: 2 },
      '3': { text: 'Critical', color: 'red', index: 3 },
    },
  },
];

const datasourceVariable: VariableModel = {
  name: 'datasource',
  label: 'Datasource',
  type: 'datasource',
  query: 'mlmon-modelmonitor-datasource',
  hide: 0,
  refresh: 1,
};

/** A variable filled by a metadata query of the datasource. */
function queryVariable(name: string, label: string, query: Target, extra: Partial<VariableModel> = {}): VariableModel {
  return {
    name,
    label,
    type: 'query',
    datasource: DATASOURCE,
    query: { refId: 'A', ...query },
    refresh: 1,
    sort: 1,
    hide: 0,
    multi: false,
    includeAll: false,
    ...extra,
  };
}

/** A free-text variable; empty means "not set" (latest baseline, no segment). */
function textVariable(name: string, label: string, description: string): VariableModel {
  return { name, label, description, type: 'textbox', query: '', current: { text: '', value: '' }, hide: 0 };
}

const modelVariable = queryVariable('model', 'Model', { queryType: 'models' });
const bucketVariable: VariableModel = {
  name: 'bucket',
  label: 'Bucket',
  type: 'custom',
  query: '1h,6h,1d',
  current: { text: '1d', value: '1d' },
  hide: 0,
  multi: false,
  includeAll: false,
};
/** All features by default: the "All" value is empty, which the datasource reads as every feature. */
const featureVariable = queryVariable(
  'feature',
  'Feature',
  { queryType: 'features', model: '$model' },
  { multi: true, includeAll: true, allValue: '', current: { text: 'All', value: '$__all' } }
);

/** Drift episodes, schema changes and retraining requests of the model (the `events` query). */
const EVENTS = {
  name: 'Drift, schema changes, retraining',
  datasource: DATASOURCE,
  enable: true,
  hide: false,
  iconColor: 'orange',
  target: { refId: 'Anno', queryType: 'events', model: '$model', metric: 'psi', bucket: '1d', minLevel: 'warning' },
};

function dashboard(key: DashboardKey, description: string, variables: VariableModel[], panels: Panel[]): Dashboard {
  const { uid, title } = DASHBOARDS[key];
  const others = (Object.keys(DASHBOARDS) as DashboardKey[]).filter((other) => other !== key);
  return {
    id: null,
    uid,
    title,
    description,
    tags: ['mlmon', 'model monitoring'],
    editable: true,
    graphTooltip: 1,
    schemaVersion: 41,
    version: 1,
    refresh: '',
    time: { from: 'now-7d', to: 'now' },
    timepicker: {},
    timezone: '',
    templating: { list: [datasourceVariable, modelVariable, ...variables] },
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
        EVENTS,
      ],
    },
    links: [
      {
        title: 'Models',
        type: 'link',
        url: '/a/mlmon-modelmonitor-app/models',
        icon: 'apps',
        tooltip: '',
        asDropdown: false,
        includeVars: false,
        keepTime: false,
        tags: [],
        targetBlank: false,
      },
      ...others.map((other) => ({
        title: DASHBOARDS[other].title,
        type: 'link' as const,
        url: `/d/${DASHBOARDS[other].uid}`,
        icon: 'dashboard',
        tooltip: `For ${DASHBOARDS[other].audience}`,
        asDropdown: false,
        includeVars: true,
        keepTime: true,
        tags: [],
        targetBlank: false,
      })),
    ],
    panels,
  };
}

/**
 * The service panels both the Model health and the Data quality and operations dashboards have: latency
 * percentiles, throughput against the SLA line, error rate, with buckets of `bucket`.
 */
function servicePanels(key: DashboardKey, bucket: string, latencies: string[], [latency, throughput, errors]: At[]) {
  const operational = (metric: string) => ({ queryType: 'operational', metric, bucket, live: true });
  return [
    panel(key, 'latency', 'timeseries', 'Latency percentiles', latency, latencies.map(operational), {
      description: 'Dashed lines: the p95 limit (default 200 ms) and twice it',
      ...timeseries('ms'),
    }),
    panel(key, 'throughput', 'timeseries', 'Throughput against the SLA', throughput, [operational('throughput')], {
      description:
        "Requests per second, scaled back by the sampling rate; red line: the demo models' SLA (one request a " +
        'minute), edit it for yours',
      ...timeseries('reqps', 'dashed', [
        [null, 'red'],
        [SLA_LINE, 'green'],
      ]),
    }),
    panel(key, 'errorRate', 'timeseries', 'Error rate', errors, [operational('error_rate')], timeseries('percentunit')),
  ];
}

function modelHealth(): Dashboard {
  const key = 'modelHealth';
  return dashboard(
    key,
    'Is the model healthy? Drift, quality of predictions against the baseline, service level and open alerts',
    [],
    [
      panel(key, 'status', 'stat', 'Drift status', [0, 0, 6, 8], [{ queryType: 'severity', metric: 'psi' }], {
        description: 'The worst drift level of any feature in the time range (the level needs the noise floor too)',
        fieldConfig: {
          defaults: {
            mappings: LEVEL_MAPPINGS,
            color: { mode: FieldColorModeId.Thresholds },
            thresholds: {
              mode: ThresholdsMode.Absolute,
              steps: [
                { value: null, color: 'green' },
                { value: 1, color: 'blue' },
                { value: 2, color: 'orange' },
                { value: 3, color: 'red' },
              ],
            },
          },
          overrides: [],
        },
        options: {
          reduceOptions: { calcs: ['max'], fields: '/^level$/', values: false },
          colorMode: 'background',
          graphMode: 'none',
          textMode: 'value',
        },
      }),
      panel(
        key,
        'performance',
        'timeseries',
        'Score against the baseline',
        [6, 0, 10, 8],
        [{ queryType: 'performance', bucket: '1d' }],
        {
          description:
            "Accuracy (classifiers) or MAE (regressors) per day of labelled predictions; dashed lines: the baseline's validation score less 5 % (warning) and 10 % (critical)",
          ...timeseries('none'),
        }
      ),
      panel(
        key,
        'coverage',
        'timeseries',
        'Label coverage',
        [16, 0, 8, 8],
        [{ queryType: 'performance', metric: 'label_coverage', bucket: '1d' }],
        {
          description: 'Share of the predictions whose labels have arrived; a day is scored from 30 labelled rows',
          ...timeseries('percentunit'),
        }
      ),
      ...servicePanels(
        key,
        '1h',
        ['latency_p95', 'latency_p99'],
        [
          [0, 8, 8, 7],
          [8, 8, 8, 7],
          [16, 8, 8, 7],
        ]
      ),
      panel(
        key,
        'topDrift',
        'barchart',
        'Top drifting features',
        [0, 15, 10, 9],
        [{ queryType: 'ranking', metric: 'psi' }],
        {
          description: "Features by drift over the range, with each one's share in the prediction drift",
          options: {
            orientation: 'horizontal',
            xField: 'feature',
            showValue: 'auto',
            legend: { showLegend: true, displayMode: 'list', placement: 'bottom' },
          },
        }
      ),
      panel(key, 'alerts', 'alertlist', 'Firing alerts of this model', [10, 15, 14, 9], [], {
        description: 'Grafana alert instances of the Model Monitor rules for the selected model',
        options: {
          viewMode: 'list',
          groupMode: 'default',
          groupBy: [],
          showInstances: true,
          maxItems: 20,
          sortOrder: 3,
          dashboardAlerts: false,
          alertName: '',
          alertInstanceLabelFilter: '{monitor="mlmon", model="$model"}',
          stateFilter: { firing: true, pending: true, noData: true, normal: false, error: true, recovering: true },
        },
      }),
      panel(
        key,
        'predictionDrift',
        'timeseries',
        'Prediction drift per day',
        [0, 24, 24, 7],
        [{ queryType: 'prediction_drift', metric: 'psi', bucket: '1d', live: false }],
        {
          description: 'Drift of the model output; three days at warning or above request retraining',
          ...timeseries('none', 'line+area'),
          fieldConfig: {
            defaults: {
              unit: 'none',
              custom: { drawStyle: 'bars', fillOpacity: 60, thresholdsStyle: { mode: 'line+area' } },
            },
            overrides: hide(['level', 'count']),
          },
        } as Partial<Panel>
      ),
      panel(
        key,
        'estimated',
        'timeseries',
        'Estimated performance before labels (CBPE)',
        [0, 31, 24, 8],
        [{ queryType: 'performance', estimate: true, bucket: '1d' }],
        estimatedPerformance(ESTIMATED_DESCRIPTION)
      ),
    ]
  );
}

function featureDrift(): Dashboard {
  const key = 'featureDrift';
  const scope = {
    version: '$version',
    baseline: '$baseline',
    segment: [{ column: '$segment_column', operator: '=', value: '$segment_value' }],
  };
  const drilldown =
    `/d/${DASHBOARDS.featureDrift.uid}?var-datasource=\${datasource}&var-model=\${__model}&var-feature=\${__feature}` +
    '&var-version=${version}&var-baseline=${baseline}&var-segment_column=${segment_column}' +
    '&var-segment_value=${segment_value}&var-bucket=${bucket}&from=${__from}&to=${__to}';
  return dashboard(
    key,
    'Which features moved, when, how, and how far above their noise floor',
    [
      queryVariable(
        'version',
        'Version',
        { queryType: 'versions', model: '$model' },
        { includeAll: true, allValue: '', current: { text: 'All', value: '$__all' } }
      ),
      textVariable('baseline', 'Baseline', 'Baseline version to compare with; empty: the newest baseline'),
      featureVariable,
      textVariable(
        'segment_column',
        'Segment column',
        'Compare only rows where this feature equals the segment value; empty: all rows'
      ),
      textVariable('segment_value', 'Segment value', 'Value of the segment column'),
      bucketVariable,
    ],
    [
      panel(
        key,
        'heatmap',
        'mlmon-severity-panel',
        'Drift severity by feature and bucket',
        [0, 0, 24, 9],
        [{ queryType: 'severity', metric: 'psi', bucket: '$bucket', features: ['$feature'], ...scope }],
        {
          description:
            'A level needs both the threshold and the noise floor. Click a cell: this dashboard on that feature and bucket',
          options: { sortBy: 'worst', showLegend: true, drilldownUrl: drilldown },
        }
      ),
      panel(
        key,
        'distribution',
        'mlmon-distribution-panel',
        'Distribution: baseline against the time range',
        [0, 9, 10, 10],
        [{ queryType: 'distribution', features: ['$feature'], ...scope }],
        {
          description:
            "Reference-decile bins (or categories) of the baseline against the range's rows; CDF mode shows the KS gap",
          options: { mode: 'histogram', barLayout: 'overlaid', feature: '', showReadouts: true },
        }
      ),
      panel(
        key,
        'driftOverTime',
        'timeseries',
        'Drift over time, with thresholds and noise floor',
        [10, 9, 14, 10],
        [{ queryType: 'drift', metric: 'psi', bucket: '$bucket', features: ['$feature'], live: true, ...scope }],
        {
          description:
            'PSI per bucket; shaded bands: warning and critical; the noise floor is what the same sample sizes reach without drift (α = 1 %)',
          ...timeseries('none', 'line+area'),
          fieldConfig: {
            defaults: {
              unit: 'none',
              custom: {
                drawStyle: 'line',
                lineWidth: 2,
                fillOpacity: 0,
                spanNulls: false,
                thresholdsStyle: { mode: 'line+area' },
              },
            },
            overrides: [
              ...hide(['level', 'count']),
              {
                matcher: { id: 'byName', options: 'noise_floor' },
                properties: [
                  { id: 'custom.lineStyle', value: { fill: 'dash', dash: [6, 6] } },
                  { id: 'custom.lineWidth', value: 1 },
                ],
              },
            ],
          },
        } as Partial<Panel>
      ),
      panel(
        key,
        'predictionDrift',
        'timeseries',
        'Prediction drift',
        [0, 19, 12, 8],
        [{ queryType: 'prediction_drift', metric: 'psi', bucket: '$bucket', live: true, ...scope }],
        {
          ...timeseries('none', 'line+area'),
          fieldConfig: {
            defaults: { unit: 'none', custom: { thresholdsStyle: { mode: 'line+area' } } },
            overrides: hide(['level', 'count']),
          },
        } as Partial<Panel>
      ),
      panel(
        key,
        'ranking',
        'barchart',
        'Drift ranking (root cause)',
        [12, 19, 12, 8],
        [{ queryType: 'ranking', metric: 'psi', version: '$version', baseline: '$baseline' }],
        {
          options: {
            orientation: 'horizontal',
            xField: 'feature',
            showValue: 'auto',
            legend: { showLegend: true, displayMode: 'list', placement: 'bottom' },
          },
        }
      ),
      panel(
        key,
        'dataProblems',
        'timeseries',
        'Data problems behind the drift?',
        [0, 27, 24, 7],
        ['null_rate', 'out_of_range_rate', 'unseen_category_rate'].map((metric) => ({
          queryType: 'quality',
          metric,
          bucket: '$bucket',
          features: ['$feature'],
          live: true,
          ...scope,
        })),
        {
          description:
            'Null, out-of-range and unseen-category rates of the selected features: a pipeline fault reads as drift too',
          ...timeseries('percentunit'),
        }
      ),
    ]
  );
}

function dataQualityOps(): Dashboard {
  const key = 'dataQualityOps';
  const quality = (metric: string) => [
    {
      queryType: 'quality',
      metric,
      bucket: '$bucket',
      features: ['$feature'],
      ...(metric === 'schema_changes' ? {} : { live: true }),
    },
  ];
  const rates = (name: string, title: string, metric: string, at: At) =>
    panel(key, name, 'timeseries', title, at, quality(metric), timeseries('percentunit'));
  return dashboard(
    key,
    'Is the data sound and the service up? Quality rates per feature, schema changes, latency, errors, throughput',
    [featureVariable, { ...bucketVariable, query: '1h,6h,1d', current: { text: '1h', value: '1h' } }],
    [
      rates('nullRate', 'Null rate', 'null_rate', [0, 0, 12, 8]),
      rates('outOfRange', "Out of the baseline's range", 'out_of_range_rate', [12, 0, 12, 8]),
      rates('unseenCategory', 'Unseen categories', 'unseen_category_rate', [0, 8, 12, 8]),
      rates('typeErrors', 'Type errors', 'type_error_rate', [12, 8, 12, 8]),
      panel(key, 'schemaChanges', 'timeseries', 'Schema changes', [0, 16, 24, 6], quality('schema_changes'), {
        ...timeseries('short'),
        fieldConfig: { defaults: { unit: 'short', custom: { drawStyle: 'bars', fillOpacity: 80 } }, overrides: [] },
      }),
      ...servicePanels(
        key,
        '$bucket',
        ['latency_p50', 'latency_p95', 'latency_p99'],
        [
          [0, 22, 8, 8],
          [16, 22, 8, 8],
          [8, 22, 8, 8],
        ]
      ),
    ]
  );
}

/** The bundled dashboards by file name (DASHBOARDS[...].file). */
export function bundledDashboards(): Record<string, Dashboard> {
  return Object.fromEntries(
    [modelHealth(), featureDrift(), dataQualityOps()].map((d) => [
      Object.values(DASHBOARDS).find((known) => known.uid === d.uid)!.file,
      d,
    ])
  );
}

/** The file text of a dashboard: two-space JSON and a final newline (what `npm run dashboards:generate` writes). */
export function dashboardJson(dashboard: Dashboard): string {
  return JSON.stringify(dashboard, null, 2) + '\n';
}

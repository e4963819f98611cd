import { defaultQuery, parseDuration, parseQuery, QUERY_TYPES, QUERY_TYPE_SPECS, QueryError } from './queryTypes';
import {
  distributionFrame,
  DistributionView,
  FrameContractError,
  isDistributionFrame,
  isSeverityFrame,
  readDistributionFrame,
  readSeverityFrame,
  severityFrame,
  SeverityGrid,
  severityLevel,
  severityName,
} from './frames';
import { parseModelsResponse, RESOURCE_PATHS } from './resources';
import { DEFAULT_THRESHOLDS, effectiveThresholds, settingsProblems } from './settings';

describe('query model', () => {
  it('has a spec and a default for every query type, and the default parses back to itself', () => {
    for (const type of QUERY_TYPES) {
      const query = defaultQuery(type, { model: 'churn' });
      expect(QUERY_TYPE_SPECS[type].label).toBeTruthy();
      expect(parseQuery(query)).toEqual(query);
    }
  });

  it('fills the default metric and persistence and drops unknown keys', () => {
    expect(parseQuery({ refId: 'A', queryType: 'drift', model: 'churn', junk: 1 })).toEqual({
      refId: 'A',
      queryType: 'drift',
      model: 'churn',
      metric: 'psi',
      persistence: 1,
    });
  });

  it('keeps every option of a scoped query', () => {
    const query = {
      refId: 'B',
      queryType: 'severity',
      model: 'churn',
      version: 'v2',
      baseline: 'b1',
      bucket: '1h',
      features: ['age', 'plan'],
      metric: 'ks',
      persistence: 3,
      sampleFraction: 0.25,
      segment: [{ column: 'country', operator: '=', value: 'FR' }],
    };
    expect(parseQuery(query)).toEqual(query);
  });

  it.each([
    [{ queryType: 'nope' }, /unknown queryType "nope"; use one of: drift/],
    [{ queryType: 'drift' }, /needs a model/],
    [{ queryType: 'drift', model: 'm', metric: 'mse' }, /"metric" is "mse"; use one of: psi/],
    [{ queryType: 'drift', model: 'm', persistence: 0 }, /persistence.*whole number/],
    [{ queryType: 'drift', model: 'm', persistence: 1.5 }, /persistence/],
    [{ queryType: 'drift', model: 'm', sampleFraction: 0 }, /sampleFraction.*\(0, 1\]/],
    [{ queryType: 'drift', model: 'm', sampleFraction: 1.5 }, /sampleFraction/],
    [{ queryType: 'drift', model: 'm', bucket: 'hourly' }, /bucket "hourly" is not a duration/],
    [{ queryType: 'drift', model: 'm', features: 'age' }, /features.*list/],
    [{ queryType: 'drift', model: 'm', segment: [{ column: 'c', operator: 'LIKE', value: 'x' }] }, /operator "LIKE"/],
    [{ queryType: 'drift', model: 'm', segment: [{ operator: '=', value: 'x' }] }, /has no column/],
    [
      { queryType: 'drift', model: 'm', segment: [{ column: 'c', operator: '=', value: {} }] },
      /string, number or boolean/,
    ],
    [
      { queryType: 'drift', model: 'm', alertOn: 'count' },
      /"alertOn" is "count"; use one of: value, level, noise_floor/,
    ],
    [
      { queryType: 'quality', model: 'm', alertOn: 'noise_floor' },
      /"alertOn" is "noise_floor"; use one of: value, level$/,
    ],
    [{ queryType: 'versions', model: 7 }, /"model" must be a string/],
    [null, /JSON object/],
  ])('rejects %j with a message saying what to fix', (input, message) => {
    expect(() => parseQuery(input)).toThrow(QueryError);
    expect(() => parseQuery(input)).toThrow(message);
  });

  it('keeps alertOn where the type offers it, and drops it where it does not', () => {
    expect(parseQuery({ queryType: 'drift', model: 'm', alertOn: 'noise_floor' })).toMatchObject({
      alertOn: 'noise_floor',
    });
    expect(parseQuery({ queryType: 'operational', model: 'm', alertOn: 'level' })).toMatchObject({ alertOn: 'level' });
    expect(parseQuery({ queryType: 'severity', model: 'm', alertOn: 'level' })).not.toHaveProperty('alertOn');
  });

  it("leaves a performance query's metric to the task (the backend picks accuracy or MAE)", () => {
    expect(parseQuery({ queryType: 'performance', model: 'm' })).not.toHaveProperty('metric');
    expect(defaultQuery('performance', { model: 'm' })).not.toHaveProperty('metric');
  });

  it('accepts a template variable as bucket (interpolated before the backend sees it)', () => {
    expect(parseQuery({ queryType: 'drift', model: 'm', bucket: '$bucket' })).toMatchObject({ bucket: '$bucket' });
  });

  it('parses durations', () => {
    expect(parseDuration('30s')).toBe(30);
    expect(parseDuration('5m')).toBe(300);
    expect(parseDuration('1.5h')).toBe(5400);
    expect(parseDuration('1d')).toBe(86400);
    expect(parseDuration('250ms')).toBe(0.25);
    expect(() => parseDuration('0h')).toThrow(/not a duration/);
    expect(() => parseDuration('-1h')).toThrow(/not a duration/);
  });

  it('does not give metadata queries time-range options', () => {
    expect(parseQuery({ queryType: 'models', refId: 'A', model: 'x', bucket: '1h' })).toEqual({
      queryType: 'models',
      refId: 'A',
    });
    expect(parseQuery({ queryType: 'features', refId: 'A', model: 'x', version: 'v1' })).toEqual({
      queryType: 'features',
      refId: 'A',
      model: 'x',
      version: 'v1',
    });
  });
});

const distribution: DistributionView = {
  bins: [
    { label: '≤ 1', lower: null, upper: 1, baseline: 0.5, current: 0.25, baselineCdf: 0.5, currentCdf: 0.25 },
    { label: '(1, 2]', lower: 1, upper: 2, baseline: 0.25, current: 0.25, baselineCdf: 0.75, currentCdf: 0.5 },
    { label: '> 2', lower: 2, upper: null, baseline: 0.25, current: 0.5, baselineCdf: 1, currentCdf: 1 },
  ],
  readouts: {
    model: 'churn',
    feature: 'age',
    kind: 'numeric',
    convention: 'reference-deciles',
    primaryMetric: 'psi',
    counts: { baseline: 1000, current: 400 },
    psi: 0.3466,
    jsDistance: 0.2,
    hellinger: 0.18,
    lInf: 0.25,
    ks: { statistic: 0.25, pValue: 0.001, location: 1, baselineCdf: 0.5, currentCdf: 0.25 },
    wasserstein: 0.4,
    noiseFloor: { psi: 0.02, ks: 0.09 },
    severity: 'critical',
  },
};

const grid: SeverityGrid = {
  meta: { model: 'churn', metric: 'psi', bucketMs: 3_600_000, thresholds: { warning: 0.1, critical: 0.2 } },
  cells: [
    { feature: 'age', time: 0, level: 0, value: 0.01, noiseFloor: 0.05, count: 500 },
    { feature: 'age', time: 3_600_000, level: 3, value: 0.4, noiseFloor: 0.05, count: 500 },
    { feature: 'plan', time: 0, level: null, value: null, noiseFloor: null, count: 3 },
  ],
};

describe('frame contract', () => {
  it('round-trips a distribution frame with data-plane metadata, labels and units', () => {
    const frame = distributionFrame(distribution, 'A');
    expect(frame.meta).toMatchObject({ type: 'numeric-long', typeVersion: [0, 1] });
    expect(frame.length).toBe(3);
    expect(frame.fields.map((field) => field.name)).toEqual([
      'bin',
      'lower',
      'upper',
      'baseline',
      'current',
      'baseline_cdf',
      'current_cdf',
    ]);
    expect(frame.fields[3]).toMatchObject({
      labels: { model: 'churn', feature: 'age' },
      config: { unit: 'percentunit' },
    });
    expect(isDistributionFrame(frame)).toBe(true);
    expect(isSeverityFrame(frame)).toBe(false);
    expect(readDistributionFrame(frame)).toEqual(distribution);
  });

  it('round-trips a severity frame, keeping insufficient data as a null level', () => {
    const frame = severityFrame(grid);
    expect(frame.meta).toMatchObject({ type: 'timeseries-long', typeVersion: [0, 1] });
    expect(isSeverityFrame(frame)).toBe(true);
    expect(readSeverityFrame(frame)).toEqual(grid);
  });

  it('names the missing field and the frame when a frame breaks the contract', () => {
    const frame = distributionFrame(distribution);
    frame.fields = frame.fields.filter((field) => field.name !== 'current_cdf');
    expect(() => readDistributionFrame(frame)).toThrow(FrameContractError);
    expect(() => readDistributionFrame(frame)).toThrow(/frame "age" needs a number field "current_cdf"/);
    expect(() => readSeverityFrame({ name: 'x', fields: [], length: 0 })).toThrow(/no severity metadata/);
    expect(() => readDistributionFrame({ name: 'x', fields: [], length: 0 })).toThrow(/no distribution readouts/);
  });

  it('maps severity levels and names both ways', () => {
    expect([0, 1, 2, 3, null].map((level) => severityName(level as 0))).toEqual([
      'ok',
      'info',
      'warning',
      'critical',
      'insufficient_data',
    ]);
    expect(severityLevel('warning')).toBe(2);
    expect(severityLevel('insufficient_data')).toBeNull();
  });
});

describe('resources and settings', () => {
  it('encodes model names in resource paths', () => {
    expect(RESOURCE_PATHS.features('fraud/v2 eu')).toBe('models/fraud%2Fv2%20eu/features');
    expect(RESOURCE_PATHS.models()).toBe('models');
  });

  it('checks the models response', () => {
    expect(parseModelsResponse({ models: [] })).toEqual({ models: [] });
    expect(() => parseModelsResponse({ rows: [] })).toThrow(/without a "models" list/);
    expect(() => parseModelsResponse({ models: [{ id: 1 }] })).toThrow(/models/);
  });

  it('applies only valid threshold overrides', () => {
    expect(effectiveThresholds({ psiWarning: 0.05, psiCritical: -1, errorRate: NaN })).toEqual({
      ...DEFAULT_THRESHOLDS,
      psiWarning: 0.05,
    });
  });

  it('lists what a store configuration lacks', () => {
    expect(settingsProblems({}, false)).toEqual([expect.stringMatching(/data directory/)]);
    expect(settingsProblems({ storeKind: 'embedded', dataDirectory: '/var/lib/mlmon' }, false)).toEqual([]);
    expect(settingsProblems({ storeKind: 'clickhouse', clickhouseUrl: 'ftp://x', user: 'mlmon' }, false)).toEqual([
      expect.stringMatching(/URL/),
      expect.stringMatching(/database/),
      expect.stringMatching(/password of ClickHouse user "mlmon"/),
    ]);
    expect(
      settingsProblems(
        { storeKind: 'clickhouse', clickhouseUrl: 'http://127.0.0.1:8123', database: 'mlmon', user: 'u' },
        true
      )
    ).toEqual([]);
  });
});

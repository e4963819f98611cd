/**
 * The terminal table of `mlmon report`: one row per feature with its severity, the four distances, the test of its
 * kind and the counts; columns aligned; severities coloured only when asked (stdout is a TTY).
 */
import { DEFAULT_DRIFT_SHARE } from '../../core/stats';
import { reachesLevel, type FeatureReport, type ReportResult, type Severity } from './report-model';
import { largest } from '../../core/stats/extremes';

const ANSI: Record<Severity, string> = {
  ok: '\x1b[32m',
  info: '\x1b[36m',
  warning: '\x1b[33m',
  critical: '\x1b[1;31m',
  insufficient_data: '\x1b[2m',
};
const RESET = '\x1b[0m';

/** A metric for reading: 4 significant digits, exponent form below 1e-4, "-" when absent or not finite. */
export function formatMetric(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) {
    return '-';
  }
  if (value !== 0 && Math.abs(value) < 1e-4) {
    return value.toExponential(1);
  }
  return String(Number(value.toPrecision(4)));
}

/** A count with thousands separators, e.g. 1,000,000. */
function formatCount(value: number): string {
  return value.toLocaleString('en-US');
}

function testColumn(feature: FeatureReport): string {
  const { ks, chiSquare } = feature.metrics;
  if (ks) {
    return `KS D=${formatMetric(ks.statistic)} p=${formatMetric(ks.pValue)}`;
  }
  if (chiSquare) {
    return `chi2=${formatMetric(chiSquare.statistic)} dof=${chiSquare.dof} p=${formatMetric(chiSquare.pValue)}`;
  }
  return '-';
}

const HEADER = [
  'feature',
  'kind',
  'severity',
  'PSI',
  'PSI floor',
  'JS dist',
  'Hellinger',
  'L-inf',
  'test',
  'W1/sd',
  'reference n (missing)',
  'current n (missing)',
];
/** Columns holding numbers are right-aligned. */
const RIGHT_ALIGNED = new Set([3, 4, 5, 6, 7, 9, 10, 11]);

function featureRow(feature: FeatureReport): string[] {
  const m = feature.metrics;
  return [
    feature.name,
    feature.kind,
    feature.severity,
    formatMetric(m.psi),
    formatMetric(feature.noiseFloor.psi),
    formatMetric(m.jsDistance),
    formatMetric(m.hellinger),
    formatMetric(m.lInf),
    testColumn(feature),
    formatMetric(m.wasserstein?.normalized),
    `${formatCount(feature.reference.count)} (${formatCount(feature.reference.missing)})`,
    `${formatCount(feature.current.count)} (${formatCount(feature.current.missing)})`,
  ];
}

/** Pads every cell to its column's width; colour is applied after padding so escapes do not upset alignment. */
function alignRows(rows: string[][], colourCell: (row: number, column: number, padded: string) => string): string[] {
  const widths = rows[0].map((_, column) => largest(rows.map((row) => row[column].length)));
  return rows.map((row, rowIndex) =>
    row
      .map((cell, column) => {
        const padded = RIGHT_ALIGNED.has(column) ? cell.padStart(widths[column]) : cell.padEnd(widths[column]);
        return colourCell(rowIndex, column, padded);
      })
      .join('  ')
      .trimEnd()
  );
}

/** Severities from the worst down, as the summary lists them. */
const LEVELS_WORST_FIRST: readonly Severity[] = ['critical', 'warning', 'info', 'ok', 'insufficient_data'];
/** Feature names quoted in the summary per level, before "and N more". */
const NAMES_SHOWN = 5;

/** "a, b and c", or "a, b, c, d, e and 3 more". */
function nameList(names: readonly string[]): string {
  const shown = names.slice(0, NAMES_SHOWN);
  const rest = names.length - shown.length;
  if (rest > 0) {
    return `${shown.join(', ')} and ${rest} more`;
  }
  return shown.length > 1 ? `${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]}` : shown.join('');
}

/** "Features: 2 critical (income and city), 1 info (age), 5 ok." — every level present, names for the drifted ones. */
function featuresLine(features: readonly FeatureReport[]): string {
  const parts = LEVELS_WORST_FIRST.flatMap((level) => {
    const names = features.filter((f) => f.severity === level).map((f) => f.name);
    if (names.length === 0) {
      return [];
    }
    const label = level === 'insufficient_data' ? 'with insufficient data' : level;
    return [level === 'ok' ? `${names.length} ok` : `${names.length} ${label} (${nameList(names)})`];
  });
  return `Features: ${parts.join(', ')}.`;
}

/**
 * The dataset verdict of METRICS.md — drifting when the share of rated features at warning or above reaches
 * DEFAULT_DRIFT_SHARE — stated beside the worst feature level, so that "not drifting" never reads as "nothing
 * drifted" when some feature is critical.
 */
function datasetLine(features: readonly FeatureReport[], dataset: ReportResult['json']['dataset']): string {
  const rated = features.filter((f) => f.severity !== 'insufficient_data');
  if (rated.length === 0) {
    return 'Dataset: no feature has enough current rows to be rated, so there is no verdict.';
  }
  const drifted = rated.filter((f) => f.severity === 'warning' || f.severity === 'critical');
  const share = `${drifted.length} of ${rated.length} rated features (${(dataset.driftedShare * 100).toFixed(1)}%) at warning or above`;
  const rule = `the ${DEFAULT_DRIFT_SHARE * 100}% share at which METRICS.md calls a dataset drifting`;
  if (dataset.drifting) {
    return `Dataset: ${share}, at or above ${rule}: the dataset is DRIFTING.`;
  }
  if (drifted.length === 0) {
    return `Dataset: ${share}: no drift.`;
  }
  const critical = drifted.filter((f) => f.severity === 'critical');
  const worst = critical.length > 0 ? critical : drifted;
  const level = critical.length > 0 ? 'critical' : 'warning';
  const verb = worst.length === 1 ? 'is' : 'are';
  return (
    `Dataset: ${share}, below ${rule}: no dataset-wide drift, ` +
    `but ${nameList(worst.map((f) => f.name))} ${verb} ${level}.`
  );
}

/** Whether --fail-on was reached, and by which features (the reason for exit code 1). */
function failOnLine(features: readonly FeatureReport[], failOn: ReportResult['failOn']): string[] {
  if (!failOn) {
    return [];
  }
  const reached = features.filter((f) => reachesLevel([f], failOn)).map((f) => f.name);
  return [
    reached.length > 0
      ? `--fail-on ${failOn}: reached by ${nameList(reached)}; exit code 1.`
      : `--fail-on ${failOn}: not reached; exit code 0.`,
  ];
}

/** The whole table report, ending with a newline. */
export function renderTable(result: ReportResult, colour: boolean): string {
  const { json } = result;
  const title =
    `Reference ${result.referencePath} (${formatCount(json.reference.rows)} rows) vs current ` +
    `${result.currentPath} (${formatCount(json.current.rows)} rows); convention ${json.convention}, ${result.bins} bins`;
  const rows = [HEADER, ...json.features.map(featureRow)];
  const lines = alignRows(rows, (row, column, padded) => {
    const severity = json.features[row - 1]?.severity;
    return colour && row > 0 && column === 2 && severity ? `${ANSI[severity]}${padded}${RESET}` : padded;
  });
  const skipped = result.skipped.map((s) => `  ${s.name}: ${s.reason}`);
  return [
    title,
    '',
    ...lines,
    '',
    featuresLine(json.features),
    datasetLine(json.features, json.dataset),
    ...failOnLine(json.features, result.failOn),
    ...(skipped.length ? ['Not compared:', ...skipped] : []),
    '',
  ].join('\n');
}

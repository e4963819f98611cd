/**
 * The terminal table of `mlmon report`: one row per feature with its severity, the four distances, the test of its
 * kind and the counts; columns aligned; severities coloured only when asked (stdout is a TTY).
 */
import { largest } from '../../core/stats/extremes';
import type { FeatureReport, ReportResult, Severity } from './report-model';

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

function datasetLine(result: ReportResult): string {
  const { features, dataset } = result.json;
  const rated = features.filter((f) => f.severity === 'warning' || f.severity === 'critical').length;
  const share = (dataset.driftedShare * 100).toFixed(1);
  const verdict = dataset.drifting ? 'dataset DRIFTING' : 'dataset not drifting';
  return `${rated} of ${features.length} features (${share}%) at warning or above: ${verdict}.`;
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
    datasetLine(result),
    ...(skipped.length ? ['Not compared:', ...skipped] : []),
    '',
  ].join('\n');
}

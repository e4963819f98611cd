/**
 * Command-line options of `mlmon report`, parsed and checked before any file is opened, so a bad flag costs no
 * reading. Every problem is an InputError with a one-line message saying which flag and what is accepted.
 */
import { parseArgs } from 'node:util';
import { InputError } from '../files/input-error';

export type ReportFormat = 'table' | 'json';
export type FailOnLevel = 'warning' | 'critical';

export interface ReportOptions {
  reference: string;
  current: string;
  /** Number of numeric bins, 2–100 (METRICS.md). */
  bins: number;
  /** Columns forced categorical. */
  categorical: string[];
  /** Columns forced numeric. */
  numeric: string[];
  /** Columns not compared. */
  exclude: string[];
  format: ReportFormat;
  /** Exit with code 1 when any feature reaches this severity. */
  failOn?: FailOnLevel;
}

export const REPORT_USAGE = `Usage: mlmon report --reference FILE --current FILE [options]

Compares the distribution of every column present in both files (CSV or Parquet) and rates its drift.
Id and time columns (id, request_id, ts, timestamp) are not compared unless named in --numeric or --categorical.

Options:
  --reference FILE          the reference data (e.g. training or validation set), .csv or .parquet
  --current FILE            the data to check against it, .csv or .parquet
  --bins N                  number of numeric bins, reference quantiles (default 10, 2-100)
  --categorical a,b         compare these columns as categories (text and boolean columns already are)
  --numeric c               compare these columns as numbers (number columns already are)
  --exclude a,b             do not compare these columns
  --format table|json       output format (default table)
  --fail-on warning|critical
                            exit with code 1 when any feature reaches this severity (for pipeline gating)
  -h, --help                show this help

An empty cell (or NaN) is a missing value: it is counted, not compared.
Severity per feature and the dataset verdict follow METRICS.md: a dataset is drifting when at least half of its
rated features are at warning or above; a single critical feature is reported (and gates --fail-on) either way.
Exit codes: 0 report printed, 1 --fail-on level reached, 2 usage or input error (message on stderr).
`;

const FORMATS: readonly ReportFormat[] = ['table', 'json'];
const FAIL_ON_LEVELS: readonly FailOnLevel[] = ['warning', 'critical'];
const MIN_BINS = 2;
const MAX_BINS = 100;

/** `a,b` given once or several times → [a, b]; blank entries are an error (a stray comma hides a typo). */
function columnList(flag: string, values: string[] | undefined): string[] {
  const names = (values ?? []).flatMap((value) => value.split(','));
  if (names.some((name) => name.trim() === '')) {
    throw new InputError(`${flag}: empty column name in '${(values ?? []).join(',')}'; give names separated by commas`);
  }
  return names.map((name) => name.trim());
}

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value !== undefined && !allowed.includes(value as T)) {
    throw new InputError(`${flag} ${value}: not a valid value; use one of ${allowed.join(', ')}`);
  }
  return value as T | undefined;
}

function binCount(value: string | undefined): number {
  if (value === undefined) {
    return 10;
  }
  const bins = Number(value);
  if (!/^\d+$/.test(value) || bins < MIN_BINS || bins > MAX_BINS) {
    throw new InputError(`--bins ${value}: not a valid bin count; use a whole number from ${MIN_BINS} to ${MAX_BINS}`);
  }
  return bins;
}

function requiredFile(flag: string, value: string | undefined): string {
  if (!value) {
    throw new InputError(`${flag} FILE is required; run 'mlmon report --help' for usage`);
  }
  return value;
}

/** True when the arguments ask for help (then nothing else is checked). */
export function wantsHelp(argv: string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

/** Parses `mlmon report` arguments; throws an InputError naming the offending flag. */
export function parseReportArgs(argv: string[]): ReportOptions {
  let values: Record<string, string | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        reference: { type: 'string' },
        current: { type: 'string' },
        bins: { type: 'string' },
        categorical: { type: 'string', multiple: true },
        numeric: { type: 'string', multiple: true },
        exclude: { type: 'string', multiple: true },
        format: { type: 'string' },
        'fail-on': { type: 'string' },
      },
    }));
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new InputError(`${message}; run 'mlmon report --help' for usage`);
  }
  const categorical = columnList('--categorical', values.categorical as string[] | undefined);
  const numeric = columnList('--numeric', values.numeric as string[] | undefined);
  const exclude = columnList('--exclude', values.exclude as string[] | undefined);
  const both = categorical.find((name) => numeric.includes(name));
  if (both !== undefined) {
    throw new InputError(`column '${both}' is given to both --categorical and --numeric; choose one`);
  }
  return {
    reference: requiredFile('--reference', values.reference as string | undefined),
    current: requiredFile('--current', values.current as string | undefined),
    bins: binCount(values.bins as string | undefined),
    categorical,
    numeric,
    exclude,
    format: oneOf('--format', values.format as string | undefined, FORMATS) ?? 'table',
    failOn: oneOf('--fail-on', values['fail-on'] as string | undefined, FAIL_ON_LEVELS),
  };
}

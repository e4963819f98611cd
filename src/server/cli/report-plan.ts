/**
 * Which columns `mlmon report` compares, and as what: a pure decision from the two files' schemas and the
 * --categorical / --numeric / --exclude options. Only columns present in both files are compared; the others are
 * listed with the reason. Id and time columns (id, request_id, ts, timestamp: different in every row and every
 * window by construction) are not compared unless named in --numeric or --categorical. By default number columns
 * are numeric, text and boolean columns categorical; a number column in one file and a text column in the other is
 * compared as numbers (the text side is then checked cell by cell).
 */
import { InputError } from '../files/input-error';
import { isIdOrTimeColumn } from '../store/records-from-rows';
import type { FileColumn, TableFile } from '../files/table-file';
import type { SkippedColumn } from './report-model';

export type FeatureKind = 'numeric' | 'categorical';

export interface PlannedFeature {
  name: string;
  kind: FeatureKind;
  /** True when the kind comes from --numeric / --categorical. */
  forced: boolean;
  reference: FileColumn;
  current: FileColumn;
}

export interface FeaturePlan {
  features: PlannedFeature[];
  skipped: SkippedColumn[];
}

export interface KindOverrides {
  categorical: readonly string[];
  numeric: readonly string[];
  /** Columns not to compare. */
  exclude?: readonly string[];
}

function columnNamed(file: TableFile, name: string): FileColumn | undefined {
  return file.columns.find((column) => column.name === name);
}

function checkOverridesExist(reference: TableFile, current: TableFile, overrides: KindOverrides): void {
  const exclude = overrides.exclude ?? [];
  const both = exclude.find((name) => overrides.categorical.includes(name) || overrides.numeric.includes(name));
  if (both !== undefined) {
    throw new InputError(`column '${both}' is given to --exclude and to --categorical or --numeric; choose one`);
  }
  for (const name of exclude) {
    if (!columnNamed(reference, name) && !columnNamed(current, name)) {
      throw new InputError(
        `--exclude ${name}: no such column in ${reference.path} or ${current.path}; ` +
          `columns are ${reference.columns.map((c) => c.name).join(', ')}`
      );
    }
  }
  for (const [flag, names] of [
    ['--categorical', overrides.categorical],
    ['--numeric', overrides.numeric],
  ] as const) {
    for (const name of names) {
      const lacking = [reference, current].find((file) => !columnNamed(file, name));
      if (lacking) {
        throw new InputError(
          `${lacking.path}: no column ${JSON.stringify(name)} (given to ${flag}); columns are ${lacking.columns.map((c) => c.name).join(', ')}`
        );
      }
    }
  }
}

/** One column as it is in one file. */
interface Side {
  file: TableFile;
  column: FileColumn;
}

/** The default kind of a column from its types in both files, or the reason it cannot be compared. */
function defaultKind(sides: readonly Side[]): FeatureKind | string {
  const other = sides.find((side) => side.column.kind === 'other');
  if (other) {
    return (
      `${other.column.sqlType} in ${other.file.path} is neither number nor text; ` +
      `give --categorical ${other.column.name} to compare it as categories`
    );
  }
  const kinds = new Set(sides.map((side) => side.column.kind));
  return kinds.has('number') && !kinds.has('boolean') ? 'numeric' : 'categorical';
}

/** The kind given by --numeric / --categorical, if any; numbers cannot be forced onto dates and the like. */
function overriddenKind(sides: readonly Side[], overrides: KindOverrides): FeatureKind | undefined {
  const name = sides[0].column.name;
  if (overrides.categorical.includes(name)) {
    return 'categorical';
  }
  if (!overrides.numeric.includes(name)) {
    return undefined;
  }
  const unusable = sides.find((side) => side.column.kind === 'other');
  if (unusable) {
    throw new InputError(
      `${unusable.file.path}: column ${JSON.stringify(name)} is ${unusable.column.sqlType}, ` +
        `which cannot be compared as numbers; remove it from --numeric`
    );
  }
  return 'numeric';
}

/** Why a column is left out by --exclude or the id/time rule, or undefined when it is a candidate. */
function leftOut(name: string, overrides: KindOverrides): string | undefined {
  if (overrides.exclude?.includes(name)) {
    return 'excluded by --exclude';
  }
  const named = overrides.categorical.includes(name) || overrides.numeric.includes(name);
  return isIdOrTimeColumn(name) && !named
    ? `an id or time column, not compared (name it in --numeric or --categorical to compare it)`
    : undefined;
}

/** Decides the compared features (in the reference file's column order) and the skipped columns. */
export function planFeatures(reference: TableFile, current: TableFile, overrides: KindOverrides): FeaturePlan {
  checkOverridesExist(reference, current, overrides);
  const features: PlannedFeature[] = [];
  const skipped: SkippedColumn[] = [];
  for (const a of reference.columns) {
    const reason = leftOut(a.name, overrides);
    if (reason) {
      skipped.push({ name: a.name, reason });
      continue;
    }
    const b = columnNamed(current, a.name);
    if (!b) {
      skipped.push({ name: a.name, reason: `only in ${reference.path}` });
      continue;
    }
    const sides = [
      { file: reference, column: a },
      { file: current, column: b },
    ];
    const forcedKind = overriddenKind(sides, overrides);
    const kind = forcedKind ?? defaultKind(sides);
    if (kind === 'numeric' || kind === 'categorical') {
      features.push({ name: a.name, kind, forced: forcedKind !== undefined, reference: a, current: b });
    } else {
      skipped.push({ name: a.name, reason: kind });
    }
  }
  for (const b of current.columns) {
    if (!columnNamed(reference, b.name)) {
      skipped.push({ name: b.name, reason: leftOut(b.name, overrides) ?? `only in ${current.path}` });
    }
  }
  if (features.length === 0) {
    const names = (file: TableFile) => file.columns.map((c) => c.name).join(', ');
    throw new InputError(
      `${reference.path} and ${current.path}: no column to compare (reference has ${names(reference)}; current has ${names(current)})`
    );
  }
  return { features, skipped };
}

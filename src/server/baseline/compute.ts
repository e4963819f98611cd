/**
 * Builds a stored baseline from reference columns, with the statistics core (src/core/stats) so that the numbers
 * are the ones every other part computes: reference-decile edges and counts, a 1 001-quantile sketch for KS and
 * Wasserstein, summary statistics (population std), categories with proportions, the prediction distribution and
 * the validation performance when labels are given.
 */
import {
  BINNING_CONVENTION,
  DEFAULT_BINS,
  DEFAULT_SKETCH_SIZE,
  buildCategoricalBaseline,
  buildNumericBaseline,
  prepareCategorical,
  prepareNumeric,
  fitCalibration,
  proportions,
  scoreBin,
  sketchCdfErrorBound,
  type LabelledBin,
} from '../../core/stats';
import { InputError } from '../files/input-error';
import { featureKey, validateFeatureName, validateIdentifier, validateVersion } from '../store/identifiers';
import {
  BASELINE_SCHEMA_VERSION,
  type Baseline,
  type BaselineCalibration,
  type CategoricalReference,
  type ColumnReference,
  type FeatureKind,
  type NumericReference,
} from '../store/types';
import { classifierPerformance, detectTask, pairs, regressorPerformance } from './performance';

export type ReferenceValue = number | string | boolean | null | undefined;

/** One column of the reference data; `kind` undefined means a type the baseline cannot use (it is skipped). */
export interface ReferenceColumn {
  name: string;
  kind: FeatureKind | undefined;
  values: ReferenceValue[];
}

/** What a user declares of a feature: its valid range or its valid categories. */
export interface DeclaredFeature {
  min?: number;
  max?: number;
  categories?: string[];
}

export interface BaselineInput {
  model: string;
  version: string;
  source: string;
  columns: ReferenceColumn[];
  predictionColumn?: string;
  labelColumn?: string;
  scoreColumn?: string;
  positiveLabel?: string;
  /** Score from which a row is predicted positive, for estimated performance (default 0.5). */
  threshold?: number;
  /** Columns that are neither features nor outputs (ids, timestamps). */
  exclude?: string[];
  /** Columns that are not features either, each with the reason, which is kept in the baseline's `skipped`. */
  notFeatures?: Record<string, string>;
  /** The model's task; by default told from the labels and predictions (`detectTask`). */
  task?: 'classification' | 'regression';
  /** Features to treat as categorical whatever their type. */
  categorical?: string[];
  bins?: number;
  /** Declared ranges (numeric) and categories (categorical) per feature, kept beside the observed ones. */
  declared?: Record<string, DeclaredFeature>;
  createdAt?: number;
  onProgress?: (message: string) => void;
}

/** Reference of a numeric column (throws when it has no non-missing value). */
export function numericReference(values: ReferenceValue[], bins: number = DEFAULT_BINS): NumericReference {
  const sample = prepareNumeric(values);
  if (sample.sorted.length === 0) {
    throw new Error('no non-missing value');
  }
  const base = buildNumericBaseline(sample, { bins, sketchSize: DEFAULT_SKETCH_SIZE });
  return {
    ...base,
    proportions: proportions(base.counts),
    binning: BINNING_CONVENTION,
    ksCdfError: sketchCdfErrorBound(base.sketch),
  };
}

/** Reference of a categorical column: categories (booleans and numbers as text) with counts and proportions. */
export function categoricalReference(values: ReferenceValue[]): CategoricalReference {
  const base = buildCategoricalBaseline(prepareCategorical(values));
  if (base.count === 0) {
    throw new Error('no non-missing value');
  }
  const shares = Object.fromEntries(Object.entries(base.counts).map(([value, count]) => [value, count / base.count]));
  return { ...base, proportions: shares };
}

function columnReference(kind: FeatureKind, values: ReferenceValue[], bins: number): ColumnReference {
  return kind === 'numeric' ? numericReference(values, bins) : categoricalReference(values);
}

/** Adds declared ranges and categories to the feature references; a declaration that fits no feature is an error. */
export function applyDeclarations(
  features: Record<string, ColumnReference>,
  declared: Record<string, DeclaredFeature>
): void {
  for (const [name, declaration] of Object.entries(declared)) {
    const reference = Object.hasOwn(features, name) ? features[name] : undefined;
    if (!reference) {
      throw new InputError(
        `Declared feature ${JSON.stringify(name)} is not a feature of the reference (${Object.keys(features).join(', ')})`
      );
    }
    const hasRange = declaration.min !== undefined || declaration.max !== undefined;
    if (reference.kind === 'numeric' && declaration.categories === undefined) {
      if (declaration.min !== undefined && declaration.max !== undefined && declaration.min > declaration.max) {
        throw new InputError(`Declared range of ${name} is empty: min ${declaration.min} > max ${declaration.max}`);
      }
      Object.assign(reference, { declaredMin: declaration.min, declaredMax: declaration.max });
    } else if (reference.kind === 'categorical' && !hasRange && Array.isArray(declaration.categories)) {
      reference.declaredCategories = declaration.categories.map(String);
    } else {
      throw new InputError(
        `Declaration of ${name} does not fit its kind ${reference.kind}: give min/max for numeric, categories for categorical`
      );
    }
  }
}

function findColumn(columns: ReferenceColumn[], name: string | undefined, flag: string): ReferenceColumn | undefined {
  if (name === undefined) {
    return undefined;
  }
  const column = columns.find((c) => c.name === name);
  if (!column) {
    throw new InputError(`${flag} ${name}: no such column; the columns are ${columns.map((c) => c.name).join(', ')}`);
  }
  return column;
}

/**
 * The task told from the labelled rows, refusing the one ambiguous case a first try runs into: labels of two
 * classes 0/1 with predictions that are fractions in [0, 1] — a classifier's score given as its prediction, which
 * would otherwise be scored as a regressor (MAE of a probability) instead of with accuracy, F1 and AUC.
 */
function checkedTask(
  rows: ReadonlyArray<{ label: ReferenceValue; prediction: ReferenceValue }>,
  labelName: string,
  predictionName: string
): 'classification' | 'regression' {
  const task = detectTask(
    rows.map((r) => r.label),
    rows.map((r) => r.prediction)
  );
  const binaryLabels = rows.every((r) => r.label === 0 || r.label === 1);
  const scoreLike = rows.every((r) => typeof r.prediction === 'number' && r.prediction >= 0 && r.prediction <= 1);
  if (task === 'regression' && binaryLabels && scoreLike) {
    throw new InputError(
      `--label ${labelName} holds the classes 0 and 1 but --prediction ${predictionName} holds fractions between 0 and 1: ` +
        `give the predicted class as --prediction and the positive-class score as --score ${predictionName} ` +
        `(or --task regression if the model really predicts a number)`
    );
  }
  return task;
}

/** The decision threshold when the reference data does not give another. */
export const DEFAULT_THRESHOLD = 0.5;

/**
 * The score calibration of a binary classifier (src/core/stats/cbpe.ts) on its labelled, scored rows, with the share
 * of them whose prediction is the positive class exactly when the score reaches the threshold; undefined without
 * scored rows.
 */
export function scoreCalibration(
  rows: ReadonlyArray<{ label: ReferenceValue; prediction: ReferenceValue; score: number | null }>,
  positive: string,
  threshold: number
): BaselineCalibration | undefined {
  const bins = new Map<number, LabelledBin>();
  let agreeing = 0;
  let scored = 0;
  for (const { label, prediction, score } of rows) {
    if (score === null) {
      continue;
    }
    scored++;
    agreeing += (String(prediction) === positive) === score >= threshold ? 1 : 0;
    const bin = bins.get(scoreBin(score)) ?? { bin: scoreBin(score), positives: 0, rows: 0 };
    bin.rows++;
    bin.positives += String(label) === positive ? 1 : 0;
    bins.set(bin.bin, bin);
  }
  return scored === 0
    ? undefined
    : { ...fitCalibration([...bins.values()], threshold), predictionAgreement: agreeing / scored };
}

/** Computes a baseline; see the module comment. Feature names must be valid identifiers. */
export function computeBaseline(input: BaselineInput): Baseline {
  validateIdentifier(input.model, 'model name');
  validateVersion(input.version);
  const bins = input.bins ?? DEFAULT_BINS;
  const progress = input.onProgress ?? (() => undefined);
  const prediction = findColumn(input.columns, input.predictionColumn, '--prediction');
  const label = findColumn(input.columns, input.labelColumn, '--label');
  const score = findColumn(input.columns, input.scoreColumn, '--score');
  const notFeatures = new Set([
    ...(input.exclude ?? []),
    ...Object.keys(input.notFeatures ?? {}),
    ...[prediction, label, score].filter((c) => c).map((c) => c!.name),
  ]);
  const categorical = new Set(input.categorical ?? []);
  const rows = input.columns[0]?.values.length ?? 0;

  // Null prototypes: a feature named like an Object.prototype member (`__proto__`, `constructor`) is a plain key.
  const features: Record<string, ColumnReference> = Object.create(null);
  const skipped: Record<string, string> = Object.assign(Object.create(null), input.notFeatures);
  const featureColumns = input.columns.filter((c) => !notFeatures.has(c.name));
  const spellings = new Map<string, string>();
  featureColumns.forEach((column, index) => {
    validateFeatureName(column.name);
    const other = spellings.get(featureKey(column.name));
    if (other !== undefined) {
      throw new InputError(
        `Columns ${JSON.stringify(other)} and ${JSON.stringify(column.name)} differ only in case; feature names are ` +
          'case-insensitive: rename one, or leave it out with --exclude'
      );
    }
    spellings.set(featureKey(column.name), column.name);
    progress(`feature ${index + 1}/${featureColumns.length}: ${column.name}`);
    const kind = categorical.has(column.name) ? 'categorical' : column.kind;
    if (!kind) {
      skipped[column.name] = 'unsupported column type (use numbers, text or booleans)';
      return;
    }
    try {
      features[column.name] = columnReference(kind, column.values, bins);
    } catch (error) {
      skipped[column.name] = (error as Error).message;
    }
  });

  applyDeclarations(features, input.declared ?? {});
  const baseline: Baseline = {
    schemaVersion: BASELINE_SCHEMA_VERSION,
    model: input.model,
    version: input.version,
    createdAt: input.createdAt ?? Date.now(),
    source: input.source,
    rows,
    features,
    skipped,
    conventions: {
      binning: `${BINNING_CONVENTION}, ${bins} bins, right-closed, outer bins open (METRICS.md)`,
      quantiles: 'Hyndman-Fan type 7 (numpy linear)',
      ksReference: `quantile sketch of ${DEFAULT_SKETCH_SIZE + 1} quantiles; |G(x) - F_ref(x)| <= 1/${DEFAULT_SKETCH_SIZE} + 1/n (ksCdfError per feature)`,
      std: 'population (ddof 0)',
      missing: 'null, NaN and empty strings are missing, counted in summary.missing, excluded from distributions',
    },
  };
  if (prediction) {
    progress(`prediction: ${prediction.name}`);
    if (!prediction.kind) {
      throw new InputError(`--prediction ${prediction.name}: unsupported column type; use numbers, text or booleans`);
    }
    baseline.prediction = columnReference(prediction.kind, prediction.values, bins);
  }
  if (label) {
    if (!prediction) {
      throw new InputError('--label needs --prediction: performance compares the labels with the predictions');
    }
    const kept = pairs(label.values, prediction.values, score?.values);
    if (kept.length === 0) {
      throw new InputError(`--label ${label.name}: no row has both a label and a prediction`);
    }
    const task = input.task ?? checkedTask(kept, label.name, prediction.name);
    baseline.performance =
      task === 'classification' ? classifierPerformance(kept, input.positiveLabel) : regressorPerformance(kept);
    baseline.conventions.performance =
      task === 'classification'
        ? 'accuracy; precision/recall/F1 of the positive class (binary) or macro mean; ROC AUC by Mann-Whitney with ties halved'
        : 'MAE, RMSE, MAPE as a fraction over rows with a non-zero label';
    const positive = baseline.performance.task === 'classification' ? baseline.performance.positiveLabel : null;
    const calibration =
      positive === null ? undefined : scoreCalibration(kept, positive, input.threshold ?? DEFAULT_THRESHOLD);
    if (calibration) {
      baseline.calibration = calibration;
      baseline.conventions.calibration = calibration.method;
    }
  }
  return baseline;
}
